#include "Numerics.h"
#include "Interpreter/Interpreter.h"

#include <cmath>
#include <sstream>

namespace adjoint::train {

namespace {

int64_t countNonFinite(const Tensor &t) {
  if (!isFloat(t.dtype()) || t.empty())
    return 0;
  int64_t bad = 0;
  if (t.dtype() == DType::F32) {
    const float *p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      bad += !std::isfinite(p[i]);
  } else {
    const double *p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i)
      bad += !std::isfinite(p[i]);
  }
  return bad;
}

} // namespace

bool allFinite(const Tensor &t) { return countNonFinite(t) == 0; }

std::optional<std::string> firstNonFinite(const std::map<std::string, Tensor> &tensors) {
  for (const auto &[name, t] : tensors)
    if (int64_t bad = countNonFinite(t)) {
      std::ostringstream os;
      os << "'" << name << "' (" << bad << " of " << t.numel() << " elements non-finite)";
      return os.str();
    }
  return std::nullopt;
}

std::string diagnoseGradients(const Function &gradFn, const std::map<std::string, Tensor> &inputs) {
  // Ops after the one computing the loss belong to the backward pass.
  const Op *lossOp = nullptr;
  for (const auto &o : gradFn.outputs())
    if (o.name == "loss")
      lossOp = o.value->definingOp();
  std::ostringstream os;
  int64_t index = 0;
  bool pastLoss = false, found = false;
  InterpreterOptions opts;
  opts.afterOp = [&](const Op &op, const std::vector<Tensor> &results) {
    ++index;
    if (found) {
      pastLoss = pastLoss || &op == lossOp;
      return;
    }
    for (size_t i = 0; i < results.size(); ++i)
      if (int64_t bad = countNonFinite(results[i])) {
        found = true;
        os << "the first op with a non-finite result is " << op.describe() << " (op " << index
           << " of " << gradFn.ops().size() << ", " << (pastLoss ? "backward" : "forward")
           << " pass; result " << i << ": " << bad << " of " << results[i].numel()
           << " elements)\n";
        break;
      }
    pastLoss = pastLoss || &op == lossOp;
  };
  std::vector<Tensor> outs = interpret(gradFn, inputs, opts);
  if (!found)
    os << "every op's result is finite when the step is recomputed\n";
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string &name = gradFn.outputs()[i].name;
    if (name.rfind("grad.", 0) == 0 && !allFinite(outs[i])) {
      os << "the first non-finite gradient is " << name << " (" << countNonFinite(outs[i])
         << " of " << outs[i].numel() << " elements)\n";
      break;
    }
  }
  return os.str();
}

} // namespace adjoint::train
