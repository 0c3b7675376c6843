#include "AotTrainerOptions.h"
#include "data/FileBytes.h"

#include <charconv>
#include <cstdint>
#include <cmath>
#include <iostream>
#include <stdexcept>

namespace adjoint::aot {

namespace {

[[noreturn]] void usage(const std::string &msg) { throw std::runtime_error(msg); }

double number(const std::string &text, const std::string &flag) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v))
    usage(flag + " expects a number, got '" + text + "'");
  return v;
}

int64_t integer(const std::string &text, const std::string &flag, bool allowZero) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size())
    usage(flag + " expects an integer, got '" + text + "'");
  if (v < 0 || (v == 0 && !allowZero))
    usage(flag + " must be " + (allowZero ? "non-negative" : "positive") + ", got " + text);
  return v;
}

void printHelp(const char *argv0, const ModelInfo &m) {
  std::cout
      << "usage: " << argv0 << " --data SPEC [options]\n"
      << "\nA standalone trainer for " << m.get("model") << ", compiled by adjoint-compile for "
      << m.get("target") << ".\nCompiled in (recompile to change): loss " << m.get("loss")
      << ", optimizer " << m.get("optimizer_desc") << ", batch " << m.batch()
      << ".\nIt trains on SPEC with a progress display, evaluates on the test set after each "
         "epoch,\nand writes the trained model and checkpoints on request.\n"
         "\ndata:\n"
         "  --data SPEC            fashion-mnist[=DIR]   the Debian-packaged Fashion-MNIST\n"
         "                         idx=DIR               an MNIST-family folder of IDX files\n"
         "                         x=PATH,y=PATH[,test_x=PATH,test_y=PATH]   .npy or IDX arrays\n"
         "                         csv=PATH[,test_csv=PATH][,label=COL]     label column COL (0)\n"
         "                         synthetic[,classes=K][,vocab=V]  seeded, of the model's shapes\n"
         "                         any of them with train=N,test=N: the first N examples\n"
         "  --normalize=MODE       auto, none, standard, MEAN,STD (as adjoint-train)   [auto]\n"
         "  --no-shuffle           keep the data order (default: shuffled per epoch by --seed)\n"
         "  --max-tensor-bytes=N[K|M|G]  the most bytes a data file may hold (gzip: inflated) [4G]\n"
         "\nschedule (lr is a step input):\n"
         "  --lr=X                 base learning rate                  ["
      << m.get("lr")
      << "]\n"
         "  --schedule=KIND        constant, step, cosine, warmup-cosine        [constant]\n"
         "  --step-size=EPOCHS     step: multiply the rate by --gamma every EPOCHS  [1]\n"
         "  --gamma=X              step: the factor                             [0.1]\n"
         "  --warmup=N             warmup-cosine: steps rising linearly to lr   [5% of the run]\n"
         "  --min-lr=X             cosine, warmup-cosine: the final rate        [0]\n"
         "\nlength:\n"
         "  --epochs=N             passes over the training set                 [1]\n"
         "  --steps=N              train exactly N steps instead (crossing epochs)\n"
         "  --eval-every=N         also evaluate on the test set every N steps  [epoch ends]\n"
         "  (a last partial batch needs a step compiled for its size: adjoint-compile compiles\n"
         "   them all unless --tail-batch says otherwise; without one it is skipped, with a note)\n"
         "\noutputs (written atomically):\n"
         "  -o, --output PATH      the trained model: the ONNX graph with the trained initializers\n"
         "  --checkpoint=PATH      a checkpoint after each epoch, at the end, and on Ctrl-C\n"
         "  --checkpoint-every=N   also every N steps\n"
         "  --resume=PATH          continue from a checkpoint, bit-identically\n"
         "\nrun:\n"
         "  --threads=N            threads for loops and BLAS (0 = every core)  [0]\n"
         "  --seed=S               data order, synthetic data                   [0]\n"
         "  --progress=MODE        auto, bar, lines, none\n"
         "  --print-every=N        lines mode: a line every N steps      [about 10 per epoch]\n"
         "  --stop-after=N         stop after step N as Ctrl-C does (checkpoint, exit 130)\n"
         "  --device=cuda|emulator (GPU trainers) the GPU, or its plans run on this CPU\n"
         "                         (host-compiled kernels, for testing)         [cuda]\n"
         "  -h, --help             this text\n";
}

} // namespace

bool parseTrainerOptions(int argc, char **argv, const ModelInfo &m, TrainerOptions &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool dashed = a.rfind("--", 0) == 0;
    std::string flag = dashed ? a.substr(0, a.find('=')) : a;
    bool inlineValue = dashed && a.find('=') != std::string::npos;
    auto value = [&]() -> std::string {
      if (inlineValue)
        return a.substr(flag.size() + 1);
      if (i + 1 >= argc)
        usage(flag + " expects a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      printHelp(argv[0], m);
      return false;
    } else if (flag == "--data") {
      o.data = value();
    } else if (flag == "--normalize") {
      o.normalize = value();
    } else if (a == "--no-shuffle") {
      o.shuffle = false;
    } else if (flag == "--lr") {
      o.lr = number(value(), flag);
      if (!(o.lr > 0))
        usage("--lr must be positive");
    } else if (flag == "--schedule") {
      o.schedule = value();
      if (o.schedule != "constant" && o.schedule != "step" && o.schedule != "cosine" &&
          o.schedule != "warmup-cosine")
        usage("--schedule expects constant, step, cosine or warmup-cosine; got '" + o.schedule +
              "'");
    } else if (flag == "--step-size") {
      o.stepSize = number(value(), flag);
      if (!(o.stepSize > 0))
        usage("--step-size must be positive");
    } else if (flag == "--gamma") {
      o.gamma = number(value(), flag);
      if (!(o.gamma > 0))
        usage("--gamma must be positive");
    } else if (flag == "--warmup") {
      o.warmup = integer(value(), flag, true);
    } else if (flag == "--min-lr") {
      o.minLr = number(value(), flag);
      if (o.minLr < 0)
        usage("--min-lr must not be negative");
    } else if (flag == "--epochs") {
      o.epochs = integer(value(), flag, false);
    } else if (flag == "--steps") {
      o.steps = integer(value(), flag, false);
    } else if (flag == "--eval-every") {
      o.evalEvery = integer(value(), flag, true);
    } else if (flag == "-o" || flag == "--output") {
      o.output = value();
    } else if (flag == "--checkpoint") {
      o.checkpoint = value();
    } else if (flag == "--checkpoint-every") {
      o.checkpointEvery = integer(value(), flag, true);
    } else if (flag == "--resume") {
      o.resume = value();
    } else if (flag == "--threads") {
      o.threads = (int)integer(value(), flag, true);
    } else if (flag == "--seed") {
      o.seed = (uint64_t)integer(value(), flag, true);
    } else if (flag == "--progress") {
      o.progress = value();
      if (o.progress != "auto" && o.progress != "bar" && o.progress != "lines" &&
          o.progress != "none")
        usage("--progress expects auto, bar, lines or none; got '" + o.progress + "'");
    } else if (flag == "--print-every") {
      o.printEvery = integer(value(), flag, false);
    } else if (flag == "--stop-after") {
      o.stopAfter = integer(value(), flag, false);
    } else if (flag == "--max-tensor-bytes") {
      std::string text = value(), why;
      std::optional<uint64_t> n = data::parseByteSize(text, &why);
      if (!n)
        usage("--max-tensor-bytes '" + text + "' " + why);
      data::setMaxFileBytes(*n);
    } else if (flag == "--device") {
      o.device = value();
      if (!m.gpu())
        usage("--device is for trainers compiled with --target=cuda; this one runs on the CPU");
      if (o.device != "cuda" && o.device != "emulator")
        usage("--device expects cuda or emulator; got '" + o.device + "'");
    } else if (flag == "--batch" || flag == "--optimizer" || flag == "--loss") {
      usage(flag + " is compiled into this trainer (batch " + std::to_string(m.batch()) +
            ", optimizer " + m.get("optimizer") + ", loss " + m.get("loss") +
            "); run adjoint-compile again to change it");
    } else {
      usage("unknown option '" + a + "' (see --help)");
    }
  }
  if (o.data.empty())
    usage("no dataset given: pass --data SPEC (e.g. --data fashion-mnist)");
  if (o.lr == 0)
    o.lr = std::stod(m.get("lr", "0.001"));
  if (m.gpu() && o.device.empty())
    o.device = "cuda";
  return true;
}

} // namespace adjoint::aot
