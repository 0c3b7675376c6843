// The optimizer pass (Transforms/OptimizerStep.cpp): the step function's interface, its errors,
// and its updates over several steps, checked against ONNX's independently written training ops
// where the formulas coincide (SGD momentum = Momentum with T = step - 1, Adagrad = Adagrad with
// T = step - 1, Adam with eps = 0 = Adam with T = step) and against the PyTorch formulas written
// out here otherwise (RMSprop, AdamW, clipping). PyTorch parity itself is
// test/parity/check_optimizers.py.
#include "OpTestUtil.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <cmath>

using namespace adjoint;
using namespace adjoint::test;

namespace {

// A function whose gradient outputs are inputs: grad.w = gw (and grad.u = gu with two params).
std::unique_ptr<Function> gradFunction(DType dt = DType::F64, bool twoParams = false) {
  auto f = std::make_unique<Function>("f");
  Value *gw = f->addInput("gw", {dt, {3}});
  Value *w = f->addParam("w", {dt, {3}}, Tensor(dt, {3}));
  Value *loss = buildOp(*f, "ReduceSum", {w}, {{"keepdims", 0}})->result();
  f->addOutput("loss", loss);
  f->addOutput("grad.w", gw);
  if (twoParams) {
    Value *gu = f->addInput("gu", {dt, {2}});
    f->addParam("u", {dt, {2}}, Tensor(dt, {2}));
    f->addOutput("grad.u", gu);
  }
  return f;
}

void optimize(Function &f, std::map<std::string, std::string> options) {
  PassContext ctx;
  ctx.options = std::move(options);
  runOptimizerStep(f, ctx);
  verifyFunction(f);
}

std::string optimizeError(Function &f, std::map<std::string, std::string> options) {
  try {
    optimize(f, std::move(options));
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> argNames(const Function &f) {
  std::vector<std::string> r;
  for (const auto &a : f.args())
    r.push_back(a->name());
  return r;
}

std::vector<std::string> outputNames(const Function &f) {
  std::vector<std::string> r;
  for (const auto &o : f.outputs())
    r.push_back(o.name);
  return r;
}

Tensor d3(std::vector<double> v) { return tensor<double>({3}, std::move(v)); }

const std::vector<Tensor> kGrads = {d3({0.3, -0.1, 2.0}), d3({-0.5, 0.2, 1.0}),
                                    d3({0.05, -0.7, -1.5})};
const Tensor kW0 = d3({1.0, -2.0, 0.5});

// Runs the step function for kGrads.size() steps from kW0 and zero state; returns the parameter
// after each step. `lr` may vary by step.
std::vector<Tensor> train(const Function &step, const std::function<double(int)> &lr) {
  std::map<std::string, Tensor> feeds = {{"w", kW0}};
  for (const auto &a : step.args())
    if (a->name() != "w" && a->name() != "gw" && a->name() != "lr" && a->name() != "step")
      feeds[a->name()] = Tensor(a->dtype(), a->shape());
  std::vector<Tensor> ws;
  for (size_t s = 1; s <= kGrads.size(); ++s) {
    feeds["gw"] = kGrads[s - 1];
    feeds["lr"] = Tensor::scalar<double>(lr((int)s));
    feeds["step"] = Tensor::scalar<int64_t>((int64_t)s);
    std::vector<Tensor> out = interpret(step, feeds);
    for (size_t i = 0; i < out.size(); ++i) {
      const std::string &name = step.outputs()[i].name;
      if (name.rfind("new.", 0) == 0)
        feeds[name.substr(4)] = out[i];
    }
    ws.push_back(feeds["w"]);
  }
  return ws;
}

// The same steps with an ONNX training op: operands R, T, X, G, state...; T = step + tOffset.
std::vector<Tensor> trainOnnx(const std::string &op, AttrMap attrs, int64_t tOffset,
                              size_t numState, const std::function<double(int)> &lr,
                              const std::vector<Tensor> &initialState = {}) {
  Tensor x = kW0;
  std::vector<Tensor> state = initialState;
  state.resize(numState, Tensor(DType::F64, {3}));
  std::vector<Tensor> ws;
  for (size_t s = 1; s <= kGrads.size(); ++s) {
    Function f("onnx");
    std::vector<Value *> operands = {
        f.addInput("R", {DType::F64, {}}), f.addInput("T", {DType::I64, {}}),
        f.addInput("X", {DType::F64, {3}}), f.addInput("G", {DType::F64, {3}})};
    std::map<std::string, Tensor> feeds = {{"R", Tensor::scalar<double>(lr((int)s))},
                                           {"T", Tensor::scalar<int64_t>((int64_t)s + tOffset)},
                                           {"X", x},
                                           {"G", kGrads[s - 1]}};
    for (size_t k = 0; k < numState; ++k) {
      std::string name = "S";
      name.append(std::to_string(k));
      operands.push_back(f.addInput(name, {DType::F64, {3}}));
      feeds[name] = state[k];
    }
    Op *o = buildOp(f, op, operands, attrs, 1 + numState, nullptr, "ai.onnx.preview.training");
    for (size_t i = 0; i < o->numResults(); ++i)
      f.addOutput(i == 0 ? "X" : "S", o->result(i));
    std::vector<Tensor> out = interpret(f, feeds);
    x = out[0];
    for (size_t k = 0; k < numState; ++k)
      state[k] = out[1 + k];
    ws.push_back(x);
  }
  return ws;
}

void expectSame(const std::vector<Tensor> &got, const std::vector<Tensor> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < got.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    std::vector<double> w(want[s].data<double>(), want[s].data<double>() + want[s].numel());
    expectTensor<double>(got[s], want[s].shape(), w, 1e-12, 1e-14);
  }
}

double constantLr(int) { return 0.1; }
double decayingLr(int step) { return 0.1 * std::pow(0.5, step - 1); }

} // namespace

TEST(Optimizer, StepInterface) {
  auto f = gradFunction(DType::F32, /*twoParams=*/true);
  optimize(*f, {{"optimizer", "adam"}, {"amsgrad", "1"}});
  EXPECT_EQ(argNames(*f),
            (std::vector<std::string>{"gw", "w", "gu", "u", "lr", "step", "adam.m.w", "adam.v.w",
                                      "adam.vmax.w", "adam.m.u", "adam.v.u", "adam.vmax.u"}));
  EXPECT_EQ(outputNames(*f),
            (std::vector<std::string>{"loss", "new.w", "new.u", "new.adam.m.w", "new.adam.v.w",
                                      "new.adam.vmax.w", "new.adam.m.u", "new.adam.v.u",
                                      "new.adam.vmax.u"}));
  EXPECT_EQ(f->findArg("lr")->type(), (TensorType{DType::F32, {}}));
  EXPECT_EQ(f->findArg("step")->type(), (TensorType{DType::I64, {}}));
  EXPECT_EQ(f->findArg("adam.vmax.u")->type(), (TensorType{DType::F32, {2}}));

  auto g = gradFunction();
  optimize(*g, {{"optimizer", "rmsprop"}, {"centered", "1"}, {"momentum", "0.5"}});
  EXPECT_EQ(outputNames(*g),
            (std::vector<std::string>{"loss", "new.w", "new.rmsprop.square_avg.w",
                                      "new.rmsprop.grad_avg.w", "new.rmsprop.momentum.w"}));
  auto h = gradFunction();
  optimize(*h, {{"optimizer", "sgd"}});
  EXPECT_EQ(outputNames(*h), (std::vector<std::string>{"loss", "new.w"}));
  auto k = gradFunction();
  optimize(*k, {{"optimizer", "adagrad"}});
  EXPECT_EQ(outputNames(*k), (std::vector<std::string>{"loss", "new.w", "new.adagrad.sum.w"}));
}

TEST(Optimizer, Errors) {
  Function plain("plain");
  plain.addOutput("y", plain.addParam("w", {DType::F32, {}}, Tensor(DType::F32, {})));
  EXPECT_NE(optimizeError(plain, {{"optimizer", "sgd"}}).find("run --autodiff before"),
            std::string::npos);
  auto f = gradFunction();
  EXPECT_NE(optimizeError(*f, {{"optimizer", "lamb"}}).find("unknown optimizer 'lamb'"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "sgd"}, {"amsgrad", "1"}})
                .find("--amsgrad does not apply to sgd"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "sgd"}, {"nesterov", "1"}})
                .find("--nesterov=1 requires --momentum > 0"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "adam"}, {"beta1", "1"}}).find("[0, 1)"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "adam"}, {"eps", "tiny"}}).find("expects a number"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "adam"}, {"amsgrad", "yes"}}).find("expects 0 or 1"),
            std::string::npos);
  EXPECT_NE(optimizeError(*f, {{"optimizer", "sgd"}, {"clip-grad-norm", "0"}}).find("> 0"),
            std::string::npos);
  // Nothing was changed by the failures above.
  EXPECT_EQ(outputNames(*f), (std::vector<std::string>{"loss", "grad.w"}));

  auto taken = gradFunction();
  taken->addInput("lr", {DType::F64, {}});
  EXPECT_NE(
      optimizeError(*taken, {{"optimizer", "sgd"}}).find("already has an argument named 'lr'"),
      std::string::npos);

  auto mixed = gradFunction();
  mixed->addInput("gv", {DType::F32, {1}});
  mixed->addParam("v", {DType::F32, {1}}, Tensor(DType::F32, {1}));
  mixed->addOutput("grad.v", mixed->findArg("gv"));
  EXPECT_NE(optimizeError(*mixed, {{"optimizer", "sgd"}}).find("mix element types"),
            std::string::npos);

  auto stray = gradFunction();
  stray->addOutput("grad.nothing", stray->findArg("gw"));
  EXPECT_NE(optimizeError(*stray, {{"optimizer", "sgd"}}).find("names no parameter 'nothing'"),
            std::string::npos);
}

TEST(Optimizer, SgdMomentumMatchesOnnxMomentum) {
  // PyTorch's buffer starts as the first gradient: ONNX's beta_adjusted = 1 at T = 0.
  auto f = gradFunction();
  optimize(
      *f,
      {{"optimizer", "sgd"}, {"momentum", "0.9"}, {"dampening", "0.25"}, {"weight-decay", "0.01"}});
  AttrMap attrs = {
      {"alpha", 0.9}, {"beta", 0.75}, {"norm_coefficient", 0.01}, {"mode", "standard"}};
  expectSame(train(*f, decayingLr), trainOnnx("Momentum", attrs, -1, 1, decayingLr));

  auto n = gradFunction();
  optimize(*n, {{"optimizer", "sgd"}, {"momentum", "0.8"}, {"nesterov", "1"}});
  attrs = {{"alpha", 0.8}, {"beta", 1.0}, {"norm_coefficient", 0.0}, {"mode", "nesterov"}};
  expectSame(train(*n, constantLr), trainOnnx("Momentum", attrs, -1, 1, constantLr));
}

TEST(Optimizer, PlainSgd) {
  auto f = gradFunction();
  optimize(*f, {{"optimizer", "sgd"}, {"weight-decay", "0.5"}});
  std::vector<Tensor> ws = train(*f, decayingLr);
  Tensor w = kW0;
  for (size_t s = 0; s < kGrads.size(); ++s)
    for (int64_t i = 0; i < 3; ++i)
      w.data<double>()[i] -=
          decayingLr((int)s + 1) * (kGrads[s].data<double>()[i] + 0.5 * w.data<double>()[i]);
  expectSame({ws.back()}, {w});
}

TEST(Optimizer, AdagradMatchesOnnxAdagrad) {
  auto f = gradFunction();
  optimize(*f, {{"optimizer", "adagrad"},
                {"lr-decay", "0.3"},
                {"weight-decay", "0.02"},
                {"eps", "1e-3"},
                {"initial-accumulator", "0.5"}});
  AttrMap attrs = {{"decay_factor", 0.3}, {"epsilon", 1e-3}, {"norm_coefficient", 0.02}};
  // The pass takes the initial accumulator from step 1 (its state input is zero here).
  expectSame(train(*f, constantLr),
             trainOnnx("Adagrad", attrs, -1, 1, constantLr, {d3({0.5, 0.5, 0.5})}));
}

TEST(Optimizer, AdamWithoutEpsMatchesOnnxAdam) {
  // PyTorch adds eps after the bias correction, ONNX before: they agree for eps = 0.
  auto f = gradFunction();
  optimize(*f, {{"optimizer", "adam"},
                {"beta1", "0.8"},
                {"beta2", "0.9"},
                {"eps", "0"},
                {"weight-decay", "0.1"}});
  AttrMap attrs = {{"alpha", 0.8}, {"beta", 0.9}, {"epsilon", 0.0}, {"norm_coefficient", 0.1}};
  expectSame(train(*f, decayingLr), trainOnnx("Adam", attrs, 0, 2, decayingLr));
}

TEST(Optimizer, AdamWAmsgradFormulas) {
  auto f = gradFunction();
  optimize(*f, {{"optimizer", "adamw"}, {"amsgrad", "1"}, {"eps", "1e-3"}});
  std::vector<Tensor> ws = train(*f, decayingLr);
  // torch.optim.AdamW (1.13), written out; weight_decay defaults to 0.01.
  double w[3], m[3] = {}, v[3] = {}, vmax[3] = {};
  for (int i = 0; i < 3; ++i)
    w[i] = kW0.data<double>()[i];
  for (size_t s = 1; s <= kGrads.size(); ++s) {
    double lr = decayingLr((int)s);
    double bc1 = 1 - std::pow(0.9, (double)s), bc2 = 1 - std::pow(0.999, (double)s);
    for (int i = 0; i < 3; ++i) {
      double g = kGrads[s - 1].data<double>()[i];
      w[i] *= 1 - lr * 0.01;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      w[i] -= lr / bc1 * m[i] / (std::sqrt(vmax[i]) / std::sqrt(bc2) + 1e-3);
    }
    expectSame({ws[s - 1]}, {d3({w[0], w[1], w[2]})});
  }
}

TEST(Optimizer, RmspropCenteredMomentumFormulas) {
  auto f = gradFunction();
  optimize(*f, {{"optimizer", "rmsprop"},
                {"alpha", "0.9"},
                {"centered", "1"},
                {"momentum", "0.5"},
                {"weight-decay", "0.1"},
                {"eps", "1e-2"}});
  std::vector<Tensor> ws = train(*f, constantLr);
  double w[3], sq[3] = {}, ga[3] = {}, buf[3] = {};
  for (int i = 0; i < 3; ++i)
    w[i] = kW0.data<double>()[i];
  for (size_t s = 1; s <= kGrads.size(); ++s) {
    for (int i = 0; i < 3; ++i) {
      double g = kGrads[s - 1].data<double>()[i] + 0.1 * w[i];
      sq[i] = 0.9 * sq[i] + 0.1 * g * g;
      ga[i] = 0.9 * ga[i] + 0.1 * g;
      double avg = std::sqrt(sq[i] - ga[i] * ga[i]) + 1e-2;
      buf[i] = 0.5 * buf[i] + g / avg;
      w[i] -= 0.1 * buf[i];
    }
    expectSame({ws[s - 1]}, {d3({w[0], w[1], w[2]})});
  }
}

TEST(Optimizer, ClipGradNormScalesAllGradients) {
  auto f = gradFunction(DType::F64, /*twoParams=*/true);
  optimize(*f, {{"optimizer", "sgd"}, {"clip-grad-norm", "1.5"}});
  Tensor gw = d3({1, 2, 2}), gu = tensor<double>({2}, {0, 4});
  auto out = interpret(*f, {{"gw", gw},
                            {"gu", gu},
                            {"lr", Tensor::scalar<double>(1.0)},
                            {"step", Tensor::scalar<int64_t>(1)}});
  // Total norm sqrt(1 + 4 + 4 + 16) = 5: every gradient is scaled by 1.5 / (5 + 1e-6).
  double c = 1.5 / (5 + 1e-6);
  expectTensor<double>(out[1], {3}, {-c, -2 * c, -2 * c}, 1e-12);
  expectTensor<double>(out[2], {2}, {0, -4 * c}, 1e-12);
  // Below the limit the coefficient is clamped to 1.
  auto g = gradFunction(DType::F64, true);
  optimize(*g, {{"optimizer", "sgd"}, {"clip-grad-norm", "10"}});
  out = interpret(*g, {{"gw", gw},
                       {"gu", gu},
                       {"lr", Tensor::scalar<double>(1.0)},
                       {"step", Tensor::scalar<int64_t>(1)}});
  expectTensor<double>(out[1], {3}, {-1, -2, -2}, 1e-12);
}
