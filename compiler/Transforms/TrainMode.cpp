// Switches ops whose behaviour differs between inference and training into training form:
// BatchNormalization normalizes with batch statistics (training_mode = 1) and Dropout drops
// (its training_mode operand becomes a constant true). Models exported for inference carry
// the inference form; training them as PyTorch's model.train() would needs this pass.
#include "Ops/Build.h"
#include "Transforms/Pass.h"

namespace adjoint {

bool runTrainMode(Function &f, PassContext &ctx) {
  bool changed = false;
  std::vector<Op *> ops;
  for (const auto &op : f.ops())
    ops.push_back(op.get());
  for (Op *op : ops) {
    if (!op->domain().empty())
      continue;
    if (op->opType() == "BatchNormalization" && op->intAttr("training_mode", 0) == 0) {
      op->setAttr("training_mode", Attribute(1));
      changed = true;
      ctx.stats["train-mode.batchnorm"]++;
    } else if (op->opType() == "Dropout") {
      Value *yes = buildConstant(f, Tensor::scalar<bool>(true), op);
      op->setOperand(2, yes);
      changed = true;
      ctx.stats["train-mode.dropout"]++;
    }
  }
  return changed;
}

} // namespace adjoint
