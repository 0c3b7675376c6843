#include "BatchNormStats.h"
#include "Ops/Build.h"

#include <set>

namespace adjoint::train {

std::vector<std::string> exposeBatchNormStatistics(Function &f) {
  std::vector<Op *> bns;
  for (const auto &op : f.ops())
    if (op->domain().empty() && op->opType() == "BatchNormalization" &&
        op->intAttr("training_mode", 0) == 1)
      bns.push_back(op.get());
  std::vector<std::string> stats;
  std::set<const Value *> taken;
  for (Op *op : bns) {
    Value *mean = op->operand(3), *var = op->operand(4);
    // Statistics shared between two ops (deduplicated initializers) cannot have two updates.
    if (!mean || !var || !mean->isParam() || !var->isParam() || mean == var ||
        taken.count(mean) || taken.count(var))
      continue;
    Op *full = op;
    if (op->numResults() < 3) {
      full = buildOp(f, "BatchNormalization", op->operands(), op->attrs(), 3, op, "", op->name());
      f.replaceAllUses(op->result(0), full->result(0));
      f.eraseOp(op);
    }
    taken.insert(mean);
    taken.insert(var);
    f.addOutput("new." + mean->name(), full->result(1));
    f.addOutput("new." + var->name(), full->result(2));
    stats.push_back(mean->name());
    stats.push_back(var->name());
  }
  return stats;
}

} // namespace adjoint::train
