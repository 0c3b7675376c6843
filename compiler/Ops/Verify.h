#pragma once
#include "IR/Graph.h"

namespace adjoint {

// verifyStructure plus, for each op: known to the registry, arity, attributes, and result types
// equal to what inference gives. Throws Error naming the function and op.
void verifyFunction(const Function &fn);
void verifyModule(const Module &m);

} // namespace adjoint
