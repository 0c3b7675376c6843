#pragma once
// What the loss ops (Ops/Loss.cpp) and their backward ops (Ops/LossBackward.cpp) share: the
// reduction attribute, the checks of labels and class weights, and the per-element weights that
// ONNX's reference (onnx/backend/test/case/node/negativeloglikelihoodloss.py) applies.
//
// An input of shape [N, C, d1, ..., dk] is viewed as [N, C, D] with D = d1 * ... * dk, and its
// labels [N, d1, ..., dk] as [N, D]. Element e = n * D + d weighs
//   0                 when its label equals ignore_index,
//   weights[label]    when class weights are given,
//   1                 otherwise,
// and reduction "mean" divides the weighted sum by the sum of those weights (ONNX's weighted
// mean; without weights or ignore_index that is the plain mean over N * D).
#include "Ops/KernelUtil.h"

namespace adjoint::loss {

enum class Reduction { None, Sum, Mean };

// The op's `reduction`; errors naming the op for anything but none/sum/mean.
template <typename Ctx> Reduction reductionOf(const Ctx &ctx) {
  std::string r = ctx.s("reduction");
  if (r == "none")
    return Reduction::None;
  if (r == "sum")
    return Reduction::Sum;
  if (r == "mean")
    return Reduction::Mean;
  ctx.error("reduction must be 'none', 'sum' or 'mean', got '", r, "'");
}

// Attributes every loss op (and backward op) takes.
std::vector<AttrSpec> lossAttrs();

// Checks the labels (operand labelsIdx) and optional class weights (operand weightsIdx) against
// an input of type `input` ([N, C, d...], floating point), and returns the loss type: the
// labels' shape for reduction none, a scalar otherwise, of the input's dtype.
TensorType inferLossOperands(const InferContext &ctx, const TensorType &input,
                             const char *inputName, size_t labelsIdx, size_t weightsIdx);

struct LossPlan {
  int64_t N = 0, C = 0, D = 1;
  Reduction reduction = Reduction::Mean;
  std::vector<int64_t> labels; // [N * D]; a label equal to ignore_index is kept as is
  std::vector<double> weight;  // [N * D]; 0 where ignored
  std::vector<bool> ignored;   // [N * D]
  double weightSum = 0;

  int64_t inputIndex(int64_t e, int64_t c) const { return ((e / D) * C + c) * D + e % D; }
  // d(reduced loss) / d(element e's unweighted loss), given the loss gradient dy.
  double scale(const Tensor &dy, int64_t e) const;
};

// Validates labels (in [0, C) unless ignored) and computes the element weights for an input of
// shape `inputShape`.
LossPlan planLoss(const KernelContext &ctx, const Shape &inputShape, const Tensor &labels,
                  const Tensor *weights);

// Reduces the per-element losses (already weighted) into `out` as the plan's reduction says.
void reduceLoss(const LossPlan &p, const std::vector<double> &losses, Tensor &out);

// log_softmax over axis 1 of x viewed as [N, C, D], in double, stable (x - max first).
std::vector<double> logSoftmaxAxis1(const Tensor &x, int64_t N, int64_t C, int64_t D);

void registerLossBackwardOps(OpRegistry &r); // Ops/LossBackward.cpp

} // namespace adjoint::loss
