#include "Transforms/Pass.h"

namespace adjoint {

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
      {"canonicalize", "fold constants and simplify algebraic identities", runCanonicalize},
      {"cse", "merge ops that compute the same value", runCSE},
      {"dce", "remove ops whose results are never used", runDCE},
      {"train-mode", "BatchNormalization and Dropout in training form", runTrainMode},
      {"attach-loss",
       "=KIND[:OUTPUT]: add input `target` and a first output `loss` (KIND: cross-entropy, mse, "
       "l1, bce-with-logits; OUTPUT: default the first)",
       runAttachLoss},
      {"autodiff",
       "reverse-mode differentiation: add grad.<param> outputs for the loss",
       runAutodiff,
       {{"loss", "the output to differentiate (default: the first output)"},
        {"freeze", "comma-separated parameters that get no gradient"}}},
      {"optimizer",
       "=sgd|adam|adamw|rmsprop|adagrad: after --autodiff, the update as ops (inputs lr, step, "
       "state; outputs new.*; see docs/optimizers.md)",
       runOptimizerStep,
       {{"momentum", "sgd, rmsprop: momentum factor (default 0)"},
        {"dampening", "sgd: dampening for momentum (default 0)"},
        {"nesterov", "sgd: 1 for Nesterov momentum (default 0)"},
        {"weight-decay", "L2 penalty; adamw: decoupled decay (default 0; adamw 0.01)"},
        {"beta1", "adam, adamw: first-moment decay (default 0.9)"},
        {"beta2", "adam, adamw: second-moment decay (default 0.999)"},
        {"eps", "adam, adamw, rmsprop: 1e-8; adagrad: 1e-10"},
        {"amsgrad", "adam, adamw: 1 for the AMSGrad variant (default 0)"},
        {"alpha", "rmsprop: smoothing constant (default 0.99)"},
        {"centered", "rmsprop: 1 to normalize by the gradient's variance (default 0)"},
        {"lr-decay", "adagrad: learning-rate decay (default 0)"},
        {"initial-accumulator", "adagrad: initial value of the sum of squares (default 0)"},
        {"clip-grad-norm", "clip the gradients' total 2-norm to this first (default: none)"}}},
      {"expand-gradient",
       "replace ONNX Gradient ops (ai.onnx.preview.training) by the adjoint graph",
       runExpandGradient},
      {"fuse",
       "group elementwise ops, reductions and GEMM epilogues into adjoint.Kernel ops whose bodies "
       "are new functions (@<fn>.kernelN)",
       runFusion,
       {{"fuse-max-ops", "most ops in one kernel (default 64)"}}},
  };
  return passes;
}

const PassInfo *findPass(const std::string &name) {
  for (const auto &p : allPasses())
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace adjoint
