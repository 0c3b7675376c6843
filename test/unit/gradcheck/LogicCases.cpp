// Gradient checks of the Logic family: Where (broadcasting of each operand against the others)
// and Cast (between float types; through integer and bool types no gradient flows).
#include "GradCheck.h"

namespace adjoint::gradcheck {

namespace {
Value *mask(CaseBuilder &b, const Shape &s) {
  std::vector<bool> v;
  for (int64_t i = 0; i < numElements(s); ++i)
    v.push_back(i % 3 != 1);
  return b.constant(Tensor::fromVector<bool>(s, v));
}

Value *castTo(CaseBuilder &b, Value *v, int64_t onnxCode) {
  return b.op("Cast", {v}, {{"to", Attribute(onnxCode)}});
}
} // namespace

GRAD_CASES(Logic) {
  return {
      {"Where", "same shape",
       [](CaseBuilder &b) { return b.op("Where", {mask(b, {2, 3}), b.param({2, 3}), b.param({2, 3})}); }},
      {"Where", "operands broadcast against the condition",
       [](CaseBuilder &b) { return b.op("Where", {mask(b, {2, 3}), b.param({3}), b.param({})}); }},
      {"Where", "condition broadcast against the operands",
       [](CaseBuilder &b) { return b.op("Where", {mask(b, {3}), b.param({2, 1}), b.param({2, 3})}); }},
      {"Where", "only Y trainable",
       [](CaseBuilder &b) { return b.op("Where", {mask(b, {2, 3}), b.constant({2, 3}), b.param({3})}); }},
      {"Where", "same value both sides",
       [](CaseBuilder &b) {
         Value *x = b.param({2, 3});
         return b.op("Where", {mask(b, {2, 3}), x, x});
       }},
      {"Cast", "f64 to f64", [](CaseBuilder &b) { return castTo(b, b.param({2, 3}), 11); }},
      // Small values keep f32 rounding of p +- h (|p| 2^-24) far below the step h.
      {"Cast", "f64 to f32 and back",
       [](CaseBuilder &b) {
         Value *narrow = castTo(b, b.param({2, 3}, -1e-3, 1e-3), 1);
         return castTo(b, b.op("Tanh", {narrow}), 11);
       },
       1e-3, 1e-4},
      // The i64 path truncates every input in (-1, 1) to 0: only x*x carries the gradient.
      {"Cast", "through i64 (no gradient)",
       [](CaseBuilder &b) {
         Value *x = b.param({2, 3});
         return b.op("Add", {b.op("Mul", {x, x}), castTo(b, castTo(b, x, 7), 11)});
       }},
      {"Cast", "through bool (no gradient)",
       [](CaseBuilder &b) {
         Value *x = b.paramAvoiding({2, 3}, {0.0});
         return b.op("Mul", {x, castTo(b, castTo(b, x, 9), 11)});
       }},
  };
}

} // namespace adjoint::gradcheck
