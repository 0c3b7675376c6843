#pragma once
// The in-process JIT: a top-level function is lowered (Lowering.h), optimized at O3 for the host
// (Optimize.h), compiled to an object and linked by ORC's LLJIT, with the runtime's functions
// (runtime/adjoint_runtime.h) defined as absolute symbols. A CompiledFunction owns its code and
// runs it with interpret()'s contract.
#include "CodeGen/Lowering.h"
#include "CodeGen/Target.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace adjoint {

struct JitOptions {
  TargetOptions target; // the host; --mcpu/--mattr may narrow it to an older CPU
  LoweringOptions lowering;
  // Compiled objects are cached here, keyed by a hash of the unoptimized LLVM IR and the target,
  // so a second compilation of the same function skips optimization and code generation.
  std::string cacheDir;
};

struct CompileStats {
  double lowerSeconds = 0, optimizeSeconds = 0, codegenSeconds = 0, linkSeconds = 0;
  bool cacheHit = false;
  int64_t opFunctions = 0;
  double totalSeconds() const { return lowerSeconds + optimizeSeconds + codegenSeconds + linkSeconds; }
};

class CompiledFunction {
public:
  ~CompiledFunction();
  // As interpret(): `inputs` maps input names to tensors; parameters take their own data unless
  // named too; every input must be given with its declared type, else Error names it. Returns
  // the outputs in order. Calls are serialized (they share one workspace).
  std::vector<Tensor> run(const std::map<std::string, Tensor> &inputs) const;
  // The raw entry point: buffers as layout() says (see Lowering.h); the caller provides the
  // workspace too.
  void call(void **buffers) const;
  const BufferLayout &layout() const;
  const CompileStats &stats() const;
  const std::string &name() const;

private:
  friend std::unique_ptr<CompiledFunction> compileFunction(const Function &, const JitOptions &);
  struct Impl;
  explicit CompiledFunction(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Compiles fn (a top-level function of its module) for this machine. Throws Error listing the ops
// the code generator cannot lower yet, or naming what failed.
std::unique_ptr<CompiledFunction> compileFunction(const Function &fn, const JitOptions &opts = {});

// Threads the compiled code (and BLAS) may use; n <= 0: every core (the default).
void setJitThreads(int n);
int jitThreads();

} // namespace adjoint
