#include "Interpreter/Numerics.h"
#include "Interpreter/Interpreter.h"

#include <cmath>
#include <sstream>

namespace adjoint {

namespace {

template <typename T> int64_t countIn(const Tensor &t) {
  const T *p = t.data<T>();
  int64_t bad = 0;
  for (int64_t i = 0; i < t.numel(); ++i)
    bad += !std::isfinite(p[i]);
  return bad;
}

} // namespace

int64_t countNonFinite(const Tensor &t) {
  if (t.empty() || t.numel() == 0)
    return 0;
  switch (t.dtype()) {
  case DType::F32: return countIn<float>(t);
  case DType::F64: return countIn<double>(t);
  default: return 0;
  }
}

std::string NonFiniteOp::describe(const Function &fn) const {
  std::ostringstream os;
  os << op->describe() << " (op " << index << " of " << fn.ops().size() << "; result " << result
     << ": " << bad << " of " << numel << " elements non-finite)";
  return os.str();
}

std::optional<NonFiniteOp> firstNonFiniteOp(const Function &fn,
                                            const std::map<std::string, Tensor> &inputs,
                                            std::vector<Tensor> *outs) {
  std::optional<NonFiniteOp> found;
  size_t index = 0;
  InterpreterOptions opts;
  opts.afterOp = [&](const Op &op, const std::vector<Tensor> &results) {
    ++index;
    for (size_t i = 0; i < results.size() && !found; ++i)
      if (int64_t bad = countNonFinite(results[i]))
        found = NonFiniteOp{&op, index, i, bad, results[i].numel()};
  };
  std::vector<Tensor> result = interpret(fn, inputs, opts);
  if (outs)
    *outs = std::move(result);
  return found;
}

} // namespace adjoint
