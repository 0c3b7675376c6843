#pragma once
// Elementwise code: the scalar semantics of each elementwise op (ScalarOps.cpp) and the loop
// nest that evaluates a tree of them per element (LowerElementwise.cpp). A plain elementwise op
// is a nest with one output; a fused kernel is a nest with the body's values as outputs and the
// ops between them evaluated in registers.
#include "CodeGen/LoweringContext.h"
#include "Ops/SliceWindow.h"

#include <optional>
#include <unordered_set>

namespace adjoint {

// Converts scalar v from dtype `from` to `to` exactly as Cast / convertElement (IR/Convert.h):
// float to integer truncates, NaN/inf/out of range give the minimum; to bool is != 0.
llvm::Value *convertScalar(Builder &b, llvm::Value *v, DType from, DType to);

// The data of a value known at compile time (a Constant op's result, a Shape op's), or nullopt.
std::optional<Tensor> constantValue(const Value *v);

// The window of a slice of `in` whose index operands (from operand `first`) are compile-time
// constants (LowerDataMovement.cpp), and a reduction's axes, from ReduceSum's operand or the
// other reductions' attribute (LowerReduce.cpp); both fail naming the op when not constant. The
// CPU and GPU lowerings share them.
SliceWindow constantSliceWindow(const Op &op, const Shape &in, size_t first);
std::vector<int64_t> constantReduceAxes(const Op &op);

// Dropout (LowerNorm.cpp, NvptxDropout.cpp): whether the op may run in training mode (false when
// its training_mode is absent or a constant false, or its ratio a constant 0), and
// adj_dropout_seed (runtime/DropoutSeed.h) of the seed attribute and the run-time seed operand
// `salt` (i64) in IR: the i32 MT19937 seed.
bool dropoutMayTrain(const Op &op);
llvm::Value *emitDropoutSeed(Builder &b, int64_t attr, llvm::Value *salt);

// Whether v's defining op can be evaluated per element inside a nest: an Elementwise lowering,
// or an Alias that keeps the shape (Identity, StopGradient).
bool computableInNest(const Value *v);

// The values a nest computing `outputs` reads from memory: those `inMemory` says are stored
// (arguments, results of earlier steps), and constants of more than one element. Everything else
// is computed in the nest from its defining op. In first-use order, without repeats.
std::vector<const Value *> nestLeaves(const std::vector<const Value *> &outputs,
                                      const std::function<bool(const Value *)> &inMemory);

// The values of a fused kernel's body that must be in memory (LowerKernel.cpp, and the GPU's
// NvptxLowering.cpp): operands of ops a nest cannot evaluate, and the body's outputs.
std::unordered_set<const Value *> kernelStoredValues(const Function &body);

// Work units per element of that nest (for the thread-pool decision).
double nestCost(const std::vector<const Value *> &outputs,
                const std::function<bool(const Value *)> &inMemory);

// Emits, into ctx's function, the loop nest over `domain` that stores each outputs[j] at
// ctx.results[j] (contiguous, of shape domain) from leaves[i] at ctx.operands[i] (read at
// broadcast indices). Every value on the way is computable in the nest (computableInNest),
// a leaf, or a one-element constant.
void emitElementwiseNest(OpEmitContext &ctx, const Shape &domain,
                         const std::vector<const Value *> &leaves,
                         const std::vector<const Value *> &outputs, double cost);

} // namespace adjoint
