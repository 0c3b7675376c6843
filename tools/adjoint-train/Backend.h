#pragma once
// How a step function runs. The training loop sees only StepFn, interpret()'s contract: named
// inputs in (parameters may be overridden by name), outputs back in the function's order. A
// backend turns a Function into one; the function's module must outlive the StepFn.
//
//   jit     fuse, then compile with LLVM for this CPU (compiler/CodeGen/Jit.h); the default
//   interp  the reference interpreter: slow, obviously correct
#include "IR/Graph.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace adjoint::train {

using StepFn = std::function<std::vector<Tensor>(const std::map<std::string, Tensor> &)>;

struct BackendOptions {
  int threads = 0;       // 0: every core
  bool fallback = false; // when the JIT cannot compile a step, use the interpreter (and say so)
};

struct CompiledStep {
  StepFn run;
  std::string backend; // the one that compiled it (interp after a fallback)
  std::string note;    // why it fell back, or ""
  // Calls may run concurrently (the interpreter only reads the graph; a compiled function has
  // one workspace, so its calls are serialized).
  bool concurrent = false;
  double compileSeconds = 0;
};

// The backends this build has, the default first.
std::vector<std::string> availableBackends();
std::string defaultBackend();
// Throws Error naming the available backends when `name` is not one.
void checkBackend(const std::string &name);
// Compiles fn; the jit backend first runs the fusion pass on fn's module.
CompiledStep compileStep(const std::string &backend, Function &fn, const BackendOptions &opts);

} // namespace adjoint::train
