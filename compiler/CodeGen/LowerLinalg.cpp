// MatMul and Gemm. Floating-point products go to BLAS through the runtime bridge (adj_sgemm /
// adj_dgemm), transposes passed as flags and batches as pointer offsets, never copies; Gemm's C
// is broadcast into the output first and BLAS adds beta * C. Integer products are generated
// loops with the interpreter's wrapping arithmetic (Ops/Linalg.cpp).
#include "CodeGen/Loops.h"

#include <climits>
#include <cmath>

namespace adjoint {

namespace {

// numpy matmul dimensions: a 1-D A is [1,K], a 1-D B is [K,1]; batch dims broadcast.
struct MatMulDims {
  Shape batch, aBatch, bBatch;
  int64_t m = 1, k = 1, n = 1;
};

MatMulDims matMulDims(const Shape &a, const Shape &b) {
  MatMulDims d;
  Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  d.m = a2[a2.size() - 2];
  d.k = a2.back();
  d.n = b2.back();
  d.aBatch.assign(a2.begin(), a2.end() - 2);
  d.bBatch.assign(b2.begin(), b2.end() - 2);
  d.batch = broadcastShapes(d.aBatch, d.bBatch);
  return d;
}

llvm::Value *offsetPtr(OpEmitContext &c, DType t, llvm::Value *base, llvm::Value *elements) {
  return c.cg.elementPtr(c.b, t, base, elements);
}

void callGemm(OpEmitContext &c, DType t, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
              double alpha, llvm::Value *a, int64_t lda, llvm::Value *b, int64_t ldb, double beta,
              llvm::Value *y, int64_t ldy) {
  Builder &bl = c.b;
  llvm::Type *ft = c.cg.scalarType(t);
  bl.CreateCall(c.cg.runtime(t == DType::F32 ? "adj_sgemm" : "adj_dgemm"),
                {bl.getInt32(ta), bl.getInt32(tb), c.cg.i64c(m), c.cg.i64c(n), c.cg.i64c(k),
                 llvm::ConstantFP::get(ft, alpha), a, c.cg.i64c(lda), b, c.cg.i64c(ldb),
                 llvm::ConstantFP::get(ft, beta), y, c.cg.i64c(ldy)});
}

// y[i,j] = finish(sum_p a(i,p) * b(p,j), i, j) over integers, wrapping; a and b address the
// stored matrices through the transpose flags.
void emitIntegerProduct(OpEmitContext &c, DType t, llvm::Value *a, llvm::Value *b, llvm::Value *y,
                        int64_t m, int64_t n, int64_t k, bool ta, bool tb,
                        const std::function<llvm::Value *(Builder &, llvm::Value *sum,
                                                          llvm::Value *i, llvm::Value *j)> &finish) {
  CodegenContext &cg = c.cg;
  llvm::Type *st = cg.scalarType(t);
  emitLoop(c.b, cg.i64c(0), cg.i64c(m), [&](Builder &bl, llvm::Value *i) {
    emitLoop(bl, cg.i64c(0), cg.i64c(n), [&](Builder &bl, llvm::Value *j) {
      llvm::Value *sum = llvm::ConstantInt::get(st, 0);
      if (k > 0) {
        llvm::BasicBlock *pre = bl.GetInsertBlock();
        llvm::PHINode *acc = nullptr;
        emitLoop(bl, cg.i64c(0), cg.i64c(k), [&](Builder &bl, llvm::Value *p) {
          acc = bl.CreatePHI(st, 2, "acc");
          acc->addIncoming(llvm::ConstantInt::get(st, 0), pre);
          llvm::Value *ai = ta ? bl.CreateAdd(bl.CreateMul(p, cg.i64c(m)), i)
                               : bl.CreateAdd(bl.CreateMul(i, cg.i64c(k)), p);
          llvm::Value *bi = tb ? bl.CreateAdd(bl.CreateMul(j, cg.i64c(k)), p)
                               : bl.CreateAdd(bl.CreateMul(p, cg.i64c(n)), j);
          llvm::Value *next = bl.CreateAdd(acc, bl.CreateMul(cg.load(bl, t, a, ai), cg.load(bl, t, b, bi)));
          // The latch is the block emitLoop ends the body in: the phi's back edge comes from it.
          acc->addIncoming(next, bl.GetInsertBlock());
          sum = next;
        }, "p");
        // After the loop, the running value is the last `next`.
      }
      cg.store(bl, t, finish(bl, sum, i, j), y, bl.CreateAdd(bl.CreateMul(i, cg.i64c(n)), j));
    }, "j");
  }, "i");
}

void lowerMatMul(OpEmitContext &c) {
  const Shape &as = c.operandType(0).shape, &bs = c.operandType(1).shape;
  DType t = c.resultType().dtype;
  MatMulDims d = matMulDims(as, bs);
  if (numElements(c.resultType().shape) == 0)
    return;
  if (as.size() > 2 && numElements(d.bBatch) == 1 && numElements(d.aBatch) == numElements(d.batch)) {
    // A stack of matrices times one matrix (a Linear layer on [batch, seq, features]) is one
    // GEMM with the stack's rows: BLAS then gets [batch*seq, k] instead of batch small calls.
    d.m *= numElements(d.aBatch);
    d.batch = d.aBatch = d.bBatch = {};
  }
  LoopSpace batches;
  batches.dims = d.batch;
  std::vector<int64_t> sa = broadcastStridesTo(d.aBatch, d.batch), sb = broadcastStridesTo(d.bBatch, d.batch);
  std::vector<int64_t> sy = stridesOf(d.batch);
  for (auto &s : sa)
    s *= d.m * d.k;
  for (auto &s : sb)
    s *= d.k * d.n;
  for (auto &s : sy)
    s *= d.m * d.n;
  batches.strides = {sa, sb, sy};
  LoopSpace s = coalesce(batches);
  emitLoops(c.b, c.cg, s, c.cg.i64c(0), c.cg.i64c(s.dims[0]),
            [&](Builder &, const std::vector<llvm::Value *> &off) {
              llvm::Value *a = offsetPtr(c, t, c.operands[0], off[0]);
              llvm::Value *b = offsetPtr(c, t, c.operands[1], off[1]);
              llvm::Value *y = offsetPtr(c, t, c.results[0], off[2]);
              if (isFloat(t)) {
                callGemm(c, t, false, false, d.m, d.n, d.k, 1.0, a, d.k, b, d.n, 0.0, y, d.n);
                return;
              }
              emitIntegerProduct(c, t, a, b, y, d.m, d.n, d.k, false, false,
                                 [](Builder &, llvm::Value *sum, llvm::Value *, llvm::Value *) { return sum; });
            });
}

// Gemm's scaled integer result goes through double and saturates, as the interpreter does.
llvm::Value *saturate(Builder &b, llvm::Value *v, llvm::Type *t) {
  unsigned bits = t->getIntegerBitWidth();
  double lo = -std::ldexp(1.0, (int)bits - 1), hi = std::ldexp(1.0, (int)bits - 1);
  llvm::Value *conv = b.CreateFPToSI(v, t);
  llvm::Value *r = b.CreateSelect(b.CreateFCmpOLE(v, llvm::ConstantFP::get(v->getType(), lo)),
                                  llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(bits)),
                                  b.CreateSelect(b.CreateFCmpOGE(v, llvm::ConstantFP::get(v->getType(), hi - 1)),
                                                 llvm::ConstantInt::get(t, llvm::APInt::getSignedMaxValue(bits)),
                                                 conv));
  return b.CreateSelect(b.CreateFCmpUNO(v, v), llvm::ConstantInt::get(t, 0), r);
}

void lowerGemm(OpEmitContext &c) {
  AttrReader at = attrsOf(c.op);
  bool ta = at.i("transA") != 0, tb = at.i("transB") != 0;
  double alpha = at.f("alpha"), beta = at.f("beta");
  const Shape &as = c.operandType(0).shape, &bs = c.operandType(1).shape;
  const Shape &ys = c.resultType().shape;
  DType t = c.resultType().dtype;
  int64_t m = ys[0], n = ys[1], k = ta ? as[0] : as[1];
  if (m == 0 || n == 0)
    return;
  llvm::Value *C = c.op.numOperands() > 2 ? c.operands[2] : nullptr;
  const Shape cs = C ? c.operandType(2).shape : Shape{};
  std::vector<int64_t> cStrides = C ? broadcastStridesTo(cs, ys) : std::vector<int64_t>{0, 0};
  if (isFloat(t)) {
    bool addC = C && beta != 0.0;
    if (addC) {
      // Y = C broadcast, then BLAS accumulates alpha * A * B + beta * Y.
      LoopSpace s = coalesce(LoopSpace{ys, {stridesOf(ys), cStrides}});
      c.parallelFor(s.dims[0], 0.5 * (double)(s.total() / s.dims[0]),
                    [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
                      emitLoops(in.b, in.cg, s, begin, end,
                                [&](Builder &b, const std::vector<llvm::Value *> &off) {
                                  in.cg.store(b, t, in.cg.load(b, t, in.operands[2], off[1]),
                                              in.results[0], off[0]);
                                });
                    });
    }
    callGemm(c, t, ta, tb, m, n, k, alpha, c.operands[0], as[1], c.operands[1], bs[1],
             addC ? beta : 0.0, c.results[0], n);
    return;
  }
  emitIntegerProduct(c, t, c.operands[0], c.operands[1], c.results[0], m, n, k, ta, tb,
                     [&](Builder &b, llvm::Value *sum, llvm::Value *i, llvm::Value *j) -> llvm::Value * {
                       llvm::Type *st = sum->getType();
                       llvm::Value *cv = llvm::ConstantInt::get(st, 0);
                       if (C)
                         cv = c.cg.load(b, t, C, b.CreateAdd(b.CreateMul(i, c.cg.i64c(cStrides[0])),
                                                             b.CreateMul(j, c.cg.i64c(cStrides[1]))));
                       if (alpha == 1.0 && beta == 1.0)
                         return b.CreateAdd(sum, cv);
                       llvm::Type *f64 = b.getDoubleTy();
                       llvm::Value *v = b.CreateFAdd(
                           b.CreateFMul(llvm::ConstantFP::get(f64, alpha), b.CreateSIToFP(sum, f64)),
                           b.CreateFMul(llvm::ConstantFP::get(f64, beta), b.CreateSIToFP(cv, f64)));
                       return saturate(b, v, st);
                     });
}

// BLAS takes 32-bit sizes.
std::string blasLimits(const Op &op) {
  for (Value *v : op.operands())
    if (v && isFloat(v->dtype()))
      for (int64_t d : v->shape())
        if (d > INT_MAX)
          return "a dimension exceeds BLAS's 32-bit sizes";
  for (Value *v : op.operands())
    if (v && v->dtype() == DType::Bool)
      return "bool operands";
  return "";
}

} // namespace

void registerLinalgLowerings(LoweringRegistry &r) {
  OpLowering mm;
  mm.emit = lowerMatMul;
  mm.unsupported = blasLimits;
  r.add("", "MatMul", mm);
  OpLowering gemm;
  gemm.emit = lowerGemm;
  gemm.unsupported = blasLimits;
  r.add("", "Gemm", gemm);
}

} // namespace adjoint
