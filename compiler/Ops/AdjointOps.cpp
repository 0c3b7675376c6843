// Ops of Adjoint's own domain ("adjoint") that ONNX lacks. StopGradient: the identity whose
// result carries no gradient (the autodiff pass does not propagate through it).
#include "Ops/KernelUtil.h"

namespace adjoint {

void registerAdjointOps(OpRegistry &r) {
  r.add(OpSchema{
      .name = "StopGradient",
      .domain = "adjoint",
      .infer = [](InferContext &c) { return std::vector<TensorType>{c.type(0)}; },
      .kernel = [](KernelContext &c) { c.out() = c.in(0); },
      .elementwise = true,
  });
}

} // namespace adjoint
