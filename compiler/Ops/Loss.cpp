// Loss ops (ONNX opset 13): NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss with its
// optional log_prob output. Kernels follow the node-test reference code
// (onnx/backend/test/case/node/{negativeloglikelihoodloss,softmaxcrossentropy}.py), accumulating
// in double; the shared weighting rules are described in Ops/LossCommon.h.
#include "Ops/LossCommon.h"

#include <cmath>

namespace adjoint {

namespace loss {

std::vector<AttrSpec> lossAttrs() {
  return {{"reduction", AttrKind::String, Attribute("mean")},
          {"ignore_index", AttrKind::Int, std::nullopt, /*optional=*/true}};
}

TensorType inferLossOperands(const InferContext &ctx, const TensorType &input,
                             const char *inputName, size_t labelsIdx, size_t weightsIdx) {
  Reduction red = reductionOf(ctx);
  ctx.require(isFloat(input.dtype), inputName, " must be a floating-point tensor, got ",
              input.str());
  ctx.require(input.rank() >= 2, inputName, " must have rank >= 2 ([N, C, d1, ...]), got ",
              input.str());
  const TensorType &labels = ctx.type(labelsIdx);
  ctx.require(labels.dtype == DType::I64 || labels.dtype == DType::I32,
              "labels must be an i32 or i64 tensor, got ", labels.str());
  Shape want = input.shape;
  want.erase(want.begin() + 1);
  ctx.require(labels.shape == want, "labels of shape ", shapeStr(labels.shape), " do not match ",
              inputName, " of shape ", shapeStr(input.shape), ": expected ", shapeStr(want),
              " (", inputName, "'s shape without the class axis 1)");
  if (ctx.hasOperand(weightsIdx)) {
    const TensorType &w = ctx.type(weightsIdx);
    ctx.require(w.dtype == input.dtype && w.shape == Shape{input.shape[1]},
                "weights must be ", dtypeName(input.dtype), "[", input.shape[1],
                "] (one per class), got ", w.str());
  }
  if (red == Reduction::None)
    return {input.dtype, labels.shape};
  return {input.dtype, {}};
}

double LossPlan::scale(const Tensor &dy, int64_t e) const {
  switch (reduction) {
  case Reduction::None: return dy.getDouble(e);
  case Reduction::Sum: return dy.getDouble(0);
  case Reduction::Mean: return dy.getDouble(0) / weightSum;
  }
  return 0;
}

LossPlan planLoss(const KernelContext &ctx, const Shape &inputShape, const Tensor &labels,
                  const Tensor *weights) {
  LossPlan p;
  p.reduction = reductionOf(ctx);
  p.N = inputShape[0];
  p.C = inputShape[1];
  for (size_t d = 2; d < inputShape.size(); ++d)
    p.D *= inputShape[d];
  bool hasIgnore = ctx.has("ignore_index");
  int64_t ignoreIndex = hasIgnore ? ctx.i("ignore_index") : 0;
  int64_t total = labels.numel();
  p.labels.resize((size_t)total);
  p.weight.resize((size_t)total);
  p.ignored.resize((size_t)total);
  for (int64_t e = 0; e < total; ++e) {
    int64_t t = labels.getInt(e);
    p.labels[e] = t;
    if (hasIgnore && t == ignoreIndex) {
      p.ignored[e] = true;
      continue;
    }
    if (t < 0 || t >= p.C)
      ctx.error("label ", t, " at element ", e, " is out of range [0, ", p.C, ")",
                hasIgnore ? " and is not ignore_index" : "");
    p.weight[e] = weights ? weights->getDouble(t) : 1.0;
    p.weightSum += p.weight[e];
  }
  return p;
}

void reduceLoss(const LossPlan &p, const std::vector<double> &losses, Tensor &out) {
  if (p.reduction == Reduction::None) {
    for (size_t e = 0; e < losses.size(); ++e)
      out.setDouble((int64_t)e, losses[e]);
    return;
  }
  double sum = 0;
  for (double l : losses)
    sum += l;
  // An all-ignored batch divides 0 by 0: NaN, as the reference gives.
  out.setDouble(0, p.reduction == Reduction::Sum ? sum : sum / p.weightSum);
}

std::vector<double> logSoftmaxAxis1(const Tensor &x, int64_t N, int64_t C, int64_t D) {
  std::vector<double> out((size_t)x.numel());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      auto at = [&](int64_t c) { return (n * C + c) * D + d; };
      double mx = -INFINITY;
      for (int64_t c = 0; c < C; ++c)
        mx = std::max(mx, x.getDouble(at(c)));
      double sum = 0;
      for (int64_t c = 0; c < C; ++c)
        sum += std::exp(x.getDouble(at(c)) - mx);
      double lse = mx + std::log(sum);
      for (int64_t c = 0; c < C; ++c)
        out[at(c)] = x.getDouble(at(c)) - lse;
    }
  return out;
}

} // namespace loss

namespace {

using namespace loss;

// Per-element weighted losses -weight[e] * logp[n, label, d] (0 where ignored).
std::vector<double> nllLosses(const LossPlan &p, const std::function<double(int64_t)> &logp) {
  std::vector<double> l(p.labels.size(), 0.0);
  for (size_t e = 0; e < l.size(); ++e)
    if (!p.ignored[e])
      l[e] = -p.weight[e] * logp(p.inputIndex((int64_t)e, p.labels[e]));
  return l;
}

OpSchema nllSchema() {
  OpSchema s;
  s.name = "NegativeLogLikelihoodLoss";
  s.minInputs = 2;
  s.maxInputs = 3;
  s.attrs = lossAttrs();
  s.infer = [](InferContext &ctx) {
    return std::vector<TensorType>{inferLossOperands(ctx, ctx.type(0), "input", 1, 2)};
  };
  s.kernel = [](KernelContext &ctx) {
    const Tensor &x = ctx.in(0);
    LossPlan p = planLoss(ctx, x.shape(), ctx.in(1), ctx.hasInput(2) ? &ctx.in(2) : nullptr);
    reduceLoss(p, nllLosses(p, [&](int64_t i) { return x.getDouble(i); }), ctx.out(0));
  };
  return s;
}

OpSchema sceSchema() {
  OpSchema s;
  s.name = "SoftmaxCrossEntropyLoss";
  s.minInputs = 2;
  s.maxInputs = 3;
  s.maxOutputs = 2;
  s.attrs = lossAttrs();
  s.infer = [](InferContext &ctx) {
    TensorType loss = inferLossOperands(ctx, ctx.type(0), "scores", 1, 2);
    return std::vector<TensorType>{loss, ctx.type(0)};
  };
  s.kernel = [](KernelContext &ctx) {
    const Tensor &x = ctx.in(0);
    LossPlan p = planLoss(ctx, x.shape(), ctx.in(1), ctx.hasInput(2) ? &ctx.in(2) : nullptr);
    std::vector<double> logp = logSoftmaxAxis1(x, p.N, p.C, p.D);
    reduceLoss(p, nllLosses(p, [&](int64_t i) { return logp[i]; }), ctx.out(0));
    if (ctx.outputs.size() > 1)
      for (size_t i = 0; i < logp.size(); ++i)
        ctx.out(1).setDouble((int64_t)i, logp[i]);
  };
  return s;
}

} // namespace

void registerLossOps(OpRegistry &r) {
  r.add(nllSchema());
  r.add(sceSchema());
  loss::registerLossBackwardOps(r);
}

} // namespace adjoint
