// Gradient rules of the elementwise family (Ops/Elementwise.cpp): one short rule per op, built
// from ordinary ops. Broadcast operands get their gradient summed back to their own shape.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {
std::vector<Value *> binary(GradContext &g, Value *da, Value *db) {
  return {g.needs(0) && da ? g.sumToShape(da, g.x(0)->shape()) : nullptr,
          g.needs(1) && db ? g.sumToShape(db, g.x(1)->shape()) : nullptr};
}
} // namespace

void registerElementwiseGrads(OpRegistry &r) {
  r.setGrad("", "Add", [](GradContext &g) { return binary(g, g.dy(), g.dy()); });
  r.setGrad("", "Sub", [](GradContext &g) {
    return binary(g, g.dy(), g.needs(1) ? g.neg(g.dy()) : nullptr);
  });
  r.setGrad("", "Mul", [](GradContext &g) {
    return binary(g, g.needs(0) ? g.mul(g.dy(), g.x(1)) : nullptr,
                  g.needs(1) ? g.mul(g.dy(), g.x(0)) : nullptr);
  });
  // d relu(x) = dy where x > 0 (the subgradient 0 at x = 0, as PyTorch).
  r.setGrad("", "Relu", [](GradContext &g) -> std::vector<Value *> {
    Value *zero = g.scalar(0.0, g.x(0)->dtype());
    Value *pos = g.build("Greater", {g.x(0), zero});
    return {g.build("Where", {pos, g.dy(), zero})};
  });
}

} // namespace adjoint
