#include "Backend.h"
#include "CodeGen/GpuFunction.h"
#include "CodeGen/Jit.h"
#include "Interpreter/Interpreter.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"

#include <chrono>
#include <memory>

namespace adjoint::train {

// cuda: the NVIDIA GPU (docs/gpu.md); cuda-emulator: the same plan and kernels on this CPU.
std::vector<std::string> availableBackends() { return {"jit", "interp", "cuda", "cuda-emulator"}; }

std::string defaultBackend() { return availableBackends().front(); }

void checkBackend(const std::string &name) {
  std::string list;
  for (const std::string &b : availableBackends()) {
    if (b == name)
      return;
    list += (list.empty() ? "" : ", ") + b;
  }
  fail("unknown backend '", name, "' (available: ", list, ")");
}

namespace {

CompiledStep interpreted(Function &fn) {
  CompiledStep s;
  const Function *f = &fn;
  s.run = [f](const std::map<std::string, Tensor> &inputs) { return interpret(*f, inputs); };
  s.backend = "interp";
  s.concurrent = true;
  return s;
}

CompiledStep jitted(Function &fn, const BackendOptions &opts) {
  Module *m = fn.module();
  check(m != nullptr, "internal error: the step function has no module");
  // Fusion changes the graph the interpreter would run too; it computes the same values.
  PassContext ctx;
  const PassInfo *fuse = findPass("fuse");
  check(fuse != nullptr, "internal error: pass fuse is not registered");
  runPipeline(*m, {fuse}, ctx, {});
  setJitThreads(opts.threads);
  std::shared_ptr<CompiledFunction> compiled = compileFunction(fn);
  CompiledStep s;
  s.run = [compiled](const std::map<std::string, Tensor> &inputs) {
    return compiled->run(inputs);
  };
  s.backend = "jit";
  return s;
}

// The GPU: fused like the JIT, then the step's state stays on the device between calls
// (GpuFunction::runResident).
CompiledStep onGpu(Function &fn, GpuBackend backend) {
  PassContext ctx;
  runPipeline(*fn.module(), {findPass("fuse")}, ctx, {});
  std::shared_ptr<GpuFunction> g = GpuFunction::compile(fn, backend);
  CompiledStep s;
  s.run = [g](const std::map<std::string, Tensor> &inputs) { return g->runResident(inputs); };
  s.backend = backend == GpuBackend::Cuda ? "cuda" : "cuda-emulator";
  s.note = "device: " + g->device().describe();
  return s;
}

} // namespace

CompiledStep compileStep(const std::string &backend, Function &fn, const BackendOptions &opts) {
  checkBackend(backend);
  auto t0 = std::chrono::steady_clock::now();
  CompiledStep s;
  if (backend == "interp") {
    s = interpreted(fn);
  } else if (backend == "cuda" || backend == "cuda-emulator") {
    s = onGpu(fn, backend == "cuda" ? GpuBackend::Cuda : GpuBackend::Emulator);
  } else {
    try {
      s = jitted(fn, opts);
    } catch (const Error &e) {
      // Only a step with ops the code generator lacks falls back; any other JIT error is a bug
      // that must show.
      if (!opts.fallback ||
          std::string(e.what()).find("not supported by the code generator") == std::string::npos)
        throw;
      s = interpreted(fn);
      s.note = std::string("the JIT cannot compile this step (") + e.what() +
               "); it runs on the interpreter";
    }
  }
  s.compileSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

} // namespace adjoint::train
