#pragma once
// The reference interpreter: runs a function op by op with the registry's kernels. Slow and
// obviously correct; it is the oracle every other backend is tested against.
#include "IR/Graph.h"

#include <functional>
#include <map>
#include <string>

namespace adjoint {

struct InterpreterOptions {
  // Called after each op (for --check-numerics style tracing); may be empty.
  std::function<void(const Op &, const std::vector<Tensor> &)> afterOp;
};

// Runs fn. `inputs` maps input names to tensors; parameters take their own data unless `inputs`
// names them too. Every input must be given with its declared type, else Error names it.
// Returns the outputs in order.
std::vector<Tensor> interpret(const Function &fn, const std::map<std::string, Tensor> &inputs,
                              const InterpreterOptions &opts = {});

} // namespace adjoint
