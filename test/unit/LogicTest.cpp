// Where, comparisons, Not and Cast. Cast's expected values are numpy astype results on x86.
#include "OpTestUtil.h"

#include <limits>

using namespace adjoint;
using namespace adjoint::test;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
const int32_t kMin32 = std::numeric_limits<int32_t>::min();
const int64_t kMin64 = std::numeric_limits<int64_t>::min();

Tensor cast(const Tensor &x, int64_t to) { return runOp("Cast", {x}, {{"to", to}}); }
} // namespace

// ---- Where ----------------------------------------------------------------------------------

TEST(Where, SelectsPerElement) {
  Tensor c = tensor<bool>({2, 2}, {true, false, true, true});
  expectTensor<float>(
      runOp("Where", {c, tensor<float>({2, 2}, {1, 2, 3, 4}), tensor<float>({2, 2}, {9, 8, 7, 6})}),
      {2, 2}, {1, 8, 3, 4});
  expectTensor<int64_t>(runOp("Where", {c, tensor<int64_t>({2, 2}, {1, 2, 3, 4}),
                                        tensor<int64_t>({2, 2}, {9, 8, 7, 6})}),
                        {2, 2}, {1, 8, 3, 4});
}

TEST(Where, BroadcastsAllThreeOperands) {
  // condition [2,1], x [3], y scalar -> [2,3].
  Tensor c = tensor<bool>({2, 1}, {true, false});
  expectTensor<double>(
      runOp("Where", {c, tensor<double>({3}, {1, 2, 3}), Tensor::scalar<double>(-1)}), {2, 3},
      {1, 2, 3, -1, -1, -1});
  // condition [3] against x [2,1]: the output grows from both.
  expectTensor<bool>(runOp("Where", {tensor<bool>({3}, {true, false, true}),
                                     tensor<bool>({2, 1}, {true, false}), Tensor::scalar(false)}),
                     {2, 3}, {true, false, true, false, false, false});
  expectTensor<int32_t>(runOp("Where", {Tensor::scalar(true), tensor<int32_t>({2}, {1, 2}),
                                        tensor<int32_t>({2}, {3, 4})}),
                        {2}, {1, 2});
}

TEST(Where, Errors) {
  std::string e = buildError("Where", {{DType::F32, {2}}, {DType::F32, {2}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("Where"), std::string::npos) << e;
  EXPECT_NE(e.find("condition"), std::string::npos) << e;
  e = buildError("Where", {{DType::Bool, {2}}, {DType::F32, {2}}, {DType::I64, {2}}});
  EXPECT_NE(e.find("same element type"), std::string::npos) << e;
  e = buildError("Where", {{DType::Bool, {3}}, {DType::F32, {2}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("broadcast"), std::string::npos) << e;
  EXPECT_NE(buildError("Where", {{DType::Bool, {2}}, {DType::F32, {2}}}), "");
}

// ---- Comparisons ----------------------------------------------------------------------------

TEST(Compare, EqualOnEveryType) {
  expectTensor<bool>(runOp("Equal", {tensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}),
                                     tensor<int32_t>({3}, {1, 5, 6})}),
                     {2, 3}, {true, false, false, false, true, true});
  expectTensor<bool>(runOp("Equal", {tensor<int64_t>({2}, {7, -7}), Tensor::scalar<int64_t>(-7)}),
                     {2}, {false, true});
  // NaN equals nothing, itself included; -0 == +0.
  expectTensor<bool>(
      runOp("Equal", {tensor<float>({3}, {kNaN, -0.f, 1}), tensor<float>({3}, {kNaN, 0, 1})}), {3},
      {false, true, true});
  expectTensor<bool>(
      runOp("Equal", {tensor<double>({2}, {0.1, 0.2}), tensor<double>({2}, {0.1, 0.3})}), {2},
      {true, false});
  expectTensor<bool>(runOp("Equal", {tensor<bool>({4}, {true, true, false, false}),
                                     tensor<bool>({4}, {true, false, true, false})}),
                     {4}, {true, false, false, true});
}

TEST(Compare, LessAndGreater) {
  Tensor a = tensor<float>({2, 2}, {1, 2, 3, kNaN}), b = tensor<float>({2}, {2, 2});
  expectTensor<bool>(runOp("Less", {a, b}), {2, 2}, {true, false, false, false});
  expectTensor<bool>(runOp("Greater", {a, b}), {2, 2}, {false, false, true, false});
  Tensor i = tensor<int64_t>({3}, {-5, 0, 5}), j = tensor<int64_t>({2, 1}, {0, -10});
  expectTensor<bool>(runOp("Less", {i, j}), {2, 3}, {true, false, false, false, false, false});
  expectTensor<bool>(runOp("Greater", {i, j}), {2, 3}, {false, false, true, true, true, true});
  expectTensor<bool>(runOp("Less", {tensor<double>({2}, {-kInf, 1}), tensor<double>({2}, {0, 1})}),
                     {2}, {true, false});
  expectTensor<bool>(
      runOp("Greater", {tensor<int32_t>({2}, {kMin32, 3}), tensor<int32_t>({2}, {0, 2})}), {2},
      {false, true});
}

TEST(Compare, Errors) {
  for (const char *op : {"Less", "Greater"}) {
    std::string e = buildError(op, {{DType::Bool, {2}}, {DType::Bool, {2}}});
    EXPECT_NE(e.find(op), std::string::npos) << e;
  }
  std::string e = buildError("Equal", {{DType::I32, {2}}, {DType::I64, {2}}});
  EXPECT_NE(e.find("Equal"), std::string::npos) << e;
  EXPECT_NE(e.find("same element type"), std::string::npos) << e;
  e = buildError("Less", {{DType::F32, {2, 3}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("broadcast"), std::string::npos) << e;
}

// ---- Not ------------------------------------------------------------------------------------

TEST(Not, NegatesBools) {
  expectTensor<bool>(runOp("Not", {tensor<bool>({2, 2}, {true, false, false, true})}), {2, 2},
                     {false, true, true, false});
  expectTensor<bool>(runOp("Not", {Tensor(DType::Bool, {0})}), {0}, {});
  std::string e = buildError("Not", {{DType::I32, {2}}});
  EXPECT_NE(e.find("Not"), std::string::npos) << e;
}

// ---- Cast -----------------------------------------------------------------------------------

// Every pair of supported types on values exact in all of them.
TEST(Cast, AllPairsOnExactValues) {
  const std::vector<std::pair<int64_t, DType>> codes = {
      {1, DType::F32}, {11, DType::F64}, {7, DType::I64}, {6, DType::I32}, {9, DType::Bool}};
  const std::vector<double> values = {0, 1, -2, 3};
  for (auto [fromCode, from] : codes) {
    Tensor x(from, {2, 2});
    for (int64_t i = 0; i < 4; ++i)
      x.setDouble(i, from == DType::Bool ? (values[i] != 0) : values[i]);
    for (auto [toCode, to] : codes) {
      Tensor y = cast(x, toCode);
      ASSERT_EQ(y.dtype(), to) << fromCode << " -> " << toCode;
      ASSERT_EQ(y.shape(), (Shape{2, 2}));
      for (int64_t i = 0; i < 4; ++i) {
        double want = from == DType::Bool || to == DType::Bool ? (values[i] != 0) : values[i];
        EXPECT_EQ(y.getDouble(i), want) << fromCode << " -> " << toCode << " element " << i;
      }
    }
  }
}

TEST(Cast, FloatToIntTruncatesTowardZero) {
  Tensor x = tensor<float>({6}, {-3.7f, -0.5f, 0.5f, 2.9f, 3e9f, -2147483648.f});
  expectTensor<int64_t>(cast(x, 7), {6}, {-3, 0, 0, 2, 3000000000LL, -2147483648LL});
  expectTensor<int32_t>(cast(tensor<double>({3}, {-3.7, 2147483647.9, 1e-300}), 6), {3},
                        {-3, 2147483647, 0});
}

TEST(Cast, NaNInfAndOutOfRangeMatchNumpy) {
  // numpy on x86 gives the integer minimum for NaN, infinities and out-of-range values.
  Tensor f = tensor<float>({5}, {kNaN, kInf, -kInf, 1e20f, 3e9f});
  expectTensor<int32_t>(cast(f, 6), {5}, {kMin32, kMin32, kMin32, kMin32, kMin32});
  expectTensor<int64_t>(cast(f, 7), {5}, {kMin64, kMin64, kMin64, kMin64, 3000000000LL});
  expectTensor<int64_t>(cast(tensor<double>({2}, {9.3e18, -9.3e18}), 7), {2}, {kMin64, kMin64});
  // NaN is true; -0 is false.
  expectTensor<bool>(cast(tensor<float>({4}, {kNaN, -0.f, 1e-40f, -kInf}), 9), {4},
                     {true, false, true, true});
  // f64 -> f32 overflows to infinity and keeps NaN.
  expectTensor<float>(cast(tensor<double>({4}, {1e300, -1e300, 3.5e38, 0.1}), 1), {4},
                      {kInf, -kInf, kInf, 0.1f});
  expectTensor<float>(cast(tensor<double>({2}, {kNaN, 3.4028234e38}), 1), {2},
                      {kNaN, std::numeric_limits<float>::max()});
}

TEST(Cast, IntegerNarrowingWraps) {
  expectTensor<int32_t>(cast(tensor<int64_t>({3}, {(1LL << 40) + 5, -(1LL << 40) - 3, -1}), 6), {3},
                        {5, -3, -1});
  expectTensor<bool>(cast(tensor<int64_t>({3}, {0, 1LL << 40, -1}), 9), {3}, {false, true, true});
  expectTensor<double>(cast(tensor<int64_t>({1}, {(1LL << 53) + 1}), 11), {1},
                       {9007199254740992.0});
}

TEST(Cast, Errors) {
  std::string e = buildError("Cast", {{DType::F32, {2}}}, {{"to", int64_t{10}}});
  EXPECT_NE(e.find("Cast"), std::string::npos) << e;
  EXPECT_NE(e.find("10"), std::string::npos) << e;
  e = buildError("Cast", {{DType::F32, {2}}});
  EXPECT_NE(e.find("Cast"), std::string::npos) << e;
  EXPECT_NE(e.find("to"), std::string::npos) << e;
  EXPECT_NE(buildError("Cast", {{DType::F32, {2}}}, {{"to", 1.0}}), "");
  EXPECT_NE(buildError("Cast", {{DType::F32, {2}}}, {{"to", int64_t{8}}}), "");
}
