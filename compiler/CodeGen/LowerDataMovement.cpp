// Transpose, Concat, Slice, Split, Gather and the backward ops adjoint.SliceGrad and
// adjoint.GatherGrad as generated loops with the interpreter's semantics (Ops/DataMovement.cpp,
// Ops/ShapeBackward.cpp). They move elements without computing with them (GatherGrad adds), so
// every dtype works; each copy is one strided loop nest over the destination, whose innermost
// loop walks the destination's contiguous dimension (a transpose that moves the input's
// contiguous dimension goes through 32 x 32 tiles so that its reads stay in cache). Slice windows and Split sizes are computed
// at compile time from constant operands (Ops/SliceWindow.h, the interpreter's own clamping);
// gathered indices are checked at run time and one out of range is reported with the
// interpreter's message, after which it reads element 0 so that nothing is read out of bounds.
#include "CodeGen/Elementwise.h"
#include "CodeGen/Loops.h"
#include "Ops/SliceWindow.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint {

namespace {

int64_t product(const Shape &s, size_t from, size_t to) {
  return numElements(Shape(s.begin() + from, s.begin() + to));
}

int64_t normalizedAxis(const Op &op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    fail(op.describe(), ": axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

using PtrFn = std::function<llvm::Value *(OpEmitContext &)>;

// dst[dstBase + off0] = src[srcBase + off1] over the loop space s (access 0: dst, 1: src),
// split across threads over its outermost dimension.
void copyNest(OpEmitContext &c, const LoopSpace &space, DType t, const PtrFn &dst,
              int64_t dstBase, const PtrFn &src, int64_t srcBase) {
  if (space.total() == 0)
    return;
  LoopSpace s = coalesce(space);
  CodegenContext &cg = c.cg;
  double work = (double)(s.total() / s.dims[0]);
  c.parallelFor(s.dims[0], work, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    llvm::Value *d = dst(in), *sp = src(in);
    emitLoops(in.b, cg, s, begin, end, [&](Builder &b, const std::vector<llvm::Value *> &off) {
      llvm::Value *x = cg.load(b, t, sp, b.CreateAdd(off[1], cg.i64c(srcBase)));
      cg.store(b, t, x, d, b.CreateAdd(off[0], cg.i64c(dstBase)));
    });
  });
}

PtrFn operand(size_t i) {
  return [i](OpEmitContext &c) { return c.operands[i]; };
}
PtrFn result(size_t j) {
  return [j](OpEmitContext &c) { return c.results[j]; };
}

void zero(OpEmitContext &c, size_t j) {
  int64_t bytes = numElements(c.resultType(j).shape) * (int64_t)dtypeSize(c.resultType(j).dtype);
  if (bytes > 0)
    c.b.CreateMemSet(c.results[j], c.b.getInt8(0), c.b.getInt64(bytes), llvm::MaybeAlign(1));
}

// ---- Transpose --------------------------------------------------------------------------------

std::vector<int64_t> permOf(const Op &op) {
  int64_t rank = (int64_t)op.operand(0)->shape().size();
  AttrReader a = attrsOf(op);
  if (a.has("perm"))
    return a.ints("perm");
  std::vector<int64_t> p(rank);
  for (int64_t i = 0; i < rank; ++i)
    p[i] = rank - 1 - i;
  return p;
}

// Tiles of kTile x kTile elements: the rows of the input's contiguous dimension a tile reads stay
// in cache while the innermost loop writes the output's contiguous dimension.
constexpr int64_t kTile = 32;

// The copy when the input's contiguous dimension p is not the output's innermost one: for each
// index of the other dimensions and each tile of (p, innermost), a kTile x kTile block, split
// across threads over (other index, tile row).
void tiledTranspose(OpEmitContext &c, const LoopSpace &s, size_t p, DType t) {
  CodegenContext &cg = c.cg;
  size_t last = s.dims.size() - 1;
  int64_t P = s.dims[p], L = s.dims[last], rows = (P + kTile - 1) / kTile;
  int64_t cols = (L + kTile - 1) / kTile, others = s.total() / (P * L);
  c.parallelFor(others * rows, (double)(kTile * L), [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *e) {
      llvm::Value *rest = b.CreateUDiv(e, cg.i64c(rows));
      llvm::Value *i0 = b.CreateMul(b.CreateURem(e, cg.i64c(rows)), cg.i64c(kTile));
      llvm::Value *i1 = b.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b.CreateAdd(i0, cg.i64c(kTile)), cg.i64c(P));
      llvm::Value *dstOff = cg.i64c(0), *srcOff = cg.i64c(0);
      for (size_t d = last; d-- > 0;) {
        if (d == p)
          continue;
        llvm::Value *idx = b.CreateURem(rest, cg.i64c(s.dims[d]));
        rest = b.CreateUDiv(rest, cg.i64c(s.dims[d]));
        dstOff = b.CreateAdd(dstOff, b.CreateMul(idx, cg.i64c(s.strides[0][d])));
        srcOff = b.CreateAdd(srcOff, b.CreateMul(idx, cg.i64c(s.strides[1][d])));
      }
      emitLoop(b, cg.i64c(0), cg.i64c(cols), [&](Builder &b, llvm::Value *tj) {
        llvm::Value *j0 = b.CreateMul(tj, cg.i64c(kTile));
        llvm::Value *j1 = b.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b.CreateAdd(j0, cg.i64c(kTile)), cg.i64c(L));
        emitLoop(b, i0, i1, [&](Builder &b, llvm::Value *i) {
          llvm::Value *dRow = b.CreateAdd(dstOff, b.CreateMul(i, cg.i64c(s.strides[0][p])));
          llvm::Value *sRow = b.CreateAdd(srcOff, b.CreateMul(i, cg.i64c(s.strides[1][p])));
          emitLoop(b, j0, j1, [&](Builder &b, llvm::Value *j) {
            llvm::Value *x = cg.load(b, t, in.operands[0], b.CreateAdd(sRow, b.CreateMul(j, cg.i64c(s.strides[1][last]))));
            cg.store(b, t, x, in.results[0], b.CreateAdd(dRow, b.CreateMul(j, cg.i64c(s.strides[0][last]))));
          }, "j");
        }, "i");
      }, "tj");
    }, "e");
  });
}

void lowerTranspose(OpEmitContext &c) {
  const Shape &in = c.operandType(0).shape, &out = c.resultType().shape;
  DType t = c.operandType(0).dtype;
  std::vector<int64_t> perm = permOf(c.op), inStrides = stridesOf(in);
  LoopSpace s;
  s.dims = out;
  s.strides = {stridesOf(out), {}};
  for (int64_t p : perm)
    s.strides[1].push_back(inStrides[(size_t)p]);
  if (s.total() == 0)
    return;
  LoopSpace k = coalesce(s);
  size_t last = k.dims.size() - 1;
  for (size_t p = 0; p < last; ++p)
    if (k.strides[1][p] == 1 && k.dims[p] >= kTile && k.dims[last] >= kTile) {
      tiledTranspose(c, k, p, t);
      return;
    }
  copyNest(c, s, t, result(0), 0, operand(0), 0);
}

// ---- Concat and Split: rows of the outer dimensions -------------------------------------------

// Copies `row` contiguous elements `outer` times between rows of dstRow and srcRow elements.
void copyRows(OpEmitContext &c, DType t, int64_t outer, int64_t row, const PtrFn &dst,
              int64_t dstRow, int64_t dstOff, const PtrFn &src, int64_t srcRow, int64_t srcOff) {
  LoopSpace s;
  s.dims = {outer, row};
  s.strides = {{dstRow, 1}, {srcRow, 1}};
  copyNest(c, s, t, dst, dstOff, src, srcOff);
}

void lowerConcat(OpEmitContext &c) {
  const Shape &out = c.resultType().shape;
  int64_t axis = normalizedAxis(c.op, attrsOf(c.op).i("axis"), (int64_t)out.size());
  int64_t outer = product(out, 0, axis), outRow = product(out, axis, out.size()), offset = 0;
  for (size_t i = 0; i < c.op.numOperands(); ++i) {
    const Shape &in = c.operandType(i).shape;
    int64_t row = product(in, axis, in.size());
    copyRows(c, c.resultType().dtype, outer, row, result(0), outRow, offset, operand(i), row, 0);
    offset += row;
  }
}

void lowerSplit(OpEmitContext &c) {
  const Shape &in = c.operandType(0).shape;
  int64_t axis = normalizedAxis(c.op, attrsOf(c.op).i("axis"), (int64_t)in.size());
  int64_t outer = product(in, 0, axis), inRow = product(in, axis, in.size()), offset = 0;
  for (size_t j = 0; j < c.op.numResults(); ++j) {
    const Shape &out = c.resultType(j).shape;
    int64_t row = product(out, axis, out.size());
    copyRows(c, c.operandType(0).dtype, outer, row, result(j), row, 0, operand(0), inRow, offset);
    offset += row;
  }
}

// ---- Slice and SliceGrad ----------------------------------------------------------------------


bool constantOperands(const Op &op, size_t from) {
  for (size_t i = from; i < op.numOperands(); ++i)
    if (op.operand(i) && !constantValue(op.operand(i)))
      return false;
  return true;
}

std::string unsupportedFrom(const Op &op, size_t from) {
  return constantOperands(op, from) ? "" : "its index operands are not compile-time constants";
}

void lowerSlice(OpEmitContext &c) {
  const Shape &in = c.operandType(0).shape;
  SliceWindow w = constantSliceWindow(c.op, in, 1);
  if (w.out != c.resultType().shape)
    c.error("the window has shape ", shapeStr(w.out), ", not the result's ",
            shapeStr(c.resultType().shape));
  int64_t base;
  LoopSpace s;
  s.dims = w.out;
  s.strides = {stridesOf(w.out), {}};
  sliceStrides(w, in, base, s.strides[1]);
  copyNest(c, s, c.operandType(0).dtype, result(0), 0, operand(0), base);
}

// out = zeros; out[window] = dy.
void lowerSliceGrad(OpEmitContext &c) {
  const Shape &out = c.resultType().shape;
  SliceWindow w = constantSliceWindow(c.op, out, 2);
  if (w.out != c.operandType(0).shape)
    c.error("the window has shape ", shapeStr(w.out), ", but dy has shape ",
            shapeStr(c.operandType(0).shape));
  zero(c, 0);
  int64_t base;
  LoopSpace s;
  s.dims = w.out;
  s.strides = {{}, stridesOf(w.out)};
  sliceStrides(w, out, base, s.strides[0]);
  copyNest(c, s, c.operandType(0).dtype, result(0), base, operand(0), 0);
}

// ---- Gather and GatherGrad --------------------------------------------------------------------

struct GatherLayout {
  int64_t axis, outer, dim, inner, count;
};

GatherLayout gatherLayout(const Op &op, const Shape &data, const Shape &indices) {
  GatherLayout g;
  g.axis = normalizedAxis(op, attrsOf(op).i("axis"), (int64_t)data.size());
  g.outer = product(data, 0, g.axis);
  g.dim = data[g.axis];
  g.inner = product(data, g.axis + 1, data.size());
  g.count = numElements(indices);
  return g;
}

// Checks every index in order, reporting the first out of range as the interpreter does.
void checkIndices(OpEmitContext &c, const GatherLayout &g, size_t idxOperand) {
  CodegenContext &cg = c.cg;
  DType it = c.operandType(idxOperand).dtype;
  emitLoop(c.b, cg.i64c(0), cg.i64c(g.count), [&](Builder &b, llvm::Value *j) {
    llvm::Value *v = b.CreateSExt(cg.load(b, it, c.operands[idxOperand], j), b.getInt64Ty());
    llvm::Value *bad = b.CreateOr(b.CreateICmpSLT(v, cg.i64c(-g.dim)), b.CreateICmpSGE(v, cg.i64c(g.dim)));
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    llvm::BasicBlock *report = llvm::BasicBlock::Create(cg.ctx, "bad.index", fn);
    llvm::BasicBlock *next = llvm::BasicBlock::Create(cg.ctx, "index.ok", fn);
    b.CreateCondBr(bad, report, next);
    b.SetInsertPoint(report);
    cg.reportError(b, c.op.describe() + ": index {0} is out of range for axis " +
                          std::to_string(g.axis) + " of size " + std::to_string(g.dim),
                   v, cg.i64c(0), cg.i64c(0));
    b.CreateBr(next);
    b.SetInsertPoint(next);
  }, "j");
}

// Index j normalized into [0, dim); 0 where it is out of range (already reported).
llvm::Value *indexAt(OpEmitContext &c, const GatherLayout &g, size_t idxOperand, llvm::Value *j) {
  CodegenContext &cg = c.cg;
  Builder &b = c.b;
  DType it = c.operandType(idxOperand).dtype;
  llvm::Value *v = b.CreateSExt(cg.load(b, it, c.operands[idxOperand], j), b.getInt64Ty());
  llvm::Value *bad = b.CreateOr(b.CreateICmpSLT(v, cg.i64c(-g.dim)), b.CreateICmpSGE(v, cg.i64c(g.dim)));
  llvm::Value *norm = b.CreateSelect(b.CreateICmpSLT(v, cg.i64c(0)), b.CreateAdd(v, cg.i64c(g.dim)), v);
  return b.CreateSelect(bad, cg.i64c(0), norm);
}

void lowerGather(OpEmitContext &c) {
  GatherLayout g = gatherLayout(c.op, c.operandType(0).shape, c.operandType(1).shape);
  if (g.outer * g.count * g.inner == 0)
    return;
  checkIndices(c, g, 1);
  CodegenContext &cg = c.cg;
  DType t = c.operandType(0).dtype;
  // One iteration per gathered row (o, j): its index, then `inner` contiguous elements.
  c.parallelFor(g.outer * g.count, (double)g.inner, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *e) {
      llvm::Value *o = b.CreateUDiv(e, cg.i64c(g.count)), *j = b.CreateURem(e, cg.i64c(g.count));
      llvm::Value *ix = indexAt(in, g, 1, j);
      llvm::Value *src = b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(g.dim)), ix), cg.i64c(g.inner));
      llvm::Value *dst = b.CreateMul(e, cg.i64c(g.inner));
      emitLoop(b, cg.i64c(0), cg.i64c(g.inner), [&](Builder &b, llvm::Value *k) {
        llvm::Value *x = cg.load(b, t, in.operands[0], b.CreateAdd(src, k));
        cg.store(b, t, x, in.results[0], b.CreateAdd(dst, k));
      }, "k");
    }, "e");
  });
}

// out = zeros; out[o, ix[j], k] += dy[o, j, k] for j in order (repeated indices accumulate in
// the interpreter's order; threads split the outer dimension, whose rows never meet).
void lowerGatherGrad(OpEmitContext &c) {
  zero(c, 0);
  GatherLayout g = gatherLayout(c.op, c.resultType().shape, c.operandType(1).shape);
  if (g.outer * g.count * g.inner == 0)
    return;
  checkIndices(c, g, 1);
  CodegenContext &cg = c.cg;
  DType t = c.operandType(0).dtype;
  c.parallelFor(g.outer, (double)(g.count * g.inner), [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    emitLoop(in.b, begin, end, [&](Builder &b, llvm::Value *o) {
      emitLoop(b, cg.i64c(0), cg.i64c(g.count), [&](Builder &b, llvm::Value *j) {
        llvm::Value *ix = indexAt(in, g, 1, j);
        llvm::Value *dst = b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(g.dim)), ix), cg.i64c(g.inner));
        llvm::Value *src = b.CreateMul(b.CreateAdd(b.CreateMul(o, cg.i64c(g.count)), j), cg.i64c(g.inner));
        emitLoop(b, cg.i64c(0), cg.i64c(g.inner), [&](Builder &b, llvm::Value *k) {
          llvm::Value *x = cg.load(b, t, in.operands[0], b.CreateAdd(src, k));
          llvm::Value *a = cg.load(b, t, in.results[0], b.CreateAdd(dst, k));
          llvm::Value *sum = isFloat(t) ? b.CreateFAdd(a, x) : b.CreateAdd(a, x);
          cg.store(b, t, sum, in.results[0], b.CreateAdd(dst, k));
        }, "k");
      }, "j");
    }, "o");
  });
}

} // namespace

void registerDataMovementLowerings(LoweringRegistry &r) {
  auto add = [&](const char *domain, const char *name, EmitFn emit,
                 std::function<std::string(const Op &)> unsupported = nullptr) {
    OpLowering l;
    l.emit = std::move(emit);
    l.unsupported = std::move(unsupported);
    r.add(domain, name, std::move(l));
  };
  add("", "Transpose", lowerTranspose);
  add("", "Concat", lowerConcat);
  add("", "Split", lowerSplit); // sizes come from the result types
  add("", "Slice", lowerSlice, [](const Op &op) { return unsupportedFrom(op, 1); });
  add("", "Gather", lowerGather);
  add("adjoint", "SliceGrad", lowerSliceGrad, [](const Op &op) { return unsupportedFrom(op, 1); });
  add("adjoint", "GatherGrad", lowerGatherGrad);
}

namespace {

struct SliceErrors {
  const Op &op;
  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(op.describe(), ": ", args...);
  }
};

} // namespace

// Declared in Elementwise.h (the GPU's Slice lowering uses it too).
SliceWindow constantSliceWindow(const Op &op, const Shape &in, size_t first) {
  std::vector<int64_t> vals[4];
  bool has[4] = {false, false, false, false};
  for (size_t k = 0; k < 4; ++k) {
    size_t i = first + k;
    if (i >= op.numOperands() || !op.operand(i))
      continue;
    std::optional<Tensor> t = constantValue(op.operand(i));
    if (!t)
      fail(op.describe(), ": slice indices must be compile-time constants");
    vals[k] = t->toInts();
    has[k] = true;
  }
  return sliceWindow(SliceErrors{op}, in, vals[0], vals[1], has[2] ? &vals[2] : nullptr,
                     has[3] ? &vals[3] : nullptr);
}

} // namespace adjoint
