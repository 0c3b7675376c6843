#pragma once
// adjoint-compile's command line: adjoint-train's model and optimizer options (fixed into the
// compiled code), what to emit, and the target.
#include "CodeGen/Target.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace adjoint::compile {

enum class Emit { Exe, Lib, Obj, Llvm, Asm, Ptx };

struct CompileOptions {
  std::string model, output, header;
  Emit emit = Emit::Exe;
  TargetOptions target;
  // --target=cuda: every step lowered for the GPU (a plan with PTX) instead of the CPU.
  bool cuda = false;
  std::string gpuArch = "sm_90";

  std::string loss = "cross-entropy";
  std::map<std::string, int64_t> dims;
  std::string freeze;
  std::string optimizer = "adam";
  double lr = 0; // the trainer's default --lr; 0: the optimizer's default
  std::map<std::string, std::string> optimizerOptions;
  int64_t batch = 64;
  bool batchGiven = false;
  // Training steps for a last partial batch: every size below the batch (the default, so any
  // dataset's epochs are adjoint-train's), the sizes listed, or none.
  bool tailAll = true;
  std::vector<int64_t> tailBatches;

  std::string runtimeDir; // where the static runtime libraries are (default: this build's)
  std::string cxx;        // the linker driver (default: the C++ compiler CMake found)
  bool verbose = false;   // print the link command
  bool staticRuntime = false; // exe: BLAS, zlib, the Fortran and C++ runtimes linked statically
  std::string blas;           // exe, lib: this BLAS library instead of the build's

  double baseLr() const;
  std::string optimizerDescription() const; // "adam lr=0.001 beta1=0.9"
};

// Returns false when --help was printed.
bool parseCompileOptions(int argc, char **argv, CompileOptions &o);

} // namespace adjoint::compile
