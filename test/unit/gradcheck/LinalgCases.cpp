// Gradient checks of the Linalg family: MatMul at every rank combination (1-D promotion, batch
// broadcasting both ways) and Gemm with every attribute and C broadcast.
#include "GradCheck.h"

#include <optional>

namespace adjoint::gradcheck {

namespace {

Case matMul(const char *variant, Shape a, Shape b) {
  return {"MatMul", variant, [a, b](CaseBuilder &cb) {
            return cb.op("MatMul", {cb.param(a), cb.param(b)});
          }};
}

Case gemm(const char *variant, Shape a, Shape b, std::optional<Shape> c, AttrMap attrs) {
  return {"Gemm", variant, [a, b, c, attrs](CaseBuilder &cb) {
            std::vector<Value *> ops{cb.param(a), cb.param(b)};
            if (c)
              ops.push_back(cb.param(*c));
            return cb.op("Gemm", ops, attrs);
          }};
}

} // namespace

GRAD_CASES(Linalg) {
  return {
      matMul("2-D x 2-D", {2, 3}, {3, 4}),
      matMul("1-D x 2-D", {3}, {3, 2}),
      matMul("2-D x 1-D", {2, 3}, {3}),
      matMul("1-D x 1-D (dot)", {3}, {3}),
      matMul("3-D x 2-D (batch folds into rows)", {2, 2, 3}, {3, 2}),
      matMul("3-D x 1-D", {2, 2, 3}, {3}),
      matMul("2-D x 3-D (A broadcast over batch)", {2, 3}, {2, 3, 2}),
      matMul("1-D x 3-D", {3}, {2, 3, 2}),
      matMul("3-D x 3-D", {2, 2, 3}, {2, 3, 2}),
      matMul("batch dims broadcast both ways", {2, 1, 2, 3}, {3, 3, 2}),
      matMul("unit batch dims broadcast", {1, 2, 2, 3}, {2, 1, 3, 2}),
      {"MatMul", "same operand twice (fan-out)",
       [](CaseBuilder &b) {
         Value *x = b.param({3, 3});
         return b.op("MatMul", {x, x});
       }},
      {"MatMul", "constant B",
       [](CaseBuilder &b) {
         return b.op("MatMul", {b.param({2, 2, 3}), b.constant({2, 3, 2})});
       }},
      {"MatMul", "constant A",
       [](CaseBuilder &b) {
         return b.op("MatMul", {b.constant({2, 3}), b.param({2, 3, 2})});
       }},

      gemm("plain, no C", {2, 3}, {3, 4}, std::nullopt, {}),
      gemm("transA", {3, 2}, {3, 4}, Shape{2, 4}, {{"transA", Attribute(1)}}),
      gemm("transB", {2, 3}, {4, 3}, Shape{2, 4}, {{"transB", Attribute(1)}}),
      gemm("transA transB alpha beta", {3, 2}, {4, 3}, Shape{2, 4},
           {{"transA", Attribute(1)},
            {"transB", Attribute(1)},
            {"alpha", Attribute(0.5)},
            {"beta", Attribute(-2.0)}}),
      gemm("C [N] broadcast, alpha", {2, 3}, {3, 4}, Shape{4}, {{"alpha", Attribute(1.5)}}),
      gemm("C [M,1] broadcast, beta", {2, 3}, {3, 4}, Shape{2, 1}, {{"beta", Attribute(0.25)}}),
      gemm("C [1,N] broadcast, transA", {3, 2}, {3, 4}, Shape{1, 4}, {{"transA", Attribute(1)}}),
      gemm("C scalar", {2, 3}, {3, 4}, Shape{}, {{"beta", Attribute(3.0)}}),
      gemm("C [1,1], transB", {2, 3}, {4, 3}, Shape{1, 1}, {{"transB", Attribute(1)}}),
      gemm("beta 0", {2, 3}, {3, 2}, Shape{2, 2}, {{"beta", Attribute(0.0)}}),
      {"Gemm", "constant A and C",
       [](CaseBuilder &b) {
         return b.op("Gemm", {b.constant({3, 2}), b.param({4, 3}), b.constant({4})},
                     {{"transA", Attribute(1)}, {"transB", Attribute(1)}});
       }},
  };
}

} // namespace adjoint::gradcheck
