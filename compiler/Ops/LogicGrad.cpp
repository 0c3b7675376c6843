// Gradient rules of the Logic family (Ops/Logic.cpp). The comparisons and Not have bool results,
// which never carry a gradient, so only Where and Cast have rules.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {
int64_t onnxFloatCode(DType t) { return t == DType::F32 ? 1 : 11; }
} // namespace

void registerLogicGrads(OpRegistry &r) {
  // dy goes to X where the condition holds and to Y elsewhere, each summed back over the
  // dimensions it was broadcast along; the bool condition gets none.
  r.setGrad("", "Where", [](GradContext &g) -> std::vector<Value *> {
    Value *cond = g.x(0), *dy = g.dy();
    Value *zero = g.scalar(0.0, dy->dtype());
    Value *dx = g.needs(1) ? g.sumToShape(g.build("Where", {cond, dy, zero}), g.x(1)->shape())
                           : nullptr;
    Value *dz = g.needs(2) ? g.sumToShape(g.build("Where", {cond, zero, dy}), g.x(2)->shape())
                           : nullptr;
    return {nullptr, dx, dz};
  });
  // Between float types the gradient is cast back to the input's type. A cast to or from an
  // integer or bool type is a step function: no gradient (the pass never asks for one, as such
  // values carry none, but the rule says so itself).
  r.setGrad("", "Cast", [](GradContext &g) -> std::vector<Value *> {
    DType from = g.x(0)->dtype(), to = g.y()->dtype();
    if (!isFloat(from) || !isFloat(to))
      return {nullptr};
    if (from == to)
      return {g.dy()};
    return {g.build("Cast", {g.dy()}, {{"to", Attribute(onnxFloatCode(from))}})};
  });
}

} // namespace adjoint
