// The optimizer update as ordinary graph ops: after --autodiff, each trainable parameter p has an
// output grad.<p>; this pass appends PyTorch's update for it (torch.optim, 1.13 formulas and
// defaults: SGD, Adam, AdamW, RMSprop, Adagrad; optional clip_grad_norm_ first) and turns the
// function into one training step:
//
//   inputs   ... the model's, then lr (a scalar of the parameters' type), step (i64 scalar: the
//            1-based number of the step being taken), then the optimizer state, per parameter
//            (adam.m.<p>, adam.v.<p>, adam.vmax.<p>, sgd.momentum.<p>, rmsprop.square_avg.<p>,
//            rmsprop.grad_avg.<p>, rmsprop.momentum.<p>, adagrad.sum.<p>)
//   outputs  the model's non-grad outputs (loss first), new.<p> per parameter, then
//            new.<state input> per state input, in the inputs' order
//
// lr and step are inputs so that schedules need no recompile. State that PyTorch creates lazily
// from the first gradient (SGD's momentum buffer) or fills with a constant (Adagrad's
// initial_accumulator_value) is taken from the step number instead: on step 1 the state input is
// ignored, so zero-filled state works from the start. docs/optimizers.md has the formulas.
#include "Ops/Build.h"
#include "Transforms/Pass.h"

#include <charconv>
#include <cmath>
#include <map>
#include <set>

namespace adjoint {

namespace {

constexpr int64_t kOnnxDouble = 11, kOnnxFloat = 1;

enum class Kind { SGD, Adam, AdamW, RMSprop, Adagrad };

struct OptionSpec {
  const char *name;
  std::set<Kind> appliesTo;
};

const std::vector<OptionSpec> &optionSpecs() {
  using K = Kind;
  static const std::vector<OptionSpec> specs = {
      {"momentum", {K::SGD, K::RMSprop}},
      {"dampening", {K::SGD}},
      {"nesterov", {K::SGD}},
      {"weight-decay", {K::SGD, K::Adam, K::AdamW, K::RMSprop, K::Adagrad}},
      {"beta1", {K::Adam, K::AdamW}},
      {"beta2", {K::Adam, K::AdamW}},
      {"eps", {K::Adam, K::AdamW, K::RMSprop, K::Adagrad}},
      {"amsgrad", {K::Adam, K::AdamW}},
      {"alpha", {K::RMSprop}},
      {"centered", {K::RMSprop}},
      {"lr-decay", {K::Adagrad}},
      {"initial-accumulator", {K::Adagrad}},
      {"clip-grad-norm", {K::SGD, K::Adam, K::AdamW, K::RMSprop, K::Adagrad}},
  };
  return specs;
}

const std::map<std::string, Kind> kKinds = {{"sgd", Kind::SGD},
                                            {"adam", Kind::Adam},
                                            {"adamw", Kind::AdamW},
                                            {"rmsprop", Kind::RMSprop},
                                            {"adagrad", Kind::Adagrad}};

// Hyperparameters with torch.optim's defaults.
struct Hyper {
  Kind kind = Kind::SGD;
  std::string name;
  double momentum = 0, dampening = 0, weightDecay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double alpha = 0.99, lrDecay = 0, initialAccumulator = 0, clipNorm = 0;
  bool nesterov = false, amsgrad = false, centered = false;
};

double parseNumber(const PassContext &ctx, const char *name, double dflt) {
  std::string text = ctx.option(name);
  if (text.empty())
    return dflt;
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v))
    fail("optimizer: --", name, " expects a number, got '", text, "'");
  return v;
}

bool parseFlag(const PassContext &ctx, const char *name) {
  std::string text = ctx.option(name);
  if (text.empty() || text == "0" || text == "false")
    return false;
  if (text == "1" || text == "true")
    return true;
  fail("optimizer: --", name, " expects 0 or 1, got '", text, "'");
}

Hyper parseHyper(const PassContext &ctx) {
  Hyper h;
  h.name = ctx.option("optimizer");
  auto it = kKinds.find(h.name);
  if (it == kKinds.end())
    fail("optimizer: unknown optimizer '", h.name,
         "' (choose --optimizer=sgd, adam, adamw, rmsprop or adagrad)");
  h.kind = it->second;
  for (const OptionSpec &s : optionSpecs())
    if (ctx.options.count(s.name) && !s.appliesTo.count(h.kind))
      fail("optimizer: --", s.name, " does not apply to ", h.name);
  if (h.kind == Kind::Adagrad)
    h.eps = 1e-10;
  if (h.kind == Kind::AdamW)
    h.weightDecay = 1e-2;
  h.momentum = parseNumber(ctx, "momentum", h.momentum);
  h.dampening = parseNumber(ctx, "dampening", h.dampening);
  h.weightDecay = parseNumber(ctx, "weight-decay", h.weightDecay);
  h.beta1 = parseNumber(ctx, "beta1", h.beta1);
  h.beta2 = parseNumber(ctx, "beta2", h.beta2);
  h.eps = parseNumber(ctx, "eps", h.eps);
  h.alpha = parseNumber(ctx, "alpha", h.alpha);
  h.lrDecay = parseNumber(ctx, "lr-decay", h.lrDecay);
  h.initialAccumulator = parseNumber(ctx, "initial-accumulator", h.initialAccumulator);
  h.clipNorm = parseNumber(ctx, "clip-grad-norm", h.clipNorm);
  h.nesterov = parseFlag(ctx, "nesterov");
  h.amsgrad = parseFlag(ctx, "amsgrad");
  h.centered = parseFlag(ctx, "centered");
  // torch.optim's own argument checks.
  auto nonNegative = [](double v, const char *name) {
    check(v >= 0, "optimizer: --", name, " must be >= 0, got ", v);
  };
  nonNegative(h.momentum, "momentum");
  nonNegative(h.weightDecay, "weight-decay");
  nonNegative(h.eps, "eps");
  nonNegative(h.alpha, "alpha");
  nonNegative(h.lrDecay, "lr-decay");
  nonNegative(h.initialAccumulator, "initial-accumulator");
  check(h.beta1 >= 0 && h.beta1 < 1, "optimizer: --beta1 must be in [0, 1), got ", h.beta1);
  check(h.beta2 >= 0 && h.beta2 < 1, "optimizer: --beta2 must be in [0, 1), got ", h.beta2);
  check(!ctx.options.count("clip-grad-norm") || h.clipNorm > 0,
        "optimizer: --clip-grad-norm must be > 0, got ", h.clipNorm);
  check(!h.nesterov || (h.momentum > 0 && h.dampening == 0),
        "optimizer: --nesterov=1 requires --momentum > 0 and --dampening=0");
  return h;
}

// Appends ops to f; rank-0 constants of one dtype are made once each. Each call builds its ops in a
// fixed order, so callers that nest calls sequence them in statements (C++ leaves the order of
// argument evaluation open, and the printed IR must not depend on the compiler).
class Builder {
public:
  Builder(Function &f, DType dt) : f_(f), dt_(dt) {}
  Value *op(const char *type, std::vector<Value *> xs, AttrMap attrs = {}) {
    return buildOp(f_, type, std::move(xs), std::move(attrs))->result();
  }
  Value *c(double v, DType t) {
    auto [it, fresh] = consts_.try_emplace({t, v}, nullptr);
    if (fresh) {
      Tensor s(t, {});
      s.setDouble(0, v);
      it->second = buildConstant(f_, std::move(s));
    }
    return it->second;
  }
  Value *c(double v) { return c(v, dt_); }
  Value *add(Value *a, Value *b) { return op("Add", {a, b}); }
  Value *sub(Value *a, Value *b) { return op("Sub", {a, b}); }
  Value *mul(Value *a, Value *b) { return op("Mul", {a, b}); }
  Value *div(Value *a, Value *b) { return op("Div", {a, b}); }
  Value *sqrt(Value *a) { return op("Sqrt", {a}); }
  // With a constant of the value's type on one side.
  Value *mul(double s, Value *a) {
    Value *k = c(s, a->dtype());
    return mul(k, a);
  }
  Value *add(Value *a, double s) {
    Value *k = c(s, a->dtype());
    return add(a, k);
  }
  // s * a, skipping a multiplication by 1 as PyTorch's add(alpha=1) does.
  Value *scaled(double s, Value *a) { return s == 1 ? a : mul(s, a); }
  // s * x + t * y (PyTorch's x.mul_(s).add_(y, alpha=t)).
  Value *combine(double s, Value *x, double t, Value *y) {
    Value *sx = mul(s, x);
    Value *ty = scaled(t, y);
    return add(sx, ty);
  }
  Value *cast(Value *v, DType to) {
    if (v->dtype() == to)
      return v;
    return op("Cast", {v}, {{"to", Attribute(to == DType::F64 ? kOnnxDouble : kOnnxFloat)}});
  }
  DType dtype() const { return dt_; }

private:
  Function &f_;
  DType dt_;
  std::map<std::pair<DType, double>, Value *> consts_;
};

struct Trainable {
  Value *param;
  Value *grad;
};

class Step {
public:
  Step(Function &f, const Hyper &h, DType dt) : f_(f), h_(h), b_(f, dt) {}

  void addGlobalInputs() {
    lr_ = input("lr", {b_.dtype(), {}});
    step_ = input("step", {DType::I64, {}});
  }

  // Rescales every gradient by min(1, max_norm / (total 2-norm + 1e-6)), as clip_grad_norm_.
  void clip(std::vector<Trainable> &ts) {
    Value *total = nullptr;
    for (const Trainable &t : ts) {
      Value *sq = b_.op("ReduceSum", {b_.mul(t.grad, t.grad)}, {{"keepdims", Attribute(0)}});
      total = total ? b_.add(total, sq) : sq;
    }
    Value *norm = b_.add(b_.sqrt(total), 1e-6);
    Value *coef = b_.div(b_.c(h_.clipNorm), norm);
    Value *clamped = b_.op("Clip", {coef, nullptr, b_.c(1.0)});
    for (Trainable &t : ts)
      t.grad = b_.mul(t.grad, clamped);
  }

  // Returns the new parameter; state inputs/outputs are recorded in state_.
  Value *update(Value *p, Value *g) {
    switch (h_.kind) {
    case Kind::SGD:
      return sgd(p, g);
    case Kind::Adam:
    case Kind::AdamW:
      return adam(p, g);
    case Kind::RMSprop:
      return rmsprop(p, g);
    case Kind::Adagrad:
      return adagrad(p, g);
    }
    return nullptr;
  }

  const std::vector<std::pair<Value *, Value *>> &state() const { return state_; }

private:
  Value *input(const std::string &name, TensorType t) {
    if (f_.findArg(name))
      fail("optimizer: function @", f_.name(), " already has an argument named '", name,
           "', which the optimizer adds as an input");
    return f_.addInput(name, std::move(t));
  }
  Value *stateInput(const std::string &prefix, Value *p) {
    Value *in = input(prefix + "." + p->name(), p->type());
    state_.push_back({in, nullptr});
    return in;
  }
  void stateOutput(Value *in, Value *out) {
    for (auto &s : state_)
      if (s.first == in)
        s.second = out;
  }
  Value *isFirstStep() {
    if (!first_)
      first_ = b_.op("Equal", {step_, b_.c(1.0, DType::I64)});
    return first_;
  }
  Value *stepF64() {
    if (!stepF64_)
      stepF64_ = b_.cast(step_, DType::F64);
    return stepF64_;
  }
  // 1 - beta^step, computed in double as PyTorch does in Python.
  Value *biasCorrection(double beta) {
    Value *s = stepF64();
    Value *power = b_.op("Pow", {b_.c(beta, DType::F64), s});
    return b_.sub(b_.c(1.0, DType::F64), power);
  }
  Value *weightDecay(Value *p, Value *g) {
    return h_.weightDecay == 0 ? g : b_.add(g, b_.mul(h_.weightDecay, p));
  }
  // p - rate * d
  Value *descend(Value *p, Value *rate, Value *d) { return b_.sub(p, b_.mul(rate, d)); }

  Value *sgd(Value *p, Value *g) {
    Value *d = weightDecay(p, g);
    if (h_.momentum != 0) {
      Value *bufIn = stateInput("sgd.momentum", p);
      Value *next = b_.combine(h_.momentum, bufIn, 1 - h_.dampening, d);
      // PyTorch's buffer starts as a copy of the first step's gradient.
      Value *buf = b_.op("Where", {isFirstStep(), d, next});
      stateOutput(bufIn, buf);
      d = h_.nesterov ? b_.add(d, b_.mul(h_.momentum, buf)) : buf;
    }
    return descend(p, lr_, d);
  }

  Value *adam(Value *p, Value *g) {
    Value *mIn = stateInput("adam.m", p);
    Value *vIn = stateInput("adam.v", p);
    Value *vmaxIn = h_.amsgrad ? stateInput("adam.vmax", p) : nullptr;
    if (h_.kind == Kind::AdamW && h_.weightDecay != 0) {
      Value *decay = b_.mul(lr_, b_.c(h_.weightDecay));
      p = b_.mul(p, b_.sub(b_.c(1.0), decay));
    } else if (h_.kind == Kind::Adam) {
      g = weightDecay(p, g);
    }
    Value *m = b_.combine(h_.beta1, mIn, 1 - h_.beta1, g);
    Value *gg = b_.mul(b_.mul(1 - h_.beta2, g), g);
    Value *v = b_.add(b_.mul(h_.beta2, vIn), gg);
    stateOutput(mIn, m);
    stateOutput(vIn, v);
    if (vmaxIn) {
      Value *vmax = b_.op("Where", {b_.op("Greater", {v, vmaxIn}), v, vmaxIn});
      stateOutput(vmaxIn, vmax);
      v = vmax;
    }
    if (!stepSize_) {
      Value *lr64 = b_.cast(lr_, DType::F64);
      stepSize_ = b_.cast(b_.div(lr64, biasCorrection(h_.beta1)), b_.dtype());
      bc2Sqrt_ = b_.cast(b_.sqrt(biasCorrection(h_.beta2)), b_.dtype());
    }
    Value *denom = b_.add(b_.div(b_.sqrt(v), bc2Sqrt_), h_.eps);
    return descend(p, stepSize_, b_.div(m, denom));
  }

  Value *rmsprop(Value *p, Value *g) {
    Value *sqIn = stateInput("rmsprop.square_avg", p);
    Value *gaIn = h_.centered ? stateInput("rmsprop.grad_avg", p) : nullptr;
    Value *bufIn = h_.momentum > 0 ? stateInput("rmsprop.momentum", p) : nullptr;
    g = weightDecay(p, g);
    Value *gg = b_.mul(b_.mul(1 - h_.alpha, g), g);
    Value *sq = b_.add(b_.mul(h_.alpha, sqIn), gg);
    stateOutput(sqIn, sq);
    Value *avg;
    if (gaIn) {
      Value *ga = b_.combine(h_.alpha, gaIn, 1 - h_.alpha, g);
      stateOutput(gaIn, ga);
      avg = b_.sqrt(b_.sub(sq, b_.mul(ga, ga)));
    } else {
      avg = b_.sqrt(sq);
    }
    Value *d = b_.div(g, b_.add(avg, h_.eps));
    if (bufIn) {
      d = b_.add(b_.mul(h_.momentum, bufIn), d);
      stateOutput(bufIn, d);
    }
    return descend(p, lr_, d);
  }

  Value *adagrad(Value *p, Value *g) {
    Value *sumIn = stateInput("adagrad.sum", p);
    g = weightDecay(p, g);
    if (!clr_ && h_.lrDecay == 0) {
      clr_ = lr_;
    } else if (!clr_) {
      // lr / (1 + (step - 1) * lr_decay), in double as PyTorch does in Python.
      Value *steps = b_.add(stepF64(), -1.0);
      Value *denom = b_.add(b_.mul(h_.lrDecay, steps), 1.0);
      Value *lr64 = b_.cast(lr_, DType::F64);
      clr_ = b_.cast(b_.div(lr64, denom), b_.dtype());
    }
    Value *prev = sumIn;
    if (h_.initialAccumulator != 0) {
      Value *first = isFirstStep();
      prev = b_.op("Where", {first, b_.c(h_.initialAccumulator), sumIn});
    }
    Value *sum = b_.add(prev, b_.mul(g, g));
    stateOutput(sumIn, sum);
    Value *std = b_.add(b_.sqrt(sum), h_.eps);
    return descend(p, clr_, b_.div(g, std));
  }

  Function &f_;
  const Hyper &h_;
  Builder b_;
  Value *lr_ = nullptr, *step_ = nullptr, *first_ = nullptr, *stepF64_ = nullptr;
  Value *stepSize_ = nullptr, *bc2Sqrt_ = nullptr, *clr_ = nullptr;
  std::vector<std::pair<Value *, Value *>> state_; // (state input, its new value)
};

// BatchNormalization's input_mean/input_var are running statistics (PyTorch's buffers, not
// parameters): they have gradients (adjoint-run writes them), but an optimizer never moves them;
// the op's own training outputs update them.
bool isRunningStatistic(const Value *p) {
  // The backward ops of BatchNormalization read the statistics too; what marks one is being
  // BatchNormalization's input_mean or input_var.
  for (const Use &u : p->uses())
    if (u.user->opType() == "BatchNormalization" && u.user->domain().empty() &&
        (u.operandIndex == 3 || u.operandIndex == 4))
      return true;
  return false;
}

} // namespace

bool runOptimizerStep(Function &f, PassContext &ctx) {
  Hyper h = parseHyper(ctx);
  std::vector<Trainable> trainable;
  std::vector<FunctionOutput> kept;
  for (const FunctionOutput &o : f.outputs()) {
    if (o.name.rfind("grad.", 0) != 0) {
      kept.push_back(o);
      continue;
    }
    Value *p = f.findArg(o.name.substr(5));
    if (!p || !p->isParam())
      fail("optimizer: output '", o.name, "' of @", f.name(), " names no parameter '",
           o.name.substr(5), "'");
    check(o.value->type() == p->type(), "optimizer: output '", o.name, "' has type ",
          o.value->type().str(), ", but parameter '", p->name(), "' is ", p->type().str());
    if (isRunningStatistic(p)) {
      if (ctx.debugging("optimizer"))
        ctx.dbgs() << "optimizer: not updating '" << p->name()
                   << "': a BatchNormalization running statistic\n";
      continue;
    }
    trainable.push_back({p, o.value});
  }
  if (trainable.empty())
    fail("optimizer: function @", f.name(), " has no grad.<param> outputs: run --autodiff ",
         "before --optimizer=", h.name);
  DType dt = trainable.front().param->dtype();
  for (const Trainable &t : trainable)
    check(t.param->dtype() == dt, "optimizer: parameters of @", f.name(), " mix element types (",
          trainable.front().param->name(), " is ", dtypeName(dt), ", ", t.param->name(), " is ",
          dtypeName(t.param->dtype()), "); the learning rate input needs one type");

  Step step(f, h, dt);
  step.addGlobalInputs();
  if (ctx.options.count("clip-grad-norm"))
    step.clip(trainable);
  std::vector<Value *> updated;
  for (const Trainable &t : trainable)
    updated.push_back(step.update(t.param, t.grad));

  f.clearOutputs();
  for (const FunctionOutput &o : kept)
    f.addOutput(o.name, o.value);
  for (size_t i = 0; i < trainable.size(); ++i)
    f.addOutput("new." + trainable[i].param->name(), updated[i]);
  for (const auto &[in, out] : step.state())
    f.addOutput("new." + in->name(), out);
  ctx.stats["optimizer.params"] += (int64_t)trainable.size();
  ctx.stats["optimizer.state"] += (int64_t)step.state().size();
  return true;
}

} // namespace adjoint
