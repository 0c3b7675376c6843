#pragma once
// Builds a model's steps as adjoint-train does (StepBuilder: train-mode, loss, autodiff,
// optimizer; then fusion, as the JIT backend runs it) and compiles them ahead of time with the
// model description the AOT runtime reads (runtime/aot/AotFormat.h).
#include "CodeGen/AotObject.h"
#include "CompileOptions.h"

#include <string>
#include <vector>

namespace adjoint::compile {

struct CompiledModel {
  std::string bytes;  // the object file, or assembly / LLVM IR text
  std::string target; // Target::describe()
  int64_t batch = 0;
  std::vector<std::string> steps; // "train b64 (35 ops)", for the summary line
  std::string header;             // model #defines for the C header
  // --target=cuda: the object of the host-compiled kernels (the trainer's emulated device), and
  // the plans as text (--emit=ptx).
  std::string emulatorObject, ptx;
};

CompiledModel compileModel(const CompileOptions &o, AotOutput output);

} // namespace adjoint::compile
