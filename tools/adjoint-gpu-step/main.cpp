// adjoint-gpu-step: times a model's fused training step (forward, cross-entropy, backward,
// optimizer update) on the GPU with its state resident — each step uploads its batch and runs —
// and the same step on the CPU JIT, and prints one JSON line (bench/gpu-check's adjoint side).
//
//   adjoint-gpu-step MODEL.onnx --batch N [--optimizer adam] [--steps K] [--warmup W]
//                    [--backend cuda|cuda-emulator] [--no-cpu] [--train-mode] [--export DIR]
// --export DIR runs nothing on a GPU: it writes a `time` bundle (GpuBundle.h) with the plan, the
// inputs and the CPU JIT's step time, for bench/gpu/replay on a machine with only a driver.
#include "CodeGen/GpuBundle.h"
#include "CodeGen/GpuFunction.h"
#include "CodeGen/Jit.h"
#include "Frontend/OnnxImporter.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>

using namespace adjoint;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Tensor uniform(const TensorType &t, std::mt19937 &rng) {
  Tensor r(t.dtype, t.shape);
  std::uniform_real_distribution<double> d(0, 1);
  for (int64_t i = 0; i < r.numel(); ++i)
    r.setDouble(i, d(rng));
  return r;
}

} // namespace

int main(int argc, char **argv) {
  try {
    std::string model, optimizer = "adam", backend = "cuda", exportDir;
    int64_t batch = 64, steps = 100, warmup = 10;
    bool cpu = true, trainMode = false;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&](const char *flag) -> std::string {
        std::string f = std::string(flag) + "=";
        if (a.rfind(f, 0) == 0)
          return a.substr(f.size());
        check(i + 1 < argc, flag, " needs a value");
        return argv[++i];
      };
      auto is = [&](const char *flag) { return a == flag || a.rfind(std::string(flag) + "=", 0) == 0; };
      if (is("--batch"))
        batch = std::stoll(value("--batch"));
      else if (is("--optimizer"))
        optimizer = value("--optimizer");
      else if (is("--steps"))
        steps = std::stoll(value("--steps"));
      else if (is("--warmup"))
        warmup = std::stoll(value("--warmup"));
      else if (is("--backend"))
        backend = value("--backend");
      else if (a == "--no-cpu")
        cpu = false;
      else if (a == "--train-mode")
        trainMode = true;
      else if (is("--export"))
        exportDir = value("--export");
      else if (a == "--help" || a == "-h") {
        std::cout << "usage: adjoint-gpu-step MODEL.onnx --batch N [--optimizer adam] [--steps K] [--warmup W]\n"
                     "                        [--backend cuda|cuda-emulator] [--no-cpu] [--train-mode] [--export DIR]\n";
        return 0;
      } else {
        check(a.rfind("--", 0) != 0 && model.empty(), "unknown argument '", a, "'");
        model = a;
      }
    }
    check(!model.empty(), "no model given");
    check(backend == "cuda" || backend == "cuda-emulator", "--backend expects cuda or cuda-emulator");
    check(batch > 0 && steps > 0 && warmup >= 0, "--batch and --steps must be positive");
    ImportOptions io;
    io.dims["batch"] = batch;
    auto mod = importOnnxFile(model, io);
    PassContext ctx;
    ctx.options["attach-loss"] = "cross-entropy";
    ctx.options["optimizer"] = optimizer;
    std::vector<const PassInfo *> passes{findPass("attach-loss"), findPass("autodiff"), findPass("optimizer"),
                                         findPass("cse"), findPass("dce"), findPass("fuse")};
    if (trainMode) // BatchNormalization on batch statistics, as PyTorch's module.train()
      passes.insert(passes.begin(), findPass("train-mode"));
    runPipeline(*mod, passes, ctx, {});
    const Function &f = *mod->main();
    std::mt19937 rng(0);
    std::map<std::string, Tensor> in;
    for (Value *v : f.inputs()) {
      if (v->name() == "target") {
        Tensor t(v->dtype(), v->shape());
        for (int64_t i = 0; i < t.numel(); ++i)
          t.setDouble(i, (double)(rng() % 10));
        in[v->name()] = t;
      } else if (v->name() == "lr") {
        in[v->name()] = Tensor::scalar<float>(1e-3f);
      } else if (v->name() == "step") {
        in[v->name()] = Tensor::scalar<int64_t>(1);
      } else if (v == f.inputs()[0]) {
        in[v->name()] = uniform(v->type(), rng);
      } else {
        in[v->name()] = Tensor(v->dtype(), v->shape());
      }
    }
    const std::string batchName = f.inputs()[0]->name();
    using Clock = std::chrono::steady_clock;
    if (!exportDir.empty()) {
      GpuBundle b;
      b.kind = "time";
      auto t0 = Clock::now();
      b.plan = compileForGpu(f);
      b.info["compile_s"] = std::to_string(std::chrono::duration<double>(Clock::now() - t0).count());
      b.inputs = in;
      for (Value *p : f.params())
        b.inputs[p->name()] = p->paramData();
      b.batches.push_back({{batchName, in[batchName]}});
      b.steps = steps;
      auto jit = compileFunction(f);
      std::vector<double> t;
      for (int s = 0; s < 30; ++s) {
        auto t1 = Clock::now();
        jit->run(in);
        if (s >= 3)
          t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
      }
      b.info["cpu_jit_ms"] = std::to_string(median(t));
      b.info["model"] = model;
      b.info["batch"] = std::to_string(batch);
      writeGpuBundle(exportDir, b);
      std::printf("wrote %s: %zu steps in the plan\n", exportDir.c_str(), b.plan.steps.size());
      return 0;
    }
    auto gpu = GpuFunction::compile(f, backend == "cuda" ? GpuBackend::Cuda : GpuBackend::Emulator);
    for (const auto &[name, t] : in)
      gpu->set(name, t);
    for (Value *p : f.params())
      gpu->set(p->name(), p->paramData());
    for (const auto &o : f.outputs())
      if (o.name.rfind("new.", 0) == 0)
        gpu->feedBack(o.name, o.name.substr(4));
    std::vector<double> wall, device;
    for (int64_t s = 0; s < warmup + steps; ++s) {
      auto t0 = Clock::now();
      gpu->set(batchName, in[batchName]); // the batch: the only upload of a step
      gpu->step();
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (s >= warmup) {
        wall.push_back(ms);
        device.push_back(gpu->lastStepMs());
      }
    }
    double loss = gpu->get("loss").getDouble(0);
    double cpuMs = 0;
    if (cpu) {
      auto jit = compileFunction(f);
      std::vector<double> t;
      for (int64_t s = 0; s < std::min<int64_t>(warmup + steps, 60); ++s) {
        auto t0 = Clock::now();
        jit->run(in);
        if (s >= 3)
          t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      cpuMs = median(t);
    }
    int launches = 0, gemms = 0;
    for (const gpu::Step &s : gpu->plan().steps)
      launches += s.kind == gpu::Step::Kind::Launch, gemms += s.kind == gpu::Step::Kind::Gemm;
    std::printf("{\"model\": \"%s\", \"batch\": %lld, \"device\": \"%s\", \"step_ms\": %.4f, \"device_ms\": %.4f, "
                "\"cpu_jit_ms\": %.4f, \"compile_s\": %.3f, \"kernels\": %d, \"gemms\": %d, \"final_loss\": %.5f}\n",
                model.c_str(), (long long)batch, gpu->device().describe().c_str(), median(wall), median(device), cpuMs,
                gpu->compileSeconds(), launches, gemms, loss);
    return 0;
  } catch (const Error &e) {
    std::fprintf(stderr, "adjoint-gpu-step: error: %s\n", e.what());
    return 1;
  }
}
