// The dedicated backward ops of Conv and pooling (Ops/ConvPoolBackward.cpp), each checked against
// its gradient computed another way from the forward kernels:
// - Conv and AveragePool are linear in each operand, so the vector-Jacobian product is, element
//   by element, <forward(one-hot e_i), dY>;
// - MaxPoolGrad must send each output's gradient to the element the forward's Indices output
//   names (ties to the first maximum).
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace adjoint;

namespace {

using Ints = std::vector<int64_t>;

std::string argName(size_t i) {
  std::string s = "x";
  s += std::to_string(i);
  return s;
}

std::vector<Tensor> runAll(const std::string &op, const std::string &domain,
                           const std::vector<Tensor> &ins, AttrMap attrs, size_t numResults = 1) {
  Function f("t");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < ins.size(); ++i) {
    operands.push_back(f.addInput(argName(i), {ins[i].dtype(), ins[i].shape()}));
    feeds[argName(i)] = ins[i];
  }
  Op *o = buildOp(f, op, operands, std::move(attrs), numResults, nullptr, domain);
  for (size_t i = 0; i < numResults; ++i)
    f.addOutput(argName(i), o->result(i));
  return interpret(f, feeds);
}

Tensor run(const std::string &op, const std::vector<Tensor> &ins, AttrMap attrs = {}) {
  return runAll(op, "", ins, std::move(attrs)).at(0);
}
Tensor runGrad(const std::string &op, const std::vector<Tensor> &ins, AttrMap attrs) {
  return runAll(op, "adjoint", ins, std::move(attrs)).at(0);
}

Tensor random(std::mt19937 &rng, const Shape &s, DType t = DType::F64) {
  std::uniform_real_distribution<double> d(-1, 1);
  Tensor x(t, s);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.setDouble(i, d(rng));
  return x;
}

double dot(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape(), b.shape());
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    s += a.getDouble(i) * b.getDouble(i);
  return s;
}

// The VJP of a function linear in `of`: element i is <f(e_i), dy>.
template <typename F> Tensor linearVjp(const Tensor &of, const Tensor &dy, F &&f) {
  Tensor r(of.dtype(), of.shape());
  for (int64_t i = 0; i < of.numel(); ++i) {
    Tensor e(of.dtype(), of.shape());
    e.setDouble(i, 1.0);
    r.setDouble(i, dot(f(e), dy));
  }
  return r;
}

void expectClose(const Tensor &got, const Tensor &want, double tol = 1e-12) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape()) << shapeStr(got.shape()) << " vs " << shapeStr(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_NEAR(got.getDouble(i), want.getDouble(i), tol) << "element " << i;
}

AttrMap with(AttrMap a, const std::string &k, Attribute v) {
  a[k] = std::move(v);
  return a;
}

struct ConvConfig {
  const char *what;
  Shape x, w;
  AttrMap attrs;
};

const std::vector<ConvConfig> kConvConfigs = {
    {"plain 2-D", {2, 2, 4, 4}, {3, 2, 3, 3}, {}},
    {"strides, asymmetric pads",
     {1, 1, 5, 4},
     {2, 1, 2, 2},
     {{"strides", Ints{2, 2}}, {"pads", Ints{1, 0, 0, 1}}}},
    {"group 2", {1, 4, 3, 3}, {4, 2, 2, 2}, {{"group", Attribute(2)}}},
    {"depthwise",
     {2, 3, 4, 3},
     {6, 1, 2, 2},
     {{"group", Attribute(3)}, {"pads", Ints{1, 1, 1, 1}}}},
    {"dilations, strides",
     {1, 2, 6, 5},
     {1, 2, 2, 2},
     {{"dilations", Ints{2, 2}}, {"strides", Ints{2, 1}}}},
    {"SAME_UPPER",
     {1, 1, 4, 5},
     {1, 1, 3, 2},
     {{"auto_pad", "SAME_UPPER"}, {"strides", Ints{2, 2}}}},
    {"SAME_LOWER",
     {1, 1, 4, 5},
     {1, 1, 3, 2},
     {{"auto_pad", "SAME_LOWER"}, {"strides", Ints{2, 2}}}},
    {"VALID with kernel_shape",
     {1, 1, 5, 5},
     {1, 1, 3, 3},
     {{"auto_pad", "VALID"}, {"kernel_shape", Ints{3, 3}}}},
    {"1-D",
     {2, 2, 7},
     {3, 2, 3},
     {{"strides", Ints{2}}, {"pads", Ints{2, 0}}, {"dilations", Ints{2}}}},
    {"3-D",
     {1, 2, 3, 4, 3},
     {2, 1, 2, 2, 2},
     {{"group", Attribute(2)}, {"pads", Ints{0, 1, 0, 1, 0, 1}}, {"strides", Ints{1, 2, 1}}}},
};

} // namespace

// ---- ConvGradData / ConvGradFilter ----

TEST(ConvGrad, DataAndFilterMatchTheForwardsTranspose) {
  std::mt19937 rng(7);
  for (const ConvConfig &c : kConvConfigs) {
    SCOPED_TRACE(c.what);
    Tensor x = random(rng, c.x), w = random(rng, c.w);
    Tensor y = run("Conv", {x, w}, c.attrs);
    Tensor dy = random(rng, y.shape());

    Tensor dx = runGrad("ConvGradData", {dy, w}, with(c.attrs, "input_shape", c.x));
    expectClose(dx, linearVjp(x, dy, [&](const Tensor &e) {
                  return run("Conv", {e, w}, c.attrs);
                }));

    Tensor dw = runGrad("ConvGradFilter", {x, dy},
                        with(c.attrs, "kernel_shape", Shape(c.w.begin() + 2, c.w.end())));
    expectClose(dw, linearVjp(w, dy, [&](const Tensor &e) {
                  return run("Conv", {x, e}, c.attrs);
                }));
  }
}

TEST(ConvGrad, Float32) {
  std::mt19937 rng(3);
  const ConvConfig &c = kConvConfigs[3];
  Tensor x = random(rng, c.x, DType::F32), w = random(rng, c.w, DType::F32);
  Tensor dy = random(rng, run("Conv", {x, w}, c.attrs).shape(), DType::F32);
  Tensor dx = runGrad("ConvGradData", {dy, w}, with(c.attrs, "input_shape", c.x));
  Tensor dw = runGrad("ConvGradFilter", {x, dy}, with(c.attrs, "kernel_shape", Ints{2, 2}));
  EXPECT_EQ(dx.dtype(), DType::F32);
  EXPECT_EQ(dw.dtype(), DType::F32);
  Tensor wantX = runGrad("ConvGradData", {dy.cast(DType::F64), w.cast(DType::F64)},
                         with(c.attrs, "input_shape", c.x));
  Tensor wantW = runGrad("ConvGradFilter", {x.cast(DType::F64), dy.cast(DType::F64)},
                         with(c.attrs, "kernel_shape", Ints{2, 2}));
  expectClose(dx.cast(DType::F64), wantX, 1e-6);
  expectClose(dw.cast(DType::F64), wantW, 1e-6);
}

TEST(ConvGrad, HandComputed) {
  // 1x1x3x3 input, 2x2 kernel of ones, dY of ones: dX counts the windows covering each input;
  // dW sums the 2x2 windows of X = 1..9.
  Tensor w = Tensor::fromVector<double>({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor dy = Tensor::fromVector<double>({1, 1, 2, 2}, {1, 1, 1, 1});
  expectClose(runGrad("ConvGradData", {dy, w}, {{"input_shape", Ints{1, 1, 3, 3}}}),
              Tensor::fromVector<double>({1, 1, 3, 3}, {1, 2, 1, 2, 4, 2, 1, 2, 1}));
  Tensor x = Tensor::fromVector<double>({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectClose(runGrad("ConvGradFilter", {x, dy}, {{"kernel_shape", Ints{2, 2}}}),
              Tensor::fromVector<double>({1, 1, 2, 2}, {12, 16, 24, 28}));
}

// ---- MaxPoolGrad ----

namespace {

// Scatters dY to the flat positions the forward's Indices name (storage_order 0, so an index is
// the flat offset into X).
Tensor scatterByIndices(const Tensor &x, const Tensor &dy, const AttrMap &attrs) {
  Tensor idx = runAll("MaxPool", "", {x}, attrs, 2).at(1);
  Tensor r(x.dtype(), x.shape());
  for (int64_t o = 0; o < idx.numel(); ++o) {
    int64_t i = idx.getInt(o);
    r.setDouble(i, r.getDouble(i) + dy.getDouble(o));
  }
  return r;
}

struct PoolConfig {
  const char *what;
  Shape x;
  AttrMap attrs;
};

const std::vector<PoolConfig> kPoolConfigs = {
    {"2x2 stride 2", {2, 2, 4, 4}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}},
    {"overlapping, pads", {1, 2, 4, 5}, {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}},
    {"ceil_mode, pads",
     {1, 1, 6, 5},
     {{"kernel_shape", Ints{2, 2}},
      {"strides", Ints{2, 2}},
      {"pads", Ints{1, 0, 0, 1}},
      {"ceil_mode", Attribute(1)}}},
    {"SAME_UPPER stride 2",
     {1, 1, 5, 5},
     {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"auto_pad", "SAME_UPPER"}}},
    {"SAME_LOWER", {1, 1, 4, 4}, {{"kernel_shape", Ints{2, 3}}, {"auto_pad", "SAME_LOWER"}}},
    {"1-D", {2, 2, 7}, {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}},
    {"3-D",
     {1, 2, 3, 4, 4},
     {{"kernel_shape", Ints{2, 2, 2}},
      {"strides", Ints{1, 2, 2}},
      {"pads", Ints{0, 0, 1, 1, 0, 0}}}},
};

} // namespace

TEST(MaxPoolGrad, FollowsTheForwardsIndices) {
  std::mt19937 rng(11);
  std::vector<PoolConfig> configs = kPoolConfigs;
  configs.push_back(
      {"dilations", {1, 1, 5, 6}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 3}}}});
  for (const PoolConfig &c : configs) {
    SCOPED_TRACE(c.what);
    Tensor x = random(rng, c.x);
    Tensor dy = random(rng, run("MaxPool", {x}, c.attrs).shape());
    expectClose(runGrad("MaxPoolGrad", {dy, x}, c.attrs), scatterByIndices(x, dy, c.attrs));
  }
}

TEST(MaxPoolGrad, TiesGoToTheFirstMaximum) {
  // Values from {0, 1, 2}: most windows hold tied maxima.
  std::mt19937 rng(5);
  for (const PoolConfig &c : kPoolConfigs) {
    SCOPED_TRACE(c.what);
    Tensor x(DType::F64, c.x);
    for (int64_t i = 0; i < x.numel(); ++i)
      x.setDouble(i, (double)(rng() % 3));
    Tensor dy = random(rng, run("MaxPool", {x}, c.attrs).shape());
    expectClose(runGrad("MaxPoolGrad", {dy, x}, c.attrs), scatterByIndices(x, dy, c.attrs));
  }
  // All equal: each window's first tap (row-major) gets its gradient.
  Tensor x = Tensor::fromVector<double>({1, 1, 3, 3}, std::vector<double>(9, 1.0));
  Tensor dy = Tensor::fromVector<double>({1, 1, 2, 2}, {1, 10, 100, 1000});
  expectClose(runGrad("MaxPoolGrad", {dy, x}, {{"kernel_shape", Ints{2, 2}}}),
              Tensor::fromVector<double>({1, 1, 3, 3}, {1, 10, 0, 100, 1000, 0, 0, 0, 0}));
}

TEST(MaxPoolGrad, NaNTakesTheGradientAndFloat32Works) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::fromVector<float>({1, 1, 2, 2}, {5, nan, 7, 1});
  Tensor dy = Tensor::fromVector<float>({1, 1, 1, 1}, {3});
  Tensor dx = runGrad("MaxPoolGrad", {dy, x}, {{"kernel_shape", Ints{2, 2}}});
  ASSERT_EQ(dx.dtype(), DType::F32);
  expectClose(dx, Tensor::fromVector<float>({1, 1, 2, 2}, {0, 3, 0, 0}));
}

// ---- AveragePoolGrad ----

TEST(AveragePoolGrad, MatchesTheForwardsTranspose) {
  std::mt19937 rng(13);
  for (const PoolConfig &c : kPoolConfigs)
    for (int includePad : {0, 1}) {
      SCOPED_TRACE(std::string(c.what) + (includePad ? ", count_include_pad" : ""));
      AttrMap attrs = with(c.attrs, "count_include_pad", Attribute(includePad));
      Tensor x = random(rng, c.x);
      Tensor dy = random(rng, run("AveragePool", {x}, attrs).shape());
      expectClose(
          runGrad("AveragePoolGrad", {dy}, with(attrs, "input_shape", c.x)),
          linearVjp(x, dy, [&](const Tensor &e) { return run("AveragePool", {e}, attrs); }));
    }
}

TEST(AveragePoolGrad, HandComputedDivisors) {
  // 1-D input of 3, kernel 2, pad 1 both sides: windows [-1,0], [0,1], [1,2], [2,3].
  Tensor dy = Tensor::fromVector<double>({1, 1, 4}, {1, 1, 1, 1});
  AttrMap a{{"kernel_shape", Ints{2}}, {"pads", Ints{1, 1}}, {"input_shape", Ints{1, 1, 3}}};
  expectClose(runGrad("AveragePoolGrad", {dy}, a),
              Tensor::fromVector<double>({1, 1, 3}, {1.5, 1, 1.5}));
  a["count_include_pad"] = Attribute(1);
  expectClose(runGrad("AveragePoolGrad", {dy}, a),
              Tensor::fromVector<double>({1, 1, 3}, {1, 1, 1}));
}

// ---- Inference errors name the op ----

namespace {
void expectBuildError(const std::string &op, std::vector<TensorType> types, AttrMap attrs,
                      const std::string &what) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i)
    operands.push_back(f.addInput(argName(i), types[i]));
  try {
    buildOp(f, op, operands, std::move(attrs), 1, nullptr, "adjoint");
    ADD_FAILURE() << op << ": expected an error containing '" << what << "'";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}
} // namespace

TEST(ConvPoolBackward, InferenceErrors) {
  TensorType dy{DType::F32, {1, 2, 3, 3}}, w{DType::F32, {2, 4, 2, 2}};
  AttrMap in{{"input_shape", Ints{1, 4, 4, 4}}};
  expectBuildError("ConvGradData", {dy, w}, {}, "input_shape");
  expectBuildError("ConvGradData", {{DType::F32, {1, 2, 2, 2}}, w}, in, "dY must have");
  expectBuildError("ConvGradData", {dy, w}, {{"input_shape", Ints{1, 3, 4, 4}}}, "channels");
  expectBuildError("ConvGradData", {dy, w}, {{"input_shape", Ints{1, 4, 4}}}, "rank");
  expectBuildError("ConvGradData", {dy, w}, {{"input_shape", Ints{1, 4, -4, 4}}}, "negative");
  expectBuildError("ConvGradData", {dy, {DType::F64, {2, 4, 2, 2}}}, in, "dtype");
  expectBuildError("ConvGradData", {{DType::I64, {1, 2, 3, 3}}, {DType::I64, {2, 4, 2, 2}}}, in,
                   "floating-point");
  expectBuildError("ConvGradData", {dy, w}, with(in, "kernel_shape", Ints{3, 3}), "kernel_shape");

  TensorType x{DType::F32, {1, 4, 4, 4}};
  AttrMap k{{"kernel_shape", Ints{2, 2}}};
  expectBuildError("ConvGradFilter", {x, dy}, {}, "kernel_shape");
  expectBuildError("ConvGradFilter", {x, dy}, {{"kernel_shape", Ints{2}}}, "kernel_shape");
  expectBuildError("ConvGradFilter", {x, dy}, with(k, "group", Attribute(3)), "divisible");
  expectBuildError("ConvGradFilter", {x, dy}, with(k, "strides", Ints{2, 2}), "dY must have");
  expectBuildError("ConvGradFilter", {x, {DType::F32, {1, 2, 3}}}, k, "rank");

  expectBuildError("MaxPoolGrad", {dy, x}, {}, "kernel_shape");
  expectBuildError("MaxPoolGrad", {dy, x}, k, "dY must have");
  expectBuildError("MaxPoolGrad", {{DType::F32, {1, 4, 5, 5}}, x},
                   {{"kernel_shape", Ints{2, 2}}, {"pads", Ints{2, 2, 0, 0}}}, "only padding");
  expectBuildError("MaxPoolGrad", {{DType::F32, {1, 4, 3, 3}}, {DType::F64, {1, 4, 4, 4}}}, k,
                   "dtype");

  expectBuildError("AveragePoolGrad", {dy}, k, "input_shape");
  expectBuildError("AveragePoolGrad", {dy}, with(k, "input_shape", Ints{1, 2, 5, 5}),
                   "dY must have");
  expectBuildError("AveragePoolGrad", {{DType::F32, {1, 2, 3}}},
                   {{"kernel_shape", Ints{2, 2}}, {"input_shape", Ints{1, 2, 4}}}, "kernel_shape");
}
