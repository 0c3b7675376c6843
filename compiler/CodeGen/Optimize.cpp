#include "CodeGen/Optimize.h"
#include "CodeGen/Target.h"
#include "Support/Error.h"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Triple.h>

namespace adjoint {

void optimizeModule(llvm::Module &m, const Target &target) {
  int level = target.options().optLevel;
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = level >= 2;
  // Off: LLVM 19's SLP vectorizer miscompiles fully unrolled broadcast loops on AVX-512 (wrong
  // shuffle lanes; llvm/llvm-project#117170 and #125259 are of that kind), caught by JitTest's
  // broadcast cases. The loop vectorizer does the work that matters here anyway.
  pto.SLPVectorization = false;
  pto.LoopInterleaving = level >= 2;
  // Unrolling after vectorization copied every vectorized loop with a constant trip count
  // out in full: 150k lines of IR for a ResNet-18 step and most of its compile time, while
  // interleaving already runs four vectors per iteration.
  pto.LoopUnrolling = false;
  llvm::PassBuilder pb(&target.machine(), pto);
  llvm::TargetLibraryInfoImpl tlii(llvm::Triple(m.getTargetTriple()));
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel ol = level == 0   ? llvm::OptimizationLevel::O0
                               : level == 1 ? llvm::OptimizationLevel::O1
                               : level == 2 ? llvm::OptimizationLevel::O2
                                            : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = level == 0 ? pb.buildO0DefaultPipeline(ol)
                                           : pb.buildPerModuleDefaultPipeline(ol);
  mpm.run(m, mam);
}

std::string emitMachineCode(llvm::Module &m, const Target &target, bool assembly) {
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  auto kind = assembly ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if (target.machine().addPassesToEmitFile(pm, os, nullptr, kind))
    fail("the target ", target.describe(), " cannot emit ", assembly ? "assembly" : "object files");
  pm.run(m);
  return std::string(buf.begin(), buf.end());
}

} // namespace adjoint
