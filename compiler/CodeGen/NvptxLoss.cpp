// The loss ops on the GPU: SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss and their backward
// ops, with the CPU's per-row code (LossEmitter.h: labels, weights, ignore_index, the
// interpreter's label checks) run one row per thread. The two losses share the kernels and
// differ only in a row's loss: -weight * (x[label] - logsumexp) or -weight * x[label].
//  - forward: a kernel writes each row's loss ("none": the result) or its loss and weight to
//    scratch, then one block sums them through the shared-memory tree (mean divides by the
//    weights' sum; all rows ignored: 0 / 0 = NaN, as the interpreter);
//  - backward: for sum and mean a one-block kernel computes dy (over the weights' sum), then a
//    kernel per row writes its C gradient entries.
// A label out of range is reported through adj_gpu_error with the CPU's message and the row then
// counts as ignored, so nothing is read out of bounds.
#include "CodeGen/LossEmitter.h"
#include "CodeGen/NvptxOpSupport.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint::nvptx {

using lossgen::LossEmitter;
using lossgen::Reduction;
using lossgen::Row;

namespace {

// An OpEmitContext over a kernel's arguments, for the CPU's per-row emitters.
struct RowContext {
  RowContext(GpuOpContext &c, KernelFn &k, size_t numOperands) : ctx(c.g.cg, c.op, k.fn, *k.b) {
    for (size_t i = 0; i < c.op.numOperands(); ++i)
      ctx.operands.push_back(i < numOperands && c.operands[i].slot != -1 ? k.args[i] : nullptr);
  }
  OpEmitContext ctx;
};

// The launch arguments: the first `count` operands (an absent one replaced by `filler`, any
// valid address, never read), then `extra`.
std::vector<BufferRef> lossArgs(const GpuOpContext &c, size_t count, BufferRef filler,
                                const std::vector<BufferRef> &extra) {
  std::vector<BufferRef> args(c.operands.begin(), c.operands.end());
  args.resize(count);
  for (auto &a : args)
    if (a.slot == -1)
      a = filler;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

} // namespace

// loss (and log_prob) = SoftmaxCrossEntropyLoss(scores, labels, weights?), or
// loss = NegativeLogLikelihoodLoss(input, labels, weights?) when `nll`.
void lowerLoss(GpuOpContext &c, bool nll) {
  const Shape &in = c.op.operand(0)->shape();
  lossgen::LossShape s = lossgen::lossShape(in);
  const int64_t E = s.N * s.D;
  DType t = c.op.result(0)->dtype();
  Reduction red = lossgen::reductionOf(c.op);
  const bool logProb = !nll && c.op.numResults() > 1;
  BufferRef rows = c.scratch(std::max<int64_t>(16 * E, 16));
  std::vector<BufferRef> extra{rows, c.results[0]};
  if (logProb)
    extra.push_back(c.results[1]);
  std::vector<BufferRef> args = lossArgs(c, 3, rows, extra);
  CodegenContext &cg = c.g.cg;
  // Kernel 1: per row, its loss and weight (and log_prob).
  if (E > 0) {
    KernelFn k = c.g.kernel(c.stem + "_rows", c.what(), args, GpuCodegen::gridFor(E));
    RowContext rc(c, k, 3);
    LossEmitter L(rc.ctx, 0, 1, 2);
    c.g.gridStride(*k.b, E, [&](Builder &b, llvm::Value *e) {
      Row r = L.row(b, e);
      llvm::Value *xt = toDouble(b, cg.load(b, t, L.scores, L.index(b, e, r.label)));
      if (!nll) {
        llvm::Value *lse = L.logSumExp(b, e);
        if (logProb)
          emitLoop(b, cg.i64c(0), cg.i64c(s.C), [&](Builder &b, llvm::Value *cls) {
            llvm::Value *i = L.index(b, e, cls);
            llvm::Value *lp = b.CreateFSub(toDouble(b, cg.load(b, t, L.scores, i)), lse);
            cg.store(b, t, fromDouble(b, lp, t), k.args[5], i);
          }, "c");
        xt = b.CreateFSub(xt, lse);
      }
      llvm::Value *loss = b.CreateSelect(r.ignored, dconst(b, 0.0), b.CreateFMul(b.CreateFNeg(r.weight), xt));
      if (red == Reduction::None) {
        cg.store(b, t, fromDouble(b, loss, t), k.args[4], e);
        return;
      }
      cg.store(b, DType::F64, loss, k.args[3], e);
      cg.store(b, DType::F64, r.weight, k.args[3], b.CreateAdd(e, cg.i64c(E)));
    });
    k.b->CreateRetVoid();
  }
  if (red == Reduction::None)
    return;
  // Kernel 2: one block sums the rows (mean divides by the weights' sum; all ignored: NaN).
  KernelFn k = c.g.kernel(c.stem + "_sum", c.what(), {c.results[0], rows}, 1);
  Builder &b = *k.b;
  llvm::Value *acc = b.CreateAlloca(b.getDoubleTy()), *wacc = b.CreateAlloca(b.getDoubleTy());
  b.CreateStore(dconst(b, 0), acc);
  b.CreateStore(dconst(b, 0), wacc);
  c.g.threadStride(b, E, [&](Builder &b, llvm::Value *e) {
    b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), cg.load(b, DType::F64, k.args[1], e)), acc);
    b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), wacc),
                               cg.load(b, DType::F64, k.args[1], b.CreateAdd(e, cg.i64c(E)))), wacc);
  });
  llvm::Value *total = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd);
  llvm::Value *wsum = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), wacc), fadd);
  if (red == Reduction::Mean)
    total = b.CreateFDiv(total, wsum);
  c.g.firstThread(b, [&](Builder &b) { cg.store(b, t, fromDouble(b, total, t), k.args[0], cg.i64c(0)); });
  b.CreateRetVoid();
}

// dscores = SoftmaxCrossEntropyGrad(dy, scores, labels, weights?), or
// dinput = NegativeLogLikelihoodLossGrad(dy, labels, weights?) when `nll`: zero but for
// dinput[n, label, d] = -weight * dy.
void lowerLossGrad(GpuOpContext &c, bool nll) {
  const TensorType &input = nll ? c.op.result(0)->type() : c.op.operand(1)->type();
  lossgen::LossShape s = lossgen::lossShape(input.shape);
  const int64_t E = s.N * s.D;
  if (E * s.C == 0)
    return;
  const size_t labelsIdx = nll ? 1 : 2, weightsIdx = labelsIdx + 1;
  DType t = c.op.result(0)->dtype(), dyType = c.op.operand(0)->dtype();
  Reduction red = lossgen::reductionOf(c.op);
  BufferRef scale = c.scratch(16);
  // [dy, (scores,) labels, weights, scale, dx]
  std::vector<BufferRef> args = lossArgs(c, weightsIdx + 1, scale, {scale, c.results[0]});
  const size_t scaleArg = weightsIdx + 1, dxArg = weightsIdx + 2;
  CodegenContext &cg = c.g.cg;
  auto emitter = [&](KernelFn &k, RowContext &rc) {
    return nll ? LossEmitter(rc.ctx, k.args[dxArg], input, labelsIdx, weightsIdx)
               : LossEmitter(rc.ctx, 1, labelsIdx, weightsIdx);
  };
  if (red != Reduction::None) {
    // The loss gradient for sum and mean: dy, over the weights' sum for mean.
    KernelFn k = c.g.kernel(c.stem + "_scale", c.what(), args, 1);
    RowContext rc(c, k, weightsIdx + 1);
    LossEmitter L = emitter(k, rc);
    Builder &b = *k.b;
    llvm::Value *acc = b.CreateAlloca(b.getDoubleTy());
    b.CreateStore(dconst(b, 0), acc);
    c.g.threadStride(b, E, [&](Builder &b, llvm::Value *e) {
      Row r = L.row(b, e);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(b.getDoubleTy(), acc), r.weight), acc);
    });
    llvm::Value *wsum = c.g.blockReduce(b, b.CreateLoad(b.getDoubleTy(), acc), fadd);
    llvm::Value *dy = toDouble(b, cg.load(b, dyType, k.args[0], cg.i64c(0)));
    if (red == Reduction::Mean)
      dy = b.CreateFDiv(dy, wsum);
    c.g.firstThread(b, [&](Builder &b) { cg.store(b, DType::F64, dy, k.args[scaleArg], cg.i64c(0)); });
    b.CreateRetVoid();
  }
  KernelFn k = c.g.kernel(c.stem + "_rows", c.what(), args, GpuCodegen::gridFor(E));
  RowContext rc(c, k, weightsIdx + 1);
  LossEmitter L = emitter(k, rc);
  c.g.gridStride(*k.b, E, [&](Builder &b, llvm::Value *e) {
    Row r = L.row(b, e);
    llvm::Value *lse = nll ? nullptr : L.logSumExp(b, e);
    llvm::Value *dy = red != Reduction::None ? cg.load(b, DType::F64, k.args[scaleArg], cg.i64c(0))
                                             : toDouble(b, cg.load(b, dyType, k.args[0], e));
    llvm::Value *kk = b.CreateFMul(r.weight, dy);
    emitLoop(b, cg.i64c(0), cg.i64c(s.C), [&](Builder &b, llvm::Value *cls) {
      llvm::Value *i = L.index(b, e, cls);
      llvm::Value *hit = b.CreateICmpEQ(cls, r.label);
      llvm::Value *gr;
      if (nll) {
        gr = b.CreateSelect(b.CreateAnd(hit, b.CreateNot(r.ignored)), b.CreateFNeg(kk), dconst(b, 0.0));
      } else {
        llvm::Value *p = b.CreateUnaryIntrinsic(llvm::Intrinsic::exp,
                                                b.CreateFSub(toDouble(b, cg.load(b, t, L.scores, i)), lse));
        llvm::Value *onehot = b.CreateSelect(hit, dconst(b, 1.0), dconst(b, 0.0));
        gr = b.CreateSelect(r.ignored, dconst(b, 0.0), b.CreateFMul(kk, b.CreateFSub(p, onehot)));
      }
      cg.store(b, t, fromDouble(b, gr, t), k.args[dxArg], i);
    }, "c");
  });
  k.b->CreateRetVoid();
}

} // namespace adjoint::nvptx
