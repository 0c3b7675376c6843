#pragma once
// Loop nests with static trip counts over strided accesses, the building block of elementwise,
// broadcast and reduction code. Loops are emitted bottom-tested with constant bounds and i64
// offsets that grow by a constant stride, the form LLVM's loop vectorizer handles best.
#include "CodeGen/LoweringContext.h"

namespace adjoint {

// A loop nest: trip counts, and for each access (a buffer it reads or writes) the stride in
// elements of each loop (0 where the access broadcasts).
struct LoopSpace {
  Shape dims;
  std::vector<std::vector<int64_t>> strides; // [access][dim]
  int64_t total() const;
};

// Strides of a tensor of shape `in` read along the broadcast shape `out` (0 on broadcast dims).
std::vector<int64_t> broadcastStridesTo(const Shape &in, const Shape &out);

// The same iteration with dimensions of size 1 dropped and adjacent dimensions merged wherever
// every access walks them as one (stride[d] == stride[d+1] * dims[d+1]), so that the innermost
// loop is as long as possible. Never returns rank 0: a scalar loop space is [1].
LoopSpace coalesce(const LoopSpace &s);

// Emits the loops of `s`, the outermost over [begin, end) (runtime values, begin < end) and the
// others over their whole range, and calls body at the innermost level with each access's
// element offset.
void emitLoops(Builder &b, CodegenContext &cg, const LoopSpace &s, llvm::Value *begin,
               llvm::Value *end,
               const std::function<void(Builder &, const std::vector<llvm::Value *> &)> &body);

// for (i = begin; i < end; ++i) body(i), with begin < end at run time.
void emitLoop(Builder &b, llvm::Value *begin, llvm::Value *end,
              const std::function<void(Builder &, llvm::Value *)> &body, const char *name = "i");

} // namespace adjoint
