#include "Numerics.h"
#include "Interpreter/Numerics.h"

#include <sstream>

namespace adjoint::train {

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
  size_t lossIndex = 0, i = 0;
  for (const auto &op : gradFn.ops())
    if (++i && op.get() == lossOp)
      lossIndex = i;
  std::vector<Tensor> outs;
  std::optional<NonFiniteOp> first = firstNonFiniteOp(gradFn, inputs, &outs);
  std::ostringstream os;
  if (first)
    os << "the first op with a non-finite result is " << first->describe(gradFn) << ", "
       << (lossIndex && first->index > lossIndex ? "backward" : "forward") << " pass\n";
  else
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
