// Gradient rules of the Linalg family.
#include "Ops/GradContext.h"

namespace adjoint {

void registerLinalgGrads(OpRegistry &r) { (void)r; }

} // namespace adjoint
