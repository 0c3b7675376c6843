// The ops the GPU lowers with dedicated kernels or library calls (the rest are elementwise nests,
// NvptxLowering.cpp). Semantics are the interpreter's (compiler/Ops), as on the CPU:
//  - Gemm, MatMul: cuBLAS (row-major steps, GpuPlan.h), f32 and f64; Gemm's C is broadcast
//    into the result by a kernel first and added with beta; i32 / i64: NvptxInteger.cpp;
//  - Conv, ConvGradData, ConvGradFilter: the interpreter's tap table (Ops/ConvPoolWindow.h)
//    drives im2col / col2im kernels around cuBLAS GEMMs (one per group); col2im gathers through
//    the table's inverse, computed here, so no atomics and a fixed summation order;
//  - AveragePool(+Grad), GlobalAveragePool: gather kernels over the same tables;
//  - ReduceSum/Mean/Max, Softmax, LogSoftmax: one block per output element or row, threads
//    striding over the reduced elements, a shared-memory tree combining their double
//    accumulators (as the interpreter accumulates in double); integers: one thread per output
//    element in the element type;
//  - the losses (NvptxLoss.cpp), the training-domain optimizers (NvptxTraining.cpp) and Dropout
//    (NvptxDropout.cpp) are registered here from their own files;
//  - Transpose: one thread per element.
#include "CodeGen/Elementwise.h"
#include "CodeGen/LossEmitter.h" // unsupportedReduction
#include "CodeGen/NvptxOpSupport.h"
#include "Ops/ConvPoolWindow.h"
#include "Ops/SliceWindow.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint::nvptx {

// ---- GEMM ----

void emitBroadcast(GpuOpContext &c, BufferRef src, const Shape &from, BufferRef dst, const Shape &to, DType t) {
  int64_t total = numElements(to);
  if (total == 0)
    return;
  std::vector<int64_t> st = broadcastStridesTo(from, to);
  KernelFn k = c.g.kernel(c.stem + "_bcast", c.what(), {dst, src}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *rest = i, *off = cg.i64c(0);
    for (size_t d = to.size(); d-- > 0;) {
      llvm::Value *idx = b.CreateURem(rest, cg.i64c(to[d]));
      rest = b.CreateUDiv(rest, cg.i64c(to[d]));
      if (st[d])
        off = b.CreateAdd(off, b.CreateMul(idx, cg.i64c(st[d])));
    }
    cg.store(b, t, cg.load(b, t, k.args[1], off), k.args[0], i);
  });
  k.b->CreateRetVoid();
}

namespace {

void lowerGemm(GpuOpContext &c) {
  AttrReader a = attrsOf(c.op);
  const Shape &A = c.op.operand(0)->shape(), &B = c.op.operand(1)->shape();
  const Shape &Y = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  if (!isFloat(t))
    return lowerIntegerGemm(c);
  gpu::Gemm g;
  g.f64 = t == DType::F64;
  g.transA = a.i("transA") != 0;
  g.transB = a.i("transB") != 0;
  g.m = Y[0];
  g.n = Y[1];
  g.k = g.transA ? A[0] : A[1];
  g.lda = A[1];
  g.ldb = B[1];
  g.ldc = g.n;
  g.alpha = a.f("alpha");
  g.a = c.operands[0];
  g.b = c.operands[1];
  g.c = c.results[0];
  const Value *C = c.op.numOperands() > 2 ? c.op.operand(2) : nullptr;
  if (C && a.f("beta") != 0) {
    emitBroadcast(c, c.operands[2], C->shape(), c.results[0], Y, t);
    g.beta = a.f("beta");
  }
  if (g.m * g.n == 0)
    return;
  c.g.gemm(c.what(), g);
}

std::string matmulUnsupported(const Op &op) {
  std::string f = numericOnly(op);
  if (!f.empty() || !isFloat(op.result(0)->dtype()))
    return f; // the integer kernel broadcasts batches any way
  Shape A = op.operand(0)->shape(), B = op.operand(1)->shape();
  if (A.size() == 1)
    A.insert(A.begin(), 1);
  if (B.size() == 1)
    B.push_back(1);
  const int64_t m = A[A.size() - 2], k = A.back(), n = B.back();
  const int64_t batch = m * n != 0 ? numElements(op.result(0)->shape()) / (m * n) : 0;
  // Each operand is one matrix for all, or one per batch member (no partial broadcast).
  auto ok = [&](const Shape &s, int64_t size) { return numElements(s) == size || numElements(s) == size * batch; };
  return ok(A, m * k) && ok(B, k * n) ? "" : "batch dimensions broadcast partially (not on the GPU yet)";
}

void lowerMatMul(GpuOpContext &c) {
  if (!isFloat(c.op.result(0)->dtype()))
    return lowerIntegerMatMul(c);
  Shape A = c.op.operand(0)->shape(), B = c.op.operand(1)->shape();
  const Shape &Y = c.op.result(0)->shape();
  if (A.size() == 1)
    A.insert(A.begin(), 1);
  if (B.size() == 1)
    B.push_back(1);
  gpu::Gemm g;
  g.f64 = c.op.result(0)->dtype() == DType::F64;
  g.m = A[A.size() - 2];
  g.k = A.back();
  g.n = B.back();
  g.lda = g.k;
  g.ldb = g.n;
  g.ldc = g.n;
  g.a = c.operands[0];
  g.b = c.operands[1];
  g.c = c.results[0];
  g.batch = numElements(Y) / std::max<int64_t>(1, g.m * g.n);
  g.strideA = numElements(A) == g.m * g.k ? 0 : g.m * g.k;
  g.strideB = numElements(B) == g.k * g.n ? 0 : g.k * g.n;
  g.strideC = g.m * g.n;
  if (numElements(Y) == 0)
    return;
  if (g.k == 0) { // an empty sum: zeros
    emitBroadcast(c, c.g.constant(std::vector<double>{0.0}.data(), 8), {1}, c.results[0], Y, DType::F64);
    return;
  }
  c.g.gemm(c.what(), g);
}

// ---- Reductions ----

enum class Fold { Sum, Mean, Max };

struct ReduceView {
  std::vector<int64_t> keptDims, keptStrides, redDims, redStrides;
  int64_t outputs = 1, count = 1;
};

ReduceView reduceView(const Shape &in, const std::vector<bool> &reduced) {
  ReduceView v;
  std::vector<int64_t> st = stridesOf(in);
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) {
      v.redDims.push_back(in[d]);
      v.redStrides.push_back(st[d]);
      v.count *= in[d];
    } else {
      v.keptDims.push_back(in[d]);
      v.keptStrides.push_back(st[d]);
      v.outputs *= in[d];
    }
  }
  return v;
}

llvm::Value *offsetOf(Builder &b, CodegenContext &cg, llvm::Value *linear, const std::vector<int64_t> &dims,
                      const std::vector<int64_t> &strides) {
  llvm::Value *off = cg.i64c(0), *rest = linear;
  for (size_t d = dims.size(); d-- > 0;) {
    llvm::Value *idx = b.CreateURem(rest, cg.i64c(dims[d]));
    rest = b.CreateUDiv(rest, cg.i64c(dims[d]));
    off = b.CreateAdd(off, b.CreateMul(idx, cg.i64c(strides[d])));
  }
  return off;
}

// Integers: one thread per output element, adding (wrapping) or taking the max in the element
// type, exact in any order, as the interpreter; the mean divides, truncating.
void emitIntegerReduce(GpuOpContext &c, BufferRef in, BufferRef out, DType t, const ReduceView &v, Fold fold) {
  KernelFn k = c.g.kernel(c.stem, c.what(), {out, in}, GpuCodegen::gridFor(v.outputs));
  CodegenContext &cg = c.g.cg;
  llvm::Type *st = cg.scalarType(t);
  llvm::Value *acc = k.b->CreateAlloca(st);
  llvm::Value *init = fold == Fold::Max ? llvm::ConstantInt::get(st, llvm::APInt::getSignedMinValue(st->getIntegerBitWidth()))
                                        : llvm::ConstantInt::get(st, 0);
  c.g.gridStride(*k.b, v.outputs, [&](Builder &b, llvm::Value *o) {
    llvm::Value *base = offsetOf(b, cg, o, v.keptDims, v.keptStrides);
    b.CreateStore(init, acc);
    if (v.count > 0)
      emitLoop(b, cg.i64c(0), cg.i64c(v.count), [&](Builder &b, llvm::Value *r) {
        llvm::Value *x = cg.load(b, t, k.args[1], b.CreateAdd(base, offsetOf(b, cg, r, v.redDims, v.redStrides)));
        llvm::Value *a = b.CreateLoad(st, acc);
        b.CreateStore(fold == Fold::Max ? b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, x) : b.CreateAdd(a, x), acc);
      }, "r");
    llvm::Value *total = b.CreateLoad(st, acc);
    if (fold == Fold::Mean && v.count > 0)
      total = b.CreateSDiv(total, llvm::ConstantInt::get(st, v.count));
    cg.store(b, t, total, k.args[0], o);
  });
  k.b->CreateRetVoid();
}

// out[o] = fold over the reduced elements of input o, one block per output element.
void emitReduce(GpuOpContext &c, BufferRef in, BufferRef out, DType t, const ReduceView &v, Fold fold) {
  if (v.outputs == 0)
    return;
  if (!isFloat(t))
    return emitIntegerReduce(c, in, out, t, v, fold);
  KernelFn k = c.g.kernel(c.stem, c.what(), {out, in}, std::min<int64_t>(v.outputs, kMaxGrid));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  double init = fold == Fold::Max ? -INFINITY : 0.0;
  auto combine = [&](Builder &b, llvm::Value *x, llvm::Value *y) {
    return fold == Fold::Max ? fmaxNaN(b, x, y) : fadd(b, x, y);
  };
  c.g.blockStride(b, v.outputs, [&](Builder &b, llvm::Value *o) {
    llvm::Value *base = offsetOf(b, cg, o, v.keptDims, v.keptStrides);
    b.CreateStore(dconst(b, init), acc);
    c.g.threadStride(b, v.count, [&](Builder &b, llvm::Value *r) {
      llvm::Value *x = toDouble(b, cg.load(b, t, k.args[1], b.CreateAdd(base, offsetOf(b, cg, r, v.redDims, v.redStrides))));
      b.CreateStore(combine(b, b.CreateLoad(b.getDoubleTy(), acc), x), acc);
    });
    llvm::Value *total = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), combine);
    if (fold == Fold::Mean)
      total = b.CreateFDiv(total, dconst(b, (double)v.count));
    c.g.firstThread(b, [&](Builder &b) { cg.store(b, t, fromDouble(b, total, t), k.args[0], o); });
  });
  b.CreateRetVoid();
}

void lowerReduce(GpuOpContext &c, Fold fold) {
  const Shape &in = c.op.operand(0)->shape();
  DType t = c.op.result(0)->dtype();
  std::vector<int64_t> axes = constantReduceAxes(c.op);
  if (axes.empty() && c.op.opType() == "ReduceSum" && attrsOf(c.op).i("noop_with_empty_axes") != 0) {
    c.g.copy(c.what(), c.results[0], c.operands[0], numElements(in) * esize(t));
    return;
  }
  std::vector<bool> red(in.size(), axes.empty());
  for (int64_t a : axes)
    red[(size_t)normalizeAxis(a, (int64_t)in.size(), "axes")] = true;
  emitReduce(c, c.operands[0], c.results[0], t, reduceView(in, red), fold);
}

// ---- Softmax, LogSoftmax ----

void lowerSoftmax(GpuOpContext &c, bool log) {
  const Shape &in = c.op.operand(0)->shape();
  DType t = c.op.result(0)->dtype();
  int64_t axis = normalizeAxis(attrsOf(c.op).i("axis"), (int64_t)in.size(), "axis");
  int64_t outer = 1, C = in.empty() ? 1 : in[(size_t)axis], inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= in[(size_t)d];
  for (size_t d = (size_t)axis + 1; d < in.size(); ++d)
    inner *= in[d];
  int64_t rows = outer * inner;
  if (rows * C == 0)
    return;
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0]}, std::min<int64_t>(rows, kMaxGrid));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  c.g.blockStride(b, rows, [&](Builder &b, llvm::Value *row) {
    llvm::Value *base = b.CreateAdd(b.CreateMul(b.CreateUDiv(row, cg.i64c(inner)), cg.i64c(C * inner)),
                                    b.CreateURem(row, cg.i64c(inner)));
    auto index = [&](Builder &b, llvm::Value *j) { return b.CreateAdd(base, b.CreateMul(j, cg.i64c(inner))); };
    auto x = [&](Builder &b, llvm::Value *j) { return toDouble(b, cg.load(b, t, k.args[1], index(b, j))); };
    b.CreateStore(dconst(b, -INFINITY), acc);
    c.g.threadStride(b, C, [&](Builder &b, llvm::Value *j) {
      b.CreateStore(fmaxNaN(b, b.CreateLoad(b.getDoubleTy(), acc), x(b, j)), acc);
    });
    llvm::Value *mx = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fmaxNaN);
    b.CreateStore(dconst(b, 0), acc);
    c.g.threadStride(b, C, [&](Builder &b, llvm::Value *j) {
      llvm::Value *e = b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, b.CreateFSub(x(b, j), mx));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), e), acc);
    });
    llvm::Value *sum = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd);
    c.g.threadStride(b, C, [&](Builder &b, llvm::Value *j) {
      llvm::Value *d = b.CreateFSub(x(b, j), mx);
      llvm::Value *r = log ? b.CreateFSub(d, b.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum))
                           : b.CreateFDiv(b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, d), sum);
      cg.store(b, t, fromDouble(b, r, t), k.args[0], index(b, j));
    });
  });
  b.CreateRetVoid();
}

// ---- BatchNormalization: X as [N, C, spatial]; one block per channel, statistics in double
// through the shared-memory tree (training mode: biased batch variance, running statistics
// blended with momentum), then every thread normalizes its elements.
void lowerBatchNorm(GpuOpContext &c) {
  const Shape &xs = c.op.operand(0)->shape();
  DType t = c.op.operand(0)->dtype();
  int64_t N = xs[0], C = xs[1], spatial = 1;
  for (size_t d = 2; d < xs.size(); ++d)
    spatial *= xs[d];
  AttrReader a = attrsOf(c.op);
  double eps = a.f("epsilon"), momentum = a.f("momentum");
  bool training = a.i("training_mode") != 0;
  const int64_t count = N * spatial;
  if (C == 0)
    return;
  std::vector<BufferRef> args(c.operands.begin(), c.operands.begin() + 5);
  for (size_t j = 0; j < c.results.size(); ++j)
    args.push_back(c.results[j]);
  KernelFn k = c.g.kernel(c.stem, c.what(), args, std::min<int64_t>(C, kMaxGrid));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  auto param = [&](Builder &b, size_t i, llvm::Value *ch) {
    return toDouble(b, cg.load(b, c.op.operand(i)->dtype(), k.args[i], ch));
  };
  c.g.blockStride(b, C, [&](Builder &b, llvm::Value *ch) {
    auto index = [&](Builder &b, llvm::Value *e) { // e over [0, N * spatial) of channel ch
      llvm::Value *n = b.CreateUDiv(e, cg.i64c(spatial)), *s = b.CreateURem(e, cg.i64c(spatial));
      return b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(n, cg.i64c(C)), ch), cg.i64c(spatial)), s);
    };
    auto xAt = [&](Builder &b, llvm::Value *e) { return toDouble(b, cg.load(b, t, k.args[0], index(b, e))); };
    llvm::Value *m = param(b, 3, ch), *v = param(b, 4, ch);
    if (training) {
      b.CreateStore(dconst(b, 0), acc);
      c.g.threadStride(b, count, [&](Builder &b, llvm::Value *e) {
        b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), xAt(b, e)), acc);
      });
      llvm::Value *bm = b.CreateFDiv(c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd), dconst(b, (double)count));
      b.CreateStore(dconst(b, 0), acc);
      c.g.threadStride(b, count, [&](Builder &b, llvm::Value *e) {
        llvm::Value *d = b.CreateFSub(xAt(b, e), bm);
        b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), b.CreateFMul(d, d)), acc);
      });
      llvm::Value *bv = b.CreateFDiv(c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd), dconst(b, (double)count));
      DType stat = c.op.operand(3)->dtype();
      llvm::Value *mm = m, *vv = v;
      c.g.firstThread(b, [&](Builder &b) {
        for (size_t j = 1; j < 3 && j < c.op.numResults(); ++j) {
          llvm::Value *running = b.CreateFAdd(b.CreateFMul(j == 1 ? mm : vv, dconst(b, momentum)),
                                              b.CreateFMul(j == 1 ? bm : bv, dconst(b, 1 - momentum)));
          cg.store(b, stat, fromDouble(b, running, stat), k.args[5 + j], ch);
        }
      });
      m = bm;
      v = bv;
    }
    llvm::Value *denom = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateFAdd(v, dconst(b, eps)));
    llvm::Value *scale = param(b, 1, ch), *bias = param(b, 2, ch);
    c.g.threadStride(b, count, [&](Builder &b, llvm::Value *e) {
      llvm::Value *y = b.CreateFAdd(b.CreateFDiv(b.CreateFMul(scale, b.CreateFSub(xAt(b, e), m)), denom), bias);
      cg.store(b, t, fromDouble(b, y, t), k.args[5], index(b, e));
    });
    // The next channel's statistics reuse the shared array only after every thread is done.
    c.g.barrier(b);
  });
  b.CreateRetVoid();
}

void lowerGlobalAveragePool(GpuOpContext &c) {
  const Shape &x = c.op.operand(0)->shape();
  std::vector<bool> red(x.size(), true);
  red[0] = red[1] = false;
  emitReduce(c, c.operands[0], c.results[0], c.op.result(0)->dtype(), reduceView(x, red), Fold::Mean);
}

// ---- Slice, SliceGrad, Gather, GatherGrad (Ops/SliceWindow.h; LowerDataMovement.cpp's
// semantics): one thread per element; the gradients gather (SliceGrad: is this element in the
// window; GatherGrad: the sum, in index order, of the dY rows whose index is this row).

std::string constantIndices(const Op &op, size_t from) {
  for (size_t i = from; i < op.numOperands(); ++i)
    if (op.operand(i) && !constantValue(op.operand(i)))
      return "its index operands are not compile-time constants";
  return "";
}

void lowerSlice(GpuOpContext &c) {
  const Shape &in = c.op.operand(0)->shape();
  DType t = c.op.result(0)->dtype();
  SliceWindow w = constantSliceWindow(c.op, in, 1);
  if (w.out != c.op.result(0)->shape())
    c.error("the window has shape ", shapeStr(w.out), ", not the result's");
  std::vector<int64_t> st = stridesOf(in), strides;
  int64_t base = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    base += w.start[d] * st[d];
    strides.push_back(w.step[d] * st[d]);
  }
  const int64_t total = numElements(w.out);
  if (total == 0)
    return;
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0]}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *src = b.CreateAdd(cg.i64c(base), offsetOf(b, cg, i, w.out, strides));
    cg.store(b, t, cg.load(b, t, k.args[1], src), k.args[0], i);
  });
  k.b->CreateRetVoid();
}

void lowerSliceGrad(GpuOpContext &c) {
  const Shape &out = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  SliceWindow w = constantSliceWindow(c.op, out, 2);
  if (w.out != c.op.operand(0)->shape())
    c.error("the window has shape ", shapeStr(w.out), ", but dy has another");
  const int64_t total = numElements(out);
  if (total == 0)
    return;
  std::vector<int64_t> dyStrides = stridesOf(w.out);
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0]}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    // Per dimension: (index - start) / step must be a whole number in [0, len).
    llvm::Value *rest = i, *inside = b.getTrue(), *src = cg.i64c(0);
    for (size_t d = out.size(); d-- > 0;) {
      llvm::Value *idx = b.CreateURem(rest, cg.i64c(out[d]));
      rest = b.CreateUDiv(rest, cg.i64c(out[d]));
      llvm::Value *rel = b.CreateSub(idx, cg.i64c(w.start[d]));
      llvm::Value *q = b.CreateSDiv(rel, cg.i64c(w.step[d]));
      llvm::Value *exact = b.CreateICmpEQ(b.CreateSRem(rel, cg.i64c(w.step[d])), cg.i64c(0));
      llvm::Value *inRange = b.CreateAnd(b.CreateICmpSGE(q, cg.i64c(0)), b.CreateICmpSLT(q, cg.i64c(w.out[d])));
      inside = b.CreateAnd(inside, b.CreateAnd(exact, inRange));
      src = b.CreateAdd(src, b.CreateMul(q, cg.i64c(dyStrides[d])));
    }
    llvm::Function *f = b.GetInsertBlock()->getParent();
    auto *load = llvm::BasicBlock::Create(cg.ctx, "in", f), *join = llvm::BasicBlock::Create(cg.ctx, "in.end", f);
    llvm::BasicBlock *from = b.GetInsertBlock();
    b.CreateCondBr(inside, load, join);
    b.SetInsertPoint(load);
    llvm::Value *v = cg.load(b, t, k.args[1], src);
    b.CreateBr(join);
    b.SetInsertPoint(join);
    llvm::PHINode *phi = b.CreatePHI(v->getType(), 2);
    phi->addIncoming(llvm::Constant::getNullValue(v->getType()), from);
    phi->addIncoming(v, load);
    cg.store(b, t, phi, k.args[0], i);
  });
  k.b->CreateRetVoid();
}

struct GatherShape {
  int64_t axis, outer = 1, dim, inner = 1, count;
};

GatherShape gatherShape(const Op &op, const Shape &data, const Shape &indices) {
  GatherShape g;
  g.axis = normalizeAxis(attrsOf(op).i("axis"), (int64_t)data.size(), "axis");
  for (int64_t d = 0; d < g.axis; ++d)
    g.outer *= data[(size_t)d];
  g.dim = data[(size_t)g.axis];
  for (size_t d = (size_t)g.axis + 1; d < data.size(); ++d)
    g.inner *= data[d];
  g.count = numElements(indices);
  return g;
}

// Index j of the indices operand normalized into [0, dim); out of range is reported (the CPU's
// message) and reads row 0.
llvm::Value *gatherIndex(GpuOpContext &c, Builder &b, const GatherShape &g, llvm::Value *indices, llvm::Value *j) {
  CodegenContext &cg = c.g.cg;
  llvm::Value *v = b.CreateSExt(cg.load(b, c.op.operand(1)->dtype(), indices, j), b.getInt64Ty());
  llvm::Value *bad = b.CreateOr(b.CreateICmpSLT(v, cg.i64c(-g.dim)), b.CreateICmpSGE(v, cg.i64c(g.dim)));
  llvm::Function *fn = b.GetInsertBlock()->getParent();
  auto *report = llvm::BasicBlock::Create(cg.ctx, "bad.index", fn), *next = llvm::BasicBlock::Create(cg.ctx, "index.ok", fn);
  b.CreateCondBr(bad, report, next);
  b.SetInsertPoint(report);
  cg.reportError(b, c.op.describe() + ": index {0} is out of range for axis " + std::to_string(g.axis) + " of size " +
                        std::to_string(g.dim),
                 v, cg.i64c(0), cg.i64c(0));
  b.CreateBr(next);
  b.SetInsertPoint(next);
  llvm::Value *norm = b.CreateSelect(b.CreateICmpSLT(v, cg.i64c(0)), b.CreateAdd(v, cg.i64c(g.dim)), v);
  return b.CreateSelect(bad, cg.i64c(0), norm);
}

void lowerGather(GpuOpContext &c) {
  GatherShape g = gatherShape(c.op, c.op.operand(0)->shape(), c.op.operand(1)->shape());
  DType t = c.op.result(0)->dtype();
  const int64_t total = g.outer * g.count * g.inner;
  if (total == 0)
    return;
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0], c.operands[1]}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *kk = b.CreateURem(i, cg.i64c(g.inner));
    llvm::Value *j = b.CreateURem(b.CreateUDiv(i, cg.i64c(g.inner)), cg.i64c(g.count));
    llvm::Value *o = b.CreateUDiv(i, cg.i64c(g.inner * g.count));
    llvm::Value *ix = gatherIndex(c, b, g, k.args[2], j);
    llvm::Value *src = b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(g.dim)), ix), cg.i64c(g.inner)), kk);
    cg.store(b, t, cg.load(b, t, k.args[1], src), k.args[0], i);
  });
  k.b->CreateRetVoid();
}

void lowerGatherGrad(GpuOpContext &c) {
  GatherShape g = gatherShape(c.op, c.op.result(0)->shape(), c.op.operand(1)->shape());
  DType t = c.op.result(0)->dtype();
  const int64_t total = g.outer * g.dim * g.inner;
  if (total == 0)
    return;
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0], c.operands[1]}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(cg.scalarType(t));
  c.g.gridStride(b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *kk = b.CreateURem(i, cg.i64c(g.inner));
    llvm::Value *r = b.CreateURem(b.CreateUDiv(i, cg.i64c(g.inner)), cg.i64c(g.dim));
    llvm::Value *o = b.CreateUDiv(i, cg.i64c(g.inner * g.dim));
    b.CreateStore(llvm::Constant::getNullValue(cg.scalarType(t)), acc);
    if (g.count > 0)
      emitLoop(b, cg.i64c(0), cg.i64c(g.count), [&](Builder &b, llvm::Value *j) {
        llvm::Value *ix = gatherIndex(c, b, g, k.args[2], j);
        llvm::Value *src = b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(g.count)), j), cg.i64c(g.inner)), kk);
        llvm::Value *cur = b.CreateLoad(cg.scalarType(t), acc);
        llvm::Value *x = cg.load(b, t, k.args[1], src);
        llvm::Value *sum = isFloat(t) ? b.CreateFAdd(cur, x) : b.CreateAdd(cur, x);
        b.CreateStore(b.CreateSelect(b.CreateICmpEQ(ix, r), sum, cur), acc);
      }, "j");
    cg.store(b, t, b.CreateLoad(cg.scalarType(t), acc), k.args[0], i);
  });
  b.CreateRetVoid();
}

// ---- LayerNormalization: one block per row (the axes from `axis` on); mean and variance in
// the stash type with double sums through the tree, as LowerNorm.cpp; Mean and InvStdDev
// outputs when the op has them.
void lowerLayerNorm(GpuOpContext &c) {
  const Shape &xs = c.op.operand(0)->shape();
  DType t = c.op.operand(0)->dtype();
  DType st = attrsOf(c.op).i("stash_type") == 11 ? DType::F64 : DType::F32;
  int64_t rank = (int64_t)xs.size(), axis = attrsOf(c.op).i("axis");
  axis = axis < 0 ? axis + rank : axis;
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? rows : cols) *= xs[(size_t)d];
  if (rows * cols == 0)
    return;
  double eps = attrsOf(c.op).f("epsilon");
  const bool hasBias = c.op.numOperands() > 2 && c.op.operand(2);
  std::vector<BufferRef> args{c.results[0], c.operands[0], c.operands[1], hasBias ? c.operands[2] : c.operands[1]};
  for (size_t j = 1; j < c.results.size(); ++j)
    args.push_back(c.results[j]);
  std::vector<int64_t> wStrides = broadcastStridesTo(c.op.operand(1)->shape(), xs);
  std::vector<int64_t> bStrides = hasBias ? broadcastStridesTo(c.op.operand(2)->shape(), xs) : wStrides;
  KernelFn k = c.g.kernel(c.stem, c.what(), args, std::min<int64_t>(rows, kMaxGrid));
  CodegenContext &cg = c.g.cg;
  Builder &b = *k.b;
  llvm::Type *sty = cg.scalarType(st);
  auto conv = [&](Builder &b, llvm::Value *v, DType from, DType to) {
    if (from == to)
      return v;
    return to == DType::F64 ? b.CreateFPExt(v, b.getDoubleTy()) : b.CreateFPTrunc(v, b.getFloatTy());
  };
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
  c.g.blockStride(b, rows, [&](Builder &b, llvm::Value *r) {
    llvm::Value *base = b.CreateMul(r, cg.i64c(cols));
    auto xAt = [&](Builder &b, llvm::Value *j) { return conv(b, cg.load(b, t, k.args[1], b.CreateAdd(base, j)), t, st); };
    b.CreateStore(dconst(b, 0), acc);
    c.g.threadStride(b, cols, [&](Builder &b, llvm::Value *j) {
      b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), conv(b, xAt(b, j), st, DType::F64)), acc);
    });
    llvm::Value *sum = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd);
    llvm::Value *mean = conv(b, b.CreateFDiv(sum, dconst(b, (double)cols)), DType::F64, st);
    b.CreateStore(dconst(b, 0), acc);
    c.g.threadStride(b, cols, [&](Builder &b, llvm::Value *j) {
      llvm::Value *d = b.CreateFSub(xAt(b, j), mean);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), conv(b, b.CreateFMul(d, d), st, DType::F64)), acc);
    });
    llvm::Value *sq = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd);
    llvm::Value *var = conv(b, b.CreateFDiv(sq, dconst(b, (double)cols)), DType::F64, st);
    llvm::Value *epsS = llvm::ConstantFP::get(sty, st == DType::F32 ? (double)(float)eps : eps);
    llvm::Value *inv = b.CreateFDiv(llvm::ConstantFP::get(sty, 1.0),
                                    b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateFAdd(var, epsS)));
    c.g.firstThread(b, [&](Builder &b) {
      if (c.results.size() > 1)
        cg.store(b, st, mean, k.args[4], r);
      if (c.results.size() > 2)
        cg.store(b, st, inv, k.args[5], r);
    });
    c.g.threadStride(b, cols, [&](Builder &b, llvm::Value *j) {
      llvm::Value *e = b.CreateAdd(base, j);
      llvm::Value *norm = conv(b, b.CreateFMul(b.CreateFSub(xAt(b, j), mean), inv), st, t);
      llvm::Value *w = cg.load(b, t, k.args[2], offsetOf(b, cg, e, xs, wStrides));
      llvm::Value *bias = hasBias ? cg.load(b, t, k.args[3], offsetOf(b, cg, e, xs, bStrides))
                                  : llvm::ConstantFP::get(cg.scalarType(t), 0.0);
      cg.store(b, t, b.CreateFAdd(b.CreateFMul(norm, w), bias), k.args[0], e);
    });
  });
  b.CreateRetVoid();
}

// ---- Concat, Split: one kernel per part copying [outer, part, inner] to or from its place in
// [outer, whole, inner]; the parts' sizes are their shapes along the axis (already checked by
// inference), so nothing is recomputed here.
void copyPart(GpuOpContext &c, BufferRef whole, BufferRef part, DType t, int64_t outer, int64_t wholeDim, int64_t partDim,
              int64_t offset, int64_t inner, bool toWhole, int index) {
  const int64_t total = outer * partDim * inner;
  if (total == 0)
    return;
  KernelFn k = c.g.kernel(c.stem + "_part" + std::to_string(index), c.what(), {whole, part}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    llvm::Value *kk = b.CreateURem(i, cg.i64c(inner));
    llvm::Value *j = b.CreateURem(b.CreateUDiv(i, cg.i64c(inner)), cg.i64c(partDim));
    llvm::Value *o = b.CreateUDiv(i, cg.i64c(inner * partDim));
    llvm::Value *w = b.CreateAdd(
        b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(wholeDim)), b.CreateAdd(j, cg.i64c(offset))), cg.i64c(inner)), kk);
    if (toWhole)
      cg.store(b, t, cg.load(b, t, k.args[1], i), k.args[0], w);
    else
      cg.store(b, t, cg.load(b, t, k.args[0], w), k.args[1], i);
  });
  k.b->CreateRetVoid();
}

void splitAround(const Shape &s, int64_t axis, int64_t &outer, int64_t &inner) {
  outer = inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= s[(size_t)d];
  for (size_t d = (size_t)axis + 1; d < s.size(); ++d)
    inner *= s[d];
}

void lowerConcat(GpuOpContext &c) {
  const Shape &out = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  int64_t axis = normalizeAxis(attrsOf(c.op).i("axis"), (int64_t)out.size(), "axis"), outer, inner, offset = 0;
  splitAround(out, axis, outer, inner);
  for (size_t i = 0; i < c.op.numOperands(); ++i) {
    int64_t part = c.op.operand(i)->shape()[(size_t)axis];
    copyPart(c, c.results[0], c.operands[i], t, outer, out[(size_t)axis], part, offset, inner, true, (int)i);
    offset += part;
  }
}

void lowerSplit(GpuOpContext &c) {
  const Shape &in = c.op.operand(0)->shape();
  DType t = c.op.operand(0)->dtype();
  int64_t axis = normalizeAxis(attrsOf(c.op).i("axis"), (int64_t)in.size(), "axis"), outer, inner, offset = 0;
  splitAround(in, axis, outer, inner);
  for (size_t j = 0; j < c.op.numResults(); ++j) {
    int64_t part = c.op.result(j)->shape()[(size_t)axis];
    copyPart(c, c.operands[0], c.results[j], t, outer, in[(size_t)axis], part, offset, inner, false, (int)j);
    offset += part;
  }
}

// ---- Transpose ----

void lowerTranspose(GpuOpContext &c) {
  const Shape &in = c.op.operand(0)->shape(), &out = c.op.result(0)->shape();
  DType t = c.op.result(0)->dtype();
  std::vector<int64_t> perm = attrsOf(c.op).has("perm") ? attrsOf(c.op).ints("perm") : std::vector<int64_t>{};
  if (perm.empty())
    for (size_t d = in.size(); d-- > 0;)
      perm.push_back((int64_t)d);
  std::vector<int64_t> inStrides = stridesOf(in), st;
  for (int64_t p : perm)
    st.push_back(inStrides[(size_t)p]);
  const int64_t total = numElements(out);
  if (total == 0)
    return;
  KernelFn k = c.g.kernel(c.stem, c.what(), {c.results[0], c.operands[0]}, GpuCodegen::gridFor(total));
  CodegenContext &cg = c.g.cg;
  c.g.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    cg.store(b, t, cg.load(b, t, k.args[1], offsetOf(b, cg, i, out, st)), k.args[0], i);
  });
  k.b->CreateRetVoid();
}

GpuOpLowering floats(std::function<void(GpuOpContext &)> f, std::function<std::string(const Op &)> why = floatOnly) {
  return {std::move(f), std::move(why)};
}

} // namespace

const std::map<std::pair<std::string, std::string>, GpuOpLowering> &gpuOpTable() {
  static const std::map<std::pair<std::string, std::string>, GpuOpLowering> table = [] {
    std::map<std::pair<std::string, std::string>, GpuOpLowering> t;
    t[{"", "Gemm"}] = {lowerGemm, numericOnly};
    t[{"", "MatMul"}] = {lowerMatMul, matmulUnsupported};
    t[{"", "ReduceSum"}] = {[](GpuOpContext &c) { lowerReduce(c, Fold::Sum); }, numericOnly};
    t[{"", "ReduceMean"}] = {[](GpuOpContext &c) { lowerReduce(c, Fold::Mean); }, numericOnly};
    t[{"", "ReduceMax"}] = {[](GpuOpContext &c) { lowerReduce(c, Fold::Max); }, numericOnly};
    t[{"", "Softmax"}] = floats([](GpuOpContext &c) { lowerSoftmax(c, false); });
    t[{"", "LogSoftmax"}] = floats([](GpuOpContext &c) { lowerSoftmax(c, true); });
    auto lossWhy = [](const Op &op) {
      std::string r = lossgen::unsupportedReduction(op);
      return r.empty() ? floatOnly(op) : r;
    };
    t[{"", "SoftmaxCrossEntropyLoss"}] = floats([](GpuOpContext &c) { lowerLoss(c, false); }, lossWhy);
    t[{"adjoint", "SoftmaxCrossEntropyGrad"}] = floats([](GpuOpContext &c) { lowerLossGrad(c, false); }, lossWhy);
    t[{"", "NegativeLogLikelihoodLoss"}] = floats([](GpuOpContext &c) { lowerLoss(c, true); }, lossWhy);
    t[{"adjoint", "NegativeLogLikelihoodLossGrad"}] = floats([](GpuOpContext &c) { lowerLossGrad(c, true); }, lossWhy);
    t[{"", "Conv"}] = floats(lowerConv);
    t[{"adjoint", "ConvGradData"}] = floats(lowerConvGradData);
    t[{"adjoint", "ConvGradFilter"}] = floats(lowerConvGradFilter);
    t[{"", "AveragePool"}] = floats(lowerAveragePool);
    t[{"adjoint", "AveragePoolGrad"}] = floats(lowerAveragePoolGrad);
    t[{"", "GlobalAveragePool"}] = floats(lowerGlobalAveragePool);
    t[{"", "MaxPool"}] = floats(lowerMaxPool);
    t[{"adjoint", "MaxPoolGrad"}] = floats(lowerMaxPoolGrad);
    t[{"", "BatchNormalization"}] = floats(lowerBatchNorm, [](const Op &op) {
      std::string f = floatOnly(op);
      return f.empty() && op.numResults() > 3 ? std::string("more than 3 results") : f;
    });
    t[{"", "Transpose"}] = {lowerTranspose, nullptr};
    t[{"", "Slice"}] = {lowerSlice, [](const Op &op) { return constantIndices(op, 1); }};
    t[{"adjoint", "SliceGrad"}] = {lowerSliceGrad, [](const Op &op) { return constantIndices(op, 1); }};
    t[{"", "Gather"}] = {lowerGather, nullptr};
    t[{"adjoint", "GatherGrad"}] = {lowerGatherGrad, nullptr};
    t[{"", "LayerNormalization"}] = floats(lowerLayerNorm);
    t[{"", "Concat"}] = {lowerConcat, nullptr};
    t[{"", "Split"}] = {lowerSplit, nullptr};
    addTrainingLowerings(t);
    addDropoutLowering(t);
    return t;
  }();
  return table;
}

} // namespace adjoint::nvptx
