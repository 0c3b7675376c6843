// SoftmaxCrossEntropyLoss and its backward op adjoint.SoftmaxCrossEntropyGrad as generated loops
// with the interpreter's semantics (Ops/Loss.cpp, Ops/LossBackward.cpp, Ops/LossCommon.h): the
// input [N, C, d...] is viewed as [N, C, D]; each of the N * D rows gets a stable log-softmax in
// double (max, then the sum of exp(x - max) in order, as the reference adds), elements weigh 0
// when their label is ignore_index and weights[label] (or 1) otherwise, and "mean" divides by
// the sum of those weights. A label out of range is reported as the interpreter's error, after
// which the row counts as ignored so that nothing is read out of bounds.
#include "CodeGen/Loops.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint {

namespace {

struct LossShape {
  int64_t N = 0, C = 0, D = 1;
};

LossShape lossShape(const Shape &in) {
  LossShape s{in[0], in[1], 1};
  for (size_t d = 2; d < in.size(); ++d)
    s.D *= in[d];
  return s;
}

enum class Reduction { None, Sum, Mean };

Reduction reductionOf(const Op &op) {
  std::string r = attrsOf(op).s("reduction");
  return r == "none" ? Reduction::None : r == "sum" ? Reduction::Sum : Reduction::Mean;
}

// Element e's label and weight (double), reporting labels out of range.
struct Row {
  llvm::Value *label;   // i64, 0 where ignored
  llvm::Value *ignored; // i1
  llvm::Value *weight;  // double, 0 where ignored
};

class LossEmitter {
public:
  LossEmitter(OpEmitContext &c, size_t scoresIdx, size_t labelsIdx, size_t weightsIdx)
      : c(c), cg(c.cg), b(c.b), scores(c.operands[scoresIdx]), labels(c.operands[labelsIdx]),
        weights(c.op.numOperands() > weightsIdx ? c.operands[weightsIdx] : nullptr),
        t(c.operandType(scoresIdx).dtype), labelType(c.operandType(labelsIdx).dtype),
        s(lossShape(c.operandType(scoresIdx).shape)), reduction(reductionOf(c.op)) {
    AttrReader a = attrsOf(c.op);
    hasIgnore = a.has("ignore_index");
    ignoreIndex = hasIgnore ? a.i("ignore_index") : 0;
  }

  llvm::Type *f64() const { return b.getDoubleTy(); }
  llvm::Value *dconst(double v) const { return llvm::ConstantFP::get(f64(), v); }

  Row row(Builder &b, llvm::Value *e) {
    llvm::Value *label = b.CreateSExt(cg.load(b, labelType, labels, e), b.getInt64Ty());
    llvm::Value *ignored = hasIgnore ? b.CreateICmpEQ(label, cg.i64c(ignoreIndex)) : b.getFalse();
    llvm::Value *bad = b.CreateAnd(b.CreateNot(ignored),
                                   b.CreateOr(b.CreateICmpSLT(label, cg.i64c(0)),
                                              b.CreateICmpSGE(label, cg.i64c(s.C))));
    llvm::BasicBlock *report = llvm::BasicBlock::Create(cg.ctx, "bad.label", b.GetInsertBlock()->getParent());
    llvm::BasicBlock *next = llvm::BasicBlock::Create(cg.ctx, "label.ok", b.GetInsertBlock()->getParent());
    b.CreateCondBr(bad, report, next);
    b.SetInsertPoint(report);
    cg.reportError(b, c.op.describe() + ": label {0} at element {1} is out of range [0, {2})" +
                          (hasIgnore ? " and is not ignore_index" : ""),
                   label, e, cg.i64c(s.C));
    b.CreateBr(next);
    b.SetInsertPoint(next);
    Row r;
    r.ignored = b.CreateOr(ignored, bad);
    r.label = b.CreateSelect(r.ignored, cg.i64c(0), label);
    llvm::Value *w = weights ? toDouble(b, cg.load(b, t, weights, r.label)) : dconst(1.0);
    r.weight = b.CreateSelect(r.ignored, dconst(0.0), w);
    return r;
  }

  llvm::Value *toDouble(Builder &b, llvm::Value *v) const {
    return v->getType() == f64() ? v : b.CreateFPExt(v, f64());
  }

  // Index of scores[n, c, d] for row e = n * D + d.
  llvm::Value *index(Builder &b, llvm::Value *e, llvm::Value *cls) {
    llvm::Value *n = b.CreateUDiv(e, cg.i64c(s.D)), *d = b.CreateURem(e, cg.i64c(s.D));
    return b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(n, cg.i64c(s.C)), cls), cg.i64c(s.D)), d);
  }

  // max + log(sum exp(x - max)) over the classes of row e, in double, as the reference does it.
  llvm::Value *logSumExp(Builder &b, llvm::Value *e) {
    llvm::Value *mx = accumulate(b, llvm::ConstantFP::getInfinity(f64(), true), [&](Builder &b, llvm::Value *acc, llvm::Value *x) {
      return b.CreateSelect(b.CreateFCmpOLT(acc, x), x, acc); // std::max keeps acc for NaN
    }, e);
    llvm::Value *sum = accumulate(b, dconst(0.0), [&](Builder &b, llvm::Value *acc, llvm::Value *x) {
      return b.CreateFAdd(acc, b.CreateUnaryIntrinsic(llvm::Intrinsic::exp, b.CreateFSub(x, mx)));
    }, e);
    return b.CreateFAdd(mx, b.CreateUnaryIntrinsic(llvm::Intrinsic::log, sum));
  }

  // Folds f over the scores of row e (as doubles).
  llvm::Value *accumulate(Builder &b, llvm::Value *init,
                          const std::function<llvm::Value *(Builder &, llvm::Value *, llvm::Value *)> &f,
                          llvm::Value *e) {
    llvm::Value *slot = entryAlloca(f64());
    b.CreateStore(init, slot);
    emitLoop(b, cg.i64c(0), cg.i64c(s.C), [&](Builder &b, llvm::Value *cls) {
      llvm::Value *x = toDouble(b, cg.load(b, t, scores, index(b, e, cls)));
      b.CreateStore(f(b, b.CreateLoad(f64(), slot), x), slot);
    }, "c");
    return b.CreateLoad(f64(), slot);
  }

  llvm::Value *entryAlloca(llvm::Type *type) {
    llvm::BasicBlock &entry = c.fn->getEntryBlock();
    Builder eb(&entry, entry.begin());
    return eb.CreateAlloca(type);
  }

  // The sum of the rows' weights (mean's divisor), checking every label.
  llvm::Value *weightSum(Builder &b) {
    llvm::Value *slot = entryAlloca(f64());
    b.CreateStore(dconst(0.0), slot);
    emitLoop(b, cg.i64c(0), cg.i64c(s.N * s.D), [&](Builder &b, llvm::Value *e) {
      Row r = row(b, e);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64(), slot), r.weight), slot);
    }, "e");
    return b.CreateLoad(f64(), slot);
  }

  OpEmitContext &c;
  CodegenContext &cg;
  Builder &b;
  llvm::Value *scores, *labels, *weights;
  DType t, labelType;
  LossShape s;
  Reduction reduction;
  bool hasIgnore = false;
  int64_t ignoreIndex = 0;
};

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

std::string unsupportedLoss(const Op &op) {
  std::string r = attrsOf(op).s("reduction");
  if (r != "none" && r != "sum" && r != "mean")
    return "reduction '" + r + "'";
  return "";
}

} // namespace

void registerLossLowerings(LoweringRegistry &r) {
  OpLowering loss;
  loss.emit = lowerLoss;
  loss.unsupported = unsupportedLoss;
  r.add("", "SoftmaxCrossEntropyLoss", loss);
  OpLowering grad;
  grad.emit = lowerLossGrad;
  grad.unsupported = unsupportedLoss;
  r.add("adjoint", "SoftmaxCrossEntropyGrad", grad);
}

} // namespace adjoint
