#include "Transforms/Pass.h"

namespace adjoint {

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
      {"canonicalize", "fold constants and simplify algebraic identities", runCanonicalize},
      {"cse", "merge ops that compute the same value", runCSE},
      {"dce", "remove ops whose results are never used", runDCE},
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
