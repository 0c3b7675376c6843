// Canonicalization: constant folding through the reference kernels, and algebraic identities
// that replace an op by one of its operands (x+0, x*1, Identity, no-op Reshape/Transpose/Cast,
// double Neg, Transpose∘Transpose, Reshape∘Reshape, inference Dropout, ...).
//
// An identity applies only when the replacement has exactly the result's type: `x + zeros` that
// broadcasts x to a larger shape is not a no-op. Rewrites that would change IEEE results beyond
// the sign of zero (x*0 → 0, x-x → 0) are not done: they are wrong for NaN and Inf. Folding is
// capped at kFoldLimit elements per result so a constant Expand cannot blow up the binary.
#include "Ops/Build.h"
#include "Transforms/Pass.h"


namespace adjoint {

namespace {
constexpr int64_t kFoldLimit = 1 << 20;

const Tensor *constantOf(const Value *v) {
  if (!v || !v->definingOp() || v->definingOp()->opType() != "Constant" ||
      !v->definingOp()->domain().empty())
    return nullptr;
  const Attribute *a = v->definingOp()->attr("value");
  return a && a->kind() == AttrKind::Tensor ? &a->tensor() : nullptr;
}

bool isSplat(const Value *v, double x) {
  const Tensor *t = constantOf(v);
  if (!t || t->numel() == 0)
    return false;
  for (int64_t i = 0; i < t->numel(); ++i)
    if (t->getDouble(i) != x)
      return false;
  return true;
}

Op *producer(const Value *v, const char *type) {
  Op *d = v ? v->definingOp() : nullptr;
  return d && d->opType() == type && d->domain().empty() ? d : nullptr;
}

// Returns the value that can replace op's first result, or nullptr.
Value *simplify(Op &op, Function &f) {
  const std::string &t = op.opType();
  if (!op.domain().empty() || op.numResults() != 1)
    return nullptr;
  const TensorType &rt = op.result()->type();
  auto same = [&](Value *v) { return v && v->type() == rt ? v : nullptr; };
  Value *a = op.operand(0), *b = op.operand(1);

  if (t == "Identity")
    return same(a);
  if (t == "Add") {
    if (isSplat(b, 0.0))
      return same(a);
    if (isSplat(a, 0.0))
      return same(b);
  }
  if (t == "Sub" && isSplat(b, 0.0))
    return same(a);
  if (t == "Mul") {
    if (isSplat(b, 1.0))
      return same(a);
    if (isSplat(a, 1.0))
      return same(b);
  }
  if ((t == "Div" || t == "Pow") && isSplat(b, 1.0))
    return same(a);
  if (t == "Neg")
    if (Op *inner = producer(a, "Neg"))
      return same(inner->operand(0));
  if (t == "Cast" || t == "Reshape" || t == "Flatten" || t == "Expand" || t == "Squeeze" ||
      t == "Unsqueeze")
    if (Value *v = same(a))
      return v;
  if (t == "Concat" && op.numOperands() == 1)
    return same(a);
  if (t == "Transpose") {
    std::vector<int64_t> perm = op.intsAttr("perm");
    if (perm.empty())
      for (int64_t i = a->type().rank() - 1; i >= 0; --i)
        perm.push_back(i);
    bool identity = true;
    for (size_t i = 0; i < perm.size(); ++i)
      identity &= perm[i] == (int64_t)i;
    if (identity)
      return same(a);
    if (Op *inner = producer(a, "Transpose")) {
      std::vector<int64_t> p1 = inner->intsAttr("perm");
      Value *x = inner->operand(0);
      if (p1.empty())
        for (int64_t i = x->type().rank() - 1; i >= 0; --i)
          p1.push_back(i);
      std::vector<int64_t> composed(perm.size());
      for (size_t i = 0; i < perm.size(); ++i)
        composed[i] = p1[(size_t)perm[i]];
      return buildOp(f, "Transpose", {x}, {{"perm", Attribute(composed)}}, 1, &op)->result();
    }
  }
  if (t == "Reshape")
    if (Op *inner = producer(a, "Reshape"))
      return buildOp(f, "Reshape", {inner->operand(0), op.operand(1)}, op.attrs(), 1, &op)->result();
  if (t == "Slice" && a->type() == rt && (op.numOperands() < 5 || isSplat(op.operand(4), 1.0)))
    return same(a);
  if (t == "Where") {
    if (isSplat(a, 1.0))
      return same(b);
    if (isSplat(a, 0.0))
      return same(op.operand(2));
  }
  return nullptr;
}

// Dropout outside training is the identity on its first result; its mask (if used) stays.
bool simplifyDropout(Op &op, Function &f) {
  if (op.opType() != "Dropout" || !op.domain().empty())
    return false;
  Value *training = op.operand(2);
  if (training && !isSplat(training, 0.0))
    return false;
  if (!op.result(0)->hasUses() && !f.isOutput(op.result(0)))
    return false;
  f.replaceAllUses(op.result(0), op.operand(0));
  return true;
}
} // namespace

bool runCanonicalize(Function &f, PassContext &ctx) {
  bool changedAny = false;
  for (int iter = 0; iter < 16; ++iter) {
    bool changed = false;
    std::vector<Op *> ops;
    for (const auto &op : f.ops())
      ops.push_back(op.get());
    for (Op *op : ops) {
      if (op->opType() == "Constant")
        continue;
      bool big = false;
      for (size_t i = 0; i < op->numResults(); ++i)
        big |= numElements(op->result(i)->shape()) > kFoldLimit;
      if (auto folded = big ? std::nullopt : tryFold(*op)) {
        for (size_t i = 0; i < op->numResults(); ++i)
          f.replaceAllUses(op->result(i), buildConstant(f, std::move((*folded)[i]), op));
        ctx.stats["canonicalize.folded"]++;
        changed = true;
        continue;
      }
      if (big && ctx.debugging("canonicalize"))
        ctx.dbgs() << "canonicalize: not folding " << op->describe()
                   << ": a result has more than " << kFoldLimit << " elements\n";
      if (simplifyDropout(*op, f)) {
        ctx.stats["canonicalize.simplified"]++;
        changed = true;
        continue;
      }
      if (Value *r = simplify(*op, f)) {
        f.replaceAllUses(op->result(), r);
        ctx.stats["canonicalize.simplified"]++;
        changed = true;
      }
    }
    // Like MLIR's canonicalizer, trivially dead ops go too (every op here is free of side
    // effects), so folded-away operands do not linger.
    while (f.eraseOpsIf([&](const Op &op) {
      for (size_t i = 0; i < op.numResults(); ++i)
        if (op.result(i)->hasUses() || f.isOutput(op.result(i)))
          return false;
      return true;
    }))
      changed = true;
    changedAny |= changed;
    if (!changed)
      break;
  }
  return changedAny;
}

} // namespace adjoint
