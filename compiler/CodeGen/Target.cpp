#include "CodeGen/Target.h"
#include "Support/Error.h"

#include <llvm/IR/Function.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <mutex>
#include <sstream>

namespace adjoint {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    // Every CPU target too, for --emit=asm with another triple.
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  });
}

Target::Target(TargetOptions opts, std::unique_ptr<llvm::TargetMachine> tm, int vectorBits)
    : opts_(std::move(opts)), tm_(std::move(tm)), vectorBits_(vectorBits) {}

Target::~Target() = default;

void Target::configureModule(llvm::Module &m) const {
  m.setTargetTriple(tm_->getTargetTriple().str());
  m.setDataLayout(tm_->createDataLayout());
}

void Target::configureFunction(llvm::Function &f) const {
  f.addFnAttr("target-cpu", opts_.cpu);
  if (!opts_.features.empty())
    f.addFnAttr("target-features", opts_.features);
  if (vectorBits_ > 0)
    f.addFnAttr("prefer-vector-width", std::to_string(vectorBits_));
}

std::string Target::describe() const {
  std::ostringstream os;
  os << opts_.triple << ", cpu " << opts_.cpu;
  if (vectorBits_ > 0)
    os << ", vectors " << vectorBits_ << " bits";
  return os.str();
}

std::string Target::fingerprint() const {
  std::ostringstream os;
  os << "triple=" << opts_.triple << ";cpu=" << opts_.cpu << ";features=" << opts_.features
     << ";O" << opts_.optLevel << ";vector=" << vectorBits_;
  return os.str();
}

namespace {

std::string hostFeatures() {
  std::string s;
  for (const auto &f : llvm::sys::getHostCPUFeatures()) {
    if (!s.empty())
      s += ',';
    s += f.second ? '+' : '-';
    s += f.first().str();
  }
  return s;
}

// Every name in a "+a,-b" list must be a feature the target knows: LLVM would only warn.
void checkFeatures(const llvm::MCSubtargetInfo &sti, const std::string &features) {
  std::stringstream ss(features);
  for (std::string f; std::getline(ss, f, ',');) {
    if (f.empty())
      continue;
    std::string name = (f[0] == '+' || f[0] == '-') ? f.substr(1) : f;
    check(f[0] == '+' || f[0] == '-', "--mattr: feature '", f, "' must start with '+' or '-'");
    bool known = false;
    for (const auto &kv : sti.getAllProcessorFeatures())
      known |= name == kv.Key;
    check(known, "--mattr: '", name, "' is not a feature of ", sti.getTargetTriple().str());
  }
}

} // namespace

std::unique_ptr<CpuTarget> CpuTarget::create(const TargetOptions &in) {
  initializeNativeTarget();
  TargetOptions o = in;
  bool host = o.triple.empty();
  if (host)
    o.triple = llvm::sys::getProcessTriple();
  o.triple = llvm::Triple::normalize(o.triple);
  std::string err;
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(o.triple, err);
  check(t != nullptr, "unknown target triple '", o.triple, "': ", err);
  if (o.cpu.empty()) {
    check(host, "--mcpu is required with a target triple other than the host's");
    o.cpu = llvm::sys::getHostCPUName().str();
    std::string hf = hostFeatures();
    o.features = o.features.empty() ? hf : hf + "," + o.features;
  }
  check(o.optLevel >= 0 && o.optLevel <= 3, "optimization level ", o.optLevel, " is not 0..3");
  // Checked on a generic subtarget: one made for an unknown CPU warns on stderr first.
  std::unique_ptr<llvm::MCSubtargetInfo> sti(t->createMCSubtargetInfo(o.triple, "", ""));
  check(sti && sti->isCPUStringValid(o.cpu), "--mcpu: '", o.cpu, "' is not a CPU of ", o.triple);
  checkFeatures(*sti, o.features);

  int vectorBits = o.preferVectorWidth;
  if (vectorBits == 0) {
    std::unique_ptr<llvm::MCSubtargetInfo> full(
        t->createMCSubtargetInfo(o.triple, o.cpu, o.features));
    if (llvm::Triple(o.triple).isX86() && full->checkFeatures("+avx512f"))
      vectorBits = 512;
  }

  llvm::TargetOptions to;
  auto level = o.optLevel == 0   ? llvm::CodeGenOptLevel::None
               : o.optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : o.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                                 : llvm::CodeGenOptLevel::Aggressive;
  // PIC: JIT memory may lie anywhere, so code addresses its data relative to itself.
  std::unique_ptr<llvm::TargetMachine> tm(t->createTargetMachine(
      o.triple, o.cpu, o.features, to, llvm::Reloc::PIC_, std::nullopt, level));
  check(tm != nullptr, "cannot create a target machine for ", o.triple, " cpu ", o.cpu);
  return std::unique_ptr<CpuTarget>(new CpuTarget(std::move(o), std::move(tm), vectorBits));
}

std::unique_ptr<NvptxTarget> NvptxTarget::create(const TargetOptions &in) {
  initializeNativeTarget();
  TargetOptions o = in;
  o.triple = llvm::Triple::normalize(o.triple.empty() ? "nvptx64-nvidia-cuda" : o.triple);
  check(llvm::Triple(o.triple).isNVPTX(), "target '", o.triple, "' is not an NVPTX triple");
  check(llvm::Triple(o.triple).isArch64Bit(), "target '", o.triple,
        "': only 64-bit NVPTX (nvptx64) is supported: device pointers are 64-bit");
  if (o.cpu.empty())
    o.cpu = kDefaultArch;
  std::string err;
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(o.triple, err);
  check(t != nullptr, "unknown target triple '", o.triple, "': ", err,
        " (this LLVM was built without the NVPTX backend)");
  check(o.optLevel >= 0 && o.optLevel <= 3, "optimization level ", o.optLevel, " is not 0..3");
  std::unique_ptr<llvm::MCSubtargetInfo> sti(t->createMCSubtargetInfo(o.triple, "", ""));
  check(sti && sti->isCPUStringValid(o.cpu), "--gpu-arch: '", o.cpu,
        "' is not an NVPTX architecture (sm_70, sm_80, sm_90, ...)");
  checkFeatures(*sti, o.features);
  llvm::TargetOptions to;
  auto level = o.optLevel == 0 ? llvm::CodeGenOptLevel::None : llvm::CodeGenOptLevel::Aggressive;
  std::unique_ptr<llvm::TargetMachine> tm(t->createTargetMachine(
      o.triple, o.cpu, o.features, to, std::nullopt, std::nullopt, level));
  check(tm != nullptr, "cannot create a target machine for ", o.triple, " ", o.cpu);
  return std::unique_ptr<NvptxTarget>(new NvptxTarget(std::move(o), std::move(tm), 0));
}

void NvptxTarget::configureFunction(llvm::Function &f) const {
  f.addFnAttr("target-cpu", opts_.cpu);
  if (!opts_.features.empty())
    f.addFnAttr("target-features", opts_.features);
}

std::unique_ptr<Target> createTarget(const TargetOptions &opts) {
  if (!opts.triple.empty()) {
    llvm::Triple tr(llvm::Triple::normalize(opts.triple));
    if (tr.isNVPTX())
      return NvptxTarget::create(opts);
    check(!tr.isAMDGPU(), "target '", opts.triple, "': AMD GPU code generation is not implemented");
  }
  return CpuTarget::create(opts);
}

} // namespace adjoint
