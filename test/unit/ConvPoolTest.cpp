// Conv, MaxPool, AveragePool, GlobalAveragePool. Expected values are the ONNX node tests'
// precomputed outputs, hand-computed, or were generated once with PyTorch from the same seq()
// inputs (asymmetric pads via F.pad). The ONNX generators themselves are run by the conformance
// suite.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace adjoint;

namespace {

// Appending instead of `"x" + to_string(i)` sidesteps GCC 12's -Wrestrict false positive.
std::string argName(const char *prefix, size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

using Ints = std::vector<int64_t>;

// ((i * mul) % mod - mod / 2) * scale: small exact values, easy to reproduce in numpy.
Tensor seq(Shape s, int mul = 7, int mod = 11, double scale = 0.25, DType t = DType::F32) {
  Tensor x(t, s);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.setDouble(i, ((i * mul) % mod - mod / 2) * scale);
  return x;
}

Tensor iota(Shape s, double start = 1) {
  Tensor x(DType::F32, s);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.setDouble(i, start + (double)i);
  return x;
}

std::vector<Tensor> runAll(const std::string &op, std::vector<Tensor> ins, AttrMap attrs,
                           size_t numResults = 1) {
  Function f("t");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < ins.size(); ++i) {
    std::string name = argName("x", i);
    operands.push_back(f.addInput(name, {ins[i].dtype(), ins[i].shape()}));
    feeds[name] = ins[i];
  }
  Op *o = buildOp(f, op, operands, attrs, numResults);
  for (size_t i = 0; i < numResults; ++i)
    f.addOutput(argName("y", i), o->result(i));
  return interpret(f, feeds);
}

Tensor run(const std::string &op, std::vector<Tensor> ins, AttrMap attrs = {}) {
  return runAll(op, std::move(ins), std::move(attrs)).at(0);
}

void expectValues(const Tensor &t, const Shape &shape, const std::vector<double> &want,
                  double tol = 1e-5) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.getDouble(i), want[i], tol) << "element " << i;
}

void expectInferError(const std::string &op, std::vector<TensorType> types, AttrMap attrs,
                      const std::string &what, size_t numResults = 1) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i)
    operands.push_back(f.addInput(argName("x", i), types[i]));
  try {
    buildOp(f, op, operands, attrs, numResults);
    ADD_FAILURE() << op << ": expected an error containing '" << what << "'";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

const Tensor ones3x3 = Tensor::fromVector<float>({1, 1, 3, 3}, std::vector<float>(9, 1.f));

} // namespace

// ---- Conv ----

TEST(Conv, OnnxBasicWithAndWithoutPadding) {
  Tensor x = iota({1, 1, 5, 5}, 0);
  expectValues(
      run("Conv", {x, ones3x3}, {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}),
      {1, 1, 5, 5}, {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                     117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
  expectValues(run("Conv", {x, ones3x3}), {1, 1, 3, 3}, {54, 63, 72, 99, 108, 117, 144, 153, 162});
}

TEST(Conv, StridesAndAsymmetricPadding) {
  Tensor x = iota({1, 1, 7, 5}, 0);
  AttrMap attrs{{"strides", Ints{2, 2}}, {"pads", Ints{1, 0, 1, 0}}};
  expectValues(run("Conv", {x, ones3x3}, attrs), {1, 1, 4, 2},
               {21, 33, 99, 117, 189, 207, 171, 183});
}

TEST(Conv, AutoPadSameLowerAndUpper) {
  Tensor x = iota({1, 1, 5, 5}, 0);
  expectValues(run("Conv", {x, ones3x3}, {{"auto_pad", "SAME_LOWER"}, {"strides", Ints{2, 2}}}),
               {1, 1, 3, 3}, {12, 27, 24, 63, 108, 81, 72, 117, 84});
  // 2x2 kernel, stride 1: SAME_UPPER pads after (sum of x[i..i+1, j..j+1]), SAME_LOWER before.
  Tensor w = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor x3 = iota({1, 1, 3, 3}, 1);
  expectValues(run("Conv", {x3, w}, {{"auto_pad", "SAME_UPPER"}}), {1, 1, 3, 3},
               {12, 16, 9, 24, 28, 15, 15, 17, 9});
  expectValues(run("Conv", {x3, w}, {{"auto_pad", "SAME_LOWER"}}), {1, 1, 3, 3},
               {1, 3, 5, 5, 12, 16, 11, 24, 28});
  expectValues(run("Conv", {x3, w}, {{"auto_pad", "VALID"}}), {1, 1, 2, 2}, {12, 16, 24, 28});
}

TEST(Conv, GroupsBiasAndAsymmetricPads) {
  // torch: conv2d(F.pad(x, (0,1,1,0)), w, b, groups=2)
  Tensor x = seq({1, 4, 4, 4}), w = seq({4, 2, 2, 2}, 5, 7, 0.5);
  Tensor b = Tensor::fromVector<float>({4}, {0.5, -1, 0, 2});
  std::vector<double> want{
      -1.125, 0.5,    0.75,   1,     3,      1.75,   1.875,  -3.125, -2,     0.875,  -0.375,
      1.625,  2.625,  1.375,  -1.25, 0.875,  3.125,  -3.75,  0.375,  -0.75,  -5.875, 1.375,
      0.375,  -1,     3.875,  -4,    -3.625, 1.625,  -5.625, 1.625,  0.625,  -4,     -0.75,
      -2.375, 1.5,    -0.75,  3.25,  -0.875, -0.875, 0.25,   -0.875, -0.875, 3.25,   0.5,
      -0.875, -0.875, -0.875, 0.75,  3.25,   0.125,  2.5,    1.75,   -1,     6.875,  -0.375,
      3,      4.375,  -2.875, 3.625, 2.75,   -2.625, 6.625,  -0.625, 2.5};
  AttrMap attrs{{"group", Attribute(2)}, {"pads", Ints{1, 0, 0, 1}}};
  expectValues(run("Conv", {x, w, b}, attrs), {1, 4, 4, 4}, want);
  Tensor yd = run("Conv", {x.cast(DType::F64), w.cast(DType::F64), b.cast(DType::F64)}, attrs);
  EXPECT_EQ(yd.dtype(), DType::F64);
  expectValues(yd, {1, 4, 4, 4}, want, 1e-12);
}

TEST(Conv, DilationsWithStrides) {
  Tensor x = seq({1, 1, 5, 5}), w = seq({1, 1, 2, 2}, 5, 7, 0.5);
  expectValues(run("Conv", {x, w}, {{"dilations", Ints{2, 2}}, {"strides", Ints{2, 2}}}),
               {1, 1, 2, 2}, {0.875, -0.25, 2.125, 1});
}

TEST(Conv, OneAndThreeSpatialDims) {
  Tensor x1 = seq({2, 1, 6}), w1 = seq({2, 1, 3}, 5, 7, 0.5);
  Tensor b1 = Tensor::fromVector<float>({2}, {1, -1});
  expectValues(run("Conv", {x1, w1, b1}, {{"strides", Ints{2}}, {"pads", Ints{1, 1}}}), {2, 2, 3},
               {-0.25, -0.25, -0.625, -2.625, -1.625, -2.25, 2, 0, -0.375, 0.5, -2.125, -2.75});
  Tensor x3 = seq({1, 1, 3, 3, 3}), w3 = seq({1, 1, 2, 2, 2}, 5, 7, 0.5);
  expectValues(run("Conv", {x3, w3}), {1, 1, 2, 2, 2},
               {3.625, -3.125, -0.125, -1.375, 0.625, -3.375, -3.125, -1.625});
}

TEST(Conv, InferenceErrors) {
  TensorType x{DType::F32, {1, 4, 5, 5}};
  expectInferError("Conv", {x, {DType::F32, {2, 3, 3, 3}}}, {}, "channels");
  expectInferError("Conv", {x, {DType::F32, {3, 2, 3, 3}}}, {{"group", Attribute(2)}}, "group");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}, {DType::F32, {3}}}, {}, "B must be");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}}, {{"kernel_shape", Ints{2, 2}}},
                   "kernel_shape");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}}, {{"auto_pad", "SAME"}}, "auto_pad");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}},
                   {{"auto_pad", "VALID"}, {"pads", Ints{1, 1, 1, 1}}}, "pads");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}}, {{"pads", Ints{1, 1}}}, "pads");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}}, {{"strides", Ints{0, 1}}}, "strides");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3, 3}}}, {{"dilations", Ints{1}}}, "dilations");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 6, 3}}}, {}, "smaller than");
  expectInferError("Conv", {{DType::F32, {4, 5}}, {DType::F32, {2, 4}}}, {}, "rank");
  expectInferError("Conv", {{DType::I64, {1, 4, 5, 5}}, {DType::I64, {2, 4, 3, 3}}}, {},
                   "floating-point");
  expectInferError("Conv", {x, {DType::F64, {2, 4, 3, 3}}}, {}, "dtype");
  expectInferError("Conv", {x, {DType::F32, {2, 4, 3}}}, {}, "rank");
}

// ---- MaxPool ----

TEST(MaxPool, OnnxPrecomputedPadsWithIndices) {
  std::vector<Tensor> r = runAll("MaxPool", {iota({1, 1, 5, 5})},
                                 {{"kernel_shape", Ints{5, 5}}, {"pads", Ints{2, 2, 2, 2}}}, 2);
  std::vector<double> y{13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                        25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25};
  expectValues(r[0], {1, 1, 5, 5}, y);
  EXPECT_EQ(r[1].dtype(), DType::I64);
  std::vector<double> idx;
  for (double v : y)
    idx.push_back(v - 1);
  expectValues(r[1], {1, 1, 5, 5}, idx);
}

TEST(MaxPool, IndicesFollowStorageOrderAndIncludePlaneOffset) {
  Tensor x = iota({1, 2, 5, 5});
  AttrMap attrs{{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
  std::vector<Tensor> r = runAll("MaxPool", {x}, attrs, 2);
  expectValues(r[0], {1, 2, 2, 2}, {7, 9, 17, 19, 32, 34, 42, 44});
  expectValues(r[1], {1, 2, 2, 2}, {6, 8, 16, 18, 31, 33, 41, 43});
  attrs["storage_order"] = Attribute(1);
  r = runAll("MaxPool", {x}, attrs, 2);
  expectValues(r[0], {1, 2, 2, 2}, {7, 9, 17, 19, 32, 34, 42, 44});
  expectValues(r[1], {1, 2, 2, 2}, {6, 16, 8, 18, 31, 41, 33, 43});
}

TEST(MaxPool, CeilModeDilationsAndSameUpper) {
  Tensor x = iota({1, 1, 4, 4});
  expectValues(
      run("MaxPool", {x},
          {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", Attribute(1)}}),
      {1, 1, 2, 2}, {11, 12, 15, 16});
  expectValues(run("MaxPool", {x}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
               {1, 1, 2, 2}, {11, 12, 15, 16});
  expectValues(
      run("MaxPool", {iota({1, 1, 5, 5})},
          {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"auto_pad", "SAME_UPPER"}}),
      {1, 1, 3, 3}, {7, 9, 10, 17, 19, 20, 22, 24, 25});
}

TEST(MaxPool, CeilModeDropsWindowStartingInEndPadding) {
  // 5 + 1 + 1 padded, kernel 2, stride 2: ceil gives 4 windows but the last would start in the
  // end padding, so there are 3 (PyTorch agrees, values and indices from torch).
  Tensor x = seq({1, 1, 5, 5}, 7, 13, 1.0);
  std::vector<Tensor> r = runAll("MaxPool", {x},
                                 {{"kernel_shape", Ints{2, 2}},
                                  {"strides", Ints{2, 2}},
                                  {"pads", Ints{1, 1, 1, 1}},
                                  {"ceil_mode", Attribute(1)}},
                                 2);
  expectValues(r[0], {1, 1, 3, 3}, {-6, 1, 2, 3, 6, 5, 4, 5, 6});
  expectValues(r[1], {1, 1, 3, 3}, {0, 1, 3, 5, 11, 9, 20, 22, 24});
}

TEST(MaxPool, OneDimensionalDilatedPadded) {
  Tensor x = seq({1, 2, 7}, 7, 13, 1.0);
  std::vector<Tensor> r = runAll(
      "MaxPool", {x}, {{"kernel_shape", Ints{2}}, {"pads", Ints{1, 1}}, {"dilations", Ints{2}}}, 2);
  expectValues(r[0], {1, 2, 7}, {1, -5, 2, -4, 3, -3, 3, -2, 5, -1, 6, 0, 6, 0});
  expectValues(r[1], {1, 2, 7}, {1, 2, 3, 4, 5, 6, 5, 8, 9, 10, 11, 12, 11, 12});
}

TEST(MaxPool, ThreeDimsAndF64AndNaN) {
  Tensor x = seq({1, 1, 2, 2, 2}, 7, 13, 1.0, DType::F64);
  Tensor y = run("MaxPool", {x}, {{"kernel_shape", Ints{2, 2, 2}}});
  EXPECT_EQ(y.dtype(), DType::F64);
  expectValues(y, {1, 1, 1, 1, 1}, {4});
  Tensor n = Tensor::fromVector<float>({1, 1, 3}, {1, NAN, 2});
  Tensor yn = run("MaxPool", {n}, {{"kernel_shape", Ints{2}}});
  EXPECT_TRUE(std::isnan(yn.getDouble(0)));
  EXPECT_TRUE(std::isnan(yn.getDouble(1)));
}

TEST(MaxPool, InferenceErrors) {
  TensorType x{DType::F32, {1, 1, 4, 4}};
  expectInferError("MaxPool", {x}, {}, "kernel_shape");
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{2}}}, "kernel_shape");
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{2, 2}}, {"storage_order", Attribute(2)}},
                   "storage_order", 2);
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{1, 1}}, {"pads", Ints{1, 0, 0, 0}}},
                   "only padding");
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{0, 0, 3, 0}}},
                   "only padding");
  // Taps of a dilated window can straddle the whole input: [-2, 1] with an input of size 1.
  expectInferError("MaxPool", {{DType::F32, {1, 1, 1}}},
                   {{"kernel_shape", Ints{2}}, {"dilations", Ints{3}}, {"pads", Ints{2, 2}}},
                   "only padding");
  // Absurd pads are rejected at once rather than walked window by window.
  expectInferError("AveragePool", {x},
                   {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{1LL << 40, 0, 0, 0}}},
                   "only padding");
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{5, 5}}}, "smaller than");
  expectInferError("MaxPool", {x}, {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{-1, 0, 0, 0}}},
                   "non-negative");
  expectInferError("MaxPool", {{DType::I64, {1, 1, 4, 4}}}, {{"kernel_shape", Ints{2, 2}}},
                   "floating-point");
  expectInferError("MaxPool", {{DType::F32, {4, 4}}}, {{"kernel_shape", Ints{2, 2}}}, "rank");
}

// ---- AveragePool ----

TEST(AveragePool, OnnxPrecomputedPadsAndCountIncludePad) {
  Tensor x = iota({1, 1, 5, 5});
  AttrMap attrs{{"kernel_shape", Ints{5, 5}}, {"pads", Ints{2, 2, 2, 2}}};
  expectValues(run("AveragePool", {x}, attrs), {1, 1, 5, 5},
               {7,    7.5, 8,    8.5, 9,    9.5, 10,   10.5, 11,   11.5, 12,   12.5, 13,
                13.5, 14,  14.5, 15,  15.5, 16,  16.5, 17,   17.5, 18,   18.5, 19});
  attrs["count_include_pad"] = Attribute(1);
  expectValues(run("AveragePool", {x}, attrs), {1, 1, 5, 5},
               {2.52, 3.6, 4.8,  4.08, 3.24, 4.56,  6.4,  8.4,  7.04, 5.52, 7.2,  10,  13,
                10.8, 8.4, 6.96, 9.6,  12.4, 10.24, 7.92, 6.12, 8.4,  10.8, 8.88, 6.84});
}

TEST(AveragePool, CeilModeOverhangIsNeverCounted) {
  Tensor x = iota({1, 1, 4, 4});
  expectValues(
      run("AveragePool", {x},
          {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", Attribute(1)}}),
      {1, 1, 2, 2}, {6, 7.5, 12, 13.5});
  // torch avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True/False): the divisor
  // counts declared padding but not the ceil overhang.
  Tensor x6 = seq({1, 1, 6, 6}, 7, 13, 1.0);
  AttrMap attrs{{"kernel_shape", Ints{3, 3}},
                {"strides", Ints{2, 2}},
                {"pads", Ints{1, 1, 1, 1}},
                {"ceil_mode", Attribute(1)}};
  expectValues(run("AveragePool", {x6}, attrs), {1, 1, 4, 4},
               {-1, 0.833333, 1.83333, 4.5, -0.833333, -0.444444, 0.555556, 0.333333, 0.833333,
                -0.222222, 0.777778, 2, -0.5, 1.33333, 2.33333, 5});
  attrs["count_include_pad"] = Attribute(1);
  expectValues(run("AveragePool", {x6}, attrs), {1, 1, 4, 4},
               {-0.444444, 0.555556, 1.22222, 1.5, -0.555556, -0.444444, 0.555556, 0.166667,
                0.555556, -0.222222, 0.777778, 1, -0.166667, 0.666667, 1.16667, 1.25});
}

TEST(AveragePool, SameUpperLowerAndThreeDims) {
  Tensor x = iota({1, 1, 5, 5});
  expectValues(
      run("AveragePool", {x},
          {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"auto_pad", "SAME_UPPER"}}),
      {1, 1, 3, 3}, {4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22});
  Tensor x3 = iota({1, 1, 3, 3}, 1);
  expectValues(run("AveragePool", {x3}, {{"kernel_shape", Ints{2, 2}}, {"auto_pad", "SAME_LOWER"}}),
               {1, 1, 3, 3}, {1, 1.5, 2.5, 2.5, 3, 4, 5.5, 6, 7});
  Tensor x5 = seq({1, 1, 3, 3, 3}, 7, 13, 1.0, DType::F64);
  Tensor y = run("AveragePool", {x5}, {{"kernel_shape", Ints{2, 2, 2}}});
  EXPECT_EQ(y.dtype(), DType::F64);
  expectValues(y, {1, 1, 2, 2, 2}, {-1.125, -0.625, -1.25, -0.75, 0.125, 0.625, 0, -1.125}, 1e-12);
}

TEST(AveragePool, InferenceErrors) {
  TensorType x{DType::F32, {1, 1, 4, 4}};
  // Dilations only exist from opset 19.
  expectInferError("AveragePool", {x}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{1, 1}}},
                   "dilations");
  expectInferError("AveragePool", {x}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{1, 1, 1}}},
                   "strides");
  expectInferError(
      "AveragePool", {x},
      {{"kernel_shape", Ints{2, 2}}, {"auto_pad", "SAME_UPPER"}, {"pads", Ints{1, 1, 1, 1}}},
      "auto_pad");
  expectInferError("AveragePool", {x}, {{"kernel_shape", Ints{2, 2}}}, "results", 2);
}

// ---- GlobalAveragePool ----

TEST(GlobalAveragePool, MeansOverAllSpatialAxes) {
  expectValues(run("GlobalAveragePool", {iota({1, 1, 3, 3})}), {1, 1, 1, 1}, {5});
  expectValues(run("GlobalAveragePool", {iota({2, 2, 2})}), {2, 2, 1}, {1.5, 3.5, 5.5, 7.5});
  Tensor y = run("GlobalAveragePool", {iota({1, 2, 2, 1, 2}).cast(DType::F64)});
  EXPECT_EQ(y.dtype(), DType::F64);
  expectValues(y, {1, 2, 1, 1, 1}, {2.5, 6.5});
}

TEST(GlobalAveragePool, InferenceErrors) {
  expectInferError("GlobalAveragePool", {{DType::F32, {3}}}, {}, "rank");
  expectInferError("GlobalAveragePool", {{DType::I32, {1, 1, 2}}}, {}, "floating-point");
}
