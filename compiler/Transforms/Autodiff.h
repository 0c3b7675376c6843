#pragma once
// The reverse-mode core that the autodiff pass (and ONNX's Gradient op) use.
#include "IR/Graph.h"

namespace adjoint {

// Appends to f the ops computing d(sum of y)/d x for each x in xs (any values of f: arguments
// or op results). Returns one gradient per x, nullptr where y does not depend on x. Throws an
// Error naming the op when a gradient must pass through an op without a gradient rule.
std::vector<Value *> differentiate(Function &f, Value *y, const std::vector<Value *> &xs,
                                   int64_t *rulesApplied = nullptr);

} // namespace adjoint
