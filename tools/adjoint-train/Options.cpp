#include "Options.h"
#include "Backend.h"
#include "Schedule.h"
#include "Support/Error.h"
#include "common/ToolSupport.h"

#include <charconv>
#include <cmath>
#include <iostream>
#include <set>

namespace adjoint::train {

double TrainOptions::baseLr() const {
  if (lr > 0)
    return lr;
  return optimizer == "adam" || optimizer == "adamw" ? 1e-3 : 1e-2;
}

void printTrainHelp() {
  std::string backends;
  for (const auto &b : availableBackends())
    backends += (backends.empty() ? "" : ", ") + b;
  std::cout
      << "usage: adjoint-train MODEL.onnx --data SPEC [options]\n"
         "\nCompiles MODEL into a training step and an evaluation step, trains it on SPEC with a\n"
         "progress display, evaluates on the test set after each epoch, and writes the trained\n"
         "model, checkpoints, a loss plot and a metrics log on request.\n"
         "\ndata:\n"
         "  --data SPEC            fashion-mnist[=DIR]   the Debian-packaged Fashion-MNIST\n"
         "                         idx=DIR               an MNIST-family folder of IDX files\n"
         "                         x=PATH,y=PATH[,test_x=PATH,test_y=PATH]   .npy or IDX arrays\n"
         "                         csv=PATH[,test_csv=PATH][,label=COL]     label column COL (0)\n"
         "                         synthetic[,classes=K][,vocab=V]  seeded, of the model's shapes\n"
         "                         any of them with train=N,test=N: the first N examples\n"
         "                         (synthetic: how many to make, default 1024 and 256)\n"
         "  --normalize=MODE       auto (integer data scaled to [0,1], as ToTensor), none,\n"
         "                         standard (the training set's mean and std), MEAN,STD (after\n"
         "                         auto's scaling)                                 [auto]\n"
         "  --no-shuffle           keep the data order (default: shuffled per epoch by --seed)\n"
         "\nmodel:\n"
         "  --loss=KIND[:OUTPUT]   cross-entropy, mse, l1, bce-with-logits on OUTPUT (default the\n"
         "                         first output)                           [cross-entropy]\n"
         "  --dim NAME=N           bind a symbolic input dimension other than the batch\n"
      << tools::kMaxTensorBytesHelp <<
         "  --freeze=P[,P...]      parameters (initializers) to leave untrained\n"
         "\noptimizer (PyTorch's formulas and defaults; docs/optimizers.md):\n"
         "  --optimizer=NAME       sgd, adam, adamw, rmsprop, adagrad           [adam]\n"
         "  --lr=X                 base learning rate   [adam, adamw 0.001; others 0.01]\n"
         "  --momentum=X           sgd, rmsprop                                 [0]\n"
         "  --dampening=X          sgd                                          [0]\n"
         "  --nesterov             sgd: Nesterov momentum\n"
         "  --weight-decay=X       L2 penalty; adamw: decoupled         [0; adamw 0.01]\n"
         "  --beta1=X --beta2=X    adam, adamw                           [0.9, 0.999]\n"
         "  --eps=X                adam, adamw, rmsprop [1e-8]; adagrad [1e-10]\n"
         "  --amsgrad              adam, adamw: the AMSGrad variant\n"
         "  --alpha=X              rmsprop: smoothing constant                  [0.99]\n"
         "  --centered             rmsprop: normalize by the gradient's variance\n"
         "  --lr-decay=X           adagrad                                      [0]\n"
         "  --initial-accumulator=X  adagrad                                    [0]\n"
         "  --clip-grad-norm=X     clip the gradients' total 2-norm to X first  [off]\n"
         "\nschedule (lr is a step input: no recompile):\n"
         "  --schedule=KIND        constant, step, cosine, warmup-cosine        [constant]\n"
         "  --step-size=EPOCHS     step: multiply the rate by --gamma every EPOCHS  [1]\n"
         "  --gamma=X              step: the factor                             [0.1]\n"
         "  --warmup=N             warmup-cosine: steps rising linearly to lr   [5% of the run]\n"
         "  --min-lr=X             cosine, warmup-cosine: the final rate        [0]\n"
         "\nlength:\n"
         "  --batch=N              examples per step; a smaller last batch gets its own\n"
         "                         compiled step                                [64]\n"
         "  --epochs=N             passes over the training set                 [1]\n"
         "  --steps=N              train exactly N steps instead (crossing epochs)\n"
         "  --eval-every=N         also evaluate on the test set every N steps  [epoch ends]\n"
         "\noutputs (every file is written atomically: temporary file, then rename):\n"
         "  -o, --output PATH      the trained model: MODEL's graph with the trained initializers\n"
         "  --checkpoint=PATH      write a checkpoint (parameters, optimizer state, step, data\n"
         "                         order) after each epoch, at the end, and on Ctrl-C\n"
         "  --checkpoint-every=N   also every N steps\n"
         "  --resume=PATH          continue from a checkpoint, bit-identically\n"
         "  --plot=PATH            an SVG of the training and test loss and accuracy curves\n"
         "  --log=PATH             metrics as JSON lines, one per step and per evaluation\n"
         "\nrun:\n"
         "  --backend=NAME         "
      << backends << " [" << defaultBackend()
      << "]\n"
         "                         (jit: a step it cannot compile yet runs on the interpreter\n"
         "                         unless --backend=jit was given)\n"
         "  --device=cpu|cuda      cuda: train on the NVIDIA GPU (= --backend=cuda, docs/gpu.md)\n"
         "  --threads=N            threads: jit loops and BLAS; the interpreter runs that many\n"
         "                         evaluation batches at once (0 = every core)  [0]\n"
         "  --seed=S               data order, synthetic data, dropout masks    [0]\n"
         "  --check-numerics       on a non-finite loss, name the first parameter, gradient\n"
         "                         and op that went non-finite; check parameters every step\n"
         "  --progress=MODE        auto (a bar on a terminal, lines otherwise), bar, lines, none\n"
         "  --print-every=N        lines mode: a line every N steps      [about 10 per epoch]\n"
         "  --stop-after=N         stop after step N as Ctrl-C does (checkpoint, exit 130)\n"
         "  -h, --help             this text\n";
}

namespace {

double parseDouble(const std::string &text, const std::string &flag) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  check(ec == std::errc() && p == text.data() + text.size() && std::isfinite(v), flag,
        " expects a number, got '", text, "'");
  return v;
}

int64_t parsePositive(const std::string &text, const std::string &flag, bool allowZero = false) {
  int64_t v = tools::parseInt(text, flag.c_str());
  check(v > 0 || (allowZero && v == 0), flag, " must be ", allowZero ? "non-negative" : "positive",
        ", got ", v);
  return v;
}

const std::set<std::string> kNumericOptimizerFlags = {
    "momentum", "dampening", "weight-decay", "beta1",          "beta2",
    "eps",      "alpha",     "lr-decay",     "initial-accumulator", "clip-grad-norm"};
const std::set<std::string> kBoolOptimizerFlags = {"nesterov", "amsgrad", "centered"};

} // namespace

bool parseTrainOptions(int argc, char **argv, TrainOptions &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string flag = a.substr(0, a.find('='));
    bool inlineValue = a.find('=') != std::string::npos && a.rfind("--", 0) == 0;
    auto value = [&]() -> std::string {
      if (inlineValue)
        return a.substr(flag.size() + 1);
      check(i + 1 < argc, flag, " expects a value");
      return argv[++i];
    };
    std::string name = flag.rfind("--", 0) == 0 ? flag.substr(2) : flag;
    if (a == "-h" || a == "--help") {
      printTrainHelp();
      return false;
    } else if (flag == "--data") {
      o.data = value();
    } else if (flag == "--normalize") {
      o.normalize = value();
    } else if (a == "--no-shuffle") {
      o.shuffle = false;
    } else if (flag == "--loss") {
      o.loss = value();
    } else if (flag == "--max-tensor-bytes") {
      tools::parseMaxTensorBytes(value());
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
    } else if (kNumericOptimizerFlags.count(name) && flag.rfind("--", 0) == 0) {
      std::string v = value();
      parseDouble(v, flag);
      o.optimizerOptions[name] = v;
    } else if (kBoolOptimizerFlags.count(name) && flag.rfind("--", 0) == 0) {
      std::string v = inlineValue ? a.substr(flag.size() + 1) : "1";
      check(v == "0" || v == "1", flag, " takes no value (or =0 / =1), got '", v, "'");
      o.optimizerOptions[name] = v;
    } else if (flag == "--schedule") {
      o.schedule = value();
      checkScheduleKind(o.schedule);
    } else if (flag == "--step-size") {
      o.stepSize = parseDouble(value(), flag);
      check(o.stepSize > 0, "--step-size must be positive");
    } else if (flag == "--gamma") {
      o.gamma = parseDouble(value(), flag);
      check(o.gamma > 0, "--gamma must be positive");
    } else if (flag == "--warmup") {
      o.warmup = parsePositive(value(), flag, /*allowZero=*/true);
    } else if (flag == "--min-lr") {
      o.minLr = parseDouble(value(), flag);
      check(o.minLr >= 0, "--min-lr must not be negative");
    } else if (flag == "--batch") {
      o.batch = parsePositive(value(), flag);
      o.batchGiven = true;
    } else if (flag == "--epochs") {
      o.epochs = parsePositive(value(), flag);
    } else if (flag == "--steps") {
      o.steps = parsePositive(value(), flag);
    } else if (flag == "--eval-every") {
      o.evalEvery = parsePositive(value(), flag, true);
    } else if (flag == "-o" || flag == "--output") {
      o.output = value();
    } else if (flag == "--checkpoint") {
      o.checkpoint = value();
    } else if (flag == "--checkpoint-every") {
      o.checkpointEvery = parsePositive(value(), flag, true);
    } else if (flag == "--resume") {
      o.resume = value();
    } else if (flag == "--plot") {
      o.plot = value();
    } else if (flag == "--log") {
      o.log = value();
    } else if (flag == "--backend") {
      o.backend = value();
      checkBackend(o.backend);
      o.backendGiven = true;
    } else if (flag == "--device") {
      std::string d = value();
      check(d == "cpu" || d == "cuda", "--device expects cpu or cuda, got '", d, "'");
      o.backend = d == "cuda" ? "cuda" : defaultBackend();
      o.backendGiven = true;
    } else if (flag == "--threads") {
      o.threads = (int)parsePositive(value(), flag, true);
    } else if (flag == "--seed") {
      int64_t s = tools::parseInt(value(), "--seed");
      check(s >= 0, "--seed must not be negative");
      o.seed = (uint64_t)s;
    } else if (a == "--check-numerics") {
      o.checkNumerics = true;
    } else if (flag == "--progress") {
      o.progress = value();
      check(o.progress == "auto" || o.progress == "bar" || o.progress == "lines" ||
                o.progress == "none",
            "--progress expects auto, bar, lines or none; got '", o.progress, "'");
    } else if (flag == "--print-every") {
      o.printEvery = parsePositive(value(), flag);
    } else if (flag == "--stop-after") {
      o.stopAfter = parsePositive(value(), flag);
    } else if (a.size() > 1 && a[0] == '-') {
      fail("unknown option '", a, "' (see --help)");
    } else {
      check(o.model.empty(), "more than one model given: '", o.model, "' and '", a, "'");
      o.model = a;
    }
  }
  check(!o.model.empty(), "no model given (see --help)");
  check(!o.data.empty(), "no dataset given: pass --data SPEC (e.g. --data fashion-mnist)");
  check(o.optimizer == "sgd" || o.optimizer == "adam" || o.optimizer == "adamw" ||
            o.optimizer == "rmsprop" || o.optimizer == "adagrad",
        "--optimizer expects sgd, adam, adamw, rmsprop or adagrad; got '", o.optimizer, "'");
  if (o.backend.empty())
    o.backend = defaultBackend();
  return true;
}

} // namespace adjoint::train
