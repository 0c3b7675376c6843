#pragma once
// Finding where a run went non-finite (--check-numerics).
#include "IR/Graph.h"

#include <map>
#include <optional>
#include <string>

namespace adjoint::train {

bool allFinite(const Tensor &t);
// The first tensor (in name order) with a non-finite element: "'fc.weight' (12 of 4096 elements
// non-finite)".
std::optional<std::string> firstNonFinite(const std::map<std::string, Tensor> &tensors);

// Runs `gradFn` (the model with its loss and grad.<param> outputs) on `inputs` with the
// interpreter and describes the first op whose result is non-finite and the first non-finite
// gradient, as lines of text.
std::string diagnoseGradients(const Function &gradFn, const std::map<std::string, Tensor> &inputs);

} // namespace adjoint::train
