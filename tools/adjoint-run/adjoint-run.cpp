// adjoint-run: runs a model on given inputs and writes every output as .npy; with --loss it
// also attaches a loss, differentiates, and writes loss.npy and grad.<initializer>.npy.
//   adjoint-run MODEL.(onnx|adj) [--backend=interp|jit] [--input NAME=PATH]... [--output-dir DIR]
//               [--dim name=N]... [--loss=KIND --target PATH [--train-mode] [--freeze=P,...]]
#include "CodeGen/GpuFunction.h"
#include "CodeGen/Jit.h"
#include "Frontend/TensorIO.h"
#include "Interpreter/Interpreter.h"
#include "Interpreter/Numerics.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"
#include "common/ToolSupport.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

using namespace adjoint;
using namespace adjoint::tools;

static void printHelp() {
  std::cout
      << "usage: adjoint-run MODEL.(onnx|adj) [--backend=interp|jit] [--input NAME=PATH]...\n"
         "                   [--output-dir DIR] [--dim NAME=N]...\n"
         "\nRuns the model on the given inputs and writes each graph output to\n"
         "DIR/<output name>.npy (characters other than letters, digits, '_', '-' and '.' in\n"
         "the name become '_'). Inputs are .npy files or ONNX TensorProto .pb files.\n"
         "\n  --backend=jit      compile with LLVM for this CPU and run natively (the default)\n"
         "  --backend=interp   the reference interpreter: slow, obviously correct\n"
         "  --backend=cuda     compile for the NVIDIA GPU (PTX, cuBLAS) and run it there\n"
         "                     (docs/gpu.md); cuda-emulator runs the same plan on this CPU\n"
         "  --gpu-arch=sm_NN   the GPU architecture (default: the device's own)\n"
         "  --input NAME=PATH  value of graph input NAME; every input must be given\n"
         "  --output-dir DIR   where outputs go (default: the current directory)\n"
         "  --dim NAME=N       bind a symbolic ONNX dimension (inputs bind them too)\n"
         "  --max-tensor-bytes=N  refuse any tensor larger than N bytes (K, M, G) [4G]\n"
         "\ngradients:\n"
         "  --loss=KIND        attach a loss to the first output (cross-entropy, mse, l1,\n"
         "                     bce-with-logits; mean over the batch, as PyTorch) and write\n"
         "                     DIR/loss.npy and DIR/grad.<initializer>.npy for every\n"
         "                     floating-point initializer\n"
         "  --target PATH      the loss's target (class indices for cross-entropy)\n"
         "  --train-mode       BatchNormalization uses batch statistics, Dropout drops\n"
         "                     (default: inference form, as the model was exported)\n"
         "  --freeze=P,...     initializers that get no gradient\n"
         "\njit:\n"
         "  --threads=N        threads for loops and BLAS (default: every core)\n"
         "  --no-fuse          do not run the fusion pass before compiling\n"
         "  --no-memory-plan   one workspace region per intermediate (no arena reuse)\n"
         "  --cache-dir DIR    keep compiled objects in DIR, keyed by a hash of the code\n"
         "  --mcpu=CPU --mattr=+F,-G   compile for an older CPU or without some features\n"
         "\ntiming:\n"
         "  --time             print compile and run times to stderr\n"
         "  --repeat=N         run N times (the outputs of the last run are written); --time\n"
         "                     reports the mean\n"
         "\nnumerics:\n"
         "  --check-numerics   when an output holds NaN or Inf, name it and the first op whose\n"
         "                     result does (found on the interpreter, unfused), exit 1\n";
}

// --check-numerics: a non-finite output is an error naming the output and the first op (in the
// unfused graph, rebuilt by `rebuild`, run on the interpreter) whose result is non-finite.
template <typename Rebuild>
static void checkOutputsFinite(const Function &fn, const std::vector<Tensor> &outs,
                               Rebuild rebuild, const std::map<std::string, Tensor> &inputs) {
  std::string bad;
  for (size_t i = 0; i < outs.size() && bad.empty(); ++i)
    if (int64_t n = countNonFinite(outs[i]))
      bad = "output '" + fn.outputs()[i].name + "' holds " + std::to_string(n) + " non-finite of " +
            std::to_string(outs[i].numel()) + " elements";
  if (bad.empty())
    return;
  auto module = rebuild();
  std::optional<NonFiniteOp> first = firstNonFiniteOp(*module->main(), inputs);
  fail("check-numerics: ", bad, first ? "; the first op with a non-finite result is " +
                                            first->describe(*module->main())
                                      : std::string("; every op's result is finite on the "
                                                    "interpreter (the backends disagree)"));
}

// Output names come from the model, which may be hostile: keep them inside the output folder.
static std::string fileNameFor(const std::string &name) {
  std::string r;
  for (char c : name)
    r += (std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.') ? c : '_';
  if (r.empty() || r == "." || r == "..")
    r = "_" + r;
  return r;
}

int main(int argc, char **argv) {
  return runTool("adjoint-run", [&] {
    std::string model, backend = "jit", outDir = ".", loss, target, freeze;
    GpuOptions gpuOpts;
    bool trainMode = false, timing = false, fuse = true;
    int64_t threads = 0, repeat = 1;
    bool checkNumerics = false;
    JitOptions jitOpts;
    std::vector<std::pair<std::string, std::string>> inputPaths;
    ImportOptions importOpts;
    for (ArgCursor args(argc, argv); args.next();) {
      const std::string &a = args.arg();
      auto value = [&](const std::string &flag) { return args.value(flag); };
      auto is = [&](const std::string &flag) { return args.is(flag); };
      if (a == "--help" || a == "-h") {
        printHelp();
        return 0;
      } else if (is("--backend")) {
        backend = value("--backend");
      } else if (is("--gpu-arch")) {
        gpuOpts.arch = value("--gpu-arch");
      } else if (is("--input")) {
        inputPaths.push_back(splitAssignment(value("--input"), "--input"));
      } else if (is("--output-dir")) {
        outDir = value("--output-dir");
      } else if (is("--max-tensor-bytes")) {
        parseMaxTensorBytes(value("--max-tensor-bytes"));
      } else if (is("--dim")) {
        parseDimBinding(value("--dim"), importOpts);
      } else if (is("--loss")) {
        loss = value("--loss");
      } else if (is("--target")) {
        target = value("--target");
      } else if (is("--freeze")) {
        freeze = value("--freeze");
      } else if (is("--threads")) {
        threads = parseInt(value("--threads"), "--threads");
        check(threads >= 1 && threads <= 4096, "--threads expects 1..4096, got ", threads);
      } else if (is("--repeat")) {
        repeat = parseInt(value("--repeat"), "--repeat");
        check(repeat >= 1, "--repeat expects a positive number, got ", repeat);
      } else if (is("--cache-dir")) {
        jitOpts.cacheDir = value("--cache-dir");
      } else if (is("--mcpu")) {
        jitOpts.target.cpu = value("--mcpu");
      } else if (is("--mattr")) {
        jitOpts.target.features = value("--mattr");
      } else if (a == "--no-fuse") {
        fuse = false;
      } else if (a == "--no-memory-plan") {
        jitOpts.lowering.memoryPlan = false;
      } else if (a == "--check-numerics") {
        checkNumerics = true;
      } else if (a == "--time") {
        timing = true;
      } else if (a == "--train-mode") {
        trainMode = true;
      } else if (a.rfind("-", 0) == 0) {
        fail("unknown option '", a, "' (see --help)");
      } else {
        check(model.empty(), "more than one model given: '", model, "' and '", a, "'");
        model = a;
      }
    }
    check(!model.empty(), "no model given (see --help)");
    check(backend == "interp" || backend == "jit" || backend == "cuda" || backend == "cuda-emulator",
          "unknown backend '", backend, "' (available: interp, jit, cuda, cuda-emulator)");

    std::map<std::string, Tensor> inputs;
    for (const auto &[name, path] : inputPaths) {
      check(!inputs.count(name), "input '", name, "' given twice");
      inputs[name] = readTensorFile(path);
      importOpts.inputShapes[name] = inputs[name].shape();
    }
    check(loss.empty() == target.empty(),
          loss.empty() ? "--target needs --loss" : "--loss needs --target");
    check(!loss.empty() || (!trainMode && freeze.empty()),
          "--train-mode and --freeze need --loss");
    if (!target.empty()) {
      check(!inputs.count("target"), "--target and --input target=... both given");
      inputs["target"] = readTensorFile(target);
    }
    // The graph to run (rebuilt unfused for --check-numerics).
    auto buildModule = [&] {
      auto module = loadModule(model, importOpts);
      // ONNX Gradient ops (ai.onnx.preview.training) run as the adjoint graph they stand for.
      PassContext passCtx;
      for (const auto &f : module->functions())
        runExpandGradient(*f, passCtx);
      if (!loss.empty()) {
        // The training-step graph: the loss on the first output, then its gradients.
        PassContext ctx;
        ctx.options["attach-loss"] = loss;
        ctx.options["freeze"] = freeze;
        std::vector<const PassInfo *> passes;
        for (const char *name : {"train-mode", "attach-loss", "autodiff"}) {
          if (std::string(name) == "train-mode" && !trainMode)
            continue;
          const PassInfo *p = findPass(name);
          check(p != nullptr, "internal error: pass ", name, " is not registered");
          passes.push_back(p);
        }
        runPipeline(*module, passes, ctx, {});
      }
      return module;
    };
    auto module = buildModule();
    const Function &fn = *module->main();
    for (Value *in : fn.inputs())
      if (!inputs.count(in->name()))
        fail(model, ": input '", in->name(), "' (", in->type().str(),
             ") was not given: pass --input ", in->name(), "=PATH");

    std::vector<Tensor> outs;
    using Clock = std::chrono::steady_clock;
    double runSeconds = 0;
    if (backend == "jit") {
      if (fuse) {
        PassContext fuseCtx;
        const PassInfo *p = findPass("fuse");
        check(p != nullptr, "internal error: pass fuse is not registered");
        runPipeline(*module, {p}, fuseCtx, {});
      }
      setJitThreads((int)threads);
      auto compiled = compileFunction(*module->main(), jitOpts);
      for (int64_t r = 0; r < repeat; ++r) {
        auto t0 = Clock::now();
        outs = compiled->run(inputs);
        runSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
      }
      if (timing) {
        const CompileStats &st = compiled->stats();
        std::fprintf(stderr,
                     "adjoint-run: jit compile %.1f ms (lower %.1f, optimize %.1f, codegen %.1f, "
                     "link %.1f%s; %lld functions), %d threads\n",
                     1e3 * st.totalSeconds(), 1e3 * st.lowerSeconds, 1e3 * st.optimizeSeconds,
                     1e3 * st.codegenSeconds, 1e3 * st.linkSeconds,
                     st.cacheHit ? "; cache hit" : "", (long long)st.opFunctions, jitThreads());
      }
    } else if (backend == "cuda" || backend == "cuda-emulator") {
      if (fuse) {
        PassContext fuseCtx;
        runPipeline(*module, {findPass("fuse")}, fuseCtx, {});
      }
      auto gpu = GpuFunction::compile(*module->main(),
                                      backend == "cuda" ? GpuBackend::Cuda : GpuBackend::Emulator, gpuOpts);
      for (int64_t r = 0; r < repeat; ++r) {
        auto t0 = Clock::now();
        outs = gpu->run(inputs);
        runSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
      }
      if (timing)
        std::fprintf(stderr, "adjoint-run: %s compile %.1f ms, %zu steps, device %s, last step %.3f ms on the device\n",
                     backend.c_str(), 1e3 * gpu->compileSeconds(), gpu->plan().steps.size(),
                     gpu->device().describe().c_str(), gpu->lastStepMs());
    } else {
      for (int64_t r = 0; r < repeat; ++r) {
        auto t0 = Clock::now();
        outs = interpret(*module->main(), inputs);
        runSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    if (timing)
      std::fprintf(stderr, "adjoint-run: %s run %.3f ms (mean of %lld)\n", backend.c_str(),
                   1e3 * runSeconds / (double)repeat, (long long)repeat);
    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    check(!ec, "cannot create output directory '", outDir, "': ", ec.message());
    for (size_t i = 0; i < outs.size(); ++i)
      writeNpy((std::filesystem::path(outDir) / (fileNameFor(fn.outputs()[i].name) + ".npy")).string(),
               outs[i]);
    if (checkNumerics)
      checkOutputsFinite(fn, outs, [&] { return buildModule(); }, inputs);
    return 0;
  });
}
