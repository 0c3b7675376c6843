// Text forms of GPU plans: adjoint-opt --emit=ptx prints each step as a PTX comment above the
// module, so FileCheck tests see both the host schedule and the kernels.
#include "CodeGen/NvptxLowering.h"

#include <sstream>

namespace adjoint {

namespace {
std::string ref(const gpu::BufferRef &r) {
  std::ostringstream os;
  if (r.slot == gpu::BufferRef::kConstants)
    os << "const";
  else
    os << "slot" << r.slot;
  os << "+" << r.offset;
  return os.str();
}
} // namespace

std::string describeStep(const gpu::Step &s) {
  std::ostringstream os;
  switch (s.kind) {
  case gpu::Step::Kind::Launch:
    os << "launch " << s.launch.kernel << " grid=" << s.launch.grid << " block=" << s.launch.block << " (";
    for (size_t i = 0; i < s.launch.args.size(); ++i)
      os << (i ? ", " : "") << ref(s.launch.args[i]);
    os << ")";
    break;
  case gpu::Step::Kind::Gemm: {
    const gpu::Gemm &g = s.gemm;
    os << "gemm " << (g.f64 ? "f64 " : "f32 ") << (g.transA ? "T" : "N") << (g.transB ? "T" : "N")
       << " m=" << g.m << " n=" << g.n << " k=" << g.k << " batch=" << g.batch << " alpha=" << g.alpha
       << " beta=" << g.beta << " A=" << ref(g.a) << " B=" << ref(g.b) << " C=" << ref(g.c);
    break;
  }
  case gpu::Step::Kind::Copy:
    os << "copy " << s.copy.bytes << " bytes " << ref(s.copy.src) << " -> " << ref(s.copy.dst);
    break;
  }
  os << "  ; " << s.what;
  return os.str();
}

void emitPtxModule(std::ostream &os, const Module &m, const GpuOptions &opts) {
  for (const Function *f : topLevelFunctions(m)) {
    gpu::Plan p = compileForGpu(*f, opts);
    os << "// adjoint gpu plan @" << p.entry << " for " << p.arch << ": " << p.steps.size()
       << " steps, workspace " << p.workspaceBytes << " bytes, constants " << p.constants.size()
       << " bytes\n";
    for (size_t i = 0; i < p.slots.size(); ++i)
      os << "// slot" << i << " " << p.slots[i].name << " " << p.slots[i].bytes << " bytes"
         << (p.slots[i].inPlaceOf >= 0 ? " (in place of slot" + std::to_string(p.slots[i].inPlaceOf) + ")" : "")
         << "\n";
    for (size_t i = 0; i < p.steps.size(); ++i)
      os << "// step " << i << ": " << describeStep(p.steps[i]) << "\n";
    os << p.ptx;
  }
}

} // namespace adjoint
