// Gradient rules of the Logic family.
#include "Ops/GradContext.h"

namespace adjoint {

void registerLogicGrads(OpRegistry &r) { (void)r; }

} // namespace adjoint
