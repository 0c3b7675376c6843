#pragma once
// Structural checks of a function that need no op knowledge: every operand defined before use
// (no cycles, no dangling values), unique argument and output names, outputs defined, op parents.
// Ops/Verify.h adds the registry checks (known op, arity, attributes, inferred types).
#include "IR/Graph.h"

namespace adjoint {

void verifyStructure(const Function &fn); // throws Error naming the function and op

} // namespace adjoint
