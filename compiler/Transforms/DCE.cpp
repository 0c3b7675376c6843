// Dead code elimination: removes ops none of whose results reach a function output. Works
// backwards from the outputs in one sweep, so chains of dead ops go at once. Arguments stay:
// they are the function's signature.
#include "Transforms/Pass.h"

#include <unordered_set>

namespace adjoint {

bool runDCE(Function &f, PassContext &ctx) {
  std::unordered_set<const Op *> live;
  std::vector<const Op *> work;
  for (const auto &o : f.outputs())
    if (Op *d = o.value->definingOp(); d && live.insert(d).second)
      work.push_back(d);
  while (!work.empty()) {
    const Op *op = work.back();
    work.pop_back();
    for (Value *v : op->operands())
      if (v)
        if (Op *d = v->definingOp(); d && live.insert(d).second)
          work.push_back(d);
  }
  if (ctx.debugging("dce"))
    for (const auto &op : f.ops())
      if (!live.count(op.get()))
        ctx.dbgs() << "dce: removing " << op->describe() << ": no result reaches an output\n";
  size_t n = f.eraseOpsIf([&](const Op &op) { return !live.count(&op); });
  ctx.stats["dce.removed"] += (int64_t)n;
  return n != 0;
}

} // namespace adjoint
