#include "Transforms/PassManager.h"
#include "IR/Printer.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

namespace adjoint {

void runPipeline(Module &m, const std::vector<const PassInfo *> &passes, PassContext &ctx,
                 const PipelineOptions &opts) {
  for (const PassInfo *p : passes) {
    for (const auto &f : m.functions()) {
      p->run(*f, ctx);
      if (opts.verifyEach) {
        try {
          verifyFunction(*f);
        } catch (const Error &e) {
          fail("verifier failed after --", p->name, ": ", e.what());
        }
      }
    }
    if (opts.printAfterAll && opts.irStream) {
      *opts.irStream << "// ----- IR after --" << p->name << " -----\n";
      PrintOptions po;
      po.elideAbove = opts.elideAbove;
      printModule(*opts.irStream, m, po);
    }
  }
}

} // namespace adjoint
