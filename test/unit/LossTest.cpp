// SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss, their backward ops
// (adjoint.SoftmaxCrossEntropyGrad, adjoint.NegativeLogLikelihoodLossGrad) and the attach-loss
// pass. Forward values come from the ONNX node-test reference functions
// (onnx/backend/test/case/node/{softmaxcrossentropy,negativeloglikelihoodloss}.py) run once in
// numpy; backward kernels are checked against central differences of the forward kernels; the
// attached losses against hand computations and against PyTorch's value for a fixed example.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace adjoint;

namespace {

Tensor F64(Shape s, std::vector<double> v) { return Tensor::fromVector<double>(std::move(s), v); }
Tensor F32(Shape s, std::vector<float> v) { return Tensor::fromVector<float>(std::move(s), v); }
Tensor I64(Shape s, std::vector<int64_t> v) { return Tensor::fromVector<int64_t>(std::move(s), v); }
Tensor I32(Shape s, std::vector<int32_t> v) { return Tensor::fromVector<int32_t>(std::move(s), v); }

void expectClose(const Tensor &got, const Shape &shape, const std::vector<double> &want,
                 double tol = 1e-6) {
  ASSERT_EQ(got.shape(), shape) << shapeStr(got.shape());
  ASSERT_EQ(got.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got.getDouble((int64_t)i), want[i], tol * (1 + std::abs(want[i]))) << "at " << i;
}

std::string errorOf(const std::function<void()> &fn) {
  try {
    fn();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

// Runs a one-op function; an empty Tensor in `ins` is an absent optional operand.
std::vector<Tensor> run(const std::string &type, const std::vector<Tensor> &ins, AttrMap attrs = {},
                        size_t numResults = 1, const std::string &domain = "") {
  Function f("t");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> feed;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i].empty()) {
      operands.push_back(nullptr);
      continue;
    }
    std::string name = "in";
    name += std::to_string(i);
    operands.push_back(f.addInput(name, {ins[i].dtype(), ins[i].shape()}));
    feed[name] = ins[i];
  }
  Op *op = buildOp(f, type, operands, std::move(attrs), numResults, nullptr, domain);
  for (size_t r = 0; r < numResults; ++r) {
    std::string name = "out";
    name += std::to_string(r);
    f.addOutput(name, op->result(r));
  }
  return interpret(f, feed);
}

std::string buildError(const std::string &type, const std::vector<TensorType> &types,
                       AttrMap attrs = {}, const std::string &domain = "") {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i) {
    std::string name = "in";
    name += std::to_string(i);
    operands.push_back(f.addInput(name, types[i]));
  }
  return errorOf([&] { buildOp(f, type, operands, std::move(attrs), 1, nullptr, domain); });
}

// Scores [3, 3], labels 2 0 1, class weights 0.5 2 1.5.
const Tensor kX = F64({3, 3}, {1.0, -0.5, 2.0, 0.3, 0.1, -1.2, 0.0, 0.7, -0.4});
const Tensor kT = I64({3}, {2, 0, 1});
const Tensor kW = F64({3}, {0.5, 2.0, 1.5});

AttrMap attrs(const std::string &reduction, std::optional<int64_t> ii = std::nullopt) {
  AttrMap a{{"reduction", Attribute(reduction)}};
  if (ii)
    a["ignore_index"] = Attribute(*ii);
  return a;
}

} // namespace

// ---- Forward

TEST(SoftmaxCrossEntropyLoss, Reductions) {
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT}, attrs("none"))[0], {3},
              {0.37153903, 0.7138616, 0.60401887});
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT}, attrs("sum"))[0], {}, {1.6894195});
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT}, attrs("mean"))[0], {}, {0.56313986});
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT})[0], {}, {0.56313986}); // mean by default
}

TEST(SoftmaxCrossEntropyLoss, WeightedMeanAndIgnoreIndex) {
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT, kW}, attrs("mean"))[0], {},
              {0.5305692665278912});
  // Element 1 (label 0) ignored: the mean divides by the weights of the others only.
  expectClose(run("SoftmaxCrossEntropyLoss", {kX, kT, kW}, attrs("mean", 0))[0], {},
              {0.50438464});
}

TEST(SoftmaxCrossEntropyLoss, LogProbAndI32Labels) {
  auto r = run("SoftmaxCrossEntropyLoss", {kX, I32({3}, {2, 0, 1})}, attrs("none", 1), 2);
  expectClose(r[0], {3}, {0.37153903, 0.7138616, 0.0});
  expectClose(r[1], {3, 3},
              {-1.3715390319, -2.8715390319, -0.3715390319, -0.7138616044, -0.9138616044,
               -2.2138616044, -1.3040188667, -0.6040188667, -1.7040188667});
}

TEST(SoftmaxCrossEntropyLoss, NdInputF32) {
  std::vector<float> x;
  for (int i = 0; i < 12; ++i)
    x.push_back(i * 0.25f - 1);
  Tensor X = F32({2, 3, 2}, x), T = I64({2, 2}, {0, 2, 1, 1});
  Tensor none = run("SoftmaxCrossEntropyLoss", {X, T}, attrs("none"))[0];
  EXPECT_EQ(none.dtype(), DType::F32);
  expectClose(none, {2, 2}, {1.6802697, 0.68026966, 1.1802697, 1.1802697});
  Tensor W = F32({3}, {0.5f, 2.0f, 1.5f});
  expectClose(run("SoftmaxCrossEntropyLoss", {X, T, W}, attrs("mean"))[0], {},
              {1.0969363699356716});
}

TEST(SoftmaxCrossEntropyLoss, AllIgnoredMeanIsNaN) {
  Tensor r = run("SoftmaxCrossEntropyLoss", {kX, I64({3}, {4, 4, 4})}, attrs("mean", 4))[0];
  EXPECT_TRUE(std::isnan(r.getDouble(0)));
}

TEST(NegativeLogLikelihoodLoss, WeightsAndIgnoreIndex) {
  expectClose(run("NegativeLogLikelihoodLoss", {kX, kT, kW}, attrs("none"))[0], {3},
              {-3.0, -0.15, -1.4});
  expectClose(run("NegativeLogLikelihoodLoss", {kX, kT}, attrs("mean", 2))[0], {}, {-0.5});
  expectClose(run("NegativeLogLikelihoodLoss", {kX, kT, kW}, attrs("sum", 0))[0], {}, {-4.4});
}

TEST(LossOps, InferenceErrorsNameTheOp) {
  TensorType x{DType::F32, {3, 4}}, t{DType::I64, {3}};
  EXPECT_NE(buildError("SoftmaxCrossEntropyLoss", {x, {DType::I64, {4}}}).find(
                "SoftmaxCrossEntropyLoss: labels of shape [4] do not match scores of shape [3,4]"),
            std::string::npos);
  EXPECT_NE(buildError("SoftmaxCrossEntropyLoss", {x, {DType::F32, {3}}})
                .find("labels must be an i32 or i64 tensor, got f32[3]"),
            std::string::npos);
  EXPECT_NE(buildError("NegativeLogLikelihoodLoss", {{DType::F32, {3}}, {DType::I64, {}}})
                .find("NegativeLogLikelihoodLoss: input must have rank >= 2"),
            std::string::npos);
  EXPECT_NE(buildError("NegativeLogLikelihoodLoss", {{DType::I64, {3, 4}}, t})
                .find("input must be a floating-point tensor"),
            std::string::npos);
  EXPECT_NE(buildError("SoftmaxCrossEntropyLoss", {x, t, {DType::F32, {3}}})
                .find("weights must be f32[4] (one per class), got f32[3]"),
            std::string::npos);
  EXPECT_NE(buildError("SoftmaxCrossEntropyLoss", {x, t}, attrs("avg"))
                .find("reduction must be 'none', 'sum' or 'mean', got 'avg'"),
            std::string::npos);
}

TEST(LossOps, LabelOutOfRangeIsAnError) {
  std::string e = errorOf([] { run("SoftmaxCrossEntropyLoss", {kX, I64({3}, {2, 3, 1})}); });
  EXPECT_NE(e.find("SoftmaxCrossEntropyLoss: label 3 at element 1 is out of range [0, 3)"),
            std::string::npos)
      << e;
  e = errorOf(
      [] { run("NegativeLogLikelihoodLoss", {kX, I64({3}, {2, -1, 1})}, attrs("sum", 5)); });
  EXPECT_NE(e.find("label -1 at element 1 is out of range [0, 3) and is not ignore_index"),
            std::string::npos)
      << e;
}

// ---- Backward ops against central differences of the forward kernels

namespace {

struct GradVariant {
  Shape input;
  Tensor labels;
  std::string reduction;
  bool weights;
  std::optional<int64_t> ii;
};

std::vector<GradVariant> gradVariants() {
  return {
      {{3, 3}, kT, "mean", false, std::nullopt},
      {{3, 3}, kT, "sum", true, std::nullopt},
      {{3, 3}, kT, "none", true, 0},
      {{3, 3}, kT, "mean", true, 1},
      {{2, 3, 2}, I64({2, 2}, {0, 2, 1, -1}), "mean", true, -1},
      {{2, 3, 2}, I64({2, 2}, {0, 2, 1, 1}), "none", false, std::nullopt},
  };
}

// d(sum(dy * loss(x))) / dx by central differences.
Tensor numericGrad(const std::string &op, const Tensor &x, const std::vector<Tensor> &rest,
                   const AttrMap &a, const Tensor &dy) {
  Tensor g(DType::F64, x.shape());
  const double h = 1e-6;
  auto f = [&](const Tensor &xx) {
    std::vector<Tensor> ins{xx};
    ins.insert(ins.end(), rest.begin(), rest.end());
    Tensor l = run(op, ins, a)[0];
    double s = 0;
    for (int64_t i = 0; i < l.numel(); ++i)
      s += l.getDouble(i) * dy.getDouble(i);
    return s;
  };
  for (int64_t i = 0; i < x.numel(); ++i) {
    Tensor p = x, m = x;
    p.data<double>()[i] += h;
    m.data<double>()[i] -= h;
    g.data<double>()[i] = (f(p) - f(m)) / (2 * h);
  }
  return g;
}

Tensor randomF64(const Shape &s, std::mt19937 &rng, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  Tensor t(DType::F64, s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<double>()[i] = d(rng);
  return t;
}

void checkBackward(const std::string &fwd, const std::string &bwd, bool isNll) {
  std::mt19937 rng(7);
  for (const GradVariant &v : gradVariants()) {
    SCOPED_TRACE(shapeStr(v.input) + " " + v.reduction + (v.weights ? " weights" : "") +
                 (v.ii ? " ignore_index " + std::to_string(*v.ii) : ""));
    Tensor x = randomF64(v.input, rng, -2, 2);
    Tensor w = v.weights ? randomF64({v.input[1]}, rng, 0.25, 2) : Tensor();
    AttrMap a = attrs(v.reduction, v.ii);
    Tensor dy = v.reduction == "none" ? randomF64(v.labels.shape(), rng, -1, 1)
                                      : F64({}, {0.7});
    Tensor want = numericGrad(fwd, x, {v.labels, w}, a, dy);
    Tensor got;
    if (isNll) {
      AttrMap b = a;
      b["num_classes"] = Attribute(v.input[1]);
      got = run(bwd, {dy, v.labels, w}, b, 1, "adjoint")[0];
    } else {
      got = run(bwd, {dy, x, v.labels, w}, a, 1, "adjoint")[0];
    }
    std::vector<double> wantV;
    for (int64_t i = 0; i < want.numel(); ++i)
      wantV.push_back(want.getDouble(i));
    expectClose(got, v.input, wantV, 1e-6);
  }
}

} // namespace

TEST(SoftmaxCrossEntropyGrad, MatchesFiniteDifferences) {
  checkBackward("SoftmaxCrossEntropyLoss", "SoftmaxCrossEntropyGrad", false);
}

TEST(SoftmaxCrossEntropyGrad, ClosedFormForTheMean) {
  // mean over N = 3 without weights: (softmax(x) - onehot(t)) / 3.
  Tensor g = run("SoftmaxCrossEntropyGrad", {F64({}, {1.0}), kX, kT}, {}, 1, "adjoint")[0];
  Tensor logp = run("SoftmaxCrossEntropyLoss", {kX, kT}, {}, 2)[1];
  std::vector<double> want;
  for (int64_t i = 0; i < 9; ++i)
    want.push_back((std::exp(logp.getDouble(i)) - (kT.getInt(i / 3) == i % 3 ? 1.0 : 0.0)) / 3);
  expectClose(g, {3, 3}, want, 1e-12);
}

TEST(NegativeLogLikelihoodLossGrad, MatchesFiniteDifferences) {
  checkBackward("NegativeLogLikelihoodLoss", "NegativeLogLikelihoodLossGrad", true);
}

TEST(LossBackwardOps, InferenceErrors) {
  TensorType dy{DType::F32, {}}, x{DType::F32, {3, 4}}, t{DType::I64, {3}};
  EXPECT_NE(buildError("SoftmaxCrossEntropyGrad", {{DType::F32, {3}}, x, t}, {}, "adjoint")
                .find("dy must have the loss type f32[], got f32[3]"),
            std::string::npos);
  EXPECT_NE(buildError("NegativeLogLikelihoodLossGrad", {dy, t}, {}, "adjoint")
                .find("missing required attribute 'num_classes'"),
            std::string::npos);
  EXPECT_EQ(buildError("NegativeLogLikelihoodLossGrad", {dy, t}, {{"num_classes", 4}}, "adjoint"),
            "");
}

// ---- The attach-loss pass

namespace {

// @net(%x) -> (y = Identity(x)): the attached loss sees y = x.
std::unique_ptr<Function> identityNet(const Shape &s, DType dt = DType::F64) {
  auto f = std::make_unique<Function>("net");
  Value *x = f->addInput("x", {dt, s});
  f->addOutput("y", buildOp(*f, "Identity", {x})->result());
  return f;
}

double attachedLoss(const std::string &kind, const Tensor &x, const Tensor &target) {
  auto f = identityNet(x.shape(), x.dtype());
  PassContext ctx;
  ctx.options["attach-loss"] = kind;
  runAttachLoss(*f, ctx);
  EXPECT_EQ(f->outputs().size(), 2u);
  EXPECT_EQ(f->outputs()[0].name, "loss");
  EXPECT_EQ(f->outputs()[1].name, "y");
  EXPECT_EQ(f->outputs()[0].value->type(), (TensorType{x.dtype(), {}}));
  std::vector<Tensor> out = interpret(*f, {{"x", x}, {"target", target}});
  return out[0].getDouble(0);
}

const Tensor kLogits = F64({2, 3}, {1.0, -0.5, 2.0, 0.3, 0.1, -1.2});
const Tensor kTarget = F64({2, 3}, {0.5, 1.0, 0.0, 1.0, 0.0, 1.0});

} // namespace

TEST(AttachLoss, MatchesHandComputation) {
  double ce = 0, mse = 0, l1 = 0, bce = 0;
  int64_t labels[2] = {2, 0};
  for (int n = 0; n < 2; ++n) {
    double lse = 0;
    for (int c = 0; c < 3; ++c)
      lse += std::exp(kLogits.getDouble(n * 3 + c));
    ce += (std::log(lse) - kLogits.getDouble(n * 3 + labels[n])) / 2;
  }
  for (int i = 0; i < 6; ++i) {
    double x = kLogits.getDouble(i), t = kTarget.getDouble(i), sig = 1 / (1 + std::exp(-x));
    mse += (x - t) * (x - t) / 6;
    l1 += std::abs(x - t) / 6;
    bce += -(t * std::log(sig) + (1 - t) * std::log(1 - sig)) / 6;
  }
  EXPECT_NEAR(attachedLoss("cross-entropy", kLogits, I64({2}, {2, 0})), ce, 1e-12);
  EXPECT_NEAR(attachedLoss("mse", kLogits, kTarget), mse, 1e-12);
  EXPECT_NEAR(attachedLoss("l1:y", kLogits, kTarget), l1, 1e-12);
  EXPECT_NEAR(attachedLoss("bce-with-logits", kLogits, kTarget), bce, 1e-12);
}

TEST(AttachLoss, MatchesTorch) {
  // torch 1.13, float64: nn.CrossEntropyLoss()(x, [2, 0]), nn.MSELoss()(x, t), nn.L1Loss()(x, t),
  // nn.BCEWithLogitsLoss()(x, t) with x = kLogits, t = kTarget.
  EXPECT_NEAR(attachedLoss("cross-entropy", kLogits, I64({2}, {2, 0})), 0.5427003181309248, 1e-12);
  EXPECT_NEAR(attachedLoss("mse", kLogits, kTarget), 1.9733333333333336, 1e-12);
  EXPECT_NEAR(attachedLoss("l1", kLogits, kTarget), 1.1666666666666667, 1e-12);
  EXPECT_NEAR(attachedLoss("bce-with-logits", kLogits, kTarget), 1.1127168424369054, 1e-12);
  // f32 cross-entropy: torch gives 0.5427003502845764 in float32.
  Tensor x32 = kLogits.cast(DType::F32);
  EXPECT_NEAR(attachedLoss("cross-entropy", x32, I64({2}, {2, 0})), 0.5427003502845764, 1e-6);
}

TEST(AttachLoss, BceWithLogitsIsStableAndSmoothAtZero) {
  // torch: BCEWithLogitsLoss()(z, kTarget) = 43.56438239352001 and its gradient, with logits at
  // 0 (where the gradient is sigmoid(0) - t) and at +-30, +-100 (where a naive form overflows).
  Tensor z = F64({2, 3}, {0.0, -30.0, 30.0, 0.0, 100.0, -100.0});
  EXPECT_NEAR(attachedLoss("bce-with-logits", z, kTarget), 43.56438239352001, 1e-12);

  Function f("net");
  Value *p = f.addParam("p", {DType::F64, {2, 3}}, z);
  Value *one = f.addInput("one", {DType::F64, {}});
  f.addOutput("y", buildOp(f, "Mul", {p, one})->result());
  PassContext ctx;
  ctx.options["attach-loss"] = "bce-with-logits";
  runAttachLoss(f, ctx);
  runAutodiff(f, ctx);
  std::vector<Tensor> out = interpret(f, {{"one", F64({}, {1.0})}, {"target", kTarget}});
  ASSERT_EQ(f.outputs().back().name, "grad.p");
  expectClose(out.back(), {2, 3},
              {0.0, -0.16666666666665106, 0.1666666666666511, -0.08333333333333333,
               0.16666666666666666, -0.16666666666666666},
              1e-9);
}

TEST(AttachLoss, TargetTypes) {
  auto f = identityNet({4, 5, 6, 6}, DType::F32);
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy";
  runAttachLoss(*f, ctx);
  EXPECT_EQ(f->findArg("target")->type(), (TensorType{DType::I64, {4, 6, 6}}));
  EXPECT_EQ(f->outputs()[0].value->type(), (TensorType{DType::F32, {}}));

  auto g = identityNet({4, 5}, DType::F32);
  ctx.options["attach-loss"] = "mse";
  runAttachLoss(*g, ctx);
  EXPECT_EQ(g->findArg("target")->type(), (TensorType{DType::F32, {4, 5}}));
}

TEST(AttachLoss, Errors) {
  auto tryKind = [](const std::string &kind, const Shape &s, DType dt = DType::F32) {
    auto f = identityNet(s, dt);
    PassContext ctx;
    ctx.options["attach-loss"] = kind;
    return errorOf([&] { runAttachLoss(*f, ctx); });
  };
  EXPECT_EQ(tryKind("huber", {2, 2}),
            "attach-loss: unknown loss kind 'huber' (expected one of cross-entropy, mse, l1, "
            "bce-with-logits)");
  EXPECT_EQ(tryKind("mse:out", {2, 2}),
            "attach-loss: function @net has no output named 'out' (outputs: y)");
  EXPECT_EQ(tryKind("cross-entropy", {5}),
            "attach-loss: cross-entropy needs logits of rank >= 2 ([N, C, ...]) and a "
            "floating-point dtype; output 'y' is f32[5]");
  EXPECT_EQ(tryKind("cross-entropy", {2, 5}, DType::I32),
            "attach-loss: cross-entropy needs logits of rank >= 2 ([N, C, ...]) and a "
            "floating-point dtype; output 'y' is i32[2,5]");
  EXPECT_EQ(tryKind("", {2, 2}), "attach-loss: expects --attach-loss=KIND[:OUTPUT] with KIND one "
                                 "of cross-entropy, mse, l1, bce-with-logits");
  EXPECT_EQ(tryKind("mse:", {2, 2}), "attach-loss: empty output name in '--attach-loss=mse:'");
}
