// ReduceSum, ReduceMean, ReduceMax as generated loops, with the interpreter's semantics
// (Ops/Reduce.cpp): floats accumulate in double, integers wrap, Max propagates NaN, an empty
// reduction gives 0 / NaN / -inf (lowest for integers).
//
// Two loop orders, chosen by whether the innermost input dimension is reduced:
//  - reduced (a row sum): for each output element, one accumulator in a register over the
//    reduced dimensions; the innermost loop is a contiguous reduction, vectorized because the
//    adds may be reassociated (results then differ from the interpreter's order in the last bits
//    of the double accumulator, unless huge values cancel: 1e30 + x - 1e30);
//  - kept (a column sum, e.g. a bias gradient over the batch): a row of accumulators, updated by
//    a contiguous elementwise loop for each reduced index; f32 sums keep that row in double in
//    scratch memory, other cases accumulate in the output itself.
// The outer kept loop (first order) or the accumulator row (second) is split across threads.
#include "CodeGen/Elementwise.h"
#include "CodeGen/Loops.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint {

namespace {

enum class Kind { Sum, Mean, Max };

struct ReduceLayout {
  bool noop = false;
  int64_t count = 1;           // elements folded into each output element
  LoopSpace kept;              // accesses: input, output
  LoopSpace reduced;           // accesses: input
  bool innermostReduced = false;
  bool hasKept = false, hasReduced = false;
};

ReduceLayout analyze(const Op &op) {
  const Shape &in = op.operand(0)->shape();
  int64_t rank = (int64_t)in.size();
  std::vector<int64_t> axes = constantReduceAxes(op);
  ReduceLayout r;
  if (axes.empty() && op.opType() == "ReduceSum" && attrsOf(op).i("noop_with_empty_axes") != 0) {
    r.noop = true;
    return r;
  }
  std::vector<bool> red(rank, axes.empty());
  for (int64_t a : axes)
    red[(size_t)normalizeAxis(a, rank, "axes")] = true;
  std::vector<int64_t> inStrides = stridesOf(in);
  Shape keptShape;
  for (int64_t d = 0; d < rank; ++d)
    if (!red[d])
      keptShape.push_back(in[d]);
  std::vector<int64_t> outStrides = stridesOf(keptShape);
  r.kept.strides.resize(2);
  r.reduced.strides.resize(1);
  size_t k = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (red[d]) {
      r.count *= in[d];
      r.reduced.dims.push_back(in[d]);
      r.reduced.strides[0].push_back(inStrides[d]);
    } else {
      r.kept.dims.push_back(in[d]);
      r.kept.strides[0].push_back(inStrides[d]);
      r.kept.strides[1].push_back(outStrides[k++]);
    }
    if (in[d] != 1)
      r.innermostReduced = red[d];
  }
  r.hasKept = numElements(keptShape) > 1;
  r.hasReduced = r.count > 1;
  r.kept = coalesce(r.kept);
  r.reduced = coalesce(r.reduced);
  return r;
}

Kind kindOf(const Op &op) {
  return op.opType() == "ReduceSum" ? Kind::Sum : op.opType() == "ReduceMean" ? Kind::Mean : Kind::Max;
}

// The accumulator type: double for float sums and means, the element type otherwise.
llvm::Type *accType(CodegenContext &cg, Kind k, DType t) {
  return isFloat(t) && k != Kind::Max ? llvm::Type::getDoubleTy(cg.ctx) : cg.scalarType(t);
}

bool needsScratch(const Op &op, const ReduceLayout &r) {
  DType t = op.operand(0)->dtype();
  return !r.noop && r.hasReduced && !r.innermostReduced && t == DType::F32 && kindOf(op) != Kind::Max;
}

llvm::Value *initial(llvm::Type *acc, Kind k) {
  if (k != Kind::Max)
    return llvm::Constant::getNullValue(acc);
  if (acc->isFloatingPointTy())
    return llvm::ConstantFP::getInfinity(acc, /*Negative=*/true);
  return llvm::ConstantInt::get(acc, llvm::APInt::getSignedMinValue(acc->getIntegerBitWidth()));
}

// `lanes`: the sum may be split into vector lanes (a row reduction); otherwise each accumulator
// adds its elements in the interpreter's order.
llvm::Value *combine(Builder &b, Kind k, llvm::Value *acc, llvm::Value *x, DType t, bool lanes) {
  if (k == Kind::Max)
    return b.CreateBinaryIntrinsic(isFloat(t) ? llvm::Intrinsic::maximum : llvm::Intrinsic::smax, acc, x);
  if (!isFloat(t))
    return b.CreateAdd(acc, x);
  llvm::Value *wide = x->getType() == acc->getType() ? x : b.CreateFPExt(x, acc->getType());
  auto *add = llvm::cast<llvm::Instruction>(b.CreateFAdd(acc, wide));
  add->setHasAllowReassoc(lanes); // lets the loop vectorizer split the sum into lanes
  return add;
}

llvm::Value *finish(Builder &b, Kind k, llvm::Value *acc, DType t, int64_t count) {
  if (k == Kind::Mean)
    acc = isFloat(t) ? b.CreateFDiv(acc, llvm::ConstantFP::get(acc->getType(), (double)count))
                     : b.CreateSDiv(acc, llvm::ConstantInt::get(acc->getType(), count));
  return isFloat(t) && acc->getType() != b.getDoubleTy() ? acc : convertScalar(b, acc, isFloat(t) ? DType::F64 : t, t);
}

// A scalar accumulator in the function's entry block, where SROA turns it into a register.
llvm::Value *entryAlloca(OpEmitContext &c, llvm::Type *t) {
  llvm::BasicBlock &entry = c.fn->getEntryBlock();
  Builder eb(&entry, entry.begin());
  return eb.CreateAlloca(t);
}

void lowerReduce(OpEmitContext &c) {
  const Op &op = c.op;
  DType t = c.operandType(0).dtype;
  Kind k = kindOf(op);
  int64_t outN = numElements(c.resultType().shape);
  if (outN == 0)
    return;
  ReduceLayout r = analyze(op);
  CodegenContext &cg = c.cg;
  if (r.noop || (!r.hasReduced && r.count == 1)) {
    // Nothing folds: the output is the input (a sum of one element in double rounds back).
    cg.copy(c.b, c.results[0], c.operands[0], outN * (int64_t)dtypeSize(t));
    return;
  }
  llvm::Type *acc = accType(cg, k, t);
  if (r.count == 0) {
    llvm::Value *v = finish(c.b, k, initial(acc, k), t, 0);
    emitLoop(c.b, cg.i64c(0), cg.i64c(outN), [&](Builder &b, llvm::Value *i) {
      cg.store(b, t, v, c.results[0], i);
    });
    return;
  }

  if (r.innermostReduced || !r.hasKept) {
    int64_t outer = r.kept.dims[0], innerKept = r.kept.total() / outer;
    double work = (double)innerKept * (double)r.count;
    c.parallelFor(outer, work, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
      llvm::Value *slot = entryAlloca(in, acc);
      emitLoops(in.b, cg, r.kept, begin, end, [&](Builder &b, const std::vector<llvm::Value *> &ko) {
        b.CreateStore(initial(acc, k), slot);
        emitLoops(b, cg, r.reduced, cg.i64c(0), cg.i64c(r.reduced.dims[0]),
                  [&](Builder &b, const std::vector<llvm::Value *> &ro) {
                    llvm::Value *x = cg.load(b, t, in.operands[0], b.CreateAdd(ko[0], ro[0]));
                    b.CreateStore(combine(b, k, b.CreateLoad(acc, slot), x, t, true), slot);
                  });
        cg.store(b, t, finish(b, k, b.CreateLoad(acc, slot), t, r.count), in.results[0], ko[1]);
      });
    });
    return;
  }

  // The innermost kept dimension is contiguous in input and output: a row of accumulators.
  int64_t row = r.kept.dims.back();
  LoopSpace outerKept = r.kept;
  outerKept.dims.pop_back();
  for (auto &s : outerKept.strides)
    s.pop_back();
  if (outerKept.dims.empty()) {
    outerKept.dims.push_back(1);
    for (auto &s : outerKept.strides)
      s.push_back(0);
  }
  bool scratch = needsScratch(op, r);
  double work = (double)(r.kept.total() / row) * (double)r.count;
  c.parallelFor(row, work, [&](OpEmitContext &in, llvm::Value *jb, llvm::Value *je) {
    emitLoops(in.b, cg, outerKept, cg.i64c(0), cg.i64c(outerKept.dims[0]),
              [&](Builder &b, const std::vector<llvm::Value *> &ko) {
      // Accumulator j lives at accBase[accOff + j].
      llvm::Value *accBase = scratch ? in.scratch : in.results[0];
      DType accDType = scratch ? DType::F64 : t;
      llvm::Value *accOff = scratch ? cg.i64c(0) : ko[1];
      auto accAt = [&](Builder &b, llvm::Value *j) { return b.CreateAdd(accOff, j); };
      emitLoop(b, jb, je, [&](Builder &b, llvm::Value *j) {
        cg.store(b, accDType, initial(acc, k), accBase, accAt(b, j));
      }, "init");
      emitLoops(b, cg, r.reduced, cg.i64c(0), cg.i64c(r.reduced.dims[0]),
                [&](Builder &b, const std::vector<llvm::Value *> &ro) {
        llvm::Value *base = b.CreateAdd(ko[0], ro[0]);
        emitLoop(b, jb, je, [&](Builder &b, llvm::Value *j) {
          llvm::Value *x = cg.load(b, t, in.operands[0], b.CreateAdd(base, j));
          llvm::Value *a = cg.load(b, accDType, accBase, accAt(b, j));
          cg.store(b, accDType, combine(b, k, a, x, t, false), accBase, accAt(b, j));
        }, "j");
      });
      if (scratch || k == Kind::Mean)
        emitLoop(b, jb, je, [&](Builder &b, llvm::Value *j) {
          llvm::Value *a = cg.load(b, accDType, accBase, accAt(b, j));
          cg.store(b, t, finish(b, k, a, t, r.count), in.results[0], b.CreateAdd(ko[1], j));
        }, "fin");
    });
  });
}

} // namespace

void registerReduceLowerings(LoweringRegistry &r) {
  OpLowering l;
  l.emit = lowerReduce;
  l.scratchBytes = [](const Op &op) -> int64_t {
    ReduceLayout r = analyze(op);
    return needsScratch(op, r) ? r.kept.dims.back() * 8 : 0;
  };
  l.unsupported = [](const Op &op) -> std::string {
    if (op.opType() == "ReduceSum" && op.operand(1) && !constantValue(op.operand(1)))
      return "its axes are not a compile-time constant";
    return "";
  };
  for (const char *name : {"ReduceSum", "ReduceMean", "ReduceMax"})
    r.add("", name, l);
}

// Declared in Elementwise.h.
std::vector<int64_t> constantReduceAxes(const Op &op) {
  if (op.opType() == "ReduceSum") {
    if (op.numOperands() < 2 || !op.operand(1))
      return {};
    std::optional<Tensor> t = constantValue(op.operand(1));
    if (!t)
      fail(op.describe(), ": axes must be a compile-time constant");
    return t->toInts();
  }
  return attrsOf(op).has("axes") ? attrsOf(op).ints("axes") : std::vector<int64_t>{};
}


} // namespace adjoint
