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
#include <memory>
#include <string>
#include <vector>

namespace adjoint::train {

using StepFn = std::function<std::vector<Tensor>(const std::map<std::string, Tensor> &)>;

struct BackendOptions {
  int threads = 0;       // 0: every core
  bool fallback = false; // when the JIT cannot compile a step, use the interpreter (and say so)
};

// A step whose device keeps the training state between calls (cuda, cuda-emulator): the loop
// loads the state once, then passes only what changes each step (batch, lr, step number, seed)
// and downloads only the outputs it reads; parameters and optimizer state stay on the device,
// updated there by the step, until the loop reads them back (evaluation, checkpoints, export).
class ResidentStep {
public:
  virtual ~ResidentStep();
  // Uploads every state tensor (parameters and optimizer state, by step input name).
  virtual void load(const std::map<std::string, Tensor> &state) = 0;
  // Uploads `inputs`, runs the step, applies the new.X -> X updates on the device, and
  // downloads the outputs at `outputs` (the rest come back empty).
  virtual std::vector<Tensor> step(const std::map<std::string, Tensor> &inputs,
                                   const std::vector<size_t> &outputs) = 0;
  // A state tensor as the steps so far left it.
  virtual Tensor read(const std::string &name) = 0;
  // Takes the state tensors `names` from `from`'s device without a host round trip (another
  // batch size's step on the same device); false when that cannot be done (then load()).
  virtual bool adopt(ResidentStep &from, const std::vector<std::string> &names) = 0;
  // Host<->device traffic so far, in bytes.
  int64_t bytesUp = 0, bytesDown = 0;
};

struct CompiledStep {
  StepFn run;
  // Non-null when the backend can keep the state on its device (then run() still works: it
  // uploads what changed and downloads every output).
  std::shared_ptr<ResidentStep> resident;
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
