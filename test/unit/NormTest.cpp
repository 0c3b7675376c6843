// BatchNormalization, LayerNormalization, Softmax, LogSoftmax, Dropout. Expected values come from
// the ONNX node-test reference functions (onnx/backend/test/case/node/*.py) run once in numpy.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace adjoint;

namespace {

template <typename T> Tensor T_(Shape s, std::vector<T> v) {
  return Tensor::fromVector<T>(std::move(s), v);
}
Tensor F32(Shape s, std::vector<float> v) { return T_<float>(std::move(s), std::move(v)); }
Tensor F64(Shape s, std::vector<double> v) { return T_<double>(std::move(s), std::move(v)); }

void expectClose(const Tensor &got, const Shape &shape, const std::vector<double> &want,
                 double tol = 1e-5) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(got.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got.getDouble((int64_t)i), want[i], tol * (1 + std::abs(want[i]))) << "at " << i;
}

void expectThrowsNaming(const std::function<void()> &fn, const std::string &needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an Error mentioning '" << needle << "'";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// Runs a one-op function and returns all its results. A default-constructed Tensor in `ins` is an
// absent optional operand; `constant[i]` makes operand i a Constant op instead of an input.
std::vector<Tensor> run1(const std::string &type, const std::vector<Tensor> &ins,
                         AttrMap attrs = {}, size_t numResults = 1,
                         std::vector<bool> constant = {}) {
  Function f("t");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> feed;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i].empty()) {
      operands.push_back(nullptr);
      continue;
    }
    if (i < constant.size() && constant[i]) {
      operands.push_back(buildConstant(f, ins[i]));
      continue;
    }
    std::string name = "in" + std::to_string(i);
    operands.push_back(f.addInput(name, {ins[i].dtype(), ins[i].shape()}));
    feed[name] = ins[i];
  }
  Op *op = buildOp(f, type, operands, std::move(attrs), numResults);
  for (size_t r = 0; r < numResults; ++r)
    f.addOutput("out" + std::to_string(r), op->result(r));
  return interpret(f, feed);
}

// Inference only: builds the op and returns its result types.
std::vector<TensorType> types1(const std::string &type, const std::vector<TensorType> &ins,
                               AttrMap attrs = {}, size_t numResults = 1) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < ins.size(); ++i)
    operands.push_back(f.addInput("in" + std::to_string(i), ins[i]));
  Op *op = buildOp(f, type, operands, std::move(attrs), numResults);
  std::vector<TensorType> r;
  for (size_t i = 0; i < numResults; ++i)
    r.push_back(op->result(i)->type());
  return r;
}

} // namespace

// ---------------------------------------------------------------- Softmax / LogSoftmax

TEST(Softmax, ExampleDefaultAxis) {
  auto y = run1("Softmax", {F32({1, 3}, {-1, 0, 1})});
  expectClose(y[0], {1, 3}, {0.09003058, 0.24472848, 0.66524094});
}

TEST(Softmax, LargeNumbersAreStable) {
  Tensor x = F32({2, 4}, {0, 1, 2, 3, 10000, 10001, 10002, 10003});
  std::vector<double> row{0.032058604061603546, 0.08714432269334793, 0.23688280582427979,
                          0.6439142823219299};
  std::vector<double> want = row;
  want.insert(want.end(), row.begin(), row.end());
  expectClose(run1("Softmax", {x})[0], {2, 4}, want);
  std::vector<double> lrow{-3.4401895999908447, -2.4401895999908447, -1.4401895999908447,
                           -0.4401896595954895};
  std::vector<double> lwant = lrow;
  lwant.insert(lwant.end(), lrow.begin(), lrow.end());
  expectClose(run1("LogSoftmax", {x})[0], {2, 4}, lwant);
}

TEST(Softmax, AxisZeroF64) {
  Tensor x = F64({2, 3}, {0.5, -1.0, 2.0, 3.0, 0.25, -0.75});
  auto y = run1("Softmax", {x}, {{"axis", int64_t{0}}});
  EXPECT_EQ(y[0].dtype(), DType::F64);
  expectClose(y[0], {2, 3},
              {0.07585818002124356, 0.22270013882530884, 0.9399133498259924, 0.9241418199787566,
               0.7772998611746911, 0.06008665017400762},
              1e-12);
  auto l = run1("LogSoftmax", {x}, {{"axis", int64_t{-2}}});
  expectClose(l[0], {2, 3},
              {-2.5788897342925496, -1.501929081345373, -0.061967589003198625, -0.07888973429254957,
               -0.2519290813453729, -2.8119675890031988},
              1e-12);
}

TEST(Softmax, MiddleAxisOf3D) {
  // Along axis 1 of [2,2,2]: each pair (x[n,0,k], x[n,1,k]) is normalized on its own.
  Tensor x = F32({2, 2, 2}, {0, 1, 0, 3, 5, 5, 5, 5});
  double a = 1 / (1 + std::exp(2.0)); // softmax([1,3])[0]
  expectClose(run1("Softmax", {x}, {{"axis", int64_t{1}}})[0], {2, 2, 2},
              {0.5, a, 0.5, 1 - a, 0.5, 0.5, 0.5, 0.5});
}

TEST(Softmax, InferenceErrors) {
  expectThrowsNaming([] { types1("Softmax", {{DType::F32, {2, 3}}}, {{"axis", int64_t{2}}}); },
                     "Softmax");
  expectThrowsNaming([] { types1("LogSoftmax", {{DType::F32, {}}}); }, "out of range");
  expectThrowsNaming([] { types1("Softmax", {{DType::I64, {3}}}); }, "floating-point");
}

// ---------------------------------------------------------------- BatchNormalization

namespace {
Tensor bnX() {
  return F64({2, 3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                         -1, -2, -3, -4, 0.5, 0.25, 0, 1, 2, 4, 8, 16});
}
std::vector<Tensor> bnParams() {
  return {F64({3}, {1.0, 0.5, -2.0}), F64({3}, {0.0, 1.0, 0.5}), F64({3}, {2.0, -1.0, 3.0}),
          F64({3}, {1.0, 4.0, 0.25})};
}
} // namespace

TEST(BatchNormalization, InferenceMode) {
  std::vector<Tensor> ins{bnX()};
  for (auto &p : bnParams())
    ins.push_back(p);
  expectClose(run1("BatchNormalization", ins)[0], {2, 3, 4},
              {-0.9999950000374997, 0.0, 0.9999950000374997, 1.9999900000749995, 2.4999981250035157,
               2.7499978125041014, 2.9999975000046875, 3.249997187505273, -23.49952001439952,
               -27.499440016799436, -31.499360019199358, -35.499280021599276, -2.999985000112499,
               -3.999980000149999, -4.999975000187499, -5.999970000224998, 1.374999531250879,
               1.3124996093757324, 1.2499996875005859, 1.4999993750011718, 4.49992000239992,
               -3.4999200023999197, -19.499600011999597, -51.498960031198955},
              1e-7);
  expectClose(run1("BatchNormalization", ins, {{"epsilon", 1e-2}})[0], {2, 3, 4},
              {-0.9950371902099893, 0.0, 0.9950371902099893, 1.9900743804199785, 2.498128508316767,
               2.7478165930362284, 2.997504677755689, 3.24719276247515, -23.03393621658208,
               -26.956258919345764, -30.878581622109444, -34.80090432487312, -2.9851115706299676,
               -3.980148760839957, -4.975185951049946, -5.970223141259935, 1.3745321270791917,
               1.3121101058993265, 1.2496880847194611, 1.4993761694389223, 4.4223227027636804,
               -3.4223227027636804, -19.1116135138184, -50.49019513592785},
              1e-12);
}

TEST(BatchNormalization, TrainingModeUsesBatchStatistics) {
  std::vector<Tensor> ins{bnX()};
  for (auto &p : bnParams())
    ins.push_back(p);
  AttrMap a{{"training_mode", int64_t{1}}, {"momentum", 0.8}, {"epsilon", 1e-3}};
  auto r = run1("BatchNormalization", ins, a, 3);
  expectClose(r[0], {2, 3, 4},
              {0.3651240308793848, 0.7302480617587696, 1.0953720926381543, 1.460496123517539,
               1.2435428102885406, 1.4025911761912608, 1.5616395420939813, 1.7206879079967017, 0.5,
               0.018470544830160474, -0.46305891033967905, -0.9445883655095186,
               -0.3651240308793848, -0.7302480617587696, -1.0953720926381543, -1.460496123517539,
               0.527825163726299, 0.48806307225061885, 0.44830098077493874, 0.6073493466776592,
               3.8707061861888765, 2.9076472758491976, 0.9815294551698395, -2.8707061861888765},
              1e-12);
  expectClose(r[1], {3}, {1.6, -0.10625000000000018, 4.2}, 1e-12);
  expectClose(r[2], {3}, {2.3, 5.1763671874999995, 3.6499999999999995}, 1e-12);
  // Y alone is a valid training-mode node too.
  EXPECT_EQ(run1("BatchNormalization", ins, a, 1).size(), 1u);
}

TEST(BatchNormalization, F32Rank2) {
  // [N=2, C=2], inference: y = s * (x - mean) / sqrt(var + eps) + b.
  Tensor x = F32({2, 2}, {1, 2, 3, 4});
  auto y = run1("BatchNormalization", {x, F32({2}, {2, 1}), F32({2}, {0, 1}), F32({2}, {1, 2}),
                                       F32({2}, {4, 1})},
                {{"epsilon", 0.0}});
  EXPECT_EQ(y[0].dtype(), DType::F32);
  expectClose(y[0], {2, 2}, {0, 1, 2, 3});
}

TEST(BatchNormalization, InferenceErrors) {
  TensorType c3{DType::F32, {3}}, c4{DType::F32, {4}};
  expectThrowsNaming(
      [&] { types1("BatchNormalization", {{DType::F32, {2, 3, 4}}, c4, c3, c3, c3}); },
      "scale must have shape [3]");
  expectThrowsNaming([&] { types1("BatchNormalization", {{DType::F32, {3}}, c3, c3, c3, c3}); },
                     "rank >= 2");
  expectThrowsNaming(
      [&] { types1("BatchNormalization", {{DType::F32, {2, 3}}, c3, c3, c3, c3}, {}, 3); },
      "training_mode=1");
  expectThrowsNaming(
      [&] { types1("BatchNormalization", {{DType::I32, {2, 3}}, c3, c3, c3, c3}); },
      "BatchNormalization");
  auto t = types1("BatchNormalization", {{DType::F32, {2, 3, 5}}, c3, c3, c3, c3},
                  {{"training_mode", int64_t{1}}}, 3);
  EXPECT_EQ(t[0], (TensorType{DType::F32, {2, 3, 5}}));
  EXPECT_EQ(t[2], c3);
}

// ---------------------------------------------------------------- LayerNormalization

namespace {
Tensor lnX(DType dt) {
  return F64({2, 2, 3}, {1, 2, 3, 4, 0, -1, 0.5, 0.5, 2, 10, -10, 3}).cast(dt);
}
} // namespace

TEST(LayerNormalization, DefaultAxisWithMeanAndInvStdDev) {
  auto r = run1("LayerNormalization",
                {lnX(DType::F32), F32({3}, {1.0, -0.5, 2.0}), F32({3}, {0.1, 0.2, 0.3})}, {}, 3);
  expectClose(r[0], {2, 2, 3},
              {-1.1247356859083901, 0.2, 2.7494713718167803, 1.4887286617360582, 0.4314547769560097,
               -1.5516382156480775, -0.6070997102248, 0.5535498551124001, 3.1283988408992,
               1.1860992029724347, 0.8637272907053766, 0.7827107568766376});
  EXPECT_EQ(r[1].dtype(), DType::F32);
  expectClose(r[1], {2, 2, 1}, {2.0, 1.0, 1.0, 1.0});
  expectClose(r[2], {2, 2, 1},
              {1.2247356859083902, 0.4629095539120194, 1.4141994204496, 0.12067768921915939});
}

TEST(LayerNormalization, Axis1NoBiasF64Stash) {
  Tensor w = F64({2, 3}, {1.0, 2.0, 3.0, -1.0, 0.5, 0.25});
  AttrMap a{{"axis", int64_t{1}}, {"epsilon", 0.1}, {"stash_type", int64_t{11}}};
  auto r = run1("LayerNormalization", {lnX(DType::F64), w}, a, 3);
  expectClose(r[0], {2, 2, 3},
              {-0.2878765849748735, 0.575753169949747, 2.5908892647738617, -1.4393829248743675,
               -0.4318148774623103, -0.35984573121859187, -0.08490037127013533,
               -0.16980074254027067, 0.509402227620812, -1.5282066828624359, -0.9339040839714887,
               0.08490037127013533},
              1e-12);
  EXPECT_EQ(r[1].dtype(), DType::F64);
  expectClose(r[1], {2, 1, 1}, {1.5, 1.0}, 1e-12);
  expectClose(r[2], {2, 1, 1}, {0.575753169949747, 0.16980074254027067}, 1e-12);
}

TEST(LayerNormalization, Axis0AndNegativeAxisAndScalarScale) {
  AttrMap a{{"axis", int64_t{-3}}, {"stash_type", int64_t{11}}};
  auto r = run1("LayerNormalization", {lnX(DType::F64), F64({}, {2.0})}, a, 3);
  expectClose(r[0], {2, 2, 3},
              {-0.1152780529021659, 0.3458341587064977, 0.8069463703151614, 1.268058581923825,
               -0.5763902645108295, -1.037502476119493, -0.3458341587064977, -0.3458341587064977,
               0.3458341587064977, 4.034731851575807, -5.1875123805974654, 0.8069463703151614},
              1e-12);
  expectClose(r[1], {1, 1, 1}, {1.25}, 1e-12);
  expectClose(r[2], {1, 1, 1}, {0.2305561058043318}, 1e-12);
}

TEST(LayerNormalization, F64InputWithDefaultStashComputesInF32) {
  auto r = run1("LayerNormalization", {lnX(DType::F64), F64({3}, {1.0, -0.5, 2.0})}, {}, 2);
  EXPECT_EQ(r[0].dtype(), DType::F64);
  EXPECT_EQ(r[1].dtype(), DType::F32);
  expectClose(r[0], {2, 2, 3},
              {-1.2247356859083901, 0.0, 2.4494713718167803, 1.3887286617360582, 0.2314547769560097,
               -1.8516382156480775, -0.7070997102248, 0.3535498551124001, 2.8283988408992,
               1.0860992029724347, 0.6637272907053766, 0.4827107568766376});
}

TEST(LayerNormalization, AxisEqualToRankNormalizesSingletons) {
  // Every element is its own group: mean = x, variance 0, so Y = B.
  auto r = run1("LayerNormalization", {F32({2}, {3, -4}), F32({}, {5}), F32({2}, {1, 2})},
                {{"axis", int64_t{1}}}, 3);
  expectClose(r[0], {2}, {1, 2});
  expectClose(r[1], {2}, {3, -4});
  expectClose(r[2], {2}, {1 / std::sqrt(1e-5), 1 / std::sqrt(1e-5)}, 1e-4);
}

TEST(LayerNormalization, InferenceErrors) {
  TensorType x{DType::F32, {2, 3}}, w{DType::F32, {3}};
  expectThrowsNaming([&] { types1("LayerNormalization", {x, w}, {{"axis", int64_t{3}}}); },
                     "LayerNormalization");
  expectThrowsNaming([&] { types1("LayerNormalization", {x, w}, {{"axis", int64_t{-3}}}); },
                     "out of range");
  expectThrowsNaming([&] { types1("LayerNormalization", {x, w}, {{"stash_type", int64_t{10}}}); },
                     "stash_type");
  expectThrowsNaming([&] { types1("LayerNormalization", {x, {DType::F32, {4}}}); },
                     "does not broadcast");
  expectThrowsNaming([&] { types1("LayerNormalization", {x, {DType::F64, {3}}}); }, "dtype");
  auto t = types1("LayerNormalization", {{DType::F32, {2, 3, 4, 5}}, {DType::F32, {4, 5}}},
                  {{"axis", int64_t{2}}}, 3);
  EXPECT_EQ(t[1], (TensorType{DType::F32, {2, 3, 1, 1}}));
  EXPECT_EQ(t[2], (TensorType{DType::F32, {2, 3, 1, 1}}));
}

// ---------------------------------------------------------------- Dropout

TEST(Dropout, InferenceIsIdentityWithTrueMask) {
  Tensor x = F32({2, 3}, {1, -2, 3, -4, 5, -6});
  auto r = run1("Dropout", {x, F32({}, {0.3f})}, {{"seed", int64_t{7}}}, 2);
  EXPECT_TRUE(r[0].identical(x));
  EXPECT_EQ(r[1].dtype(), DType::Bool);
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_TRUE(r[1].data<bool>()[i]);
  auto off = run1("Dropout", {x, F32({}, {0.3f}), T_<bool>({}, {false})}, {}, 1);
  EXPECT_TRUE(off[0].identical(x));
}

TEST(Dropout, TrainingMaskMatchesNumpySeededReference) {
  // np.random.seed(0); mask = np.random.uniform(0, 1, (3, 4)) >= 0.75
  std::vector<int> want{0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0};
  std::vector<float> xs(12);
  for (int i = 0; i < 12; ++i)
    xs[i] = (float)i + 1;
  Tensor x = F32({3, 4}, xs);
  auto r = run1("Dropout", {x, F32({}, {0.75f}), T_<bool>({}, {true})}, {{"seed", int64_t{0}}}, 2);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(r[1].data<bool>()[i], want[i] != 0) << i;
    EXPECT_EQ(r[0].data<float>()[i], want[i] ? xs[i] * 4 : 0.f) << i;
  }
  // np.random.seed(42); mask = np.random.uniform(0, 1, (2, 5)) >= 0.5, in f64.
  std::vector<int> want42{0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
  Tensor x64 = F64({2, 5}, std::vector<double>(10, 1.5));
  auto r42 = run1("Dropout", {x64, F64({}, {0.5}), T_<bool>({}, {true})},
                  {{"seed", int64_t{42}}}, 2);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(r42[0].data<double>()[i], want42[i] ? 3.0 : 0.0) << i;
  // Same seed, same mask: the result is reproducible.
  auto again = run1("Dropout", {x64, F64({}, {0.5}), T_<bool>({}, {true})},
                    {{"seed", int64_t{42}}}, 2);
  EXPECT_TRUE(again[1].identical(r42[1]));
}

TEST(Dropout, TrainingWithZeroRatioKeepsEverything) {
  Tensor x = F32({4}, {1, 2, 3, 4});
  // ratio and training_mode as Constant ops, as an importer makes them from initializers.
  auto r = run1("Dropout", {x, F32({}, {0.f}), T_<bool>({}, {true})}, {}, 2, {false, true, true});
  EXPECT_TRUE(r[0].identical(x));
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(r[1].data<bool>()[i]);
}

TEST(Dropout, IsNotFoldedAndValidatesOperands) {
  Function f("t");
  Value *x = buildConstant(f, F32({2}, {1, 2}));
  Value *ratio = buildConstant(f, F32({}, {0.5f}));
  Value *train = buildConstant(f, T_<bool>({}, {true}));
  Op *op = buildOp(f, "Dropout", {x, ratio, train});
  EXPECT_FALSE(tryFold(*op).has_value());
  TensorType x23{DType::F32, {2, 3}};
  expectThrowsNaming([&] { types1("Dropout", {x23, {DType::I64, {}}}); }, "ratio");
  expectThrowsNaming([&] { types1("Dropout", {x23, {DType::F32, {2}}}); }, "scalar");
  expectThrowsNaming([&] { types1("Dropout", {x23, {DType::F32, {}}, {DType::F32, {}}}); },
                     "training_mode");
  expectThrowsNaming([&] { types1("Dropout", {{DType::I32, {2}}}); }, "Dropout");
  Function g("t");
  Value *gx = g.addInput("x", x23);
  Value *bad = buildConstant(g, F32({}, {1.f}));
  expectThrowsNaming([&] { buildOp(g, "Dropout", {gx, bad}); }, "[0, 1)");
}
