#pragma once
// What the loss lowerings share (LowerLoss.cpp: SoftmaxCrossEntropyLoss and its Grad;
// LowerNorm.cpp: NegativeLogLikelihoodLoss and its Grad): the input [N, C, d...] viewed as
// [N, C, D], each element's label and weight with the interpreter's checks (Ops/LossCommon.h),
// and row folds over the classes in double.
#include "CodeGen/Loops.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint::lossgen {

struct LossShape {
  int64_t N = 0, C = 0, D = 1;
};

inline LossShape lossShape(const Shape &in) {
  LossShape s{in[0], in[1], 1};
  for (size_t d = 2; d < in.size(); ++d)
    s.D *= in[d];
  return s;
}

enum class Reduction { None, Sum, Mean };

inline Reduction reductionOf(const Op &op) {
  std::string r = attrsOf(op).s("reduction");
  return r == "none" ? Reduction::None : r == "sum" ? Reduction::Sum : Reduction::Mean;
}

// The OpLowering::unsupported of every loss op: a reduction ONNX does not define.
inline std::string unsupportedReduction(const Op &op) {
  std::string r = attrsOf(op).s("reduction");
  if (r != "none" && r != "sum" && r != "mean")
    return "reduction '" + r + "'";
  return "";
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
      : LossEmitter(c, c.operands[scoresIdx], c.operandType(scoresIdx), labelsIdx, weightsIdx) {}
  // `scores` of type `input` need not be an operand (a backward op's input gradient is not).
  LossEmitter(OpEmitContext &c, llvm::Value *scores, const TensorType &input, size_t labelsIdx,
              size_t weightsIdx)
      : c(c), cg(c.cg), b(c.b), scores(scores), labels(c.operands[labelsIdx]),
        weights(c.op.numOperands() > weightsIdx ? c.operands[weightsIdx] : nullptr),
        t(input.dtype), labelType(c.operandType(labelsIdx).dtype), s(lossShape(input.shape)),
        reduction(reductionOf(c.op)) {
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

} // namespace adjoint::lossgen
