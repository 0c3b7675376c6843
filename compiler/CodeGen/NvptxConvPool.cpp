// Conv, its gradients and pooling on the GPU (see NvptxOps.cpp's header for the scheme): the
// interpreter's tap tables (Ops/ConvPoolWindow.h) drive im2col/col2im and gather kernels around
// cuBLAS GEMMs.
#include "CodeGen/NvptxOpSupport.h"
#include "Ops/ConvPoolWindow.h"

#include <llvm/IR/Intrinsics.h>

#include <functional>

namespace adjoint::nvptx {

namespace {

// ---- Conv and pooling ----

using namespace convpool;

// For each input spatial offset, the (tap, output position) pairs that read it, as CSR:
// starts[i]..starts[i+1] index entries, each t * outSize + p (or p alone when `positions`).
void inverseTaps(const Taps &taps, bool positions, std::vector<int64_t> &starts, std::vector<int64_t> &entries) {
  std::vector<std::vector<int64_t>> lists((size_t)taps.inSize);
  for (int64_t p = 0; p < taps.outSize; ++p)
    for (int64_t t = 0; t < taps.kSize; ++t) {
      int64_t i = taps.index[(size_t)(p * taps.kSize + t)];
      if (i >= 0)
        lists[(size_t)i].push_back(positions ? p : t * taps.outSize + p);
    }
  starts.assign(1, 0);
  entries.clear();
  for (const auto &l : lists) {
    entries.insert(entries.end(), l.begin(), l.end());
    starts.push_back((int64_t)entries.size());
  }
  if (entries.empty())
    entries.push_back(0);
}

// acc = the fold of step(p, acc) over the output positions p of the windows that read input
// offset sp (the device copies of inverseTaps(positions = true): starts, entries), from 0, in
// window order. `acc` is an f64 alloca of the kernel's entry block.
void sumOverWindows(Builder &b, CodegenContext &cg, llvm::Value *starts, llvm::Value *entries, llvm::Value *sp,
                    llvm::Value *acc,
                    const std::function<llvm::Value *(Builder &, llvm::Value *p, llvm::Value *cur)> &step) {
  llvm::Value *lo = cg.load(b, DType::I64, starts, sp);
  llvm::Value *hi = cg.load(b, DType::I64, starts, b.CreateAdd(sp, cg.i64c(1)));
  b.CreateStore(dconst(b, 0), acc);
  llvm::Function *f = b.GetInsertBlock()->getParent();
  auto *body = llvm::BasicBlock::Create(cg.ctx, "win", f), *done = llvm::BasicBlock::Create(cg.ctx, "win.end", f);
  llvm::BasicBlock *pre = b.GetInsertBlock();
  b.CreateCondBr(b.CreateICmpSLT(lo, hi), body, done);
  b.SetInsertPoint(body);
  llvm::PHINode *j = b.CreatePHI(b.getInt64Ty(), 2);
  j->addIncoming(lo, pre);
  llvm::Value *p = cg.load(b, DType::I64, entries, j);
  b.CreateStore(step(b, p, b.CreateLoad(b.getDoubleTy(), acc)), acc);
  llvm::Value *next = b.CreateAdd(j, cg.i64c(1));
  j->addIncoming(next, b.GetInsertBlock());
  b.CreateCondBr(b.CreateICmpSLT(next, hi), body, done);
  b.SetInsertPoint(done);
}

// col[n * sN + (c * K + t) * sR + p] = x[n, c, taps[p, t]] (0 in padding), for all n, c, t, p.
void emitIm2col(GpuOpContext &c, BufferRef x, BufferRef col, DType t, int64_t N, int64_t C, const Taps &taps,
                int64_t sN, int64_t sR) {
  const int64_t K = taps.kSize, P = taps.outSize, total = N * C * K * P;
  if (total == 0)
    return;
  BufferRef table = c.g.constantInts(taps.index);
  KernelFn k = c.g.kernel(c.stem + "_im2col", c.what(), {col, x, table}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *p = b.CreateURem(i, cg.i64c(P));
    llvm::Value *tt = b.CreateURem(b.CreateUDiv(i, cg.i64c(P)), cg.i64c(K));
    llvm::Value *ch = b.CreateURem(b.CreateUDiv(i, cg.i64c(P * K)), cg.i64c(C));
    llvm::Value *n = b.CreateUDiv(i, cg.i64c(P * K * C));
    llvm::Value *src = cg.load(b, DType::I64, k.args[2], b.CreateAdd(b.CreateMul(p, cg.i64c(K)), tt));
    llvm::Value *inside = b.CreateICmpSGE(src, cg.i64c(0));
    llvm::Value *xi = b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(n, cg.i64c(C)), ch), cg.i64c(taps.inSize)),
                                  b.CreateSelect(inside, src, cg.i64c(0)));
    llvm::Function *f = b.GetInsertBlock()->getParent();
    auto *load = llvm::BasicBlock::Create(cg.ctx, "tap", f), *join = llvm::BasicBlock::Create(cg.ctx, "tap.end", f);
    llvm::BasicBlock *from = b.GetInsertBlock();
    b.CreateCondBr(inside, load, join);
    b.SetInsertPoint(load);
    llvm::Value *v = cg.load(b, t, k.args[1], xi);
    b.CreateBr(join);
    b.SetInsertPoint(join);
    llvm::PHINode *phi = b.CreatePHI(v->getType(), 2);
    phi->addIncoming(llvm::Constant::getNullValue(v->getType()), from);
    phi->addIncoming(v, load);
    llvm::Value *dst = b.CreateAdd(b.CreateAdd(b.CreateMul(n, cg.i64c(sN)),
                                               b.CreateMul(b.CreateAdd(b.CreateMul(ch, cg.i64c(K)), tt), cg.i64c(sR))),
                                   p);
    cg.store(b, t, phi, k.args[0], dst);
  });
  k.b->CreateRetVoid();
}

} // namespace

void lowerConv(GpuOpContext &c) {
  const Shape &x = c.op.operand(0)->shape(), &w = c.op.operand(1)->shape();
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(convWindow(attrsOf(c.op), c.op.describe(), x, w));
  const int64_t N = x[0], C = x[1], M = w[0], G = attrsOf(c.op).i("group");
  const int64_t cg = C / G, mg = M / G, K = taps.kSize, P = taps.outSize, es = esize(t);
  if (N * M * P == 0)
    return;
  BufferRef col = c.scratch(std::max<int64_t>(N * C * K * P * es, es));
  emitIm2col(c, c.operands[0], col, t, N, C, taps, C * K * P, P);
  for (int64_t gg = 0; gg < G; ++gg) {
    gpu::Gemm g;
    g.f64 = t == DType::F64;
    g.m = mg;
    g.n = P;
    g.k = cg * K;
    g.lda = cg * K;
    g.ldb = P;
    g.ldc = P;
    g.a = at(c.operands[1], gg * mg * cg * K * es);
    g.b = at(col, gg * cg * K * P * es);
    g.c = at(c.results[0], gg * mg * P * es);
    g.batch = N;
    g.strideA = 0;
    g.strideB = C * K * P;
    g.strideC = M * P;
    if (g.k == 0) {
      c.error("a group with no input channels is not supported on the GPU");
    }
    c.g.gemm(c.what(), g);
  }
  if (c.op.numOperands() > 2 && c.op.operand(2)) {
    const int64_t total = N * M * P;
    KernelFn k = c.g.kernel(c.stem + "_bias", c.what(), {c.results[0], c.operands[2]}, GpuCodegen::gridFor(total));
    CodegenContext &cgc = c.g.cg;
    c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
      llvm::Value *m = b.CreateURem(b.CreateUDiv(i, cgc.i64c(P)), cgc.i64c(M));
      llvm::Value *y = cgc.load(b, t, k.args[0], i);
      cgc.store(b, t, b.CreateFAdd(y, cgc.load(b, t, k.args[1], m)), k.args[0], i);
    });
    k.b->CreateRetVoid();
  }
}

// dX = col2im(W^T dY)
void lowerConvGradData(GpuOpContext &c) {
  Shape x = attrsOf(c.op).ints("input_shape");
  const Shape &w = c.op.operand(1)->shape();
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(convWindow(attrsOf(c.op), c.op.describe(), x, w));
  const int64_t N = x[0], C = x[1], M = w[0], G = attrsOf(c.op).i("group");
  const int64_t cg = C / G, mg = M / G, K = taps.kSize, P = taps.outSize, es = esize(t);
  const int64_t total = N * C * taps.inSize;
  if (total == 0)
    return;
  BufferRef col = c.scratch(std::max<int64_t>(N * C * K * P * es, es));
  if (P * K > 0 && mg > 0)
    for (int64_t gg = 0; gg < G; ++gg) {
      gpu::Gemm g;
      g.f64 = t == DType::F64;
      g.transA = true;
      g.m = cg * K;
      g.n = P;
      g.k = mg;
      g.lda = cg * K;
      g.ldb = P;
      g.ldc = P;
      g.a = at(c.operands[1], gg * mg * cg * K * es);
      g.b = at(c.operands[0], gg * mg * P * es);
      g.c = at(col, gg * cg * K * P * es);
      g.batch = N;
      g.strideB = M * P;
      g.strideC = C * K * P;
      c.g.gemm(c.what(), g);
    }
  std::vector<int64_t> starts, entries;
  inverseTaps(taps, false, starts, entries);
  BufferRef st = c.g.constantInts(starts), en = c.g.constantInts(entries);
  KernelFn k = c.g.kernel(c.stem + "_col2im", c.what(), {c.results[0], col, st, en}, GpuCodegen::gridFor(total));
  CodegenContext &cgc = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  const bool none = mg == 0 || P * K == 0;
  c.g.gridStride(b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *sp = b.CreateURem(i, cgc.i64c(taps.inSize));
    llvm::Value *plane = b.CreateUDiv(i, cgc.i64c(taps.inSize)); // n * C + c
    llvm::Value *lo = cgc.load(b, DType::I64, k.args[2], sp);
    llvm::Value *hi = cgc.load(b, DType::I64, k.args[2], b.CreateAdd(sp, cgc.i64c(1)));
    b.CreateStore(dconst(b, 0), acc);
    if (!none) {
      llvm::Function *f = b.GetInsertBlock()->getParent();
      auto *body = llvm::BasicBlock::Create(cgc.ctx, "taps", f), *done = llvm::BasicBlock::Create(cgc.ctx, "taps.end", f);
      llvm::BasicBlock *pre = b.GetInsertBlock();
      b.CreateCondBr(b.CreateICmpSLT(lo, hi), body, done);
      b.SetInsertPoint(body);
      llvm::PHINode *j = b.CreatePHI(b.getInt64Ty(), 2);
      j->addIncoming(lo, pre);
      llvm::Value *e = cgc.load(b, DType::I64, k.args[3], j);
      llvm::Value *v = cgc.load(b, t, k.args[1], b.CreateAdd(b.CreateMul(plane, cgc.i64c(K * P)), e));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), toDouble(b, v)), acc);
      llvm::Value *next = b.CreateAdd(j, cgc.i64c(1));
      j->addIncoming(next, b.GetInsertBlock());
      b.CreateCondBr(b.CreateICmpSLT(next, hi), body, done);
      b.SetInsertPoint(done);
    }
    cgc.store(b, t, fromDouble(b, b.CreateLoad(b.getDoubleTy(), acc), t), k.args[0], i);
  });
  b.CreateRetVoid();
}

// dW[g] = dY[g] (as [mg, N*P]) * col[g]^T (col as [cg*K, N*P])
void lowerConvGradFilter(GpuOpContext &c) {
  const Shape &x = c.op.operand(0)->shape(), &dy = c.op.operand(1)->shape(), &w = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(convWindow(attrsOf(c.op), c.op.describe(), x, w));
  const int64_t N = x[0], C = x[1], M = dy[1], G = attrsOf(c.op).i("group");
  const int64_t cg = C / G, mg = M / G, K = taps.kSize, P = taps.outSize, es = esize(t);
  if (numElements(w) == 0)
    return;
  BufferRef col = c.scratch(std::max<int64_t>(N * C * K * P * es, es));
  BufferRef dyt = c.scratch(std::max<int64_t>(N * M * P * es, es));
  emitIm2col(c, c.operands[0], col, t, N, C, taps, P, N * P);
  const int64_t total = N * M * P;
  if (total > 0) {
    KernelFn k = c.g.kernel(c.stem + "_dyT", c.what(), {dyt, c.operands[1]}, GpuCodegen::gridFor(total));
    CodegenContext &cgc = c.g.cg;
    c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
      // i indexes dY as [n, m, p]; dyt is [m, n, p].
      llvm::Value *p = b.CreateURem(i, cgc.i64c(P));
      llvm::Value *m = b.CreateURem(b.CreateUDiv(i, cgc.i64c(P)), cgc.i64c(M));
      llvm::Value *n = b.CreateUDiv(i, cgc.i64c(P * M));
      llvm::Value *dst = b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(m, cgc.i64c(N)), n), cgc.i64c(P)), p);
      cgc.store(b, t, cgc.load(b, t, k.args[1], i), k.args[0], dst);
    });
    k.b->CreateRetVoid();
  }
  for (int64_t gg = 0; gg < G; ++gg) {
    gpu::Gemm g;
    g.f64 = t == DType::F64;
    g.transB = true;
    g.m = mg;
    g.n = cg * K;
    g.k = N * P;
    g.lda = N * P;
    g.ldb = N * P;
    g.ldc = cg * K;
    g.a = at(dyt, gg * mg * N * P * es);
    g.b = at(col, gg * cg * K * N * P * es);
    g.c = at(c.results[0], gg * mg * cg * K * es);
    if (g.k == 0) {
      emitBroadcast(c, c.g.constant(std::vector<double>{0.0}.data(), 8), {1}, c.results[0], w, DType::F64);
      return;
    }
    c.g.gemm(c.what(), g);
  }
}

void lowerAveragePool(GpuOpContext &c) {
  const Shape &x = c.op.operand(0)->shape();
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(poolWindow(attrsOf(c.op), c.op.describe(), x));
  const bool includePad = attrsOf(c.op).i("count_include_pad") != 0;
  const int64_t planes = x[0] * x[1], P = taps.outSize, K = taps.kSize, total = planes * P;
  if (total == 0)
    return;
  std::vector<int64_t> padded = taps.padded;
  padded.resize((size_t)P, 0);
  BufferRef table = c.g.constantInts(taps.index), pad = c.g.constantInts(padded);
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0], table, pad}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *p = b.CreateURem(i, cg.i64c(P)), *plane = b.CreateUDiv(i, cg.i64c(P));
    llvm::Value *sum = dconst(b, 0), *count = cg.i64c(0);
    // Taps unrolled: pooling windows are small.
    for (int64_t tt = 0; tt < K; ++tt) {
      llvm::Value *src = cg.load(b, DType::I64, k.args[2], b.CreateAdd(b.CreateMul(p, cg.i64c(K)), cg.i64c(tt)));
      llvm::Value *inside = b.CreateICmpSGE(src, cg.i64c(0));
      llvm::Value *xi = b.CreateAdd(b.CreateMul(plane, cg.i64c(taps.inSize)), b.CreateSelect(inside, src, cg.i64c(0)));
      llvm::Value *v = toDouble(b, cg.load(b, t, k.args[1], xi));
      sum = b.CreateSelect(inside, b.CreateFAdd(sum, v), sum);
      count = b.CreateAdd(count, b.CreateZExt(inside, b.getInt64Ty()));
    }
    llvm::Value *div = includePad ? cg.load(b, DType::I64, k.args[3], p) : count;
    cg.store(b, t, fromDouble(b, b.CreateFDiv(sum, b.CreateSIToFP(div, b.getDoubleTy())), t), k.args[0], i);
  });
  k.b->CreateRetVoid();
}

void lowerAveragePoolGrad(GpuOpContext &c) {
  Shape x = attrsOf(c.op).ints("input_shape");
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(poolWindow(attrsOf(c.op), c.op.describe(), x));
  const bool includePad = attrsOf(c.op).i("count_include_pad") != 0;
  const int64_t planes = x[0] * x[1], P = taps.outSize, total = planes * taps.inSize;
  if (total == 0)
    return;
  std::vector<double> divisor((size_t)std::max<int64_t>(P, 1), 1.0);
  for (int64_t p = 0; p < P; ++p) {
    int64_t count = 0;
    for (int64_t tt = 0; tt < taps.kSize; ++tt)
      count += taps.index[(size_t)(p * taps.kSize + tt)] >= 0;
    divisor[(size_t)p] = (double)(includePad ? taps.padded[(size_t)p] : count);
  }
  std::vector<int64_t> starts, entries;
  inverseTaps(taps, true, starts, entries);
  BufferRef st = c.g.constantInts(starts), en = c.g.constantInts(entries);
  BufferRef dv = c.g.constant(divisor.data(), (int64_t)(divisor.size() * sizeof(double)));
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0], st, en, dv}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  c.g.gridStride(b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *sp = b.CreateURem(i, cg.i64c(taps.inSize)), *plane = b.CreateUDiv(i, cg.i64c(taps.inSize));
    sumOverWindows(b, cg, k.args[2], k.args[3], sp, acc, [&](Builder &b, llvm::Value *p, llvm::Value *cur) {
      llvm::Value *dy = toDouble(b, cg.load(b, t, k.args[1], b.CreateAdd(b.CreateMul(plane, cg.i64c(P)), p)));
      return b.CreateFAdd(cur, b.CreateFDiv(dy, cg.load(b, DType::F64, k.args[4], p)));
    });
    cg.store(b, t, fromDouble(b, b.CreateLoad(b.getDoubleTy(), acc), t), k.args[0], i);
  });
  b.CreateRetVoid();
}

// MaxPool's pick (runtime/PoolArgmax.h): the first maximum over the window's taps, NaN
// propagating; -1 for a window of padding alone. Taps unrolled.
std::pair<llvm::Value *, llvm::Value *> emitArgmax(Builder &b, CodegenContext &cg, DType t, llvm::Value *x,
                                                   llvm::Value *table, llvm::Value *planeBase, llvm::Value *p,
                                                   int64_t K) {
  llvm::Value *best = cg.i64c(-1);
  llvm::Value *bestV = llvm::Constant::getNullValue(cg.scalarType(t));
  for (int64_t tt = 0; tt < K; ++tt) {
    llvm::Value *src = cg.load(b, DType::I64, table, b.CreateAdd(b.CreateMul(p, cg.i64c(K)), cg.i64c(tt)));
    llvm::Value *inside = b.CreateICmpSGE(src, cg.i64c(0));
    llvm::Value *v = cg.load(b, t, x, b.CreateAdd(planeBase, b.CreateSelect(inside, src, cg.i64c(0))));
    llvm::Value *take = b.CreateOr(b.CreateICmpSLT(best, cg.i64c(0)),
                                   b.CreateOr(b.CreateFCmpOGT(v, bestV),
                                              b.CreateAnd(b.CreateFCmpUNO(v, v), b.CreateFCmpORD(bestV, bestV))));
    take = b.CreateAnd(inside, take);
    best = b.CreateSelect(take, src, best);
    bestV = b.CreateSelect(take, v, bestV);
  }
  return {best, bestV};
}

void lowerMaxPool(GpuOpContext &c) {
  const Shape &x = c.op.operand(0)->shape();
  DType t = c.op.result(0)->dtype();
  Window w = poolWindow(attrsOf(c.op), c.op.describe(), x);
  requireNonEmptyWindows(c.op.describe(), w);
  Taps taps = buildTaps(w);
  const int64_t planes = x[0] * x[1], P = taps.outSize, K = taps.kSize, total = planes * P;
  if (total == 0)
    return;
  const bool indices = c.op.numResults() > 1;
  std::vector<int64_t> colMap;
  if (indices && attrsOf(c.op).i("storage_order") == 1)
    for (int64_t i = 0; i < taps.inSize; ++i)
      colMap.push_back(columnMajorOffset(i, spatialOf(x)));
  BufferRef table = c.g.constantInts(taps.index);
  BufferRef map = colMap.empty() ? table : c.g.constantInts(colMap);
  std::vector<BufferRef> args{c.results[0], c.operands[0], table, map};
  if (indices)
    args.push_back(c.results[1]);
  KernelFn k = c.g.kernel(c.stem, c.what(), args, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *p = b.CreateURem(i, cg.i64c(P)), *plane = b.CreateUDiv(i, cg.i64c(P));
    llvm::Value *base = b.CreateMul(plane, cg.i64c(taps.inSize));
    auto [best, bestV] = emitArgmax(b, cg, t, k.args[1], k.args[2], base, p, K);
    cg.store(b, t, bestV, k.args[0], i);
    if (indices) {
      llvm::Value *at = colMap.empty() ? best : cg.load(b, DType::I64, k.args[3], best);
      cg.store(b, DType::I64, b.CreateAdd(base, at), k.args[4], i);
    }
  });
  k.b->CreateRetVoid();
}

// dX[plane, i] = the sum of dY over the windows whose pick is i (in window order, as the CPU).
void lowerMaxPoolGrad(GpuOpContext &c) {
  const Shape &x = c.op.operand(1)->shape();
  DType t = c.op.result(0)->dtype();
  Taps taps = buildTaps(poolWindow(attrsOf(c.op), c.op.describe(), x));
  const int64_t planes = x[0] * x[1], P = taps.outSize, K = taps.kSize, total = planes * taps.inSize;
  if (total == 0)
    return;
  std::vector<int64_t> starts, entries;
  inverseTaps(taps, true, starts, entries);
  // A position can list the same input twice only through repeated taps; keep one.
  BufferRef table = c.g.constantInts(taps.index), st = c.g.constantInts(starts), en = c.g.constantInts(entries);
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0], c.operands[1], table, st, en},
                          GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  c.g.gridStride(b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *sp = b.CreateURem(i, cg.i64c(taps.inSize)), *plane = b.CreateUDiv(i, cg.i64c(taps.inSize));
    llvm::Value *base = b.CreateMul(plane, cg.i64c(taps.inSize));
    sumOverWindows(b, cg, k.args[4], k.args[5], sp, acc, [&](Builder &b, llvm::Value *p, llvm::Value *cur) {
      llvm::Value *best = emitArgmax(b, cg, t, k.args[2], k.args[3], base, p, K).first;
      llvm::Value *dy = toDouble(b, cg.load(b, t, k.args[1], b.CreateAdd(b.CreateMul(plane, cg.i64c(P)), p)));
      return b.CreateSelect(b.CreateICmpEQ(best, sp), b.CreateFAdd(cur, dy), cur);
    });
    cg.store(b, t, fromDouble(b, b.CreateLoad(b.getDoubleTy(), acc), t), k.args[0], i);
  });
  b.CreateRetVoid();
}

} // namespace adjoint::nvptx
