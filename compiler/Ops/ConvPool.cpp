#include "Ops/KernelUtil.h"

namespace adjoint {

void registerConvPoolOps(OpRegistry &r) { (void)r; }

} // namespace adjoint
