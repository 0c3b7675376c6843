// SoftmaxCrossEntropyLoss and its backward op adjoint.SoftmaxCrossEntropyGrad as generated loops
// with the interpreter's semantics (Ops/Loss.cpp, Ops/LossBackward.cpp, Ops/LossCommon.h): the
// input [N, C, d...] is viewed as [N, C, D]; each of the N * D rows gets a stable log-softmax in
// double (max, then the sum of exp(x - max) in order, as the reference adds), elements weigh 0
// when their label is ignore_index and weights[label] (or 1) otherwise, and "mean" divides by
// the sum of those weights. A label out of range is reported as the interpreter's error, after
// which the row counts as ignored so that nothing is read out of bounds.
#include "CodeGen/LossEmitter.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint {

namespace {

using namespace lossgen;

// loss (and log_prob) = SoftmaxCrossEntropyLoss(scores, labels, weights?)
void lowerLoss(OpEmitContext &c) {
  LossEmitter L(c, 0, 1, 2);
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  llvm::Value *logProb = c.op.numResults() > 1 ? c.results[1] : nullptr;
  llvm::Value *lossSum = L.entryAlloca(L.f64()), *wSum = L.entryAlloca(L.f64());
  b.CreateStore(L.dconst(0.0), lossSum);
  b.CreateStore(L.dconst(0.0), wSum);
  if (L.s.N * L.s.D > 0)
    emitLoop(b, cg.i64c(0), cg.i64c(L.s.N * L.s.D), [&](Builder &b, llvm::Value *e) {
      Row r = L.row(b, e);
      llvm::Value *lse = L.logSumExp(b, e);
      if (logProb)
        emitLoop(b, cg.i64c(0), cg.i64c(L.s.C), [&](Builder &b, llvm::Value *cls) {
          llvm::Value *i = L.index(b, e, cls);
          llvm::Value *lp = b.CreateFSub(L.toDouble(b, cg.load(b, L.t, L.scores, i)), lse);
          cg.store(b, L.t, L.t == DType::F32 ? b.CreateFPTrunc(lp, b.getFloatTy()) : lp, logProb, i);
        }, "c");
      llvm::Value *xt = L.toDouble(b, cg.load(b, L.t, L.scores, L.index(b, e, r.label)));
      llvm::Value *loss = b.CreateSelect(r.ignored, L.dconst(0.0),
                                         b.CreateFMul(b.CreateFNeg(r.weight), b.CreateFSub(xt, lse)));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(L.f64(), wSum), r.weight), wSum);
      if (L.reduction == Reduction::None) {
        cg.store(b, L.t, L.t == DType::F32 ? b.CreateFPTrunc(loss, b.getFloatTy()) : loss, c.results[0], e);
        return;
      }
      b.CreateStore(b.CreateFAdd(b.CreateLoad(L.f64(), lossSum), loss), lossSum);
    }, "e");
  if (L.reduction == Reduction::None)
    return;
  llvm::Value *total = b.CreateLoad(L.f64(), lossSum);
  if (L.reduction == Reduction::Mean)
    total = b.CreateFDiv(total, b.CreateLoad(L.f64(), wSum)); // all ignored: 0 / 0 = NaN
  cg.store(b, L.t, L.t == DType::F32 ? b.CreateFPTrunc(total, b.getFloatTy()) : total, c.results[0], cg.i64c(0));
}

// dscores = SoftmaxCrossEntropyGrad(dy, scores, labels, weights?)
void lowerLossGrad(OpEmitContext &c) {
  LossEmitter L(c, 1, 2, 3);
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  if (L.s.N * L.s.D * L.s.C == 0)
    return;
  DType dyType = c.operandType(0).dtype;
  llvm::Value *scale = nullptr; // the loss gradient for sum and mean
  if (L.reduction != Reduction::None) {
    scale = L.toDouble(b, cg.load(b, dyType, c.operands[0], cg.i64c(0)));
    if (L.reduction == Reduction::Mean)
      scale = b.CreateFDiv(scale, L.weightSum(b));
  }
  emitLoop(b, cg.i64c(0), cg.i64c(L.s.N * L.s.D), [&](Builder &b, llvm::Value *e) {
    Row r = L.row(b, e);
    llvm::Value *lse = L.logSumExp(b, e);
    llvm::Value *dy = scale ? scale : L.toDouble(b, cg.load(b, dyType, c.operands[0], e));
    llvm::Value *k = b.CreateFMul(r.weight, dy);
    emitLoop(b, cg.i64c(0), cg.i64c(L.s.C), [&](Builder &b, llvm::Value *cls) {
      llvm::Value *i = L.index(b, e, cls);
      llvm::Value *p = b.CreateUnaryIntrinsic(
          llvm::Intrinsic::exp, b.CreateFSub(L.toDouble(b, cg.load(b, L.t, L.scores, i)), lse));
      llvm::Value *onehot = b.CreateSelect(b.CreateICmpEQ(cls, r.label), L.dconst(1.0), L.dconst(0.0));
      llvm::Value *g = b.CreateSelect(r.ignored, L.dconst(0.0), b.CreateFMul(k, b.CreateFSub(p, onehot)));
      cg.store(b, L.t, L.t == DType::F32 ? b.CreateFPTrunc(g, b.getFloatTy()) : g, c.results[0], i);
    }, "c");
  }, "e");
}


} // namespace

void registerLossLowerings(LoweringRegistry &r) {
  OpLowering loss;
  loss.emit = lowerLoss;
  loss.unsupported = unsupportedReduction;
  r.add("", "SoftmaxCrossEntropyLoss", loss);
  OpLowering grad;
  grad.emit = lowerLossGrad;
  grad.unsupported = unsupportedReduction;
  r.add("adjoint", "SoftmaxCrossEntropyGrad", grad);
}

} // namespace adjoint
