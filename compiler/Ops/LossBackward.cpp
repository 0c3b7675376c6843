// Backward ops of the losses (domain "adjoint"), used by the gradient rules in Ops/LossGrad.cpp.
// Not differentiable themselves.
//
//   SoftmaxCrossEntropyGrad(dy, scores, labels, weights?) -> dscores
//     dscores[n, c, d] = s(n, d) * (softmax(scores)[n, c, d] - [c == label[n, d]])
//   NegativeLogLikelihoodLossGrad(dy, labels, weights?) {num_classes} -> dinput
//     dinput[n, c, d] = -s(n, d) * [c == label[n, d]]
//
// with s(n, d) = weight(n, d) * (dy[n, d] for reduction none, dy for sum, dy / sum of weights for
// mean), and 0 for ignored elements; `reduction` and `ignore_index` are the forward op's.
#include "Ops/LossCommon.h"

#include <cmath>

namespace adjoint::loss {

namespace {

void requireDy(const InferContext &ctx, const TensorType &loss) {
  ctx.require(ctx.type(0) == loss, "dy must have the loss type ", loss.str(), ", got ",
              ctx.type(0).str());
}

OpSchema sceGradSchema() {
  OpSchema s;
  s.name = "SoftmaxCrossEntropyGrad";
  s.domain = "adjoint";
  s.minInputs = 3;
  s.maxInputs = 4;
  s.attrs = lossAttrs();
  s.infer = [](InferContext &ctx) {
    requireDy(ctx, inferLossOperands(ctx, ctx.type(1), "scores", 2, 3));
    return std::vector<TensorType>{ctx.type(1)};
  };
  s.kernel = [](KernelContext &ctx) {
    const Tensor &dy = ctx.in(0), &x = ctx.in(1);
    LossPlan p = planLoss(ctx, x.shape(), ctx.in(2), ctx.hasInput(3) ? &ctx.in(3) : nullptr);
    std::vector<double> logp = logSoftmaxAxis1(x, p.N, p.C, p.D);
    Tensor &dx = ctx.out(0);
    for (int64_t e = 0; e < (int64_t)p.labels.size(); ++e) {
      if (p.ignored[e])
        continue; // dx is zero-filled
      double k = p.weight[e] * p.scale(dy, e);
      for (int64_t c = 0; c < p.C; ++c) {
        int64_t i = p.inputIndex(e, c);
        dx.setDouble(i, k * (std::exp(logp[i]) - (c == p.labels[e] ? 1.0 : 0.0)));
      }
    }
  };
  return s;
}

OpSchema nllGradSchema() {
  OpSchema s;
  s.name = "NegativeLogLikelihoodLossGrad";
  s.domain = "adjoint";
  s.minInputs = 2;
  s.maxInputs = 3;
  s.attrs = lossAttrs();
  s.attrs.push_back({"num_classes", AttrKind::Int, std::nullopt});
  s.infer = [](InferContext &ctx) {
    int64_t C = ctx.i("num_classes");
    ctx.require(C >= 1, "num_classes must be positive, got ", C);
    Shape in = ctx.shape(1);
    ctx.require(!in.empty(), "labels must have rank >= 1, got ", ctx.type(1).str());
    in.insert(in.begin() + 1, C);
    TensorType input{ctx.dtype(0), in};
    requireDy(ctx, inferLossOperands(ctx, input, "input", 1, 2));
    return std::vector<TensorType>{input};
  };
  s.kernel = [](KernelContext &ctx) {
    const Tensor &dy = ctx.in(0);
    Tensor &dx = ctx.out(0);
    LossPlan p = planLoss(ctx, dx.shape(), ctx.in(1), ctx.hasInput(2) ? &ctx.in(2) : nullptr);
    for (int64_t e = 0; e < (int64_t)p.labels.size(); ++e)
      if (!p.ignored[e])
        dx.setDouble(p.inputIndex(e, p.labels[e]), -p.weight[e] * p.scale(dy, e));
  };
  return s;
}

} // namespace

void registerLossBackwardOps(OpRegistry &r) {
  r.add(sceGradSchema());
  r.add(nllGradSchema());
}

} // namespace adjoint::loss
