// Gradient rules of the Shape family (Ops/ShapeOps.cpp and Ops/DataMovement.cpp). Ops that keep
// the elements in order reshape the gradient back; the others move it back to where each element
// came from. Shape and Constant have no operand that carries a gradient; integer operands
// (shapes, axes, slice bounds, indices) get none.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {
// Reshape, Flatten, Squeeze, Unsqueeze: the elements stay in order, so dy only changes shape.
// Trailing operands (shape, axes) are integer and get no gradient.
std::vector<Value *> reshapeBack(GradContext &g) {
  std::vector<Value *> r(g.numOperands(), nullptr);
  r[0] = g.reshape(g.dy(), g.x(0)->shape());
  return r;
}

int64_t axisAttr(GradContext &g, int64_t rank) {
  int64_t axis = g.attrs().i("axis");
  return axis < 0 ? axis + rank : axis;
}
} // namespace

void registerShapeGrads(OpRegistry &r) {
  for (const char *name : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    r.setGrad("", name, reshapeBack);

  r.setGrad("", "Identity", [](GradContext &g) -> std::vector<Value *> { return {g.dy()}; });

  // Each input element feeds every output element it was broadcast to.
  r.setGrad("", "Expand", [](GradContext &g) -> std::vector<Value *> {
    return {g.sumToShape(g.dy(), g.x(0)->shape()), nullptr};
  });

  r.setGrad("", "Transpose", [](GradContext &g) -> std::vector<Value *> {
    int64_t rank = g.x(0)->type().rank();
    AttrReader a = g.attrs();
    std::vector<int64_t> perm(rank), inverse(rank);
    for (int64_t i = 0; i < rank; ++i)
      perm[i] = a.has("perm") ? a.ints("perm")[i] : rank - 1 - i;
    for (int64_t i = 0; i < rank; ++i)
      inverse[perm[i]] = i;
    return {g.build("Transpose", {g.dy()}, {{"perm", Attribute(inverse)}})};
  });

  // Operand i's gradient is its own stretch of dy along the axis.
  r.setGrad("", "Concat", [](GradContext &g) -> std::vector<Value *> {
    int64_t axis = axisAttr(g, g.y()->type().rank());
    std::vector<Value *> r(g.numOperands(), nullptr);
    int64_t offset = 0;
    for (size_t i = 0; i < g.numOperands(); ++i) {
      int64_t len = g.x(i)->shape()[axis];
      if (g.needs(i))
        r[i] = g.numOperands() == 1
                   ? g.dy()
                   : g.build("Slice", {g.dy(), g.ints({offset}), g.ints({offset + len}),
                                       g.ints({axis})});
      offset += len;
    }
    return r;
  });

  // dy goes back to the positions the slice read; every other position gets zero. The index
  // operands are passed on as they are (int32 or int64, axes and steps possibly absent).
  r.setGrad("", "Slice", [](GradContext &g) -> std::vector<Value *> {
    std::vector<Value *> ops{g.dy(), g.ints(g.x(0)->shape())};
    for (size_t i = 1; i < g.numOperands(); ++i)
      ops.push_back(g.x(i));
    std::vector<Value *> r(g.numOperands(), nullptr);
    r[0] = g.build("SliceGrad", ops, {}, "adjoint");
    return r;
  });

  // The pieces join back up; a result nobody used contributes zeros.
  r.setGrad("", "Split", [](GradContext &g) -> std::vector<Value *> {
    size_t n = g.op.numResults();
    std::vector<Value *> parts;
    for (size_t i = 0; i < n; ++i)
      parts.push_back(g.dyOrZeros(i));
    int64_t axis = axisAttr(g, g.x(0)->type().rank());
    std::vector<Value *> r(g.numOperands(), nullptr);
    r[0] = n == 1 ? parts[0] : g.build("Concat", parts, {{"axis", Attribute(axis)}});
    return r;
  });

  // Scatter-add of dy at the gathered indices (repeated indices accumulate: the embedding
  // gradient). The indices are integers and get no gradient.
  r.setGrad("", "Gather", [](GradContext &g) -> std::vector<Value *> {
    Value *dx = g.build("GatherGrad", {g.dy(), g.x(1), g.ints(g.x(0)->shape())},
                        {{"axis", Attribute(g.attrs().i("axis"))}}, "adjoint");
    return {dx, nullptr};
  });
}

} // namespace adjoint
