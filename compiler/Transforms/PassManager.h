#pragma once
// Runs a pipeline of registered passes over every function of a module, as adjoint-opt does.
#include "Transforms/Pass.h"

#include <ostream>

namespace adjoint {

struct PipelineOptions {
  bool printAfterAll = false; // print the IR after each pass to `irStream`
  bool verifyEach = false;    // run the verifier after each pass
  std::ostream *irStream = nullptr;
  int64_t elideAbove = 16;
};

void runPipeline(Module &m, const std::vector<const PassInfo *> &passes, PassContext &ctx,
                 const PipelineOptions &opts);

} // namespace adjoint
