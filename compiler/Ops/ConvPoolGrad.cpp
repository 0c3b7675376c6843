// Gradient rules of the ConvPool family.
#include "Ops/GradContext.h"

namespace adjoint {

void registerConvPoolGrads(OpRegistry &r) { (void)r; }

} // namespace adjoint
