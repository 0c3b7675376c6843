// Normalization and probability ops as generated loops, with the interpreter's semantics
// (Ops/Norm.cpp): Softmax and LogSoftmax (max, then the sum of exp(x - max) in double, in
// order), LayerNormalization (statistics in the stash type with double sums, scale and bias in
// X's type), BatchNormalization (double arithmetic; training mode with biased batch statistics
// and the running-statistics outputs), and Dropout (its training-mode mask drawn by the runtime
// from the interpreter's sequential MT19937 stream). NegativeLogLikelihoodLoss and its backward op
// share the loss helpers of SoftmaxCrossEntropyLoss (LossEmitter.h).
#include "CodeGen/Elementwise.h"
#include "CodeGen/LossEmitter.h"

namespace adjoint {

namespace {

llvm::Type *f64(CodegenContext &cg) { return llvm::Type::getDoubleTy(cg.ctx); }
llvm::Value *dconst(CodegenContext &cg, double v) { return llvm::ConstantFP::get(f64(cg), v); }

// v (of float dtype `from`) as dtype `to` (f32 or f64).
llvm::Value *toFloat(Builder &b, llvm::Value *v, DType from, DType to) {
  if (from == to)
    return v;
  return to == DType::F64 ? b.CreateFPExt(v, b.getDoubleTy()) : b.CreateFPTrunc(v, b.getFloatTy());
}

llvm::Value *entryAlloca(OpEmitContext &c, llvm::Type *t) {
  llvm::BasicBlock &entry = c.fn->getEntryBlock();
  Builder eb(&entry, entry.begin());
  return eb.CreateAlloca(t);
}

// Folds f over [0, n) (n > 0, compile-time) starting from init, in order.
llvm::Value *fold(OpEmitContext &c, Builder &b, int64_t n, llvm::Value *init,
                  const std::function<llvm::Value *(Builder &, llvm::Value *acc, llvm::Value *k)> &f,
                  const char *name = "k") {
  llvm::Value *slot = entryAlloca(c, init->getType());
  b.CreateStore(init, slot);
  emitLoop(b, c.cg.i64c(0), c.cg.i64c(n), [&](Builder &b, llvm::Value *k) {
    b.CreateStore(f(b, b.CreateLoad(init->getType(), slot), k), slot);
  }, name);
  return b.CreateLoad(init->getType(), slot);
}

// ---- Softmax / LogSoftmax: the input viewed as [outer, n, inner] around the axis; each of the
// outer * inner rows is independent.

constexpr int64_t kSavedRow = 4096; // doubles: 32 KiB of stack

void lowerSoftmax(OpEmitContext &c) {
  const Shape &s = c.operandType(0).shape;
  DType t = c.operandType(0).dtype;
  int64_t rank = (int64_t)s.size(), axis = attrsOf(c.op).i("axis");
  axis = axis < 0 ? axis + rank : axis;
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? outer : d == axis ? n : inner) *= s[d];
  bool log = c.op.opType() == "LogSoftmax";
  if (outer * n * inner == 0)
    return;
  CodegenContext &cg = c.cg;
  llvm::FunctionCallee exp = cg.libm("exp", f64(cg)), logf = cg.libm("log", f64(cg));
  c.parallelFor(outer * inner, (double)n * 30, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    // Softmax keeps each exp(x - max) for the division instead of computing it twice: in the
    // result itself for f64, else in a row of doubles on the stack when the row is short.
    llvm::Value *saved = nullptr;
    if (!log && t == DType::F64)
      saved = in.results[0];
    else if (!log && n <= kSavedRow)
      saved = entryAlloca(in, llvm::ArrayType::get(f64(cg), (uint64_t)n));
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *r) {
      llvm::Value *base = inner == 1 ? b.CreateMul(r, cg.i64c(n))
                                     : b.CreateAdd(b.CreateMul(b.CreateUDiv(r, cg.i64c(inner)), cg.i64c(n * inner)),
                                                   b.CreateURem(r, cg.i64c(inner)));
      auto at = [&](Builder &b, llvm::Value *k) { return b.CreateAdd(base, b.CreateMul(k, cg.i64c(inner))); };
      auto xAt = [&](Builder &b, llvm::Value *k) {
        return toFloat(b, cg.load(b, t, in.operands[0], at(b, k)), t, DType::F64);
      };
      llvm::Value *mx = fold(in, b, n, llvm::ConstantFP::getInfinity(f64(cg), true),
                             [&](Builder &b, llvm::Value *acc, llvm::Value *k) {
                               llvm::Value *x = xAt(b, k);
                               return b.CreateSelect(b.CreateFCmpOLT(acc, x), x, acc); // std::max
                             });
      llvm::Value *sum = fold(in, b, n, dconst(cg, 0), [&](Builder &b, llvm::Value *acc, llvm::Value *k) {
        llvm::Value *e = b.CreateCall(exp, {b.CreateFSub(xAt(b, k), mx)});
        if (saved)
          cg.store(b, DType::F64, e, saved, saved == in.results[0] ? at(b, k) : k);
        return b.CreateFAdd(acc, e);
      });
      llvm::Value *logSum = log ? b.CreateCall(logf, {sum}) : nullptr;
      emitLoop(b, cg.i64c(0), cg.i64c(n), [&](Builder &b, llvm::Value *k) {
        llvm::Value *y;
        if (log)
          y = b.CreateFSub(b.CreateFSub(xAt(b, k), mx), logSum);
        else if (saved)
          y = b.CreateFDiv(cg.load(b, DType::F64, saved, saved == in.results[0] ? at(b, k) : k), sum);
        else
          y = b.CreateFDiv(b.CreateCall(exp, {b.CreateFSub(xAt(b, k), mx)}), sum);
        cg.store(b, t, toFloat(b, y, DType::F64, t), in.results[0], at(b, k));
      }, "k");
    }, "r");
  });
}

// ---- LayerNormalization: stage one computes each row's mean and inverse standard deviation
// in the stash type (double sums), into the Mean / InvStdDev outputs or scratch; stage two is a
// broadcast loop nest over X: y = T((x - mean) * invStd) * scale + bias.

DType stashOf(const Op &op) { return attrsOf(op).i("stash_type") == 11 ? DType::F64 : DType::F32; }

struct LayerNormShape {
  int64_t axis = 0, rows = 1, cols = 1;
};

LayerNormShape layerNormShape(const Op &op) {
  const Shape &s = op.operand(0)->shape();
  int64_t rank = (int64_t)s.size();
  LayerNormShape l;
  l.axis = attrsOf(op).i("axis");
  l.axis = l.axis < 0 ? l.axis + rank : l.axis;
  for (int64_t d = 0; d < rank; ++d)
    (d < l.axis ? l.rows : l.cols) *= s[d];
  return l;
}

void lowerLayerNorm(OpEmitContext &c) {
  const Shape &xs = c.operandType(0).shape;
  DType t = c.operandType(0).dtype, st = stashOf(c.op);
  LayerNormShape l = layerNormShape(c.op);
  if (l.rows * l.cols == 0)
    return;
  CodegenContext &cg = c.cg;
  llvm::Type *sty = cg.scalarType(st);
  // Statistics: the Mean / InvStdDev outputs when the op has them, else scratch (the means,
  // then the inverse standard deviations, rows each).
  bool hasMean = c.op.numResults() > 1, hasInv = c.op.numResults() > 2;
  int64_t invOff = hasInv || hasMean ? 0 : l.rows;
  auto meanOf = [&](OpEmitContext &in) { return hasMean ? in.results[1] : in.scratch; };
  auto invOf = [&](OpEmitContext &in) { return hasInv ? in.results[2] : in.scratch; };
  double eps = attrsOf(c.op).f("epsilon");
  llvm::Value *epsS = llvm::ConstantFP::get(sty, st == DType::F32 ? (double)(float)eps : eps);
  llvm::Value *colsD = dconst(cg, (double)l.cols);
  c.parallelFor(l.rows, (double)l.cols * 3, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *r) {
      llvm::Value *base = b.CreateMul(r, cg.i64c(l.cols));
      auto xAt = [&](Builder &b, llvm::Value *k) {
        return toFloat(b, cg.load(b, t, in.operands[0], b.CreateAdd(base, k)), t, st);
      };
      llvm::Value *sum = fold(in, b, l.cols, dconst(cg, 0), [&](Builder &b, llvm::Value *acc, llvm::Value *k) {
        return b.CreateFAdd(acc, toFloat(b, xAt(b, k), st, DType::F64));
      });
      llvm::Value *mean = toFloat(b, b.CreateFDiv(sum, colsD), DType::F64, st);
      llvm::Value *sq = fold(in, b, l.cols, dconst(cg, 0), [&](Builder &b, llvm::Value *acc, llvm::Value *k) {
        llvm::Value *d = b.CreateFSub(xAt(b, k), mean);
        return b.CreateFAdd(acc, toFloat(b, b.CreateFMul(d, d), st, DType::F64));
      });
      llvm::Value *var = toFloat(b, b.CreateFDiv(sq, colsD), DType::F64, st);
      llvm::Value *inv = b.CreateFDiv(llvm::ConstantFP::get(sty, 1.0),
                                      b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateFAdd(var, epsS)));
      cg.store(b, st, mean, meanOf(in), r);
      cg.store(b, st, inv, invOf(in), b.CreateAdd(r, cg.i64c(invOff)));
    }, "r");
  });

  Shape statShape = xs;
  for (size_t d = (size_t)l.axis; d < xs.size(); ++d)
    statShape[d] = 1;
  bool hasBias = c.op.numOperands() > 2 && c.op.operand(2);
  LoopSpace space;
  space.dims = xs;
  space.strides.push_back(stridesOf(xs));                                // x, y
  space.strides.push_back(broadcastStridesTo(c.operandType(1).shape, xs)); // scale
  space.strides.push_back(hasBias ? broadcastStridesTo(c.operandType(2).shape, xs)
                                  : std::vector<int64_t>(xs.size(), 0));   // bias
  space.strides.push_back(broadcastStridesTo(statShape, xs));            // statistics
  space = coalesce(space);
  int64_t outer = space.dims[0];
  c.parallelFor(outer, (double)(space.total() / outer) * 2, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    llvm::Value *meanP = meanOf(in), *invP = invOf(in);
    emitLoops(in.b, cg, space, begin, end, [&](Builder &b, const std::vector<llvm::Value *> &o) {
      llvm::Value *x = toFloat(b, cg.load(b, t, in.operands[0], o[0]), t, st);
      llvm::Value *mean = cg.load(b, st, meanP, o[3]);
      llvm::Value *inv = cg.load(b, st, invP, b.CreateAdd(o[3], cg.i64c(invOff)));
      llvm::Value *norm = toFloat(b, b.CreateFMul(b.CreateFSub(x, mean), inv), st, t);
      llvm::Value *w = cg.load(b, t, in.operands[1], o[1]);
      llvm::Value *bias = hasBias ? cg.load(b, t, in.operands[2], o[2])
                                  : llvm::ConstantFP::get(cg.scalarType(t), 0.0);
      cg.store(b, t, b.CreateFAdd(b.CreateFMul(norm, w), bias), in.results[0], o[0]);
    });
  });
}

int64_t layerNormScratch(const Op &op) {
  if (op.numResults() > 2)
    return 0;
  return 2 * layerNormShape(op).rows * (int64_t)dtypeSize(stashOf(op));
}

// ---- BatchNormalization: X viewed as [N, C, spatial]; channels are independent, so the
// channel loop is split across threads. Everything is computed in double, as the reference.

void lowerBatchNorm(OpEmitContext &c) {
  const Shape &xs = c.operandType(0).shape;
  DType t = c.operandType(0).dtype;
  int64_t N = xs[0], C = xs[1], spatial = 1;
  for (size_t d = 2; d < xs.size(); ++d)
    spatial *= xs[d];
  AttrReader a = attrsOf(c.op);
  double eps = a.f("epsilon"), momentum = a.f("momentum");
  bool training = a.i("training_mode") != 0;
  if (C == 0)
    return;
  CodegenContext &cg = c.cg;
  int64_t count = N * spatial;
  c.parallelFor(C, (double)count * (training ? 4 : 2), [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *ch) {
      auto param = [&](Builder &b, size_t i) {
        DType pt = c.operandType(i).dtype;
        return toFloat(b, cg.load(b, pt, in.operands[i], ch), pt, DType::F64);
      };
      // Folds or visits every element of channel ch, n outer and s inner.
      auto forEach = [&](Builder &b, const std::function<void(Builder &, llvm::Value *)> &f) {
        if (count == 0)
          return;
        emitLoop(b, cg.i64c(0), cg.i64c(N), [&](Builder &b, llvm::Value *n) {
          llvm::Value *base = b.CreateMul(b.CreateAdd(b.CreateMul(n, cg.i64c(C)), ch), cg.i64c(spatial));
          emitLoop(b, cg.i64c(0), cg.i64c(spatial), [&](Builder &b, llvm::Value *s) {
            f(b, b.CreateAdd(base, s));
          }, "s");
        }, "n");
      };
      auto xAt = [&](Builder &b, llvm::Value *i) {
        return toFloat(b, cg.load(b, t, in.operands[0], i), t, DType::F64);
      };
      llvm::Value *m = param(b, 3), *v = param(b, 4);
      if (training) {
        llvm::Value *slot = entryAlloca(in, f64(cg));
        llvm::Value *countD = dconst(cg, (double)count);
        b.CreateStore(dconst(cg, 0), slot);
        forEach(b, [&](Builder &b, llvm::Value *i) {
          b.CreateStore(b.CreateFAdd(b.CreateLoad(f64(cg), slot), xAt(b, i)), slot);
        });
        llvm::Value *bm = b.CreateFDiv(b.CreateLoad(f64(cg), slot), countD);
        b.CreateStore(dconst(cg, 0), slot);
        forEach(b, [&](Builder &b, llvm::Value *i) {
          llvm::Value *d = b.CreateFSub(xAt(b, i), bm);
          b.CreateStore(b.CreateFAdd(b.CreateLoad(f64(cg), slot), b.CreateFMul(d, d)), slot);
        });
        llvm::Value *bv = b.CreateFDiv(b.CreateLoad(f64(cg), slot), countD);
        DType stat = c.operandType(3).dtype;
        for (size_t j = 1; j < 3 && j < c.op.numResults(); ++j) {
          llvm::Value *running = b.CreateFAdd(b.CreateFMul(j == 1 ? m : v, dconst(cg, momentum)),
                                              b.CreateFMul(j == 1 ? bm : bv, dconst(cg, 1 - momentum)));
          cg.store(b, stat, toFloat(b, running, DType::F64, stat), in.results[j], ch);
        }
        m = bm;
        v = bv;
      }
      llvm::Value *denom = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateFAdd(v, dconst(cg, eps)));
      llvm::Value *scale = param(b, 1), *bias = param(b, 2);
      forEach(b, [&](Builder &b, llvm::Value *i) {
        llvm::Value *y = b.CreateFAdd(b.CreateFDiv(b.CreateFMul(scale, b.CreateFSub(xAt(b, i), m)), denom), bias);
        cg.store(b, t, toFloat(b, y, DType::F64, t), in.results[0], i);
      });
    }, "c");
  });
}

// ---- Dropout: outside training (or with ratio 0) a copy and an all-true mask. In training mode
// the runtime draws the keep mask (adj_dropout_mask: one sequential MT19937 stream, as the
// interpreter) into the mask output or scratch, and a loop scales the kept elements by
// 1 / (1 - ratio) computed in X's type. training_mode and ratio may be run-time values.

void lowerDropout(OpEmitContext &c) {
  DType t = c.operandType(0).dtype;
  int64_t n = numElements(c.operandType(0).shape);
  if (n == 0)
    return;
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  bool hasMask = c.op.numResults() > 1;
  auto identity = [&](Builder &b) {
    if (c.results[0] != c.operands[0])
      cg.copy(b, c.results[0], c.operands[0], n * (int64_t)dtypeSize(t));
    if (hasMask)
      emitLoop(b, cg.i64c(0), cg.i64c(n), [&](Builder &b, llvm::Value *i) {
        cg.store(b, DType::Bool, b.getTrue(), c.results[1], i);
      });
  };
  if (!dropoutMayTrain(c.op))
    return identity(b);

  llvm::Value *ratio = dconst(cg, 0.5);
  if (c.op.numOperands() > 1 && c.op.operand(1)) {
    DType rt = c.operandType(1).dtype;
    ratio = toFloat(b, cg.load(b, rt, c.operands[1], cg.i64c(0)), rt, DType::F64);
  }
  llvm::Value *training = cg.load(b, DType::Bool, c.operands[2], cg.i64c(0));
  llvm::Value *plain = b.CreateOr(b.CreateNot(training), b.CreateFCmpOEQ(ratio, dconst(cg, 0)));
  llvm::BasicBlock *copyBB = llvm::BasicBlock::Create(cg.ctx, "identity", c.fn);
  llvm::BasicBlock *checkBB = llvm::BasicBlock::Create(cg.ctx, "train", c.fn);
  llvm::BasicBlock *badBB = llvm::BasicBlock::Create(cg.ctx, "bad.ratio", c.fn);
  llvm::BasicBlock *drawBB = llvm::BasicBlock::Create(cg.ctx, "draw", c.fn);
  llvm::BasicBlock *done = llvm::BasicBlock::Create(cg.ctx, "done", c.fn);
  b.CreateCondBr(plain, copyBB, checkBB);
  b.SetInsertPoint(copyBB);
  identity(b);
  b.CreateBr(done);

  b.SetInsertPoint(checkBB);
  llvm::Value *ok = b.CreateAnd(b.CreateFCmpOGE(ratio, dconst(cg, 0)), b.CreateFCmpOLT(ratio, dconst(cg, 1)));
  b.CreateCondBr(ok, drawBB, badBB);
  b.SetInsertPoint(badBB);
  // The message cannot carry the (floating-point) ratio, which the interpreter's names.
  cg.reportError(b, c.op.describe() + ": ratio must be in [0, 1) in training mode", cg.i64c(0),
                 cg.i64c(0), cg.i64c(0));
  b.CreateBr(done);

  b.SetInsertPoint(drawBB);
  AttrReader a = attrsOf(c.op);
  int64_t seed = a.has("seed") ? a.i("seed") : 0;
  llvm::Value *keep = hasMask ? c.results[1] : c.scratch;
  llvm::Value *seedV = cg.i64c(seed);
  if (c.op.numOperands() > 3 && c.op.operand(3))
    seedV = b.CreateZExt(emitDropoutSeed(b, seed, cg.load(b, DType::I64, c.operands[3], cg.i64c(0))),
                         b.getInt64Ty());
  b.CreateCall(cg.runtime("adj_dropout_mask"), {keep, cg.i64c(n), ratio, seedV});
  llvm::Type *ty = cg.scalarType(t);
  llvm::Value *one = llvm::ConstantFP::get(ty, 1.0);
  llvm::Value *scale = b.CreateFDiv(one, b.CreateFSub(one, toFloat(b, ratio, DType::F64, t)));
  emitLoop(b, cg.i64c(0), cg.i64c(n), [&](Builder &b, llvm::Value *i) {
    llvm::Value *k = cg.load(b, DType::Bool, keep, i);
    llvm::Value *x = cg.load(b, t, c.operands[0], i);
    cg.store(b, t, b.CreateSelect(k, b.CreateFMul(x, scale), llvm::ConstantFP::get(ty, 0.0)), c.results[0], i);
  });
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

int64_t dropoutScratch(const Op &op) {
  return op.numResults() < 2 && dropoutMayTrain(op) ? numElements(op.operand(0)->shape()) : 0;
}

// ---- NegativeLogLikelihoodLoss: element e loses -weight(e) * input[n, label, d] (0 where
// ignored); sum and mean add those in element order, mean dividing by the weights' sum.

void lowerNll(OpEmitContext &c) {
  using namespace lossgen;
  LossEmitter L(c, 0, 1, 2);
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  llvm::Value *lossSum = L.entryAlloca(L.f64()), *wSum = L.entryAlloca(L.f64());
  b.CreateStore(L.dconst(0.0), lossSum);
  b.CreateStore(L.dconst(0.0), wSum);
  auto narrow = [&](Builder &b, llvm::Value *v) { return toFloat(b, v, DType::F64, L.t); };
  if (L.s.N * L.s.D > 0)
    emitLoop(b, cg.i64c(0), cg.i64c(L.s.N * L.s.D), [&](Builder &b, llvm::Value *e) {
      Row r = L.row(b, e);
      llvm::Value *x = L.toDouble(b, cg.load(b, L.t, L.scores, L.index(b, e, r.label)));
      llvm::Value *loss = b.CreateSelect(r.ignored, L.dconst(0.0), b.CreateFMul(b.CreateFNeg(r.weight), x));
      b.CreateStore(b.CreateFAdd(b.CreateLoad(L.f64(), wSum), r.weight), wSum);
      if (L.reduction == Reduction::None)
        cg.store(b, L.t, narrow(b, loss), c.results[0], e);
      else
        b.CreateStore(b.CreateFAdd(b.CreateLoad(L.f64(), lossSum), loss), lossSum);
    }, "e");
  if (L.reduction == Reduction::None)
    return;
  llvm::Value *total = b.CreateLoad(L.f64(), lossSum);
  if (L.reduction == Reduction::Mean)
    total = b.CreateFDiv(total, b.CreateLoad(L.f64(), wSum)); // all ignored: 0 / 0 = NaN
  cg.store(b, L.t, narrow(b, total), c.results[0], cg.i64c(0));
}

// dinput = NegativeLogLikelihoodLossGrad(dy, labels, weights?): zero but for
// dinput[n, label, d] = -weight(e) * s(e), s(e) = dy[e], dy, or dy / (sum of weights).
void lowerNllGrad(OpEmitContext &c) {
  using namespace lossgen;
  LossEmitter L(c, c.results[0], c.resultType(0), 1, 2);
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  int64_t total = L.s.N * L.s.C * L.s.D;
  if (total == 0)
    return;
  emitLoop(b, cg.i64c(0), cg.i64c(total), [&](Builder &b, llvm::Value *i) {
    cg.store(b, L.t, llvm::ConstantFP::get(cg.scalarType(L.t), 0.0), c.results[0], i);
  });
  if (L.s.N * L.s.D == 0)
    return;
  DType dyType = c.operandType(0).dtype;
  llvm::Value *scale = nullptr;
  if (L.reduction != Reduction::None) {
    scale = L.toDouble(b, cg.load(b, dyType, c.operands[0], cg.i64c(0)));
    if (L.reduction == Reduction::Mean)
      scale = b.CreateFDiv(scale, L.weightSum(b));
  }
  emitLoop(b, cg.i64c(0), cg.i64c(L.s.N * L.s.D), [&](Builder &b, llvm::Value *e) {
    Row r = L.row(b, e);
    llvm::BasicBlock *write = llvm::BasicBlock::Create(cg.ctx, "write", c.fn);
    llvm::BasicBlock *next = llvm::BasicBlock::Create(cg.ctx, "next", c.fn);
    b.CreateCondBr(r.ignored, next, write);
    b.SetInsertPoint(write);
    llvm::Value *dy = scale ? scale : L.toDouble(b, cg.load(b, dyType, c.operands[0], e));
    llvm::Value *g = b.CreateFMul(b.CreateFNeg(r.weight), dy);
    cg.store(b, L.t, toFloat(b, g, DType::F64, L.t), c.results[0], L.index(b, e, r.label));
    b.CreateBr(next);
    b.SetInsertPoint(next);
  }, "e");
}


} // namespace

void registerNormLowerings(LoweringRegistry &r) {
  OpLowering softmax;
  softmax.emit = lowerSoftmax;
  r.add("", "Softmax", softmax);
  r.add("", "LogSoftmax", softmax);

  OpLowering layerNorm;
  layerNorm.emit = lowerLayerNorm;
  layerNorm.scratchBytes = layerNormScratch;
  r.add("", "LayerNormalization", layerNorm);

  OpLowering batchNorm;
  batchNorm.emit = lowerBatchNorm;
  r.add("", "BatchNormalization", batchNorm);

  OpLowering dropout;
  dropout.emit = lowerDropout;
  dropout.scratchBytes = dropoutScratch;
  r.add("", "Dropout", dropout);

  OpLowering nll;
  nll.emit = lowerNll;
  nll.unsupported = lossgen::unsupportedReduction;
  r.add("", "NegativeLogLikelihoodLoss", nll);
  OpLowering nllGrad;
  nllGrad.emit = lowerNllGrad;
  nllGrad.unsupported = lossgen::unsupportedReduction;
  r.add("adjoint", "NegativeLogLikelihoodLossGrad", nllGrad);
}

// Shared with the GPU's Dropout (NvptxDropout.cpp), declared in Elementwise.h.
bool dropoutMayTrain(const Op &op) {
  if (op.numOperands() < 3 || !op.operand(2))
    return false;
  std::optional<Tensor> mode = constantValue(op.operand(2));
  if (mode && mode->getInt(0) == 0)
    return false;
  if (op.numOperands() > 1 && op.operand(1)) {
    std::optional<Tensor> ratio = constantValue(op.operand(1));
    if (ratio && ratio->getDouble(0) == 0)
      return false;
  }
  return true;
}

llvm::Value *emitDropoutSeed(Builder &b, int64_t attr, llvm::Value *salt) {
  auto c64 = [&](uint64_t v) { return llvm::ConstantInt::get(b.getInt64Ty(), v); };
  llvm::Value *z = b.CreateXor(c64((uint64_t)attr * 0x9E3779B97F4A7C15ull), salt);
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 30)), c64(0xBF58476D1CE4E5B9ull));
  z = b.CreateMul(b.CreateXor(z, b.CreateLShr(z, 27)), c64(0x94D049BB133111EBull));
  z = b.CreateXor(z, b.CreateLShr(z, 31));
  return b.CreateTrunc(z, b.getInt32Ty());
}

} // namespace adjoint
