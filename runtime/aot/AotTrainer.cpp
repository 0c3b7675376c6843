#include "AotTrainer.h"
#include "AotCheckpoint.h"
#include "AotData.h"
#include "Progress.h"
#include "Schedule.h"
#include "adjoint_runtime.h"
#include "data/Shuffle.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <iostream>
#include <numeric>
#include <sstream>
#include <thread>

namespace adjoint::aot {

std::atomic<bool> gInterrupt{false};

namespace {

using Clock = std::chrono::steady_clock;
using train::Progress;
using train::ProgressInfo;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fixed(double v, int prec) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(prec);
  os << v;
  return os.str();
}

std::string percent(double v) { return fixed(100 * v, 2) + "%"; }

std::string exact(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

struct EvalResult {
  double loss = NAN, accuracy = NAN;
  int64_t examples = 0;
  bool interrupted = false;
};

class Loop {
public:
  Loop(const TrainerOptions &o, const ModelInfo &m, std::ostream &out, const ExecutorFactory &device)
      : o_(o), m_(m), session_(m), progress_(out, Progress::modeFor(o.progress), 1) {
    // Before anything else: a trainer for the GPU without one fails at once, in one line.
    if (m.gpu()) {
      if (!device)
        throw std::runtime_error("this trainer's steps were compiled for the GPU (--target=cuda) but "
                                 "it was linked without the GPU runtime");
      session_.setExecutor(device(session_, o.device));
    }
  }
  TrainerResult run();

private:
  void setUp();
  void resume();
  void trainStep(const data::Batch &b);
  EvalResult evaluate();
  EvalResult evaluateNow(const std::string &label);
  void endEpoch();
  void save(const std::string &path);
  std::map<std::string, std::string> meta() const;
  double epochFraction() const {
    return (double)epoch_ + (double)batchInEpoch_ / (double)batchesPerEpoch_;
  }

  const TrainerOptions &o_;
  const ModelInfo &m_;
  Session session_;
  Progress progress_;
  FittedData data_;
  train::Schedule schedule_;
  int64_t batch_ = 0, batchesPerEpoch_ = 0, totalSteps_ = 0, totalEpochs_ = 0;
  bool dropLast_ = false;
  // The run's state, as a checkpoint holds it.
  int64_t step_ = 0, epoch_ = 0, batchInEpoch_ = 0;
  double epochLoss_ = 0, epochCorrect_ = 0, trainSeconds_ = 0;
  int64_t epochExamples_ = 0, epochPredictions_ = 0;
  // This process's share, for rates.
  double seconds_ = 0, epochSeconds_ = 0;
  int64_t steps_ = 0, examples_ = 0, epochExamplesHere_ = 0;
  EvalResult lastEval_;
  int64_t lastEvalStep_ = -1;
};

void Loop::setUp() {
  auto t0 = Clock::now();
  data_ = loadAndFit(o_.data, o_.normalize, o_.seed, m_);
  double loadSeconds = secondsSince(t0);
  batch_ = m_.batch();
  int64_t n = data_.dataset.train.size();
  int64_t tail = n % batch_;
  dropLast_ = tail != 0 && !m_.step(StepKind::Train, tail);
  batchesPerEpoch_ = dropLast_ ? n / batch_ : (n + batch_ - 1) / batch_;
  if (batchesPerEpoch_ <= 0)
    throw std::runtime_error(data_.dataset.name + ": " + std::to_string(n) +
                             " training examples do not fill one batch of " +
                             std::to_string(batch_) + ", which this trainer was compiled for");
  totalSteps_ = o_.steps ? o_.steps : o_.epochs * batchesPerEpoch_;
  totalEpochs_ = (totalSteps_ + batchesPerEpoch_ - 1) / batchesPerEpoch_;
  schedule_.kind = o_.schedule;
  schedule_.lr = o_.lr;
  schedule_.minLr = o_.minLr;
  schedule_.gamma = o_.gamma;
  schedule_.stepEvery = std::max<int64_t>(1, std::llround(o_.stepSize * (double)batchesPerEpoch_));
  schedule_.warmup = o_.warmup >= 0 ? o_.warmup : std::max<int64_t>(1, totalSteps_ / 20);
  schedule_.total = totalSteps_;
  progress_.setPrintEvery(o_.printEvery ? o_.printEvery
                                        : std::max<int64_t>(1, (batchesPerEpoch_ + 9) / 10));
  adj_set_num_threads(o_.threads);

  int64_t numParams = 0;
  for (const TensorInfo &t : m_.params)
    numParams += t.numel();
  std::ostringstream os;
  os << "adjoint-compile trainer: " << m_.get("model") << " (compiled for " << m_.get("target")
     << ")\n";
  if (const StepExecutor *e = session_.executor())
    os << "  device:    " << e->describe() << "\n";
  os << "  data:      " << data_.description << " (loaded in " << fixed(loadSeconds, 1)
     << " s)\n  model:     input '" << m_.dataInput() << "' "
     << TensorInfo{"", m_.inputDType, m_.exampleShape}.describe() << " per example, "
     << numParams << " parameters in " << m_.params.size() << " tensors; loss " << m_.get("loss");
  if (m_.classes && m_.lossKind() == "cross-entropy")
    os << " (" << m_.classes << " classes)";
  os << "\n  optimizer: " << m_.get("optimizer_desc") << ", " << schedule_.describe() << " ("
     << o_.schedule << ")\n  run:       batch " << batch_ << ", " << batchesPerEpoch_
     << " steps per epoch";
  if (tail && !dropLast_)
    os << " (the last batch, of " << tail << ", has its own compiled step)";
  else if (tail)
    os << " (the last " << tail << " examples of each epoch are skipped: no step was compiled "
       << "for a batch of " << tail << "; adjoint-compile --tail-batch=" << tail << " adds one)";
  os << ", " << totalSteps_ << " steps in all; seed " << o_.seed << "; "
     << (o_.threads ? std::to_string(o_.threads) : std::string("all")) << " threads";
  progress_.message(os.str());
}

std::map<std::string, std::string> Loop::meta() const {
  return {{"step", std::to_string(step_)},
          {"epoch", std::to_string(epoch_)},
          {"batch_in_epoch", std::to_string(batchInEpoch_)},
          {"seed", std::to_string(o_.seed)},
          {"shuffle", o_.shuffle ? "1" : "0"},
          {"train_examples", std::to_string(data_.dataset.train.size())},
          {"data", o_.data},
          {"normalize", o_.normalize},
          {"epoch_loss", exact(epochLoss_)},
          {"epoch_correct", exact(epochCorrect_)},
          {"epoch_examples", std::to_string(epochExamples_)},
          {"epoch_predictions", std::to_string(epochPredictions_)},
          {"train_seconds", exact(trainSeconds_)}};
}

void Loop::save(const std::string &path) {
  if (!path.empty())
    writeCheckpoint(path, session_, meta());
}

void Loop::resume() {
  std::map<std::string, std::string> c = readCheckpoint(o_.resume, session_);
  std::map<std::string, std::string> now = meta();
  for (const char *key : {"seed", "shuffle", "train_examples"})
    if (c[key] != now[key])
      throw std::runtime_error("--resume=" + o_.resume + ": the checkpoint's run used " + key +
                               " = '" + c[key] + "', this run has '" + now[key] + "'");
  try {
    step_ = std::stoll(c.at("step"));
    epoch_ = std::stoll(c.at("epoch"));
    batchInEpoch_ = std::stoll(c.at("batch_in_epoch"));
    epochLoss_ = std::stod(c.at("epoch_loss"));
    epochCorrect_ = std::stod(c.at("epoch_correct"));
    epochExamples_ = std::stoll(c.at("epoch_examples"));
    epochPredictions_ = std::stoll(c.at("epoch_predictions"));
    trainSeconds_ = std::stod(c.at("train_seconds"));
  } catch (const std::exception &) {
    throw std::runtime_error("--resume=" + o_.resume + ": the checkpoint lacks the trainer's "
                             "counters (was it saved by the C library?)");
  }
  if (batchInEpoch_ > batchesPerEpoch_)
    throw std::runtime_error("--resume=" + o_.resume + ": corrupt checkpoint (batch " +
                             std::to_string(batchInEpoch_) + " of an epoch of " +
                             std::to_string(batchesPerEpoch_) + ")");
  progress_.message("resuming from " + o_.resume + " after step " + std::to_string(step_) +
                    " (epoch " + std::to_string(epoch_ + 1) + ", batch " +
                    std::to_string(batchInEpoch_) + " of " + std::to_string(batchesPerEpoch_) +
                    ")");
}

void Loop::trainStep(const data::Batch &b) {
  int64_t step = step_ + 1;
  double lr = schedule_.at(step);
  StepResult r = session_.train(b.x.bytes.data(), b.y.bytes.data(), b.size, lr, step,
                                dropoutSeed(o_.seed, step));
  if (!std::isfinite(r.loss))
    throw std::runtime_error("the loss is " +
                             std::string(std::isnan(r.loss) ? "NaN" : r.loss > 0 ? "+Inf" : "-Inf") +
                             " at step " + std::to_string(step) + " (epoch " +
                             std::to_string(epoch_ + 1) + ", lr " + exact(lr) +
                             "); training stopped. Lower --lr");
  step_ = step;
  batchInEpoch_++;
  epochLoss_ += r.loss * (double)b.size;
  epochExamples_ += b.size;
  epochCorrect_ += r.correct;
  epochPredictions_ += r.predictions;
}

EvalResult Loop::evaluate() {
  EvalResult r;
  if (!data_.dataset.test)
    return r;
  const data::Split &test = *data_.dataset.test;
  std::vector<int64_t> order((size_t)test.size());
  std::iota(order.begin(), order.end(), 0);
  bool fixed = m_.get("fixed_batch") == "1";
  int64_t numBatches = fixed ? test.size() / batch_ : (test.size() + batch_ - 1) / batch_;
  double lossSum = 0, correct = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < numBatches; ++i) {
    if (gInterrupt) {
      r.interrupted = true;
      return r;
    }
    int64_t size = std::min<int64_t>(batch_, test.size() - i * batch_);
    // A last batch without a step of its own goes one example at a time: the loss is a sum
    // and the accuracy a count, so the totals are the same.
    int64_t chunk = m_.step(StepKind::Eval, size) ? size : 1;
    for (int64_t j = 0; j < size; j += chunk) {
      data::Batch b = data::BatchLoader::assemble(test, data_.format, order, chunk,
                                                  (i * batch_ + j) / chunk);
      StepResult s = session_.eval(b.x.bytes.data(), b.y.bytes.data(), b.size);
      lossSum += s.loss * (double)b.size;
      correct += s.correct;
      count += s.predictions;
      r.examples += b.size;
    }
  }
  r.loss = r.examples ? lossSum / (double)r.examples : NAN;
  r.accuracy = count ? correct / (double)count : NAN;
  return r;
}

EvalResult Loop::evaluateNow(const std::string &label) {
  EvalResult r = evaluate();
  if (r.interrupted || r.examples == 0)
    return r;
  lastEval_ = r;
  lastEvalStep_ = step_;
  if (!label.empty()) {
    std::string line = label + ": test loss " + fixed(r.loss, 4);
    if (std::isfinite(r.accuracy))
      line += "  acc " + percent(r.accuracy);
    progress_.message(line);
  }
  return r;
}

void Loop::endEpoch() {
  std::ostringstream os;
  bool partial = batchInEpoch_ < batchesPerEpoch_;
  os << "epoch " << epoch_ + 1 << "/" << totalEpochs_;
  if (partial)
    os << " (" << batchInEpoch_ << " of " << batchesPerEpoch_ << " steps)";
  os << ": train loss " << fixed(epochExamples_ ? epochLoss_ / (double)epochExamples_ : NAN, 4);
  if (epochPredictions_)
    os << " acc " << percent(epochCorrect_ / (double)epochPredictions_);
  EvalResult r = evaluateNow("");
  if (r.interrupted)
    return;
  if (r.examples) {
    os << "  |  test loss " << fixed(r.loss, 4);
    if (std::isfinite(r.accuracy))
      os << " acc " << percent(r.accuracy);
  }
  if (epochSeconds_ > 0)
    os << "  |  " << fixed(epochSeconds_, 1) << " s, "
       << train::formatRate((double)epochExamplesHere_ / epochSeconds_) << " ex/s";
  progress_.message(os.str());
  if (!partial) {
    epoch_++;
    batchInEpoch_ = 0;
    epochLoss_ = epochCorrect_ = 0;
    epochExamples_ = epochPredictions_ = 0;
  }
  epochSeconds_ = 0;
  epochExamplesHere_ = 0;
  save(o_.checkpoint);
}

TrainerResult Loop::run() {
  setUp();
  if (!o_.resume.empty())
    resume();
  TrainerResult result;
  auto interrupted = [&] {
    progress_.finishBar();
    std::string path = o_.checkpoint.empty() ? m_.get("model_stem", "model") + ".interrupted.ckpt"
                                             : o_.checkpoint;
    save(path);
    progress_.message("interrupted after step " + std::to_string(step_) +
                      ": checkpoint written to " + path + "; continue with --resume=" + path);
    result.interrupted = true;
    result.steps = step_;
    return result;
  };
  while (step_ < totalSteps_) {
    std::vector<int64_t> order =
        data::epochOrder(data_.dataset.train.size(), o_.seed, epoch_, o_.shuffle);
    data::BatchLoader loader(data_.dataset.train, data_.format, std::move(order), batch_,
                             batchInEpoch_, dropLast_);
    while (step_ < totalSteps_ && batchInEpoch_ < batchesPerEpoch_) {
      auto t0 = Clock::now();
      std::optional<data::Batch> b = loader.next();
      if (!b)
        throw std::runtime_error("internal error: the data ran out before the epoch ended");
      trainStep(*b);
      double dt = secondsSince(t0);
      trainSeconds_ += dt;
      seconds_ += dt;
      epochSeconds_ += dt;
      steps_++;
      examples_ += b->size;
      epochExamplesHere_ += b->size;
      ProgressInfo pi;
      pi.epoch = epoch_ + 1;
      pi.epochs = totalEpochs_;
      pi.batch = batchInEpoch_;
      pi.batches = batchesPerEpoch_;
      pi.step = step_;
      pi.steps = totalSteps_;
      pi.loss = epochLoss_ / (double)std::max<int64_t>(epochExamples_, 1);
      pi.accuracy = epochPredictions_ ? epochCorrect_ / (double)epochPredictions_ : -1;
      pi.lr = schedule_.at(step_);
      pi.examplesPerSecond = (double)epochExamplesHere_ / std::max(epochSeconds_, 1e-9);
      pi.etaSeconds = seconds_ / (double)steps_ * (double)(totalSteps_ - step_);
      progress_.update(pi);
      if (gInterrupt || step_ == o_.stopAfter)
        return interrupted();
      if (o_.evalEvery && step_ % o_.evalEvery == 0 && batchInEpoch_ < batchesPerEpoch_) {
        progress_.finishBar();
        if (evaluateNow("step " + std::to_string(step_)).interrupted)
          return interrupted();
      }
      if (o_.checkpointEvery && step_ % o_.checkpointEvery == 0)
        save(o_.checkpoint);
    }
    if (batchInEpoch_ == batchesPerEpoch_ || step_ == totalSteps_) {
      progress_.finishBar();
      endEpoch();
      if (gInterrupt)
        return interrupted();
    }
  }
  if (lastEvalStep_ != step_ && data_.dataset.test)
    if (evaluateNow("step " + std::to_string(step_)).interrupted)
      return interrupted();
  result.steps = step_;
  result.testAccuracy = lastEval_.accuracy;
  result.testLoss = lastEval_.loss;
  std::ostringstream os;
  if (lastEvalStep_ >= 0 && std::isfinite(lastEval_.accuracy))
    os << "final test accuracy: " << percent(lastEval_.accuracy) << " (" << lastEval_.examples
       << " examples), test loss " << fixed(lastEval_.loss, 4) << "\n";
  else if (lastEvalStep_ >= 0)
    os << "final test loss: " << fixed(lastEval_.loss, 4) << " (" << lastEval_.examples
       << " examples)\n";
  os << "trained " << steps_ << " steps in " << fixed(seconds_, 1) << " s ("
     << train::formatRate(seconds_ > 0 ? (double)examples_ / seconds_ : 0)
     << " examples/s, compiled ahead of time)";
  if (!o_.output.empty()) {
    session_.exportOnnx(o_.output);
    os << "\nwrote the trained model to " << o_.output;
  }
  if (!o_.checkpoint.empty())
    os << "\nwrote the checkpoint to " << o_.checkpoint;
  save(o_.checkpoint);
  progress_.message(os.str());
  return result;
}

void onInterrupt(int) {
  gInterrupt = true;
  std::signal(SIGINT, SIG_DFL);
}

} // namespace

TrainerResult runTrainer(const TrainerOptions &opts, const ModelInfo &m, std::ostream &out,
                         const ExecutorFactory &device) {
  Loop loop(opts, m, out, device);
  return loop.run();
}

int trainerMain(int argc, char **argv, const ExecutorFactory &device) {
  const char *name = argc > 0 ? argv[0] : "trainer";
  try {
    const ModelInfo &m = linkedModel();
    TrainerOptions opts;
    if (!parseTrainerOptions(argc, argv, m, opts))
      return 0;
    struct sigaction sa = {};
    sa.sa_handler = onInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    TrainerResult r = runTrainer(opts, m, std::cout, device);
    return r.interrupted ? 130 : 0;
  } catch (const std::exception &e) {
    std::cout.flush();
    std::cerr << name << ": error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace adjoint::aot
