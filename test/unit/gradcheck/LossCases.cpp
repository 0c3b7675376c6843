// Gradient checks of the loss ops: every reduction, class weights, ignore_index (also negative
// and beyond C), N-d inputs, i32 labels, and SoftmaxCrossEntropyLoss's log_prob output. Labels
// and weights are constants: neither gets a gradient (Ops/LossGrad.cpp).
#include "GradCheck.h"

namespace adjoint::gradcheck {

namespace {

Value *labels(CaseBuilder &b, const Shape &s, const std::vector<int64_t> &v) {
  return b.constant(Tensor::fromVector<int64_t>(s, v));
}

struct Variant {
  std::string name;
  Shape input;
  Shape labelShape;
  std::vector<int64_t> labelData;
  std::string reduction;
  bool weights = false;
  std::optional<int64_t> ignoreIndex;
  bool i32 = false;
};

// [N=3, C=4]: labels 1 0 3; with ignore_index 0 the second element is ignored.
// [N=2, C=3, 2, 2]: eight labels, two of them 2 (ignored when ignore_index is 2).
// [N=2, C=3, 2]: four labels; ignore_index -1 / 7 appear as labels.
std::vector<Variant> variants() {
  Shape nc{3, 4}, nd{2, 3, 2, 2}, n3{2, 3, 2};
  std::vector<int64_t> l2{1, 0, 3}, l4{0, 2, 1, 1, 2, 0, 1, 0}, lneg{0, -1, 2, 1},
      lhigh{7, 1, 2, 7};
  return {
      {"mean", nc, {3}, l2, "mean"},
      {"sum", nc, {3}, l2, "sum"},
      {"none", nc, {3}, l2, "none"},
      {"mean weights", nc, {3}, l2, "mean", true},
      {"sum weights", nc, {3}, l2, "sum", true},
      {"none weights", nc, {3}, l2, "none", true},
      {"mean ignore_index", nc, {3}, l2, "mean", false, 0},
      {"mean weights ignore_index", nc, {3}, l2, "mean", true, 0},
      {"N-d mean weights ignore_index", nd, {2, 2, 2}, l4, "mean", true, 2},
      {"N-d none", nd, {2, 2, 2}, l4, "none"},
      {"N-d sum ignore_index", nd, {2, 2, 2}, l4, "sum", false, 2},
      {"negative ignore_index none", n3, {2, 2}, lneg, "none", false, -1},
      {"negative ignore_index mean weights", n3, {2, 2}, lneg, "mean", true, -1},
      {"ignore_index beyond C sum weights", n3, {2, 2}, lhigh, "sum", true, 7},
      {"i32 labels mean", nc, {3}, l2, "mean", false, std::nullopt, true},
  };
}

std::vector<Value *> operands(CaseBuilder &b, const Variant &v, Value *input) {
  Value *lab = labels(b, v.labelShape, v.labelData);
  if (v.i32)
    lab = b.op("Cast", {lab}, {{"to", Attribute(6)}});
  std::vector<Value *> ops{input, lab};
  if (v.weights)
    ops.push_back(b.constant({v.input[1]}, 0.25, 2.0));
  return ops;
}

AttrMap attrsOf(const Variant &v) {
  AttrMap a{{"reduction", Attribute(v.reduction)}};
  if (v.ignoreIndex)
    a["ignore_index"] = Attribute(*v.ignoreIndex);
  return a;
}

} // namespace

GRAD_CASES(Loss) {
  std::vector<Case> cases;
  for (const Variant &v : variants()) {
    cases.push_back({"SoftmaxCrossEntropyLoss", v.name, [v](CaseBuilder &b) {
                       return b.op("SoftmaxCrossEntropyLoss",
                                   operands(b, v, b.param(v.input, -2.0, 2.0)), attrsOf(v));
                     }});
    cases.push_back({"NegativeLogLikelihoodLoss", v.name, [v](CaseBuilder &b) {
                       return b.op("NegativeLogLikelihoodLoss",
                                   operands(b, v, b.param(v.input, -2.0, 0.0)), attrsOf(v));
                     }});
  }
  // log_prob alone, and both outputs together (the loss broadcast onto log_prob).
  cases.push_back({"SoftmaxCrossEntropyLoss", "log_prob only", [](CaseBuilder &b) {
                     Variant v = variants()[8];
                     return b.ops("SoftmaxCrossEntropyLoss",
                                  operands(b, v, b.param(v.input, -2.0, 2.0)), attrsOf(v), 2)[1];
                   }});
  cases.push_back({"SoftmaxCrossEntropyLoss", "loss and log_prob", [](CaseBuilder &b) {
                     Variant v = variants()[3];
                     auto r = b.ops("SoftmaxCrossEntropyLoss",
                                    operands(b, v, b.param(v.input, -2.0, 2.0)), attrsOf(v), 2);
                     return b.op("Add", {r[0], r[1]});
                   }});
  return cases;
}

} // namespace adjoint::gradcheck
