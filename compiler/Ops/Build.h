#pragma once
// Creating ops with their result types inferred from the registry.
#include "Ops/OpRegistry.h"

namespace adjoint {

// Creates `type` (in `domain`) before `before` (end when null) with inferred result types.
// Throws Error naming the op when it is unknown or its operands/attributes are invalid; nothing
// is left in the function then.
Op *buildOp(Function &f, const std::string &type, std::vector<Value *> operands, AttrMap attrs = {},
            size_t numResults = 1, Op *before = nullptr, const std::string &domain = "",
            const std::string &name = "");

// Result types the registry infers for an existing op (the verifier compares them).
std::vector<TensorType> inferResultTypes(const Op &op);

// Checks op's attributes against its schema: unknown names, wrong kinds, missing required ones.
void checkAttributes(const Op &op, const OpSchema &schema);

// Runs the op's reference kernel on the given inputs (nullptr for absent optional operands).
std::vector<Tensor> evaluateOp(const Op &op, const std::vector<const Tensor *> &inputs);

// If every operand of op is a Constant (and op is foldable), computes its results.
std::optional<std::vector<Tensor>> tryFold(const Op &op);

// Builds a Constant op holding t.
Value *buildConstant(Function &f, Tensor t, Op *before = nullptr);
// Zeros of type t as Expand(scalar 0, shape), so large zero tensors cost no constant data.
Value *buildZeros(Function &f, const TensorType &t, Op *before = nullptr);

} // namespace adjoint
