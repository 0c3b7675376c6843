// Ops that move no data: Reshape-like ops and Identity are aliases of their operand's bytes (the
// result shares its buffer, or is copied when the memory plan put it elsewhere), and values known
// at compile time (Constant, Shape) are global constant data.
#include "CodeGen/LoweringContext.h"

namespace adjoint {

void registerShapeLowerings(LoweringRegistry &r) {
  OpLowering alias;
  alias.kind = OpLowering::Kind::Alias;
  for (const char *name : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
    r.add("", name, alias);
  r.add("adjoint", "StopGradient", alias);

  OpLowering constant;
  constant.kind = OpLowering::Kind::Constant;
  r.add("", "Constant", constant);
  r.add("", "Shape", constant);
}

} // namespace adjoint
