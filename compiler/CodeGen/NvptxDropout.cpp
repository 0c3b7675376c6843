// Dropout on the GPU, its training-mode mask bit-identical to the interpreter's (Ops/Norm.cpp,
// runtime/Dropout.cpp): one MT19937 stream seeded with the seed mod 2^32 (or adj_dropout_seed
// of the attribute and the run-time seed operand), two 32-bit draws per element in row-major
// order, numpy's 53-bit double (a >> 5, b >> 6) kept where it is >= ratio.
//
// The stream is sequential but its twist is not: one block regenerates the 624-word state per
// round in three parallel phases (state buffers old and new in shared memory, alternating):
//   words   0..226: new[k] = f(old[k], old[k + 1], old[k + 397])     (the old state only)
//   words 227..453: new[k] = f(old[k], old[k + 1], new[k - 227])     (new 0..226)
//   words 454..623: new[k] = f(old[k], old[k + 1], new[k - 227])     (new 227..396), but
//                   word 623 takes its low bits from new[0], not old[0]
// with a barrier between phases; then the round's 312 elements are tempered and compared in
// parallel (624 words are an even count, so an element's two draws share a round). The mask
// goes to the mask result, or to scratch, and a grid-stride kernel scales the kept elements by
// 1 / (1 - ratio) computed in X's type. Outside training mode, or with ratio 0 (both may be
// run-time values), the mask kernel does nothing and the second kernel copies with an all-true
// mask; a ratio outside [0, 1) in training mode is reported through adj_gpu_error.
#include "CodeGen/Elementwise.h"
#include "CodeGen/Loops.h"
#include "CodeGen/NvptxOpSupport.h"

namespace adjoint::nvptx {

namespace {

constexpr int64_t kWords = 624, kShift = 397, kPhase = kWords - kShift; // 227
// Each twist phase gives one word to each of its first kPhase threads.
static_assert(kBlock >= kPhase, "a block must cover a twist phase");

llvm::Value *u32(Builder &b, uint32_t v) { return b.getInt32(v); }

// MT19937's tempering of one state word.
llvm::Value *temper(Builder &b, llvm::Value *y) {
  y = b.CreateXor(y, b.CreateLShr(y, 11));
  y = b.CreateXor(y, b.CreateAnd(b.CreateShl(y, 7), u32(b, 0x9d2c5680u)));
  y = b.CreateXor(y, b.CreateAnd(b.CreateShl(y, 15), u32(b, 0xefc60000u)));
  return b.CreateXor(y, b.CreateLShr(y, 18));
}

// The twist of one word: x[k]'s upper bit, `next`'s lower 31, mixed into `src` (x[k + 397]).
llvm::Value *twist(Builder &b, llvm::Value *xk, llvm::Value *next, llvm::Value *src) {
  llvm::Value *y = b.CreateOr(b.CreateAnd(xk, u32(b, 0x80000000u)), b.CreateAnd(next, u32(b, 0x7fffffffu)));
  llvm::Value *mag = b.CreateSelect(b.CreateTrunc(y, b.getInt1Ty()), u32(b, 0x9908b0dfu), u32(b, 0));
  return b.CreateXor(b.CreateXor(src, b.CreateLShr(y, 1)), mag);
}

// if (cond) body(): a branch (threads of a block may take different sides; no barrier inside).
void when(CodegenContext &cg, Builder &b, llvm::Value *cond, const std::function<void(Builder &)> &body) {
  llvm::Function *f = b.GetInsertBlock()->getParent();
  auto *then = llvm::BasicBlock::Create(cg.ctx, "then", f);
  auto *next = llvm::BasicBlock::Create(cg.ctx, "endif", f);
  b.CreateCondBr(cond, then, next);
  b.SetInsertPoint(then);
  body(b);
  b.CreateBr(next);
  b.SetInsertPoint(next);
}

struct DropoutArgs {
  bool hasRatio, hasSeed;
  // The ratio in double (0.5 when absent) and whether the op is the identity at run time.
  llvm::Value *ratio(GpuOpContext &c, Builder &b, llvm::Value *arg) const {
    if (!hasRatio)
      return dconst(b, 0.5);
    DType rt = c.op.operand(1)->dtype();
    return toDouble(b, c.g.cg.load(b, rt, arg, c.g.cg.i64c(0)));
  }
  static llvm::Value *plain(GpuOpContext &c, Builder &b, llvm::Value *training, llvm::Value *ratio) {
    llvm::Value *on = c.g.cg.load(b, DType::Bool, training, c.g.cg.i64c(0));
    return b.CreateOr(b.CreateNot(on), b.CreateFCmpOEQ(ratio, dconst(b, 0)));
  }
};

// The mask kernel: one block, args [ratio, training, seed, keep].
void emitMask(GpuOpContext &c, const DropoutArgs &d, const std::vector<BufferRef> &args, int64_t n) {
  CodegenContext &cg = c.g.cg;
  KernelFn k = c.g.kernel(c.stem + "_mask", c.what(), args, 1);
  Builder &b = *k.b;
  llvm::Function *f = k.fn;
  llvm::Value *ratio = d.ratio(c, b, k.args[0]);
  auto *done = llvm::BasicBlock::Create(cg.ctx, "done", f);
  auto *check = llvm::BasicBlock::Create(cg.ctx, "train", f);
  auto *bad = llvm::BasicBlock::Create(cg.ctx, "bad.ratio", f);
  auto *draw = llvm::BasicBlock::Create(cg.ctx, "draw", f);
  b.CreateCondBr(DropoutArgs::plain(c, b, k.args[1], ratio), done, check);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
  b.SetInsertPoint(check);
  b.CreateCondBr(b.CreateAnd(b.CreateFCmpOGE(ratio, dconst(b, 0)), b.CreateFCmpOLT(ratio, dconst(b, 1))), draw, bad);
  b.SetInsertPoint(bad);
  c.g.firstThread(b, [&](Builder &b) {
    // The message cannot carry the (floating-point) ratio, which the interpreter's names.
    cg.reportError(b, c.op.describe() + ": ratio must be in [0, 1) in training mode", cg.i64c(0), cg.i64c(0),
                   cg.i64c(0));
  });
  b.CreateBr(done);
  b.SetInsertPoint(draw);

  // Two state buffers of 624 words in shared memory; round r reads buffer r % 2.
  auto *stateType = llvm::ArrayType::get(b.getInt32Ty(), 2 * kWords);
  auto *state = new llvm::GlobalVariable(cg.module, stateType, false, llvm::GlobalValue::InternalLinkage,
                                         llvm::UndefValue::get(stateType), cg.uniqueName("adj_shared_mt19937"),
                                         nullptr, llvm::GlobalValue::NotThreadLocal, /*AddressSpace=*/3);
  auto word = [&](Builder &b, llvm::Value *i) { return b.CreateInBoundsGEP(stateType, state, {b.getInt64(0), i}); };
  auto get = [&](Builder &b, llvm::Value *i) { return b.CreateLoad(b.getInt32Ty(), word(b, i)); };

  AttrReader a = attrsOf(c.op);
  int64_t seedAttr = a.has("seed") ? a.i("seed") : 0;
  llvm::Value *seed = d.hasSeed ? emitDropoutSeed(b, seedAttr, cg.load(b, DType::I64, k.args[2], cg.i64c(0)))
                                : u32(b, (uint32_t)seedAttr);
  c.g.firstThread(b, [&](Builder &b) {
    // init_genrand: sequential, 623 multiply-adds.
    b.CreateStore(seed, word(b, b.getInt64(0)));
    emitLoop(b, b.getInt64(1), b.getInt64(kWords), [&](Builder &b, llvm::Value *i) {
      llvm::Value *p = get(b, b.CreateSub(i, b.getInt64(1)));
      llvm::Value *x = b.CreateMul(u32(b, 1812433253u), b.CreateXor(p, b.CreateLShr(p, 30)));
      b.CreateStore(b.CreateAdd(x, b.CreateTrunc(i, b.getInt32Ty())), word(b, i));
    }, "seed");
  });
  c.g.barrier(b);

  const int64_t perRound = kWords / 2, rounds = (n + perRound - 1) / perRound;
  llvm::Value *tid = c.g.threadIdx(b);
  emitLoop(b, b.getInt64(0), b.getInt64(rounds), [&](Builder &b, llvm::Value *r) {
    llvm::Value *odd = b.CreateICmpNE(b.CreateAnd(r, b.getInt64(1)), b.getInt64(0));
    llvm::Value *oldBase = b.CreateSelect(odd, b.getInt64(kWords), b.getInt64(0));
    llvm::Value *newBase = b.CreateSelect(odd, b.getInt64(0), b.getInt64(kWords));
    auto oldAt = [&](Builder &b, llvm::Value *i) { return get(b, b.CreateAdd(oldBase, i)); };
    auto newAt = [&](Builder &b, llvm::Value *i) { return get(b, b.CreateAdd(newBase, i)); };
    // Phase p computes words first + tid for tid < count.
    auto phase = [&](int64_t first, int64_t count) {
      when(cg, b, b.CreateICmpULT(tid, b.getInt64(count)), [&](Builder &b) {
        llvm::Value *kk = b.CreateAdd(tid, b.getInt64(first));
        llvm::Value *src = first == 0 ? oldAt(b, b.CreateAdd(kk, b.getInt64(kShift)))
                                      : newAt(b, b.CreateSub(kk, b.getInt64(kPhase)));
        llvm::Value *next;
        if (first + count < kWords) {
          next = oldAt(b, b.CreateAdd(kk, b.getInt64(1)));
        } else {
          llvm::Value *last = b.CreateICmpEQ(kk, b.getInt64(kWords - 1));
          llvm::Value *at = b.CreateSelect(last, b.getInt64(0), b.CreateAdd(kk, b.getInt64(1)));
          next = get(b, b.CreateAdd(b.CreateSelect(last, newBase, oldBase), at));
        }
        b.CreateStore(twist(b, oldAt(b, kk), next, src), word(b, b.CreateAdd(newBase, kk)));
      });
      c.g.barrier(b);
    };
    phase(0, kPhase);
    phase(kPhase, kPhase);
    phase(2 * kPhase, kWords - 2 * kPhase);
    // The round's elements; the next round writes the other buffer, so no barrier is needed.
    c.g.threadStride(b, perRound, [&](Builder &b, llvm::Value *j) {
      llvm::Value *i = b.CreateAdd(b.CreateMul(r, b.getInt64(perRound)), j);
      when(cg, b, b.CreateICmpSLT(i, b.getInt64(n)), [&](Builder &b) {
        llvm::Value *w0 = temper(b, newAt(b, b.CreateMul(j, b.getInt64(2))));
        llvm::Value *w1 = temper(b, newAt(b, b.CreateAdd(b.CreateMul(j, b.getInt64(2)), b.getInt64(1))));
        llvm::Value *hi = b.CreateUIToFP(b.CreateLShr(w0, 5), b.getDoubleTy());
        llvm::Value *lo = b.CreateUIToFP(b.CreateLShr(w1, 6), b.getDoubleTy());
        llvm::Value *u = b.CreateFDiv(b.CreateFAdd(b.CreateFMul(hi, dconst(b, 67108864.0)), lo),
                                      dconst(b, 9007199254740992.0));
        cg.store(b, DType::Bool, b.CreateFCmpOGE(u, ratio), k.args[3], i);
      });
    });
  }, "round");
  b.CreateBr(done);
}

void lowerDropout(GpuOpContext &c) {
  DType t = c.op.operand(0)->dtype();
  const int64_t n = numElements(c.op.operand(0)->shape());
  if (n == 0)
    return;
  CodegenContext &cg = c.g.cg;
  const bool hasMask = c.op.numResults() > 1;
  if (!dropoutMayTrain(c.op)) {
    if (c.results[0].slot != c.operands[0].slot || c.results[0].offset != c.operands[0].offset)
      c.g.copy(c.what(), c.results[0], c.operands[0], n * esize(t));
    if (hasMask) {
      KernelFn k = c.g.kernel(c.stem + "_mask", c.what(), {c.results[1]}, GpuCodegen::gridFor(n));
      c.g.gridStride(*k.b, n, [&](Builder &b, llvm::Value *i) { cg.store(b, DType::Bool, b.getTrue(), k.args[0], i); });
      k.b->CreateRetVoid();
    }
    return;
  }
  DropoutArgs d{c.op.numOperands() > 1 && c.op.operand(1), c.op.numOperands() > 3 && c.op.operand(3)};
  BufferRef keep = hasMask ? c.results[1] : c.scratch(n);
  BufferRef training = c.operands[2];
  BufferRef ratio = d.hasRatio ? c.operands[1] : training; // absent: never read
  BufferRef seed = d.hasSeed ? c.operands[3] : training;
  emitMask(c, d, {ratio, training, seed, keep}, n);

  KernelFn k = c.g.kernel(c.stem + "_scale", c.what(), {c.operands[0], ratio, training, keep, c.results[0]},
                          GpuCodegen::gridFor(n));
  Builder &b = *k.b;
  llvm::Value *r = d.ratio(c, b, k.args[1]);
  llvm::Value *plain = DropoutArgs::plain(c, b, k.args[2], r);
  llvm::Type *ty = cg.scalarType(t);
  llvm::Value *one = llvm::ConstantFP::get(ty, 1.0);
  llvm::Value *scale = b.CreateFDiv(one, b.CreateFSub(one, fromDouble(b, r, t)));
  c.g.gridStride(b, n, [&](Builder &b, llvm::Value *i) {
    llvm::Value *x = cg.load(b, t, k.args[0], i);
    // Identity: copy and an all-true mask (the mask kernel wrote nothing).
    when(cg, b, plain, [&](Builder &b) { cg.store(b, DType::Bool, b.getTrue(), k.args[3], i); });
    llvm::Value *kept = cg.load(b, DType::Bool, k.args[3], i);
    llvm::Value *y = b.CreateSelect(kept, b.CreateFMul(x, scale), llvm::ConstantFP::get(ty, 0.0));
    cg.store(b, t, b.CreateSelect(plain, x, y), k.args[4], i);
  });
  b.CreateRetVoid();
}

} // namespace

void addDropoutLowering(std::map<std::pair<std::string, std::string>, GpuOpLowering> &t) {
  t[{"", "Dropout"}] = {lowerDropout, floatOnly};
}

} // namespace adjoint::nvptx
