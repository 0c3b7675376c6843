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

ResidentStep::~ResidentStep() = default;

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

class GpuResident : public ResidentStep {
public:
  GpuResident(std::shared_ptr<GpuFunction> g, const Function &fn) : g_(std::move(g)) {
    for (const auto &o : fn.outputs())
      outputs_.push_back(o.name);
  }
  void load(const std::map<std::string, Tensor> &state) override {
    g_->feedBackUpdates();
    for (const auto &[name, t] : state)
      set(name, t);
  }
  bool adopt(ResidentStep &from, const std::vector<std::string> &names) override {
    auto *other = dynamic_cast<GpuResident *>(&from);
    if (other == nullptr || other->g_->device().describe() != g_->device().describe())
      return false;
    g_->feedBackUpdates();
    for (const std::string &name : names)
      g_->copyFrom(name, *other->g_);
    return true;
  }
  std::vector<Tensor> step(const std::map<std::string, Tensor> &inputs,
                           const std::vector<size_t> &outputs) override {
    for (const auto &[name, t] : inputs)
      set(name, t);
    g_->step();
    std::vector<Tensor> outs(outputs_.size());
    for (size_t i : outputs) {
      check(i < outs.size(), "internal error: the step has no output ", i);
      outs[i] = g_->get(outputs_[i]);
      bytesDown += (int64_t)outs[i].byteSize();
    }
    return outs;
  }
  Tensor read(const std::string &name) override {
    Tensor t = g_->get(name);
    bytesDown += (int64_t)t.byteSize();
    return t;
  }

private:
  void set(const std::string &name, const Tensor &t) {
    g_->set(name, t);
    bytesUp += (int64_t)t.byteSize();
  }
  std::shared_ptr<GpuFunction> g_;
  std::vector<std::string> outputs_;
};

// The GPU: fused like the JIT. run() keeps on the device what the caller passes back unchanged
// (GpuFunction::runResident); `resident` keeps the whole training state there.
CompiledStep onGpu(Function &fn, GpuBackend backend) {
  PassContext ctx;
  runPipeline(*fn.module(), {findPass("fuse")}, ctx, {});
  std::shared_ptr<GpuFunction> g = GpuFunction::compile(fn, backend);
  CompiledStep s;
  s.run = [g](const std::map<std::string, Tensor> &inputs) { return g->runResident(inputs); };
  s.resident = std::make_shared<GpuResident>(g, fn);
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
