// Gradient checks of the elementwise family: every rule of Ops/ElementwiseGrad.cpp, broadcasting
// both ways for each binary op, every attribute variant, and inputs kept away from kinks and
// outside the domain where a derivative is undefined (Log, Sqrt at 0, Pow's exponent for x <= 0).
#include "GradCheck.h"

namespace adjoint::gradcheck {

namespace {
using Build = std::function<Value *(CaseBuilder &)>;

// op(p0, p1) over two trainable operands of the given shapes and value ranges.
Build binaryOf(const char *op, Shape a, Shape b, double bLo = -1.0, double bHi = 1.0) {
  return [=](CaseBuilder &cb) { return cb.op(op, {cb.param(a), cb.param(b, bLo, bHi)}); };
}

// Denominators and reciprocal inputs: of either sign, at least 0.3 away from 0.
Value *awayFromZero(CaseBuilder &b, const Shape &s) { return b.paramAvoiding(s, {0.0}, 0.3); }

Value *clip(CaseBuilder &b, Value *x, Value *lo, Value *hi) { return b.op("Clip", {x, lo, hi}); }
// Bounds drawn from [-0.5, -0.45) and [0.45, 0.5), so inputs 0.1 away from +-0.475 avoid both.
Value *lowBound(CaseBuilder &b, const Shape &s = {}) { return b.param(s, -0.5, -0.45); }
Value *highBound(CaseBuilder &b, const Shape &s = {}) { return b.param(s, 0.45, 0.5); }
Value *clipInput(CaseBuilder &b, const Shape &s) {
  return b.paramAvoiding(s, {-0.475, 0.475}, 0.1);
}
} // namespace

GRAD_CASES(Elementwise) {
  return {
      {"Add", "broadcast both ways", binaryOf("Add", {2, 1, 3}, {4, 1})},
      {"Add", "same shape", binaryOf("Add", {2, 3}, {2, 3})},
      {"Add", "scalar lhs", binaryOf("Add", {}, {2, 3})},
      {"Add", "constant rhs",
       [](CaseBuilder &b) { return b.op("Add", {b.param({2, 3}), b.constant({3})}); }},
      {"Sub", "scalar rhs", binaryOf("Sub", {2, 3}, {})},
      {"Sub", "broadcast lhs", binaryOf("Sub", {3}, {2, 3})},
      {"Sub", "broadcast both ways", binaryOf("Sub", {2, 1}, {1, 3})},
      {"Sub", "constant lhs",
       [](CaseBuilder &b) { return b.op("Sub", {b.constant({2, 3}), b.param({3})}); }},
      {"Mul", "same operand twice (fan-out)",
       [](CaseBuilder &b) {
         Value *x = b.param({5});
         return b.op("Mul", {x, x});
       }},
      {"Mul", "constant operand",
       [](CaseBuilder &b) { return b.op("Mul", {b.param({2, 3}), b.constant({3})}); }},
      {"Mul", "broadcast both ways", binaryOf("Mul", {3, 1, 2}, {4, 1})},
      {"Mul", "scalar lhs", binaryOf("Mul", {}, {2, 3})},

      {"Div", "same shape",
       [](CaseBuilder &b) { return b.op("Div", {b.param({2, 3}), awayFromZero(b, {2, 3})}); }},
      {"Div", "broadcast both ways",
       [](CaseBuilder &b) { return b.op("Div", {b.param({2, 1}), awayFromZero(b, {1, 3})}); }},
      {"Div", "scalar numerator",
       [](CaseBuilder &b) { return b.op("Div", {b.param({}), awayFromZero(b, {2, 3})}); }},
      {"Div", "scalar denominator",
       [](CaseBuilder &b) { return b.op("Div", {b.param({2, 3}), awayFromZero(b, {})}); }},
      {"Div", "constant denominator",
       [](CaseBuilder &b) { return b.op("Div", {b.param({2, 3}), b.constant({3}, 0.5, 2.0)}); }},
      {"Div", "constant numerator",
       [](CaseBuilder &b) { return b.op("Div", {b.constant({2, 3}), awayFromZero(b, {3})}); }},

      // Positive bases wherever the exponent is trainable: its gradient needs log(base).
      {"Pow", "same shape", [](CaseBuilder &b) {
         return b.op("Pow", {b.param({2, 3}, 0.5, 2.0), b.param({2, 3}, -2.0, 2.0)});
       }},
      {"Pow", "broadcast both ways", [](CaseBuilder &b) {
         return b.op("Pow", {b.param({2, 1}, 0.5, 2.0), b.param({1, 3}, -2.0, 2.0)});
       }},
      {"Pow", "scalar exponent", [](CaseBuilder &b) {
         return b.op("Pow", {b.param({2, 3}, 0.5, 2.0), b.param({}, -2.0, 2.0)});
       }},
      {"Pow", "scalar base", [](CaseBuilder &b) {
         return b.op("Pow", {b.param({}, 0.5, 2.0), b.param({4}, -2.0, 2.0)});
       }},
      {"Pow", "constant exponent, negative bases", [](CaseBuilder &b) {
         return b.op("Pow", {b.param({2, 3}, -2.0, -0.5), b.constant(Tensor::scalar<double>(3.0))});
       }},
      {"Pow", "constant i64 exponent", [](CaseBuilder &b) {
         Value *e = b.constant(Tensor::fromVector<int64_t>({3}, {2, 3, -1}));
         return b.op("Pow", {awayFromZero(b, {2, 3}), e});
       }},
      // Without the e == 0 mask the base gradient would be 0 * 0^-1 = NaN here.
      {"Pow", "zero exponent at base 0", [](CaseBuilder &b) {
         Value *base = b.op("Mul", {b.param({3}), b.constant(Tensor(DType::F64, {3}))});
         return b.op("Pow", {base, b.constant(Tensor(DType::F64, {3}))});
       }},
      // Without the x == 0 mask the exponent gradient would be 0 * log 0 = NaN here.
      {"Pow", "trainable exponent at base 0", [](CaseBuilder &b) {
         Value *base = b.op("Mul", {b.param({3}), b.constant(Tensor(DType::F64, {3}))});
         return b.op("Pow", {base, b.param({3}, 1.5, 2.5)});
       }},
      // The exponent's gradient is summed in f64 and cast to the f32 exponent. Small exponents
      // keep f32 rounding of p +- h (|p| 2^-24) far below the step h.
      {"Pow", "f32 exponent of an f64 base",
       [](CaseBuilder &b) {
         Value *e = b.op("Cast", {b.param({3}, -1e-3, 1e-3)}, {{"to", Attribute(1)}});
         return b.op("Pow", {b.param({2, 3}, 0.5, 2.0), e});
       },
       1e-3, 1e-4},

      {"Neg", "matrix", [](CaseBuilder &b) { return b.op("Neg", {b.param({2, 3})}); }},
      {"Abs", "away from 0",
       [](CaseBuilder &b) { return b.op("Abs", {b.paramAvoiding({3, 4}, {0.0})}); }},
      {"Exp", "matrix", [](CaseBuilder &b) { return b.op("Exp", {b.param({2, 3})}); }},
      {"Log", "positive", [](CaseBuilder &b) { return b.op("Log", {b.param({2, 3}, 0.2, 2.0)}); }},
      {"Sqrt", "positive",
       [](CaseBuilder &b) { return b.op("Sqrt", {b.param({2, 3}, 0.2, 2.0)}); }},
      {"Reciprocal", "away from 0",
       [](CaseBuilder &b) { return b.op("Reciprocal", {awayFromZero(b, {2, 3})}); }},
      {"Erf", "matrix", [](CaseBuilder &b) { return b.op("Erf", {b.param({2, 3}, -2.0, 2.0)}); }},
      {"Tanh", "matrix", [](CaseBuilder &b) { return b.op("Tanh", {b.param({2, 3}, -3.0, 3.0)}); }},
      {"Sigmoid", "matrix",
       [](CaseBuilder &b) { return b.op("Sigmoid", {b.param({2, 3}, -4.0, 4.0)}); }},
      {"Relu", "away from 0",
       [](CaseBuilder &b) { return b.op("Relu", {b.paramAvoiding({3, 4}, {0.0})}); }},
      {"LeakyRelu", "default alpha",
       [](CaseBuilder &b) { return b.op("LeakyRelu", {b.paramAvoiding({3, 4}, {0.0})}); }},
      {"LeakyRelu", "alpha 0.2",
       [](CaseBuilder &b) {
         return b.op("LeakyRelu", {b.paramAvoiding({3, 4}, {0.0})}, {{"alpha", Attribute(0.2)}});
       }},
      {"LeakyRelu", "alpha -1.5",
       [](CaseBuilder &b) {
         return b.op("LeakyRelu", {b.paramAvoiding({3, 4}, {0.0})}, {{"alpha", Attribute(-1.5)}});
       }},
      {"Elu", "default alpha",
       [](CaseBuilder &b) { return b.op("Elu", {b.paramAvoiding({3, 4}, {0.0}, 0.05, -3.0)}); }},
      {"Elu", "alpha 0.3",
       [](CaseBuilder &b) {
         return b.op("Elu", {b.paramAvoiding({3, 4}, {0.0}, 0.05, -3.0)},
                     {{"alpha", Attribute(0.3)}});
       }},

      {"Clip", "constant bounds",
       [](CaseBuilder &b) {
         return clip(b, b.paramAvoiding({3, 4}, {-0.5, 0.5}),
                     b.constant(Tensor::scalar<double>(-0.5)),
                     b.constant(Tensor::scalar<double>(0.5)));
       }},
      {"Clip", "trainable bounds",
       [](CaseBuilder &b) { return clip(b, clipInput(b, {3, 4}), lowBound(b), highBound(b)); }},
      {"Clip", "min only",
       [](CaseBuilder &b) { return clip(b, clipInput(b, {3, 4}), lowBound(b), nullptr); }},
      {"Clip", "max only",
       [](CaseBuilder &b) { return clip(b, clipInput(b, {3, 4}), nullptr, highBound(b)); }},
      // The result is max everywhere: max takes every gradient, x and min none.
      {"Clip", "min above max",
       [](CaseBuilder &b) { return clip(b, clipInput(b, {3, 4}), highBound(b), lowBound(b)); }},
      {"Clip", "one-element vector bounds",
       [](CaseBuilder &b) {
         return clip(b, clipInput(b, {3, 4}), lowBound(b, {1}), highBound(b, {1}));
       }},
      {"Clip", "scalar input, one-element bound",
       [](CaseBuilder &b) { return clip(b, clipInput(b, {}), nullptr, highBound(b, {1})); }},
      {"Clip", "no bounds",
       [](CaseBuilder &b) { return b.op("Clip", {b.param({2, 3})}); }},
  };
}

} // namespace adjoint::gradcheck
