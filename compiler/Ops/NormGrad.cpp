// Gradient rules of the Norm family.
#include "Ops/GradContext.h"

namespace adjoint {

void registerNormGrads(OpRegistry &r) { (void)r; }

} // namespace adjoint
