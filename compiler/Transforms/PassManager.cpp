#include "Transforms/PassManager.h"
#include "IR/Printer.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

namespace adjoint {

void runPipeline(Module &m, const std::vector<const PassInfo *> &passes, PassContext &ctx,
                 const PipelineOptions &opts) {
  for (const PassInfo *p : passes) {
    // A snapshot: a pass may add functions (fusion adds kernel bodies) while it runs.
    std::vector<Function *> fns;
    for (const auto &f : m.functions())
      fns.push_back(f.get());
    for (Function *f : fns) {
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
