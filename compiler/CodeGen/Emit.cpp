#include "CodeGen/Emit.h"
#include "CodeGen/Optimize.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>

namespace adjoint {

void emitModule(std::ostream &os, const Module &m, EmitKind kind, const TargetOptions &opts,
                const LoweringOptions &lowering) {
  std::unique_ptr<Target> target = createTarget(opts);
  for (const Function *fn : topLevelFunctions(m)) {
    llvm::LLVMContext ctx;
    llvm::Module mod(fn->name(), ctx);
    lowerFunction(*fn, mod, *target, lowering);
    if (kind != EmitKind::LoweredIR)
      optimizeModule(mod, *target);
    if (kind == EmitKind::Assembly) {
      os << emitMachineCode(mod, *target, /*assembly=*/true);
      continue;
    }
    std::string text;
    llvm::raw_string_ostream rs(text);
    mod.print(rs, nullptr);
    rs.flush();
    os << text;
  }
}

} // namespace adjoint
