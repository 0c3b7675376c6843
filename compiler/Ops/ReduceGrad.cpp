// Gradient rules of the reductions (Ops/Reduce.cpp).
#include "Ops/GradContext.h"

#include <algorithm>

namespace adjoint {

namespace {
// The reduced axes of a Reduce op, normalized and sorted; empty when nothing is reduced.
std::vector<int64_t> reducedAxes(GradContext &g, const std::vector<int64_t> &given,
                                 bool noopWhenEmpty) {
  int64_t rank = g.x(0)->type().rank();
  std::vector<int64_t> axes;
  if (given.empty()) {
    if (noopWhenEmpty)
      return {};
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
    return axes;
  }
  for (int64_t a : given)
    axes.push_back(a < 0 ? a + rank : a);
  std::sort(axes.begin(), axes.end());
  return axes;
}

// dy shaped as the keepdims=1 result, ready to broadcast against the input.
Value *keptDims(GradContext &g, const std::vector<int64_t> &axes) {
  Shape s = g.x(0)->shape();
  for (int64_t a : axes)
    s[(size_t)a] = 1;
  return g.reshape(g.dy(), s);
}

Value *broadcastToInput(GradContext &g, Value *v) {
  return g.build("Expand", {v, g.ints(g.x(0)->shape())});
}

std::vector<int64_t> axesOperand(GradContext &g) {
  if (!g.x(1))
    return {};
  const Op *d = g.x(1)->definingOp();
  return d->attr("value")->tensor().toInts();
}
} // namespace

void registerReduceGrads(OpRegistry &r) {
  r.setGrad("", "ReduceSum", [](GradContext &g) -> std::vector<Value *> {
    auto axes = reducedAxes(g, axesOperand(g), g.attrs().i("noop_with_empty_axes") != 0);
    return {broadcastToInput(g, keptDims(g, axes)), nullptr};
  });
}

} // namespace adjoint
