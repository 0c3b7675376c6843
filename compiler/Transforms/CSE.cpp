// Common subexpression elimination: two ops with the same type, domain, operands, attributes and
// result types compute the same values, so the later one is replaced by the earlier one. Ops
// are visited in order, so operands are already canonical when an op is hashed. Ops that are
// not pure (their schema is not foldable: random Dropout) are never merged.
#include "Ops/OpRegistry.h"
#include "Transforms/Pass.h"

#include <unordered_map>

namespace adjoint {

namespace {
size_t opHash(const Op &op) {
  size_t h = std::hash<std::string>()(op.opType()) ^ (std::hash<std::string>()(op.domain()) << 1);
  for (Value *v : op.operands())
    h = h * 31 + std::hash<const void *>()(v);
  for (const auto &[name, a] : op.attrs())
    h = h * 31 + (std::hash<std::string>()(name) ^ a.hash());
  return h;
}

bool sameOp(const Op &a, const Op &b) {
  if (a.opType() != b.opType() || a.domain() != b.domain() || a.operands() != b.operands() ||
      a.attrs() != b.attrs() || a.numResults() != b.numResults())
    return false;
  for (size_t i = 0; i < a.numResults(); ++i)
    if (a.result(i)->type() != b.result(i)->type())
      return false;
  return true;
}
} // namespace

bool runCSE(Function &f, PassContext &ctx) {
  std::unordered_multimap<size_t, Op *> seen;
  std::vector<Op *> dead;
  for (const auto &opPtr : f.ops()) {
    Op &op = *opPtr;
    const OpSchema *schema = OpRegistry::instance().find(op);
    if (!schema || !schema->foldable) {
      if (ctx.debugging("cse"))
        ctx.dbgs() << "cse: not merging " << op.describe() << ": it is not a pure op\n";
      continue;
    }
    size_t h = opHash(op);
    Op *match = nullptr;
    auto [lo, hi] = seen.equal_range(h);
    for (auto it = lo; it != hi && !match; ++it)
      if (sameOp(*it->second, op))
        match = it->second;
    if (!match) {
      seen.emplace(h, &op);
      continue;
    }
    for (size_t i = 0; i < op.numResults(); ++i)
      f.replaceAllUses(op.result(i), match->result(i));
    dead.push_back(&op);
  }
  std::unordered_map<const Op *, bool> isDead;
  for (Op *d : dead)
    isDead[d] = true;
  f.eraseOpsIf([&](const Op &op) { return isDead.count(&op) != 0; });
  ctx.stats["cse.eliminated"] += (int64_t)dead.size();
  return !dead.empty();
}

} // namespace adjoint
