#pragma once
// Finding where a run went non-finite (adjoint-run and adjoint-train --check-numerics): the
// reference interpreter runs the function and stops looking at the first op whose result holds
// a NaN or an infinity.
#include "IR/Graph.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace adjoint {

// Elements of a floating-point tensor that are NaN or infinite (0 for other types).
int64_t countNonFinite(const Tensor &t);

struct NonFiniteOp {
  const Op *op = nullptr;
  size_t index = 0;  // 1-based position in the function's op list
  size_t result = 0; // which result
  int64_t bad = 0, numel = 0;
  // "Log 'n1' (op 3 of 7; result 0: 2 of 8 elements non-finite)"
  std::string describe(const Function &fn) const;
};

// Interprets fn on inputs (outs receives the outputs when given) and returns the first op, in
// execution order, with a non-finite result.
std::optional<NonFiniteOp> firstNonFiniteOp(const Function &fn,
                                            const std::map<std::string, Tensor> &inputs,
                                            std::vector<Tensor> *outs = nullptr);

} // namespace adjoint
