// ReduceSum (axes operand), ReduceMean and ReduceMax (axes attribute), opset-17 semantics.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace adjoint;

namespace {

// The data of the ONNX reduce_* examples: shape [3,2,2], values 1..12.
Tensor data12(DType dt = DType::F32) {
  std::vector<double> v(12);
  for (int i = 0; i < 12; ++i)
    v[i] = i + 1;
  return Tensor::fromVector<double>({3, 2, 2}, v).cast(dt);
}

Tensor axesT(std::vector<int64_t> a) {
  Shape s{(int64_t)a.size()};
  return Tensor::fromVector<int64_t>(s, a);
}

// Runs `type` on x; for ReduceSum, `axes` (if given) becomes a Constant operand.
Tensor reduce(const std::string &type, const Tensor &x, std::optional<std::vector<int64_t>> axes,
              AttrMap attrs = {}) {
  Function f("t");
  Value *in = f.addInput("x", {x.dtype(), x.shape()});
  std::vector<Value *> ops{in};
  if (axes) {
    if (type == "ReduceSum")
      ops.push_back(buildConstant(f, axesT(*axes)));
    else
      attrs["axes"] = *axes;
  }
  Op *op = buildOp(f, type, ops, std::move(attrs));
  f.addOutput("y", op->result());
  return interpret(f, {{"x", x}})[0];
}

void expectValues(const Tensor &got, const Shape &shape, const std::vector<double> &want) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(got.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    double g = got.getDouble((int64_t)i);
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(g)) << "at " << i;
    else
      EXPECT_DOUBLE_EQ(g, want[i]) << "at " << i;
  }
}

void expectThrowsNaming(const std::function<void()> &fn, const std::string &needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an Error mentioning '" << needle << "'";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

const double kInf = std::numeric_limits<double>::infinity();

} // namespace

TEST(ReduceSum, KeepdimsAndNot) {
  expectValues(reduce("ReduceSum", data12(), std::vector<int64_t>{1}), {3, 1, 2},
               {4, 6, 12, 14, 20, 22});
  expectValues(reduce("ReduceSum", data12(), std::vector<int64_t>{1}, {{"keepdims", int64_t{0}}}),
               {3, 2}, {4, 6, 12, 14, 20, 22});
  expectValues(reduce("ReduceSum", data12(), std::vector<int64_t>{-2}), {3, 1, 2},
               {4, 6, 12, 14, 20, 22});
  expectValues(reduce("ReduceSum", data12(DType::F64), std::vector<int64_t>{2, 0},
                      {{"keepdims", int64_t{0}}}),
               {2}, {33, 45});
}

TEST(ReduceSum, EmptyOrAbsentAxesReduceAll) {
  expectValues(reduce("ReduceSum", data12(), std::vector<int64_t>{}), {1, 1, 1}, {78});
  expectValues(reduce("ReduceSum", data12(), std::nullopt), {1, 1, 1}, {78});
  expectValues(reduce("ReduceSum", data12(), std::nullopt, {{"keepdims", int64_t{0}}}), {}, {78});
}

TEST(ReduceSum, NoopWithEmptyAxes) {
  Tensor x = data12();
  EXPECT_TRUE(reduce("ReduceSum", x, std::vector<int64_t>{}, {{"noop_with_empty_axes", int64_t{1}}})
                  .identical(x));
  EXPECT_TRUE(reduce("ReduceSum", x, std::nullopt, {{"noop_with_empty_axes", int64_t{1}}})
                  .identical(x));
  // Non-empty axes still reduce.
  expectValues(reduce("ReduceSum", x, std::vector<int64_t>{0},
                      {{"noop_with_empty_axes", int64_t{1}}, {"keepdims", int64_t{0}}}),
               {2, 2}, {15, 18, 21, 24});
}

TEST(ReduceSum, Integers) {
  Tensor x32 = data12(DType::I32);
  Tensor y = reduce("ReduceSum", x32, std::vector<int64_t>{0, 1}, {{"keepdims", int64_t{0}}});
  EXPECT_EQ(y.dtype(), DType::I32);
  expectValues(y, {2}, {36, 42});
  Tensor big = Tensor::fromVector<int64_t>({2}, {std::numeric_limits<int64_t>::max(), 1});
  // Overflow wraps (two's complement) instead of being undefined.
  EXPECT_EQ(reduce("ReduceSum", big, std::nullopt).data<int64_t>()[0],
            std::numeric_limits<int64_t>::min());
}

TEST(ReduceSum, ZeroSizeDimensionSumsToZero) {
  Tensor x(DType::F32, {2, 0, 3});
  expectValues(reduce("ReduceSum", x, std::vector<int64_t>{1}), {2, 1, 3}, {0, 0, 0, 0, 0, 0});
  expectValues(reduce("ReduceSum", x, std::vector<int64_t>{0}), {1, 0, 3}, {});
}

TEST(ReduceSum, InferenceErrors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {3, 2, 2}});
  Value *dynAxes = f.addInput("a", {DType::I64, {1}});
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {x, dynAxes}); }, "compile-time constant");
  Value *far = buildConstant(f, axesT({3}));
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {x, far}); }, "ReduceSum");
  Value *dup = buildConstant(f, axesT({1, -2}));
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {x, dup}); }, "twice");
  Value *i32Axes = buildConstant(f, Tensor::fromVector<int32_t>({1}, {0}));
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {x, i32Axes}); }, "i64");
  Value *b = f.addInput("b", {DType::Bool, {2}});
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {b}); }, "numeric");
  expectThrowsNaming([&] { buildOp(f, "ReduceSum", {x}, {{"axes", std::vector<int64_t>{0}}}); },
                     "unknown attribute 'axes'");
}

TEST(ReduceMean, AxesAttribute) {
  expectValues(reduce("ReduceMean", data12(), std::vector<int64_t>{1}, {{"keepdims", int64_t{0}}}),
               {3, 2}, {2, 3, 6, 7, 10, 11});
  expectValues(reduce("ReduceMean", data12(DType::F64), std::vector<int64_t>{0, -1}), {1, 2, 1},
               {5.5, 7.5});
  expectValues(reduce("ReduceMean", data12(), std::nullopt), {1, 1, 1}, {6.5});
  expectValues(reduce("ReduceMean", data12(), std::vector<int64_t>{}), {1, 1, 1}, {6.5});
}

TEST(ReduceMean, IntegersTruncateAndEmptySetIsNaN) {
  Tensor x = Tensor::fromVector<int64_t>({2, 2}, {1, 2, -3, -4});
  expectValues(reduce("ReduceMean", x, std::vector<int64_t>{1}, {{"keepdims", int64_t{0}}}), {2},
               {1, -3});
  Tensor e(DType::F64, {0, 2});
  expectValues(reduce("ReduceMean", e, std::vector<int64_t>{0}), {1, 2}, {NAN, NAN});
  Function f("t");
  Value *ei = f.addInput("x", {DType::I32, {0, 2}});
  expectThrowsNaming([&] { buildOp(f, "ReduceMean", {ei}); }, "ReduceMean");
}

TEST(ReduceMax, AxesAttribute) {
  Tensor m = Tensor::fromVector<float>({3, 2, 2}, {5, 1, 20, 2, 30, 1, 40, 2, 55, 1, 60, 2});
  expectValues(reduce("ReduceMax", m, std::vector<int64_t>{1}, {{"keepdims", int64_t{0}}}), {3, 2},
               {20, 2, 40, 2, 60, 2});
  expectValues(reduce("ReduceMax", m, std::vector<int64_t>{-2}), {3, 1, 2}, {20, 2, 40, 2, 60, 2});
  expectValues(reduce("ReduceMax", m, std::vector<int64_t>{0, 2}), {1, 2, 1}, {55, 60});
  expectValues(reduce("ReduceMax", m, std::nullopt), {1, 1, 1}, {60});
}

TEST(ReduceMax, NegativeValuesIntegersAndNaN) {
  Tensor n = Tensor::fromVector<double>({3}, {-5, -2, -7});
  expectValues(reduce("ReduceMax", n, std::nullopt, {{"keepdims", int64_t{0}}}), {}, {-2});
  Tensor i = Tensor::fromVector<int32_t>({2, 2}, {-5, -9, 3, -1});
  Tensor y = reduce("ReduceMax", i, std::vector<int64_t>{0});
  EXPECT_EQ(y.dtype(), DType::I32);
  expectValues(y, {1, 2}, {3, -1});
  Tensor nan = Tensor::fromVector<float>({2, 3}, {1, NAN, 3, 4, 5, 6});
  expectValues(reduce("ReduceMax", nan, std::vector<int64_t>{1}), {2, 1}, {NAN, 6});
}

TEST(ReduceMax, EmptySetIsLowest) {
  expectValues(reduce("ReduceMax", Tensor(DType::F32, {2, 0}), std::vector<int64_t>{1}), {2, 1},
               {-kInf, -kInf});
  Tensor y = reduce("ReduceMax", Tensor(DType::I64, {0, 1}), std::vector<int64_t>{0});
  EXPECT_EQ(y.data<int64_t>()[0], std::numeric_limits<int64_t>::lowest());
}

TEST(ReduceMax, InferenceErrors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {3, 2}});
  expectThrowsNaming([&] { buildOp(f, "ReduceMax", {x}, {{"axes", std::vector<int64_t>{2}}}); },
                     "ReduceMax");
  expectThrowsNaming([&] { buildOp(f, "ReduceMax", {x}, {{"axes", std::vector<int64_t>{0, 0}}}); },
                     "twice");
  expectThrowsNaming([&] { buildOp(f, "ReduceMax", {x}, {{"keepdims", int64_t{2}}}); },
                     "keepdims");
  Value *axes = buildConstant(f, axesT({0}));
  expectThrowsNaming([&] { buildOp(f, "ReduceMean", {x, axes}); }, "ReduceMean");
}
