// Gradient rules of the loss ops (Ops/Loss.cpp), through the fused backward ops of
// Ops/LossBackward.cpp. Labels are integers and get no gradient. Class weights get none either:
// they are treated as constants, as PyTorch does (its cross_entropy/nll_loss do not differentiate
// `weight`); a trainable weights parameter therefore receives a zero gradient.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {
// (dy, input-or-labels..., weights?) with a trailing absent weights operand dropped.
std::vector<Value *> withWeights(std::vector<Value *> operands, Value *weights) {
  if (weights)
    operands.push_back(weights);
  return operands;
}
} // namespace

void registerLossGrads(OpRegistry &r) {
  r.setGrad("", "SoftmaxCrossEntropyLoss", [](GradContext &g) -> std::vector<Value *> {
    if (!g.needs(0))
      return {};
    Value *dx = nullptr;
    if (g.dy(0))
      dx = g.build("SoftmaxCrossEntropyGrad", withWeights({g.dy(0), g.x(0), g.x(1)}, g.x(2)),
                   g.op.attrs(), "adjoint");
    if (Value *dlogp = g.dy(1)) {
      // log_prob = log_softmax(scores, axis 1): d scores = dlogp - softmax * sum_c dlogp.
      Value *sum = g.build("ReduceSum", {dlogp, g.ints({1})}, {{"keepdims", Attribute(1)}});
      Value *d = g.sub(dlogp, g.mul(g.build("Exp", {g.y(1)}), sum));
      dx = dx ? g.add(dx, d) : d;
    }
    return {dx, nullptr, nullptr};
  });
  r.setGrad("", "NegativeLogLikelihoodLoss", [](GradContext &g) -> std::vector<Value *> {
    if (!g.needs(0))
      return {};
    AttrMap attrs = g.op.attrs();
    attrs["num_classes"] = Attribute(g.x(0)->shape()[1]);
    return {g.build("NegativeLogLikelihoodLossGrad", withWeights({g.dy(0), g.x(1)}, g.x(2)),
                    std::move(attrs), "adjoint"),
            nullptr, nullptr};
  });
}

} // namespace adjoint
