// Elementwise math and activations. Expected float values come from the numpy reference
// formulas of the ONNX node tests (generated once and pasted in).
#include "OpTestUtil.h"

#include <limits>

using namespace adjoint;
using namespace adjoint::test;

namespace {
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();
const std::vector<float> kX = {-2.5f, -0.5f, 0.f, 0.75f, 3.f};
const std::vector<float> kPos = {0.5f, 1.f, 2.f, 10.f, 0.01f};
std::vector<double> toF64(const std::vector<float> &v) { return {v.begin(), v.end()}; }
} // namespace

// ---- Binary arithmetic ----------------------------------------------------------------------

TEST(Arithmetic, SameShapeF32) {
  Tensor a = tensor<float>({3}, {1, 2, 3}), b = tensor<float>({3}, {3, 2, 1});
  expectTensor<float>(runOp("Add", {a, b}), {3}, {4, 4, 4});
  expectTensor<float>(runOp("Sub", {a, b}), {3}, {-2, 0, 2});
  expectTensor<float>(runOp("Mul", {a, b}), {3}, {3, 4, 3});
  expectTensor<float>(runOp("Div", {a, b}), {3}, {1.f / 3, 1, 3});
}

TEST(Arithmetic, BroadcastsLikeNumpy) {
  Tensor a = tensor<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  expectTensor<float>(runOp("Add", {a, tensor<float>({3}, {10, 20, 30})}), {2, 3},
                      {11, 22, 33, 14, 25, 36});
  // [2,1] x [1,3] grows both operands.
  expectTensor<double>(
      runOp("Mul", {tensor<double>({2, 1}, {2, 3}), tensor<double>({1, 3}, {1, 10, 100})}), {2, 3},
      {2, 20, 200, 3, 30, 300});
  // A scalar on the left of Sub/Div keeps operand order.
  expectTensor<float>(runOp("Sub", {Tensor::scalar<float>(1), tensor<float>({2}, {3, -1})}), {2},
                      {-2, 2});
  expectTensor<double>(runOp("Div", {Tensor::scalar<double>(1), tensor<double>({2}, {4, -8})}), {2},
                       {0.25, -0.125});
  // Rank-4 against rank-2 (the 3-4-5 style of the node tests).
  Tensor x(DType::F32, {2, 1, 2, 3});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = (float)i;
  expectTensor<float>(runOp("Sub", {x, tensor<float>({2, 1}, {1, 2})}), {2, 1, 2, 3},
                      {-1, 0, 1, 1, 2, 3, 5, 6, 7, 7, 8, 9});
}

TEST(Arithmetic, EmptyTensors) {
  expectTensor<float>(runOp("Add", {Tensor(DType::F32, {0, 3}), tensor<float>({3}, {1, 2, 3})}),
                      {0, 3}, {});
}

TEST(Arithmetic, IntegersWrapAndDivTruncates) {
  const int32_t mx = std::numeric_limits<int32_t>::max(), mn = std::numeric_limits<int32_t>::min();
  expectTensor<int32_t>(
      runOp("Add", {tensor<int32_t>({2}, {mx, 5}), tensor<int32_t>({2}, {1, -7})}), {2}, {mn, -2});
  expectTensor<int32_t>(runOp("Sub", {tensor<int32_t>({1}, {mn}), tensor<int32_t>({1}, {1})}), {1},
                        {mx});
  expectTensor<int64_t>(
      runOp("Mul", {tensor<int64_t>({2}, {1LL << 62, -3}), tensor<int64_t>({2}, {4, 7})}), {2},
      {0, -21});
  // C truncation toward zero; x/0 is 0 (numpy); INT_MIN / -1 wraps instead of trapping.
  const int64_t mn64 = std::numeric_limits<int64_t>::min();
  expectTensor<int64_t>(runOp("Div", {tensor<int64_t>({6}, {7, -7, 7, -7, 5, mn64}),
                                      tensor<int64_t>({6}, {2, 2, -2, -2, 0, -1})}),
                        {6}, {3, -3, -3, 3, 0, mn64});
  expectTensor<int32_t>(
      runOp("Div", {tensor<int32_t>({3}, {24, 9, mn}), tensor<int32_t>({}, {-1})}), {3},
      {-24, -9, mn});
}

TEST(Arithmetic, FloatDivisionByZeroIsIEEE) {
  expectTensor<float>(runOp("Div", {tensor<float>({3}, {1, -1, 0}), tensor<float>({3}, {0, 0, 0})}),
                      {3}, {kInf, -kInf, kNaN});
}

TEST(Arithmetic, InferenceErrorsNameTheOp) {
  std::string e = buildError("Add", {{DType::F32, {2}}, {DType::F64, {2}}});
  EXPECT_NE(e.find("Add"), std::string::npos) << e;
  EXPECT_NE(e.find("same element type"), std::string::npos) << e;
  e = buildError("Mul", {{DType::F32, {2, 3}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("Mul"), std::string::npos) << e;
  EXPECT_NE(e.find("broadcast"), std::string::npos) << e;
  e = buildError("Sub", {{DType::Bool, {2}}, {DType::Bool, {2}}});
  EXPECT_NE(e.find("Sub"), std::string::npos) << e;
  EXPECT_NE(buildError("Div", {{DType::F32, {2}}}).find("Div"), std::string::npos);
  EXPECT_EQ(buildError("Add", {{DType::I64, {4, 1}}, {DType::I64, {3}}}), "");
}

// ---- Pow ------------------------------------------------------------------------------------

TEST(Pow, FloatBroadcast) {
  Tensor a = tensor<float>({2, 3}, {1.5f, 2, 3, 4, 5, 6});
  expectTensor<float>(
      runOp("Pow", {a, tensor<float>({3}, {0.5f, -1, 2.5f})}), {2, 3},
      {1.2247447967529297f, 0.5f, 15.588457107543945f, 2.f, 0.2f, 88.18163299560547f}, 1e-6);
  expectTensor<float>(runOp("Pow", {tensor<float>({3}, {1, 2, 3}), Tensor::scalar<float>(2)}), {3},
                      {1, 4, 9});
  expectTensor<double>(
      runOp("Pow", {tensor<double>({2}, {-2, 0.25}), tensor<double>({2}, {3, 0.5})}), {2},
      {-8, 0.5});
}

TEST(Pow, MixedTypesKeepTheBaseType) {
  // float base, integer exponent (test_pow_types_float32_int64/int32).
  expectTensor<float>(
      runOp("Pow", {tensor<float>({3}, {1, 2, 3}), tensor<int64_t>({3}, {4, 5, 6})}), {3},
      {1, 32, 729});
  expectTensor<double>(runOp("Pow", {tensor<double>({2}, {2, 4}), tensor<int32_t>({2}, {-1, -2})}),
                       {2}, {0.5, 0.0625});
  // Integer base, float exponent: computed in double, truncated toward zero.
  expectTensor<int32_t>(
      runOp("Pow", {tensor<int32_t>({3}, {2, -3, 5}), tensor<float>({3}, {0.5f, 2, 1.5f})}), {3},
      {1, 9, 11});
  expectTensor<int64_t>(
      runOp("Pow", {tensor<int64_t>({3}, {1, 2, 3}), tensor<float>({3}, {4, 5, 6})}), {3},
      {1, 32, 729});
}

TEST(Pow, IntegerPowersAreExact) {
  // 3^39 does not fit a double's mantissa; 2^64 wraps to 0 as numpy's int64 power does.
  expectTensor<int64_t>(
      runOp("Pow", {tensor<int64_t>({4}, {3, -1, 2, 7}), tensor<int64_t>({4}, {39, 5, 64, 0})}),
      {4}, {4052555153018976267LL, -1, 0, 1});
  // Negative exponents truncate 1/x^n: only bases of magnitude 1 stay non-zero.
  expectTensor<int32_t>(
      runOp("Pow", {tensor<int32_t>({4}, {2, -1, 1, -1}), tensor<int32_t>({4}, {-1, -3, -5, -2})}),
      {4}, {0, -1, 1, 1});
}

TEST(Pow, RejectsBool) {
  std::string e = buildError("Pow", {{DType::Bool, {2}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("Pow"), std::string::npos) << e;
  EXPECT_NE(buildError("Pow", {{DType::F32, {2}}, {DType::Bool, {2}}}), "");
  EXPECT_NE(buildError("Pow", {{DType::F32, {2}}, {DType::F32, {3}}}), "");
}

// ---- Unary math -----------------------------------------------------------------------------

TEST(UnaryMath, FloatFunctionsF32) {
  Tensor x = tensor<float>({5}, kX), p = tensor<float>({5}, kPos);
  expectTensor<float>(
      runOp("Exp", {x}), {5},
      {0.0820850059390068f, 0.6065306663513184f, 1.f, 2.117000102996826f, 20.08553695678711f});
  expectTensor<float>(
      runOp("Tanh", {x}), {5},
      {-0.9866142868995667f, -0.46211719512939453f, 0.f, 0.6351490020751953f, 0.9950547814369202f});
  expectTensor<float>(
      runOp("Sigmoid", {x}), {5},
      {0.07585818320512772f, 0.3775406777858734f, 0.5f, 0.6791787147521973f, 0.9525741338729858f});
  expectTensor<float>(
      runOp("Erf", {x}), {5},
      {-0.9995930194854736f, -0.5204998850822449f, 0.f, 0.7111556529998779f, 0.9999778866767883f});
  expectTensor<float>(
      runOp("Log", {p}), {5},
      {-0.6931471824645996f, 0.f, 0.6931471824645996f, 2.3025851249694824f, -4.605170249938965f});
  expectTensor<float>(runOp("Sqrt", {p}), {5},
                      {0.7071067690849304f, 1.f, 1.4142135381698608f, 3.1622776985168457f, 0.1f});
  expectTensor<float>(runOp("Reciprocal", {p}), {5}, {2, 1, 0.5f, 0.1f, 100});
}

TEST(UnaryMath, FloatFunctionsF64) {
  Tensor x = tensor<double>({5}, toF64(kX));
  expectTensor<double>(
      runOp("Exp", {x}), {5},
      {0.0820849986238988, 0.6065306597126334, 1.0, 2.1170000166126743, 20.085536923187668}, 1e-14,
      0);
  expectTensor<double>(
      runOp("Sigmoid", {x}), {5},
      {0.07585818002124355, 0.3775406687981454, 0.5, 0.679178699175393, 0.9525741268224334}, 1e-14,
      0);
  expectTensor<double>(
      runOp("Erf", {x}), {5},
      {-0.999593047982555, -0.5204998778130465, 0.0, 0.7111556336535151, 0.9999779095030014}, 1e-14,
      0);
  expectTensor<double>(
      runOp("Tanh", {x}), {5},
      {-0.9866142981514303, -0.46211715726000974, 0.0, 0.6351489523872873, 0.9950547536867305},
      1e-14, 0);
  expectTensor<double>(runOp("Log", {tensor<double>({2}, {1, 0})}), {2}, {0, -kInf});
  expectTensor<double>(runOp("Sqrt", {tensor<double>({2}, {-1, 16})}), {2}, {kNaN, 4});
}

TEST(UnaryMath, SigmoidSaturatesWithoutNaN) {
  expectTensor<float>(runOp("Sigmoid", {tensor<float>({4}, {-200, 200, -kInf, kInf})}), {4},
                      {0, 1, 0, 1}, 0, 1e-30);
  expectTensor<float>(runOp("Sigmoid", {tensor<float>({1}, {kNaN})}), {1}, {kNaN});
}

TEST(UnaryMath, NegAbsOnIntegersAndFloats) {
  const int32_t mn = std::numeric_limits<int32_t>::min();
  expectTensor<float>(runOp("Neg", {tensor<float>({2}, {-4, 2})}), {2}, {4, -2});
  expectTensor<int32_t>(runOp("Neg", {tensor<int32_t>({3}, {-4, 0, mn})}), {3}, {4, 0, mn});
  expectTensor<int64_t>(runOp("Abs", {tensor<int64_t>({3}, {-4, 0, 9})}), {3}, {4, 0, 9});
  expectTensor<int32_t>(runOp("Abs", {tensor<int32_t>({1}, {mn})}), {1}, {mn});
  expectTensor<double>(runOp("Abs", {tensor<double>({3}, {-1.5, -0.0, 2})}), {3}, {1.5, 0, 2});
}

TEST(UnaryMath, ErfOnIntegersTruncates) {
  // erf(5) is just below 1 in double, so it truncates to 0 as numpy's astype would.
  expectTensor<int64_t>(runOp("Erf", {tensor<int64_t>({5}, {-10, -5, 1, 5, 10})}), {5},
                        {-1, 0, 0, 0, 1});
}

TEST(UnaryMath, TypeErrors) {
  for (const char *op :
       {"Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Sigmoid", "LeakyRelu", "Elu"}) {
    std::string e = buildError(op, {{DType::I32, {2}}});
    EXPECT_NE(e.find(op), std::string::npos) << op << ": " << e;
  }
  for (const char *op : {"Neg", "Abs", "Relu", "Erf"})
    EXPECT_NE(buildError(op, {{DType::Bool, {2}}}).find(op), std::string::npos) << op;
  EXPECT_NE(buildError("Relu", {{DType::F32, {2}}, {DType::F32, {2}}}), "");
}

// ---- Activations ----------------------------------------------------------------------------

TEST(Activation, Relu) {
  expectTensor<float>(runOp("Relu", {tensor<float>({4}, {-1, 0, 2.5f, kNaN})}), {4},
                      {0, 0, 2.5f, kNaN});
  expectTensor<int64_t>(runOp("Relu", {tensor<int64_t>({3}, {-7, 0, 7})}), {3}, {0, 0, 7});
  expectTensor<double>(runOp("Relu", {tensor<double>({2, 1}, {-3, 3})}), {2, 1}, {0, 3});
}

TEST(Activation, LeakyRelu) {
  Tensor x = tensor<float>({5}, kX);
  expectTensor<float>(runOp("LeakyRelu", {x}), {5},
                      {-0.02499999850988388f, -0.004999999888241291f, 0.f, 0.75f, 3.f});
  expectTensor<float>(runOp("LeakyRelu", {x}, {{"alpha", 0.1}}), {5},
                      {-0.25f, -0.05000000074505806f, 0.f, 0.75f, 3.f});
  expectTensor<double>(runOp("LeakyRelu", {tensor<double>({2}, {-2, 2})}, {{"alpha", 0.5}}), {2},
                       {-1, 2});
  std::string e = buildError("LeakyRelu", {{DType::F32, {2}}}, {{"alpha", int64_t{1}}});
  EXPECT_NE(e.find("alpha"), std::string::npos) << e;
}

TEST(Activation, Elu) {
  Tensor x = tensor<float>({5}, kX);
  expectTensor<float>(runOp("Elu", {x}), {5},
                      {-0.9179149866104126f, -0.39346933364868164f, 0.f, 0.75f, 3.f});
  expectTensor<float>(runOp("Elu", {x}, {{"alpha", 2.0}}), {5},
                      {-1.8358299732208252f, -0.7869386672973633f, 0.f, 0.75f, 3.f});
  expectTensor<double>(runOp("Elu", {tensor<double>({1}, {-1})}, {{"alpha", 2.0}}), {1},
                       {-1.2642411176571153}, 1e-14, 0);
}

// ---- Clip -----------------------------------------------------------------------------------

TEST(Clip, BothBounds) {
  Tensor x = tensor<float>({5}, {-6, -1, 0, 1, 6});
  expectTensor<float>(runOp("Clip", {x, Tensor::scalar<float>(-5), Tensor::scalar<float>(5)}), {5},
                      {-5, -1, 0, 1, 5});
  expectTensor<float>(runOp("Clip", {x, Tensor::scalar<float>(-1), Tensor::scalar<float>(1)}), {5},
                      {-1, -1, 0, 1, 1});
}

TEST(Clip, AbsentBoundsAreUnbounded) {
  Tensor x = tensor<float>({4}, {-kInf, -3, 3, kInf});
  expectTensor<float>(runOp("Clip", {x, Tensor::scalar<float>(0)}), {4}, {0, 0, 3, kInf});
  expectTensor<float>(runOp("Clip", {x, std::nullopt, Tensor::scalar<float>(0)}), {4},
                      {-kInf, -3, 0, 0});
  expectTensor<float>(runOp("Clip", {x, std::nullopt, std::nullopt}), {4}, {-kInf, -3, 3, kInf});
  expectTensor<float>(runOp("Clip", {x}), {4}, {-kInf, -3, 3, kInf});
}

TEST(Clip, IntegersNaNAndInvertedBounds) {
  expectTensor<int64_t>(runOp("Clip", {tensor<int64_t>({3}, {-9, 2, 9}), Tensor::scalar<int64_t>(0),
                                       Tensor::scalar<int64_t>(5)}),
                        {3}, {0, 2, 5});
  expectTensor<int32_t>(
      runOp("Clip", {tensor<int32_t>({3}, {-9, 2, 9}), std::nullopt, Tensor::scalar<int32_t>(0)}),
      {3}, {-9, 0, 0});
  // numpy.clip: NaN stays NaN; min > max gives max everywhere.
  expectTensor<double>(runOp("Clip", {tensor<double>({3}, {kNaN, -9, 9}), Tensor::scalar<double>(3),
                                      Tensor::scalar<double>(1)}),
                       {3}, {kNaN, 1, 1});
  // A one-element vector bound is accepted as a scalar.
  expectTensor<float>(runOp("Clip", {tensor<float>({2}, {-2, 2}), tensor<float>({1}, {-1})}), {2},
                      {-1, 2});
}

TEST(Clip, Errors) {
  std::string e = buildError("Clip", {{DType::F32, {3}}, {DType::F32, {2}}});
  EXPECT_NE(e.find("Clip"), std::string::npos) << e;
  EXPECT_NE(e.find("scalar"), std::string::npos) << e;
  e = buildError("Clip", {{DType::F32, {3}}, {DType::F32, {}}, {DType::F64, {}}});
  EXPECT_NE(e.find("same element type"), std::string::npos) << e;
  EXPECT_NE(buildError("Clip", {{DType::Bool, {3}}}), "");
  EXPECT_NE(
      buildError("Clip", {{DType::F32, {3}}, {DType::F32, {}}, {DType::F32, {}}, {DType::F32, {}}}),
      "");
}
