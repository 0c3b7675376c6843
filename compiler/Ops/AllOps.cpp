#include "Ops/OpRegistry.h"

namespace adjoint {

OpRegistry &OpRegistry::instance() {
  static OpRegistry *r = [] {
    auto *reg = new OpRegistry();
    registerElementwiseOps(*reg);
    registerLogicOps(*reg);
    registerLinalgOps(*reg);
    registerConvPoolOps(*reg);
    registerNormOps(*reg);
    registerShapeOps(*reg);
    registerDataMovementOps(*reg);
    registerReduceOps(*reg);
    registerAdjointOps(*reg);
    registerKernelOp(*reg);
    registerTrainingOps(*reg);
    registerLossOps(*reg);
    registerConvPoolBackwardOps(*reg);
    registerShapeBackwardOps(*reg);
    registerElementwiseGrads(*reg);
    registerLogicGrads(*reg);
    registerLinalgGrads(*reg);
    registerConvPoolGrads(*reg);
    registerNormGrads(*reg);
    registerReduceGrads(*reg);
    registerShapeGrads(*reg);
    registerLossGrads(*reg);
    return reg;
  }();
  return *r;
}

} // namespace adjoint
