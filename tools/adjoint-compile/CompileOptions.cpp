#include "CompileOptions.h"
#include "Support/Error.h"
#include "common/ToolSupport.h"

#include <charconv>
#include <cmath>
#include <iostream>
#include <set>
#include <sstream>

namespace adjoint::compile {

namespace {

void printHelp() {
  std::cout
      << "usage: adjoint-compile MODEL.onnx [training options] --emit=KIND [-o OUT]\n"
         "\nCompiles MODEL's training step (loss, autodiff, optimizer, as adjoint-train builds\n"
         "it) and its evaluation step ahead of time, with the JIT's lowering and code generator.\n"
         "\nemit:\n"
         "  --emit=exe             a standalone trainer: the generated code linked with the static\n"
         "                         runtime, no LLVM inside. It takes adjoint-train's --data,\n"
         "                         --epochs, --steps, --lr, --schedule, --checkpoint, --resume,\n"
         "                         -o, --progress, --seed and --threads options (see its --help)\n"
         "  --emit=lib             a shared library with a C API (sessions, train and eval steps,\n"
         "                         parameters, checkpoints, ONNX export) and its header\n"
         "  --emit=obj             the object file alone (defines adj_aot_entries, adj_aot_blob)\n"
         "  --emit=llvm|asm        optimized LLVM IR or assembly text, for reading and FileCheck\n"
         "  --emit=ptx             --target=cuda: every step's plan and PTX as text\n"
         "  -o, --output PATH      where to write (llvm and asm: '-' or none for stdout)\n"
         "  --header=PATH          lib: the C header [OUT with .h for its extension]\n"
         "\ntarget:\n"
         "  --target=cpu|cuda      cuda: a trainer for an NVIDIA GPU (PTX loaded at start,\n"
         "                         parameters and optimizer state kept on the device; its\n"
         "                         --device=emulator runs the same plans on this CPU); exe and ptx\n"
         "  --gpu-arch=sm_NN       the GPU architecture of --target=cuda                [sm_90]\n"
         "  --mcpu=CPU             native (this machine), x86-64, x86-64-v2, x86-64-v3,\n"
         "                         skylake-avx512, ... (llc -mcpu=help lists them)  [native]\n"
         "  --mtriple=TRIPLE       the target triple; exe and lib link for this machine only\n"
         "  --mattr=+F,-F          CPU features added to --mcpu's\n"
         "  -O0 .. -O3             optimization level                               [-O3]\n"
         "\ntraining (fixed in the compiled code; as adjoint-train):\n"
         "  --loss=KIND[:OUTPUT]   cross-entropy, mse, l1, bce-with-logits  [cross-entropy]\n"
         "  --dim NAME=N           bind a symbolic input dimension other than the batch\n"
         "  --freeze=P[,P...]      parameters to leave untrained\n"
         "  --optimizer=NAME       sgd, adam, adamw, rmsprop, adagrad                   [adam]\n"
         "  --momentum --dampening --nesterov --weight-decay --beta1 --beta2 --eps --amsgrad\n"
         "  --alpha --centered --lr-decay --initial-accumulator --clip-grad-norm\n"
         "                         the optimizer's options (docs/optimizers.md)\n"
         "  --lr=X                 the trainer's default learning rate (a step input: the\n"
         "                         trainer's --lr and --schedule still change it)\n"
         "  --batch=N              examples per step                                    [64]\n"
         "  --tail-batch=all|none|N[,N...]  training steps for a last partial batch (shapes are\n"
         "                         fixed when compiling, the data is chosen when training): all\n"
         "                         sizes below --batch, so every epoch is adjoint-train's (the\n"
         "                         default; compiling takes longer), none (the trainer skips a\n"
         "                         partial batch and says so), or the sizes listed (60000 % 64 =\n"
         "                         32 for Fashion-MNIST)                                [all]\n"
         "\nlinking (exe, lib):\n"
         "  --runtime-dir=DIR      the static runtime libraries (libadjoint_runtime.a, ...)\n"
         "                         [$ADJOINT_RUNTIME_DIR, else those of this build]\n"
         "  --cxx=PATH             the linker driver [$ADJOINT_CXX, else the C++ compiler of\n"
         "                         this build]\n"
         "  --static-runtime       exe: link BLAS, zlib and the Fortran and C++ runtimes\n"
         "                         statically (a trainer for a machine without them)\n"
         "  --blas=LIB             link this BLAS library (.so or .a with CBLAS) instead of the\n"
         "                         build's (a GPU trainer uses BLAS only for --device=emulator)\n"
         "  -v                     print the link command\n"
         "  -h, --help             this text\n";
}

double parseDouble(const std::string &text, const std::string &flag) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  check(ec == std::errc() && p == text.data() + text.size() && std::isfinite(v), flag,
        " expects a number, got '", text, "'");
  return v;
}

int64_t parsePositive(const std::string &text, const std::string &flag) {
  int64_t v = tools::parseInt(text, flag.c_str());
  check(v > 0, flag, " must be positive, got ", v);
  return v;
}

const std::set<std::string> kNumericOptimizerFlags = {
    "momentum", "dampening", "weight-decay", "beta1",          "beta2",
    "eps",      "alpha",     "lr-decay",     "initial-accumulator", "clip-grad-norm"};
const std::set<std::string> kBoolOptimizerFlags = {"nesterov", "amsgrad", "centered"};

} // namespace

double CompileOptions::baseLr() const {
  if (lr > 0)
    return lr;
  return optimizer == "adam" || optimizer == "adamw" ? 1e-3 : 1e-2;
}

std::string CompileOptions::optimizerDescription() const {
  std::ostringstream os;
  os << optimizer;
  for (const auto &[k, v] : optimizerOptions)
    os << " " << k << "=" << v;
  return os.str();
}

bool parseCompileOptions(int argc, char **argv, CompileOptions &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool dashed = a.rfind("--", 0) == 0;
    std::string flag = dashed ? a.substr(0, a.find('=')) : a;
    bool inlineValue = dashed && a.find('=') != std::string::npos;
    auto value = [&]() -> std::string {
      if (inlineValue)
        return a.substr(flag.size() + 1);
      check(i + 1 < argc, flag, " expects a value");
      return argv[++i];
    };
    std::string name = dashed ? flag.substr(2) : flag;
    if (a == "-h" || a == "--help") {
      printHelp();
      return false;
    } else if (flag == "--emit") {
      std::string e = value();
      if (e == "exe") o.emit = Emit::Exe;
      else if (e == "lib") o.emit = Emit::Lib;
      else if (e == "obj") o.emit = Emit::Obj;
      else if (e == "llvm") o.emit = Emit::Llvm;
      else if (e == "asm") o.emit = Emit::Asm;
      else if (e == "ptx") o.emit = Emit::Ptx;
      else fail("--emit expects exe, lib, obj, llvm, asm or ptx; got '", e, "'");
    } else if (flag == "--target") {
      std::string t = value();
      check(t == "cpu" || t == "cuda", "--target expects cpu or cuda; got '", t, "'");
      o.cuda = t == "cuda";
    } else if (flag == "--gpu-arch") {
      o.gpuArch = value();
      check(o.gpuArch.rfind("sm_", 0) == 0 && o.gpuArch.size() > 3 &&
                o.gpuArch.find_first_not_of("0123456789a", 3) == std::string::npos,
            "--gpu-arch expects an architecture such as sm_80 or sm_90; got '", o.gpuArch, "'");
    } else if (flag == "-o" || flag == "--output") {
      o.output = value();
    } else if (flag == "--header") {
      o.header = value();
    } else if (flag == "--mcpu") {
      std::string cpu = value();
      o.target.cpu = cpu == "native" ? "" : cpu;
      check(!cpu.empty(), "--mcpu expects a CPU name");
    } else if (flag == "--mtriple") {
      o.target.triple = value();
    } else if (flag == "--mattr") {
      o.target.features = value();
    } else if (a.size() == 3 && a.rfind("-O", 0) == 0 && a[2] >= '0' && a[2] <= '3') {
      o.target.optLevel = a[2] - '0';
    } else if (a.rfind("-O", 0) == 0) {
      fail("unknown optimization level '", a, "' (use -O0, -O1, -O2 or -O3)");
    } else if (flag == "--loss") {
      o.loss = value();
    } else if (flag == "--dim") {
      ImportOptions io;
      tools::parseDimBinding(value(), io);
      for (const auto &[k, v] : io.dims)
        o.dims[k] = v;
    } else if (flag == "--freeze") {
      o.freeze = value();
    } else if (flag == "--optimizer") {
      o.optimizer = value();
    } else if (flag == "--lr") {
      o.lr = parseDouble(value(), flag);
      check(o.lr > 0, "--lr must be positive, got ", o.lr);
    } else if (dashed && kNumericOptimizerFlags.count(name)) {
      std::string v = value();
      parseDouble(v, flag);
      o.optimizerOptions[name] = v;
    } else if (dashed && kBoolOptimizerFlags.count(name)) {
      std::string v = inlineValue ? a.substr(flag.size() + 1) : "1";
      check(v == "0" || v == "1", flag, " takes no value (or =0 / =1), got '", v, "'");
      o.optimizerOptions[name] = v;
    } else if (flag == "--batch") {
      o.batch = parsePositive(value(), flag);
      o.batchGiven = true;
    } else if (flag == "--tail-batch") {
      std::string v = value();
      o.tailAll = v == "all";
      o.tailBatches.clear();
      if (v == "all" || v == "none")
        continue;
      std::stringstream ss(v);
      for (std::string item; std::getline(ss, item, ',');)
        o.tailBatches.push_back(parsePositive(item, flag));
    } else if (flag == "--runtime-dir") {
      o.runtimeDir = value();
    } else if (flag == "--cxx") {
      o.cxx = value();
    } else if (flag == "--blas") {
      o.blas = value();
    } else if (a == "--static-runtime") {
      o.staticRuntime = true;
    } else if (a == "-v") {
      o.verbose = true;
    } else if (a.size() > 1 && a[0] == '-') {
      fail("unknown option '", a, "' (see --help)");
    } else {
      check(o.model.empty(), "more than one model given: '", o.model, "' and '", a, "'");
      o.model = a;
    }
  }
  check(!o.model.empty(), "no model given (see --help)");
  check(o.optimizer == "sgd" || o.optimizer == "adam" || o.optimizer == "adamw" ||
            o.optimizer == "rmsprop" || o.optimizer == "adagrad",
        "--optimizer expects sgd, adam, adamw, rmsprop or adagrad; got '", o.optimizer, "'");
  if (o.cuda) {
    check(o.emit == Emit::Exe || o.emit == Emit::Ptx, "--target=cuda writes a trainer (--emit=exe) or ",
          "the plans' PTX (--emit=ptx); --emit=",
          o.emit == Emit::Lib ? "lib (the C library) is CPU-only for now"
                              : o.emit == Emit::Obj ? "obj is CPU-only (the trainer needs its PTX and host kernels linked as adjoint-compile links them)"
                                                    : "llvm|asm prints CPU code; use --emit=ptx");
    check(o.target.triple.empty() && o.target.cpu.empty() && o.target.features.empty(),
          "--mtriple, --mcpu and --mattr are for the CPU target; --target=cuda takes --gpu-arch");
  } else {
    check(o.emit != Emit::Ptx, "--emit=ptx needs --target=cuda");
  }
  check(!o.staticRuntime || o.emit == Emit::Exe, "--static-runtime is for --emit=exe");
  bool text = o.emit == Emit::Llvm || o.emit == Emit::Asm || o.emit == Emit::Ptx;
  check(text || !o.output.empty(), "-o OUT is required with --emit=",
        o.emit == Emit::Exe ? "exe" : o.emit == Emit::Lib ? "lib" : "obj");
  for (int64_t t : o.tailBatches)
    check(t < o.batch, "--tail-batch=", t, " must be smaller than --batch=", o.batch);
  return true;
}

} // namespace adjoint::compile
