// Gradient rules of the reductions (Ops/Reduce.cpp). Each broadcasts the incoming gradient (viewed
// with the reduced dimensions kept as 1) back over the reduced dimensions.
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

// A result-shaped value (dy, or the result itself) shaped as the keepdims=1 result, ready to
// broadcast against the input.
Value *keptDims(GradContext &g, Value *v, const std::vector<int64_t> &axes) {
  Shape s = g.x(0)->shape();
  for (int64_t a : axes)
    s[(size_t)a] = 1;
  return g.reshape(v, s);
}

Value *broadcastToInput(GradContext &g, Value *v) {
  if (v->shape() == g.x(0)->shape())
    return v;
  return g.build("Expand", {v, g.ints(g.x(0)->shape())});
}

// ReduceSum's axes operand (a compile-time constant, as its inference requires).
std::vector<int64_t> axesOperand(GradContext &g) {
  if (!g.x(1))
    return {};
  const Op *d = g.x(1)->definingOp();
  if (!d || d->opType() != "Constant" || !d->attr("value"))
    g.error("axes must be a compile-time constant");
  return d->attr("value")->tensor().toInts();
}

// ReduceMean and ReduceMax name their axes by attribute (opset < 18); none means all.
std::vector<int64_t> axesAttr(GradContext &g) {
  return reducedAxes(g, g.attrs().has("axes") ? g.attrs().ints("axes") : std::vector<int64_t>{},
                     false);
}

int64_t onnxFloatCode(DType t) { return t == DType::F64 ? 11 : 1; }
} // namespace

void registerReduceGrads(OpRegistry &r) {
  r.setGrad("", "ReduceSum", [](GradContext &g) -> std::vector<Value *> {
    auto axes = reducedAxes(g, axesOperand(g), g.attrs().i("noop_with_empty_axes") != 0);
    return {broadcastToInput(g, keptDims(g, g.dy(), axes)), nullptr};
  });

  r.setGrad("", "ReduceMean", [](GradContext &g) -> std::vector<Value *> {
    auto axes = axesAttr(g);
    int64_t count = 1;
    for (int64_t a : axes)
      count *= g.x(0)->shape()[(size_t)a];
    Value *share = g.div(keptDims(g, g.dy(), axes), g.scalar((double)count, g.x(0)->dtype()));
    return {broadcastToInput(g, share)};
  });

  // The gradient goes to the maximum; tied maxima share it evenly, as PyTorch's amax and
  // full-reduction max do (a valid subgradient, and symmetric in the tied elements).
  r.setGrad("", "ReduceMax", [](GradContext &g) -> std::vector<Value *> {
    auto axes = axesAttr(g);
    DType dt = g.x(0)->dtype();
    Value *isMax = g.build("Equal", {g.x(0), keptDims(g, g.y(), axes)});
    Value *hit = g.build("Cast", {isMax}, {{"to", Attribute(onnxFloatCode(dt))}});
    Value *ties = g.build("ReduceSum", {hit, g.ints(axes)}, {{"keepdims", Attribute(1)}});
    Value *share = g.div(keptDims(g, g.dy(), axes), ties);
    return {g.mul(hit, share)};
  });
}

} // namespace adjoint
