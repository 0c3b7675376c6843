// Gradient checks of the reductions, and how ReduceMax splits the gradient among tied maxima.
#include "GradCheck.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

namespace adjoint::gradcheck {

namespace {
Value *reduceSum(CaseBuilder &b, const Shape &s, const std::vector<int64_t> *axes, int64_t keepdims,
                 int64_t noop = 0) {
  std::vector<Value *> ops = {b.param(s)};
  if (axes)
    ops.push_back(b.ints(*axes));
  return b.op("ReduceSum", ops,
              {{"keepdims", Attribute(keepdims)}, {"noop_with_empty_axes", Attribute(noop)}});
}

// ReduceMean / ReduceMax with an `axes` attribute (none: every axis).
Value *reduceAttr(CaseBuilder &b, const char *type, const Shape &s,
                  const std::vector<int64_t> *axes, int64_t keepdims) {
  AttrMap attrs{{"keepdims", Attribute(keepdims)}};
  if (axes)
    attrs["axes"] = Attribute(*axes);
  return b.op(type, {b.param(s)}, attrs);
}

const std::vector<int64_t> kAxis1{1}, kNeg{-1, 0}, kNone{}, kMid{-2};
} // namespace

GRAD_CASES(Reduce) {
  return {
      {"ReduceSum", "axis 1, keepdims",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3, 2}, &kAxis1, 1);
       }},
      {"ReduceSum", "axis 1, no keepdims",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3, 2}, &kAxis1, 0);
       }},
      {"ReduceSum", "negative axes, no keepdims",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3, 2}, &kNeg, 0);
       }},
      {"ReduceSum", "no axes operand: every axis, keepdims",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3}, nullptr, 1);
       }},
      {"ReduceSum", "empty axes: every axis, no keepdims",
       [](CaseBuilder &b) {
         return reduceSum(b, {3, 2}, &kNone, 0);
       }},
      {"ReduceSum", "noop_with_empty_axes, no axes operand: identity",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3}, nullptr, 0, 1);
       }},
      {"ReduceSum", "noop_with_empty_axes, empty axes: identity",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3}, &kNone, 1, 1);
       }},
      {"ReduceSum", "noop_with_empty_axes with axes: reduces",
       [](CaseBuilder &b) {
         return reduceSum(b, {2, 3, 2}, &kMid, 0, 1);
       }},

      {"ReduceMean", "axis 1, keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMean", {2, 3, 2}, &kAxis1, 1);
       }},
      {"ReduceMean", "negative axes, no keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMean", {2, 3, 2}, &kNeg, 0);
       }},
      {"ReduceMean", "no axes: every axis, keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMean", {2, 3}, nullptr, 1);
       }},
      {"ReduceMean", "no axes: every axis, no keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMean", {3, 2}, nullptr, 0);
       }},

      {"ReduceMax", "axis 1, keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMax", {2, 3, 2}, &kAxis1, 1);
       }},
      {"ReduceMax", "axis 1, no keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMax", {2, 3, 2}, &kAxis1, 0);
       }},
      {"ReduceMax", "negative axes, no keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMax", {2, 3, 2}, &kNeg, 0);
       }},
      {"ReduceMax", "no axes: every axis, keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMax", {2, 3}, nullptr, 1);
       }},
      {"ReduceMax", "no axes: every axis, no keepdims",
       [](CaseBuilder &b) {
         return reduceAttr(b, "ReduceMax", {3, 2}, nullptr, 0);
       }},
      // Ties of copies of one value: max(p, p, p) = p, so the shares must add up to 1.
      {"ReduceMax", "ties among broadcast copies",
       [](CaseBuilder &b) {
         Value *x = b.op("Add", {b.param({2, 1}), b.constant(Tensor(DType::F64, {2, 3}))});
         return b.op("ReduceMax", {x}, {{"axes", Attribute(kAxis1)}, {"keepdims", Attribute(0)}});
       }},
  };
}

// Tied maxima share the gradient evenly (as PyTorch's amax does); the rest get none.
TEST(ReduceGrad, ReduceMaxSplitsTiesEvenly) {
  Function f("ties");
  Value *x = f.addParam("x", {DType::F64, {2, 4}},
                        Tensor::fromVector<double>({2, 4}, {1, 3, 3, 3, 5, -1, 2, 0}));
  Value *m = buildOp(f, "ReduceMax", {x}, {{"axes", Attribute(std::vector<int64_t>{1})}})->result();
  Value *w = buildConstant(f, Tensor::fromVector<double>({2, 1}, {6, 2}));
  Value *prod = buildOp(f, "Mul", {m, w})->result();
  Value *axes = buildConstant(f, Tensor::fromVector<int64_t>({2}, {0, 1}));
  f.addOutput("loss",
              buildOp(f, "ReduceSum", {prod, axes}, {{"keepdims", Attribute(0)}})->result());
  PassContext ctx;
  runAutodiff(f, ctx);
  verifyFunction(f);
  std::vector<Tensor> out = interpret(f, {});
  const std::vector<double> expected = {0, 2, 2, 2, 2, 0, 0, 0};
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_EQ(out[1].getDouble(i), expected[(size_t)i]) << "element " << i;
}

} // namespace adjoint::gradcheck
