// --attach-loss=KIND[:OUTPUT]: turns a model into a function with a scalar training loss.
//
// A new input `target` and a new FIRST output `loss` are added (the model's outputs stay, after
// it), so that --autodiff, which differentiates the first output, can follow directly. The loss
// is the mean over the batch, as PyTorch's default reduction:
//
//   cross-entropy    SoftmaxCrossEntropyLoss(logits, target, reduction=mean); logits [N, C, ...]
//                    float, target i64 [N, ...] (the logits' shape without the class axis 1).
//                    As torch.nn.CrossEntropyLoss.
//   mse              mean((y - target)^2)                           torch.nn.MSELoss
//   l1               mean(|y - target|)                             torch.nn.L1Loss
//   bce-with-logits  mean(x (1/2 - t) + |x|/2 + log(1 + exp(-|x|)))  torch.nn.BCEWithLogitsLoss
//
// The BCE form is max(x, 0) - x t + log(1 + exp(-|x|)) (no overflow for any x) with max(x, 0)
// written as (x + |x|)/2: the |x| terms then have zero net slope at x = 0, so the gradient there
// is the true sigmoid(0) - t whatever subgradient Abs takes (a zero-initialized output layer
// starts exactly at x = 0). For mse/l1/bce the target has the output's type.
#include "Ops/Build.h"
#include "Transforms/Pass.h"

namespace adjoint {

namespace {

const char *kKinds = "cross-entropy, mse, l1, bce-with-logits";

Value *build(Function &f, const std::string &type, std::vector<Value *> operands,
             AttrMap attrs = {}) {
  return buildOp(f, type, std::move(operands), std::move(attrs))->result();
}

Value *scalar(Function &f, double v, DType t) {
  Tensor c(t, {});
  c.setDouble(0, v);
  return buildConstant(f, std::move(c));
}

// Mean over every element, as a scalar.
Value *meanAll(Function &f, Value *v) { return build(f, "ReduceMean", {v}, {{"keepdims", 0}}); }

Value *bceWithLogits(Function &f, Value *x, Value *t) {
  DType dt = x->dtype();
  Value *a = build(f, "Abs", {x});
  Value *softplus = build(
      f, "Log", {build(f, "Add", {scalar(f, 1.0, dt), build(f, "Exp", {build(f, "Neg", {a})})})});
  Value *half = scalar(f, 0.5, dt);
  Value *linear = build(f, "Mul", {x, build(f, "Sub", {half, t})});
  Value *halfAbs = build(f, "Mul", {a, half});
  return meanAll(f, build(f, "Add", {build(f, "Add", {linear, halfAbs}), softplus}));
}

size_t findOutput(const Function &f, const std::string &name) {
  check(!f.outputs().empty(), "attach-loss: function @", f.name(), " has no outputs");
  if (name.empty())
    return 0;
  std::string names;
  for (size_t i = 0; i < f.outputs().size(); ++i) {
    if (f.outputs()[i].name == name)
      return i;
    names += (i ? ", " : "") + f.outputs()[i].name;
  }
  fail("attach-loss: function @", f.name(), " has no output named '", name, "' (outputs: ", names,
       ")");
}

} // namespace

bool runAttachLoss(Function &f, PassContext &ctx) {
  std::string spec = ctx.option("attach-loss");
  size_t colon = spec.find(':');
  std::string kind = spec.substr(0, colon);
  std::string outName = colon == std::string::npos ? "" : spec.substr(colon + 1);
  check(!kind.empty(), "attach-loss: expects --attach-loss=KIND[:OUTPUT] with KIND one of ",
        kKinds);
  bool ce = kind == "cross-entropy";
  check(ce || kind == "mse" || kind == "l1" || kind == "bce-with-logits",
        "attach-loss: unknown loss kind '", kind, "' (expected one of ", kKinds, ")");
  check(colon == std::string::npos || !outName.empty(),
        "attach-loss: empty output name in '--attach-loss=", spec, "'");

  const FunctionOutput chosen = f.outputs()[findOutput(f, outName)];
  Value *y = chosen.value;
  const TensorType &yt = y->type();
  if (ce)
    check(isFloat(yt.dtype) && yt.rank() >= 2, "attach-loss: cross-entropy needs logits of rank",
          " >= 2 ([N, C, ...]) and a floating-point dtype; output '", chosen.name, "' is ",
          yt.str());
  else
    check(isFloat(yt.dtype), "attach-loss: ", kind, " needs a floating-point output; '",
          chosen.name, "' is ", yt.str());
  check(!f.findArg("target"), "attach-loss: function @", f.name(),
        " already has an argument named 'target'");
  for (const auto &o : f.outputs())
    check(o.name != "loss", "attach-loss: function @", f.name(),
          " already has an output named 'loss'");

  TensorType targetType = yt;
  if (ce) {
    targetType.dtype = DType::I64;
    targetType.shape.erase(targetType.shape.begin() + 1);
  }
  Value *target = f.addInput("target", targetType);

  Value *loss;
  if (ce) {
    loss = build(f, "SoftmaxCrossEntropyLoss", {y, target}, {{"reduction", "mean"}});
  } else if (kind == "bce-with-logits") {
    loss = bceWithLogits(f, y, target);
  } else {
    Value *d = build(f, "Sub", {y, target});
    loss = meanAll(f, kind == "mse" ? build(f, "Mul", {d, d}) : build(f, "Abs", {d}));
  }

  std::vector<FunctionOutput> outs = f.outputs();
  f.clearOutputs();
  f.addOutput("loss", loss);
  for (const auto &o : outs)
    f.addOutput(o.name, o.value);
  return true;
}

} // namespace adjoint
