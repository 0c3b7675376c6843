#pragma once
// What the fusion pass (Transforms/Fusion.cpp) may put into one kernel: how it sees each op, and
// the check that a set of ops can run as one loop nest (FusionRules.cpp).
#include "IR/Graph.h"

#include <functional>
#include <optional>
#include <string>

namespace adjoint::fusion {

enum class OpClass {
  Opaque,      // stays an op of its own (shape ops, pooling, random ops, ...)
  Constant,    // free: copied into every body that reads it, never a member
  Elementwise, // one output element from the operand elements at the same (broadcast) index
  Reduction,   // reduces its first operand over some axes (Softmax, LayerNorm, losses too)
  Gemm,        // MatMul, Gemm, Conv: reads operands many times; only consumers fuse (epilogue)
};

OpClass classify(const Op &op);

// Elementwise ops that cost much more than an add (transcendentals, division): recomputing them
// for each element of a larger loop nest is refused.
bool isExpensive(const Op &op);

// The loop nest of a reduction: the shape it iterates over and the axes it reduces.
struct ReduceInfo {
  Shape in;
  std::vector<int64_t> axes; // sorted, non-negative
  bool operator==(const ReduceInfo &o) const { return in == o.in && axes == o.axes; }
};
std::optional<ReduceInfo> reductionInfo(const Op &op);

// Why `members` (in function order) cannot be one kernel, as a sentence; nullopt when they can.
// `escapes(v)` says whether value v is needed outside the members (a kernel result).
std::optional<std::string> whyNotOneKernel(const std::vector<Op *> &members,
                                           const std::function<bool(const Value *)> &escapes);

} // namespace adjoint::fusion
