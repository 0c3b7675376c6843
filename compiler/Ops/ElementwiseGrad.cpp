// Gradient rules of the elementwise family (Ops/Elementwise.cpp): one short rule per op, built
// from ordinary ops. Broadcast operands get their gradient summed back to their own shape.
// Unary rules reuse the forward result where the derivative is a function of it (Exp, Sqrt,
// Reciprocal, Tanh, Sigmoid, Elu), as PyTorch's backward formulas do. Only float values carry
// gradients, so every rule runs on f32 or f64; integer operands (a Pow exponent) get none.
// Non-smooth points take PyTorch's subgradient; each rule says which.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {
std::vector<Value *> binary(GradContext &g, Value *da, Value *db) {
  return {g.needs(0) && da ? g.sumToShape(da, g.x(0)->shape()) : nullptr,
          g.needs(1) && db ? g.sumToShape(db, g.x(1)->shape()) : nullptr};
}

Value *where(GradContext &g, Value *cond, Value *a, Value *b) {
  return g.build("Where", {cond, a, b});
}

Value *zero(GradContext &g) { return g.scalar(0.0, g.y()->dtype()); }

// v converted to dtype t (Pow's base and exponent may differ in type).
Value *castTo(GradContext &g, Value *v, DType t) {
  if (v->dtype() == t)
    return v;
  int64_t code = 0;
  switch (t) {
  case DType::F32: code = 1; break;
  case DType::F64: code = 11; break;
  case DType::I64: code = 7; break;
  case DType::I32: code = 6; break;
  case DType::Bool: code = 9; break;
  }
  return g.build("Cast", {v}, {{"to", Attribute(code)}});
}

// True when v is a Constant with no zero element, so a mask for zeros would be dead code.
bool knownNonZero(const Value *v) {
  const Op *d = v->definingOp();
  if (!d || d->opType() != "Constant" || !d->domain().empty() || !d->attr("value"))
    return false;
  const Tensor &t = d->attr("value")->tensor();
  if (t.empty())
    return false;
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t.getDouble(i) == 0.0)
      return false;
  return true;
}

// d x^e / dx = e x^(e-1); d x^e / de = x^e log x. PyTorch's masks: the base gradient is 0 where
// e == 0 (not 0 * x^-1, NaN at x = 0), the exponent gradient 0 where x == 0 (not 0 * log 0,
// which PyTorch also gives for e >= 0; for e < 0 the forward is already inf there).
std::vector<Value *> powGrad(GradContext &g) {
  Value *x = g.x(0), *e = g.x(1);
  DType t = x->dtype();
  Value *dx = nullptr, *de = nullptr;
  if (g.needs(0)) {
    Value *et = castTo(g, e, t);
    Value *pow = g.build("Pow", {x, g.sub(et, g.scalar(1.0, t))});
    dx = g.mul(g.dy(), g.mul(et, pow));
    if (!knownNonZero(e)) {
      Value *z = zero(g);
      dx = where(g, g.build("Equal", {et, z}), z, dx);
    }
    dx = g.sumToShape(dx, x->shape());
  }
  if (g.needs(1)) {
    de = g.mul(g.dy(), g.mul(g.y(), g.build("Log", {x})));
    if (!knownNonZero(x)) {
      Value *z = zero(g);
      de = where(g, g.build("Equal", {x, z}), z, de);
    }
    // Summed in the base's type, then converted: the exponent may be the narrower one.
    de = castTo(g, g.sumToShape(de, e->shape()), e->dtype());
  }
  return {dx, de};
}

// Clip(x, min, max) = min(max(x, min), max), with PyTorch's clamp(x, min, max) gradients for
// tensor bounds: x gets dy where min <= x <= max (bounds included); min gets dy where x < min
// and min < max; max gets dy where x > max, or everywhere when max < min (the result is max
// then). With min == max only x == min passes a gradient, as in PyTorch.
std::vector<Value *> clipGrad(GradContext &g) {
  Value *x = g.x(0), *lo = g.x(1), *hi = g.x(2), *dy = g.dy();
  std::vector<Value *> grads(g.numOperands(), nullptr);
  if (!lo && !hi)
    return {dy};
  Value *z = zero(g);
  Value *below = lo && (g.needs(0) || g.needs(1)) ? g.build("Less", {x, lo}) : nullptr;
  Value *above = hi && (g.needs(0) || g.needs(2)) ? g.build("Greater", {x, hi}) : nullptr;
  if (g.needs(0)) {
    Value *d = dy;
    if (below)
      d = where(g, below, z, d);
    if (above)
      d = where(g, above, z, d);
    grads[0] = g.sumToShape(d, x->shape());
  }
  if (lo && g.needs(1)) {
    Value *d = where(g, below, dy, z);
    if (hi)
      d = where(g, g.build("Less", {lo, hi}), d, z);
    grads[1] = g.sumToShape(d, lo->shape());
  }
  if (hi && g.needs(2)) {
    Value *d = where(g, above, dy, z);
    if (lo)
      d = where(g, g.build("Less", {hi, lo}), dy, d);
    grads[2] = g.sumToShape(d, hi->shape());
  }
  return grads;
}
} // namespace

void registerElementwiseGrads(OpRegistry &r) {
  using Grads = std::vector<Value *>;
  r.setGrad("", "Add", [](GradContext &g) { return binary(g, g.dy(), g.dy()); });
  r.setGrad("", "Sub", [](GradContext &g) {
    return binary(g, g.dy(), g.needs(1) ? g.neg(g.dy()) : nullptr);
  });
  r.setGrad("", "Mul", [](GradContext &g) {
    // Built in operand order: function arguments are evaluated in an unspecified order (gcc and
    // clang differ), and the IR must not depend on the compiler.
    Value *da = g.needs(0) ? g.mul(g.dy(), g.x(1)) : nullptr;
    Value *db = g.needs(1) ? g.mul(g.dy(), g.x(0)) : nullptr;
    return binary(g, da, db);
  });
  // d(a/b) = dy/b, and -dy a/b^2 = -(dy/b) (a/b) for b, reusing both the quotient and dy/b.
  r.setGrad("", "Div", [](GradContext &g) {
    Value *da = g.div(g.dy(), g.x(1));
    return binary(g, da, g.needs(1) ? g.neg(g.mul(da, g.y())) : nullptr);
  });
  r.setGrad("", "Pow", powGrad);

  r.setGrad("", "Neg", [](GradContext &g) -> Grads { return {g.neg(g.dy())}; });
  // sign(x) dy, with the subgradient 0 at x = 0 (PyTorch's sgn).
  r.setGrad("", "Abs", [](GradContext &g) -> Grads {
    Value *x = g.x(0), *z = zero(g);
    Value *neg = where(g, g.build("Less", {x, z}), g.neg(g.dy()), z);
    return {where(g, g.build("Greater", {x, z}), g.dy(), neg)};
  });
  r.setGrad("", "Exp", [](GradContext &g) -> Grads { return {g.mul(g.dy(), g.y())}; });
  r.setGrad("", "Log", [](GradContext &g) -> Grads { return {g.div(g.dy(), g.x(0))}; });
  r.setGrad("", "Sqrt", [](GradContext &g) -> Grads {
    return {g.div(g.dy(), g.mul(g.y(), g.scalar(2.0, g.y()->dtype())))};
  });
  r.setGrad("", "Reciprocal", [](GradContext &g) -> Grads {
    return {g.neg(g.mul(g.dy(), g.mul(g.y(), g.y())))};
  });
  // d erf(x) = 2/sqrt(pi) exp(-x^2).
  r.setGrad("", "Erf", [](GradContext &g) -> Grads {
    DType t = g.x(0)->dtype();
    Value *x = g.x(0);
    Value *gauss = g.build("Exp", {g.neg(g.mul(x, x))});
    const double twoOverSqrtPi = 1.12837916709551257390;
    return {g.mul(g.dy(), g.mul(gauss, g.scalar(twoOverSqrtPi, t)))};
  });
  r.setGrad("", "Tanh", [](GradContext &g) -> Grads {
    Value *one = g.scalar(1.0, g.y()->dtype());
    return {g.mul(g.dy(), g.sub(one, g.mul(g.y(), g.y())))};
  });
  r.setGrad("", "Sigmoid", [](GradContext &g) -> Grads {
    Value *one = g.scalar(1.0, g.y()->dtype());
    return {g.mul(g.dy(), g.mul(g.y(), g.sub(one, g.y())))};
  });
  // d relu(x) = dy where x > 0 (the subgradient 0 at x = 0, as PyTorch).
  r.setGrad("", "Relu", [](GradContext &g) -> Grads {
    Value *z = zero(g);
    return {where(g, g.build("Greater", {g.x(0), z}), g.dy(), z)};
  });
  // dy where x > 0, else alpha dy (alpha at x = 0, as PyTorch's leaky_relu_backward).
  r.setGrad("", "LeakyRelu", [](GradContext &g) -> Grads {
    Value *alpha = g.scalar(g.attrs().f("alpha"), g.y()->dtype());
    Value *pos = g.build("Greater", {g.x(0), zero(g)});
    return {where(g, pos, g.dy(), g.mul(g.dy(), alpha))};
  });
  // For x <= 0, d elu = alpha exp(x) = y + alpha (alpha at 0, as PyTorch; the y form is the one
  // PyTorch's in-place elu_ uses): absolute error alpha * eps, and no second exp.
  r.setGrad("", "Elu", [](GradContext &g) -> Grads {
    Value *alpha = g.scalar(g.attrs().f("alpha"), g.y()->dtype());
    Value *pos = g.build("Greater", {g.x(0), zero(g)});
    return {where(g, pos, g.dy(), g.mul(g.dy(), g.add(g.y(), alpha)))};
  });
  r.setGrad("", "Clip", clipGrad);
}

} // namespace adjoint
