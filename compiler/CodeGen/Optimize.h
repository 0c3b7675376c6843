#pragma once
// The LLVM half of code generation: the new pass manager's optimization pipeline (O3 by default)
// and machine code emission (object files for the JIT and AOT, assembly for --emit=asm).
#include <string>

namespace llvm {
class Module;
}

namespace adjoint {

class Target;

// Runs the default per-module pipeline at the target's optimization level, with the target's
// cost model (so the loop vectorizer picks the host's vector width).
void optimizeModule(llvm::Module &m, const Target &target);

// The module compiled to an object file (or assembly text) for the target.
std::string emitMachineCode(llvm::Module &m, const Target &target, bool assembly);

} // namespace adjoint
