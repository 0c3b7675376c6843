// Integer (i32, i64) MatMul and Gemm on the GPU, which cuBLAS has no routine for: one thread per
// output element summing its products in the element type, wrapping (the interpreter sums in
// uint64 and truncates, the same value modulo 2^bits; Ops/Linalg.cpp). MatMul's batches may
// broadcast any way. Gemm adds C exactly when alpha = beta = 1; otherwise
// alpha * sum + beta * C goes through double and saturates, as the interpreter does.
#include "CodeGen/Loops.h"
#include "CodeGen/NvptxOpSupport.h"

#include <cmath>
#include <cstdint>

namespace adjoint::nvptx {

namespace {

using IndexFn = std::function<llvm::Value *(Builder &, llvm::Value *p)>;

// sum over p < k of a[aAt(p)] * b[bAt(p)] in t, wrapping.
llvm::Value *dot(CodegenContext &cg, Builder &b, DType t, llvm::Value *a, llvm::Value *bm, int64_t k,
                 const IndexFn &aAt, const IndexFn &bAt) {
  llvm::Type *st = cg.scalarType(t);
  if (k == 0)
    return llvm::ConstantInt::get(st, 0);
  llvm::BasicBlock &entry = b.GetInsertBlock()->getParent()->getEntryBlock();
  llvm::Value *acc = Builder(&entry, entry.begin()).CreateAlloca(st);
  b.CreateStore(llvm::ConstantInt::get(st, 0), acc);
  emitLoop(b, cg.i64c(0), cg.i64c(k), [&](Builder &b, llvm::Value *p) {
    llvm::Value *prod = b.CreateMul(cg.load(b, t, a, aAt(b, p)), cg.load(b, t, bm, bAt(b, p)));
    b.CreateStore(b.CreateAdd(b.CreateLoad(st, acc), prod), acc);
  }, "p");
  return b.CreateLoad(st, acc);
}

// The interpreter's saturate<T>: NaN is 0, the range's ends clamp.
llvm::Value *saturate(Builder &b, llvm::Value *v, llvm::Type *t) {
  unsigned bits = t->getIntegerBitWidth();
  double lo = -std::ldexp(1.0, (int)bits - 1), hi = bits == 32 ? (double)INT32_MAX : (double)INT64_MAX;
  llvm::Value *r = b.CreateSelect(b.CreateFCmpOLE(v, dconst(b, lo)),
                                  llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(bits)),
                                  b.CreateSelect(b.CreateFCmpOGE(v, dconst(b, hi)),
                                                 llvm::ConstantInt::get(t, llvm::APInt::getSignedMaxValue(bits)),
                                                 b.CreateFPToSI(v, t)));
  return b.CreateSelect(b.CreateFCmpUNO(v, v), llvm::ConstantInt::get(t, 0), r);
}

} // namespace

void lowerIntegerGemm(GpuOpContext &c) {
  AttrReader at = attrsOf(c.op);
  const bool ta = at.i("transA") != 0, tb = at.i("transB") != 0;
  const double alpha = at.f("alpha"), beta = at.f("beta");
  const Shape &as = c.op.operand(0)->shape(), &ys = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  const int64_t m = ys[0], n = ys[1], k = ta ? as[0] : as[1];
  if (m * n == 0)
    return;
  const bool hasC = c.op.numOperands() > 2 && c.op.operand(2);
  std::vector<int64_t> cs = hasC ? broadcastStridesTo(c.op.operand(2)->shape(), ys) : std::vector<int64_t>{0, 0};
  std::vector<BufferRef> args{c.results[0], c.operands[0], c.operands[1]};
  if (hasC)
    args.push_back(c.operands[2]);
  KernelFn kf = c.g.kernel(c.stem + "_int", c.what(), args, GpuCodegen::gridFor(m * n));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*kf.b, m * n, [&](Builder &b, llvm::Value *e) {
    llvm::Value *i = b.CreateUDiv(e, cg.i64c(n)), *j = b.CreateURem(e, cg.i64c(n));
    llvm::Value *sum = dot(cg, b, t, kf.args[1], kf.args[2], k,
                           [&](Builder &b, llvm::Value *p) {
                             return ta ? b.CreateAdd(b.CreateMul(p, cg.i64c(m)), i) : b.CreateAdd(b.CreateMul(i, cg.i64c(k)), p);
                           },
                           [&](Builder &b, llvm::Value *p) {
                             return tb ? b.CreateAdd(b.CreateMul(j, cg.i64c(k)), p) : b.CreateAdd(b.CreateMul(p, cg.i64c(n)), j);
                           });
    llvm::Type *st = sum->getType();
    llvm::Value *cv = llvm::ConstantInt::get(st, 0);
    if (hasC)
      cv = cg.load(b, t, kf.args[3], b.CreateAdd(b.CreateMul(i, cg.i64c(cs[0])), b.CreateMul(j, cg.i64c(cs[1]))));
    llvm::Value *y;
    if (alpha == 1.0 && beta == 1.0) {
      y = b.CreateAdd(sum, cv);
    } else {
      llvm::Value *v = b.CreateFAdd(b.CreateFMul(dconst(b, alpha), b.CreateSIToFP(sum, b.getDoubleTy())),
                                    b.CreateFMul(dconst(b, beta), b.CreateSIToFP(cv, b.getDoubleTy())));
      y = saturate(b, v, st);
    }
    cg.store(b, t, y, kf.args[0], e);
  });
  kf.b->CreateRetVoid();
}

void lowerIntegerMatMul(GpuOpContext &c) {
  Shape A = c.op.operand(0)->shape(), B = c.op.operand(1)->shape();
  if (A.size() == 1)
    A.insert(A.begin(), 1);
  if (B.size() == 1)
    B.push_back(1);
  DType t = c.op.result(0)->dtype();
  const int64_t m = A[A.size() - 2], k = A.back(), n = B.back();
  Shape aBatch(A.begin(), A.end() - 2), bBatch(B.begin(), B.end() - 2);
  Shape batch = broadcastShapes(aBatch, bBatch);
  const int64_t total = numElements(batch) * m * n;
  if (total == 0)
    return;
  std::vector<int64_t> sa = broadcastStridesTo(aBatch, batch), sb = broadcastStridesTo(bBatch, batch);
  KernelFn kf = c.g.kernel(c.stem + "_int", c.what(), {c.results[0], c.operands[0], c.operands[1]},
                           GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*kf.b, total, [&](Builder &b, llvm::Value *e) {
    llvm::Value *j = b.CreateURem(e, cg.i64c(n)), *rest = b.CreateUDiv(e, cg.i64c(n));
    llvm::Value *i = b.CreateURem(rest, cg.i64c(m));
    rest = b.CreateUDiv(rest, cg.i64c(m));
    // The batch member's matrices (in elements of the batch shape's broadcast strides).
    llvm::Value *aOff = cg.i64c(0), *bOff = cg.i64c(0);
    for (size_t d = batch.size(); d-- > 0;) {
      llvm::Value *idx = b.CreateURem(rest, cg.i64c(batch[d]));
      rest = b.CreateUDiv(rest, cg.i64c(batch[d]));
      aOff = b.CreateAdd(aOff, b.CreateMul(idx, cg.i64c(sa[d] * m * k)));
      bOff = b.CreateAdd(bOff, b.CreateMul(idx, cg.i64c(sb[d] * k * n)));
    }
    llvm::Value *sum = dot(cg, b, t, kf.args[1], kf.args[2], k,
                           [&](Builder &b, llvm::Value *p) { return b.CreateAdd(aOff, b.CreateAdd(b.CreateMul(i, cg.i64c(k)), p)); },
                           [&](Builder &b, llvm::Value *p) { return b.CreateAdd(bOff, b.CreateAdd(b.CreateMul(p, cg.i64c(n)), j)); });
    cg.store(b, t, sum, kf.args[0], e);
  });
  kf.b->CreateRetVoid();
}

} // namespace adjoint::nvptx
