#pragma once
// Printing generated code (adjoint-opt --emit=llvm|asm): each top-level function lowered,
// optimized for the target and printed as LLVM IR or assembly.
#include "CodeGen/Lowering.h"
#include "CodeGen/Target.h"

#include <ostream>

namespace adjoint {

// LlvmIR is after the optimization pipeline; LoweredIR is what lowering produced, before it.
enum class EmitKind { LlvmIR, LoweredIR, Assembly };

void emitModule(std::ostream &os, const Module &m, EmitKind kind, const TargetOptions &target,
                const LoweringOptions &lowering = {});

} // namespace adjoint
