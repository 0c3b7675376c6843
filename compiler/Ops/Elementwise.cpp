#include "Ops/KernelUtil.h"

namespace adjoint {

void registerElementwiseOps(OpRegistry &r) { (void)r; }

} // namespace adjoint
