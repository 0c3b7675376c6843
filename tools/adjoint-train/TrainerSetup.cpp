// Trainer's set-up: compiling the steps, loading and checking the data, the header it prints,
// and the initial (or resumed) state.
#include "Checkpoint.h"
#include "MetricsLog.h"
#include "Support/Error.h"
#include "TrainerSession.h"

#include <cmath>
#include <sstream>
#include <thread>

namespace adjoint::train {

namespace {

// The step inputs that are not optimizer state.
bool isStepInput(const std::string &name, const std::string &dataInput) {
  return name == dataInput || name == "target" || name == "lr" || name == "step" ||
         name == kDropoutSeedInput;
}

} // namespace

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string percent(double v) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  os << 100 * v << "%";
  return os.str();
}

std::string compileTime(double seconds) {
  if (seconds < 1)
    return std::to_string(std::lround(seconds * 1000)) + " ms";
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << seconds << " s";
  return os.str();
}

std::string fixed(double v, int prec) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

void Trainer::setUp() {
  model_ = std::make_unique<ModelFile>(opts_.model);
  StepSpec spec;
  spec.loss = opts_.loss;
  spec.optimizer = opts_.optimizer;
  spec.optimizerOptions = opts_.optimizerOptions;
  spec.freeze = opts_.freeze;
  spec.dims = opts_.dims;
  spec.backend = opts_.backend;
  spec.backendOptions.threads = opts_.threads;
  spec.backendOptions.fallback = !opts_.backendGiven;
  builder_ = std::make_unique<StepBuilder>(*model_, spec);

  batch_ = opts_.batch;
  if (int64_t fixedBatch = builder_->fixedBatch()) {
    check(!opts_.batchGiven || opts_.batch == fixedBatch, opts_.model, ": input '",
          builder_->dataInput(), "' has a fixed batch size of ", fixedBatch, "; --batch=",
          opts_.batch, " cannot be compiled (export the model with a dynamic batch axis)");
    batch_ = fixedBatch;
  }
  auto t0 = Clock::now();
  Step &ev = builder_->eval(batch_);
  double evalCompile = secondsSince(t0);
  data_ = std::make_unique<FittedData>(
      loadAndFit(opts_.data, opts_.normalize, opts_.seed, *builder_, ev));

  int64_t n = data_->dataset.train.size();
  bool fixedBatch = builder_->fixedBatch() != 0;
  batchesPerEpoch_ = fixedBatch ? n / batch_ : (n + batch_ - 1) / batch_;
  check(batchesPerEpoch_ > 0, data_->dataset.name, ": ", n,
        " training examples do not fill one batch of ", batch_, ", which the model fixes");
  t0 = Clock::now();
  Step &tr = builder_->train(batch_);
  double trainCompile = secondsSince(t0);

  totalSteps_ = opts_.steps ? opts_.steps : opts_.epochs * batchesPerEpoch_;
  totalEpochs_ = (totalSteps_ + batchesPerEpoch_ - 1) / batchesPerEpoch_;
  schedule_.kind = opts_.schedule;
  schedule_.lr = opts_.baseLr();
  schedule_.minLr = opts_.minLr;
  schedule_.gamma = opts_.gamma;
  schedule_.stepEvery =
      std::max<int64_t>(1, std::llround(opts_.stepSize * (double)batchesPerEpoch_));
  schedule_.warmup = opts_.warmup >= 0 ? opts_.warmup : std::max<int64_t>(1, totalSteps_ / 20);
  schedule_.total = totalSteps_;

  int threads = opts_.threads > 0 ? opts_.threads : (int)std::thread::hardware_concurrency();
  // The interpreter's step only reads its graph, so evaluation batches may run side by side.
  int evalThreads = ev.compiled.concurrent ? std::max(1, threads) : 1;
  int64_t printEvery = opts_.printEvery ? opts_.printEvery
                                        : std::max<int64_t>(1, (batchesPerEpoch_ + 9) / 10);
  s_ = std::make_unique<Session>(out_, Progress::modeFor(opts_.progress), printEvery);
  s_->threads = evalThreads;

  int64_t numParams = 0;
  for (Value *p : tr.fn->params())
    numParams += numElements(p->shape());
  const auto &predOut = ev.fn->outputs()[ev.predIndex];
  std::ostringstream os;
  os << "adjoint-train: " << opts_.model << "\n  data:      " << data_->description
     << "\n  model:     input '" << builder_->dataInput() << "' "
     << ev.fn->findArg(builder_->dataInput())->type().str() << ", " << numParams
     << " parameters in " << tr.fn->params().size() << " tensors; loss " << builder_->lossKind()
     << " on '" << predOut.name << "' " << predOut.value->type().str();
  if (data_->classes)
    os << " (" << data_->classes << " classes)";
  os << "\n  optimizer: " << opts_.optimizer;
  for (const auto &[k, v] : opts_.optimizerOptions)
    os << " " << k << "=" << v;
  os << ", " << schedule_.describe() << " (" << opts_.schedule << ")\n  run:       batch "
     << batch_ << ", " << batchesPerEpoch_ << " steps per epoch";
  int64_t last = n % batch_;
  if (last && !fixedBatch)
    os << " (the last batch, of " << last << ", has its own compiled step)";
  else if (last)
    os << " (the last " << last << " examples of each epoch are skipped: the model fixes the "
       << "batch)";
  os << ", " << totalSteps_ << " steps in all; seed " << opts_.seed
     << "\n  backend:   training step on " << tr.compiled.backend << ", " << tr.fn->ops().size()
     << " ops (built and compiled in " << compileTime(trainCompile) << "); evaluation step on "
     << ev.compiled.backend << ", " << ev.fn->ops().size() << " ops ("
     << compileTime(evalCompile) << ")";
  for (const std::string &note : {tr.compiled.note, ev.compiled.note})
    if (!note.empty())
      os << "\n  note:      " << note;
  s_->progress.message(os.str());
}

void Trainer::checkResumable(const TrainState &ckpt) const {
  for (const char *key : {"loss", "optimizer", "batch", "seed", "shuffle", "train_examples"}) {
    auto a = ckpt.config.find(key), b = state_.config.find(key);
    check(a != ckpt.config.end() && b != state_.config.end() && a->second == b->second,
          "--resume=", opts_.resume, ": the checkpoint's run used ", key, " = '",
          a == ckpt.config.end() ? "?" : a->second, "', this run has '",
          b == state_.config.end() ? "?" : b->second, "'");
  }
  for (const auto &[k, v] : state_.config) {
    auto it = ckpt.config.find(k);
    if (it != ckpt.config.end() && it->second != v)
      s_->progress.message("note: the checkpoint's run used " + k + " = " + it->second +
                           "; continuing with " + v + " (not what an uninterrupted run does)");
  }
  auto compare = [&](const std::map<std::string, Tensor> &want,
                     const std::map<std::string, Tensor> &have, const char *what) {
    for (const auto &[name, t] : want) {
      auto it = have.find(name);
      check(it != have.end(), "--resume=", opts_.resume, ": the checkpoint has no ", what, " '",
            name, "'");
      check(it->second.dtype() == t.dtype() && it->second.shape() == t.shape(), "--resume=",
            opts_.resume, ": ", what, " '", name, "' is ",
            TensorType{it->second.dtype(), it->second.shape()}.str(), " in the checkpoint but ",
            TensorType{t.dtype(), t.shape()}.str(), " in the model");
    }
    check(want.size() == have.size(), "--resume=", opts_.resume, ": the checkpoint has ",
          have.size(), " ", what, "s, the model ", want.size());
  };
  compare(state_.params, ckpt.params, "parameter");
  compare(state_.optState, ckpt.optState, "optimizer state tensor");
  check(ckpt.batchInEpoch <= batchesPerEpoch_, "--resume=", opts_.resume,
        ": corrupt checkpoint (batch ", ckpt.batchInEpoch, " of an epoch of ", batchesPerEpoch_,
        ")");
}

void Trainer::initState() {
  Step &tr = builder_->train(batch_);
  for (Value *p : tr.fn->params())
    state_.params[p->name()] = p->paramData();
  for (Value *in : tr.fn->inputs())
    if (!isStepInput(in->name(), builder_->dataInput()))
      state_.optState[in->name()] = Tensor(in->dtype(), in->shape());
  state_.seed = opts_.seed;
  auto &c = state_.config;
  c["loss"] = opts_.loss;
  c["optimizer"] = opts_.optimizer;
  for (const auto &[k, v] : opts_.optimizerOptions)
    c["optimizer." + k] = v;
  c["batch"] = std::to_string(batch_);
  c["seed"] = std::to_string(opts_.seed);
  c["shuffle"] = opts_.shuffle ? "1" : "0";
  c["train_examples"] = std::to_string(data_->dataset.train.size());
  c["lr"] = jsonNumber(schedule_.lr);
  c["schedule"] = opts_.schedule;
  c["total_steps"] = std::to_string(totalSteps_);
  c["normalize"] = opts_.normalize;
  c["data"] = opts_.data;
  if (opts_.resume.empty())
    return;
  TrainState ckpt = readCheckpoint(opts_.resume);
  checkResumable(ckpt);
  ckpt.config = state_.config;
  state_ = std::move(ckpt);
  s_->progress.message("resuming from " + opts_.resume + " after step " +
                       std::to_string(state_.step) + " (epoch " +
                       std::to_string(state_.epoch + 1) + ", batch " +
                       std::to_string(state_.batchInEpoch) + " of " +
                       std::to_string(batchesPerEpoch_) + ")");
}

} // namespace adjoint::train
