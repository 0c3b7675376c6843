#include "Transforms/Pass.h"

namespace adjoint {

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
      {"canonicalize", "fold constants and simplify algebraic identities", runCanonicalize},
      {"cse", "merge ops that compute the same value", runCSE},
      {"dce", "remove ops whose results are never used", runDCE},
      {"train-mode", "BatchNormalization and Dropout in training form", runTrainMode},
      {"autodiff",
       "reverse-mode differentiation: add grad.<param> outputs for the loss",
       runAutodiff,
       {{"loss", "the output to differentiate (default: the first output)"},
        {"freeze", "comma-separated parameters that get no gradient"}}},
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
