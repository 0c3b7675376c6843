#include "Trainer.h"
#include "Checkpoint.h"
#include "Metrics.h"
#include "Numerics.h"
#include "Plot.h"
#include "Support/Error.h"
#include "TrainerSession.h"
#include "data/Shuffle.h"

#include <cmath>
#include <filesystem>
#include <sstream>

namespace adjoint::train {

std::atomic<bool> gInterrupt{false};

Trainer::Trainer(TrainOptions opts, std::ostream &out) : opts_(std::move(opts)), out_(out) {}
Trainer::~Trainer() = default;

double Trainer::epochFraction() const {
  return (double)state_.epoch + (double)state_.batchInEpoch / (double)batchesPerEpoch_;
}

Tensor Trainer::dropoutSeed(int64_t step) const {
  return Tensor::scalar<int64_t>(data::dropoutStepSeed(state_.seed, step));
}

void Trainer::numericsFailure(const data::Batch &b, const std::map<std::string, Tensor> &inputs,
                              double loss, const std::string &badParam) {
  s_->progress.finishBar();
  std::ostringstream os;
  int64_t step = state_.step + 1;
  if (!std::isfinite(loss))
    os << "the loss is " << (std::isnan(loss) ? "NaN" : loss > 0 ? "+Inf" : "-Inf") << " at step "
       << step;
  else
    os << "step " << step << " made " << badParam << " non-finite (its loss was " << loss << ")";
  os << " (epoch " << state_.epoch + 1 << ", batch " << state_.batchInEpoch + 1 << " of "
     << batchesPerEpoch_ << ", lr " << schedule_.at(step) << "); training stopped.";
  os << keepLastGoodState();
  if (!opts_.checkNumerics) {
    os << " Lower --lr or clip with --clip-grad-norm; --check-numerics names the first "
          "non-finite parameter, gradient and op";
    fail(os.str());
  }
  if (!badParam.empty() && !std::isfinite(loss))
    os << "\n  check-numerics: the step made " << badParam << " non-finite";
  os << "\n  check-numerics: every parameter was finite before step " << step;
  auto gm = builder_->gradients(b.size);
  std::map<std::string, Tensor> gin;
  for (const auto &[k, v] : inputs)
    if (gm->main()->findArg(k))
      gin[k] = v;
  std::istringstream lines(diagnoseGradients(*gm->main(), gin));
  for (std::string line; std::getline(lines, line);)
    os << "\n  check-numerics: " << line;
  fail(os.str());
}

std::string Trainer::keepLastGoodState() {
  // The failed step's updates were not applied, so state_ is the state after the last good step
  // unless a parameter had already gone non-finite without the loss showing it.
  if (opts_.checkpoint.empty())
    return "";
  std::string path = opts_.checkpoint;
  if (stateLost_) {
    std::string kept = std::get<0>(lastSaved_) == path
                           ? " The checkpoint " + path + " (after step " +
                                 std::to_string(std::get<1>(lastSaved_)) + ") was left as it was."
                           : "";
    return " The device updates the state in place, so the state before this step was not kept." +
           kept + " (--check-numerics keeps each step's state on the host and saves the last good "
           "one.)";
  }
  if (firstNonFinite(state_.params) || firstNonFinite(state_.optState))
    return " The checkpoint " + path + " was left as it was: the state before this step is "
           "not finite either.";
  try {
    saveCheckpoint(path);
  } catch (const Error &e) {
    return std::string(" The last good state could not be saved: ") + e.what();
  }
  return " The state after step " + std::to_string(state_.step) + " (the last good one) is in " +
         path + "; continue with --resume=" + path + " and a lower --lr.";
}

void Trainer::syncState() {
  if (!hostStale_ || resident_ == nullptr)
    return;
  for (const auto &[i, name] : resident_->updates) {
    auto it = state_.params.find(name);
    (it != state_.params.end() ? it->second : state_.optState[name]) =
        resident_->compiled.resident->read(name);
  }
  hostStale_ = false;
}

std::string Trainer::deviceTraffic() const {
  int64_t up = 0, down = 0;
  for (const Step *st : residentSteps_) {
    up += st->compiled.resident->bytesUp;
    down += st->compiled.resident->bytesDown;
  }
  auto size = [](double bytes) {
    return bytes < 1e6 ? fixed(bytes / 1e3, 1) + " kB" : fixed(bytes / 1e6, 1) + " MB";
  };
  int64_t steps = std::max<int64_t>(1, s_->steps);
  std::ostringstream os;
  os << size((double)up) << " to the device (the state ";
  if (loads_ == 1)
    os << "once, " << size((double)loadedBytes_);
  else
    os << loads_ << "x, " << size((double)loadedBytes_ / (double)std::max<int64_t>(1, loads_))
       << " each";
  if (handOvers_)
    os << ", and moved on the device " << handOvers_ << "x between the batch sizes' steps";
  os << "; "
     << size((double)(up - loadedBytes_) / (double)steps) << " of batch per step), "
     << size((double)down) << " back (" << size((double)down / (double)steps)
     << " per step with the state reads)";
  return os.str();
}

std::vector<Tensor> Trainer::runResident(Step &st, const std::map<std::string, Tensor> &stepInputs) {
  ResidentStep &r = *st.compiled.resident;
  if (resident_ != &st) {
    // Another step (the other batch size, twice an epoch when the last batch is smaller) holds
    // the newest state: it moves on the device (the owner always has it); from the host at the
    // start, after a resume or a failed step.
    // Every state tensor, frozen parameters too: the new step's buffers start empty.
    std::vector<std::string> names;
    for (const auto *m : {&state_.params, &state_.optState})
      for (const auto &[name, t] : *m)
        names.push_back(name);
    bool moved = resident_ != nullptr && r.adopt(*resident_->compiled.resident, names);
    if (moved) {
      handOvers_++;
    } else {
      syncState();
      std::map<std::string, Tensor> all = state_.params;
      all.insert(state_.optState.begin(), state_.optState.end());
      r.load(all);
      for (const auto &[name, t] : all)
        loadedBytes_ += (int64_t)t.byteSize();
      loads_++;
    }
    residentSteps_.insert(&st);
    resident_ = &st;
  }
  hostStale_ = true;
  return r.step(stepInputs, {st.lossIndex, st.predIndex});
}

void Trainer::trainStep(const data::Batch &b) {
  Step &st = builder_->train(b.size);
  int64_t step = state_.step + 1;
  std::map<std::string, Tensor> inputs;
  inputs[builder_->dataInput()] = toTensor(b.x, builder_->inputDType());
  Tensor target = toTensor(b.y, data_->targetType.dtype);
  inputs["target"] = target;
  double lr = schedule_.at(step);
  Tensor lrT(st.fn->findArg("lr")->dtype(), {});
  lrT.setDouble(0, lr);
  inputs["lr"] = lrT;
  inputs["step"] = Tensor::scalar<int64_t>(step);
  if (st.fn->findArg(kDropoutSeedInput))
    inputs[kDropoutSeedInput] = dropoutSeed(step);

  // --check-numerics inspects every update before it is applied, so it keeps the state on the
  // host even on a device that could hold it.
  bool resident = st.compiled.resident && !opts_.checkNumerics;
  bool hostHadState = !hostStale_;
  std::vector<Tensor> outs;
  if (resident) {
    outs = runResident(st, inputs);
  } else {
    inputs.insert(state_.params.begin(), state_.params.end());
    inputs.insert(state_.optState.begin(), state_.optState.end());
    outs = st.compiled.run(inputs);
  }
  double loss = outs[st.lossIndex].getDouble(0);
  std::string badParam;
  if (opts_.checkNumerics) {
    std::map<std::string, Tensor> params, optState;
    for (const auto &[i, name] : st.updates)
      (state_.params.count(name) ? params : optState)[name] = outs[i];
    if (auto bad = firstNonFinite(params))
      badParam = "parameter " + *bad;
    else if (auto badState = firstNonFinite(optState))
      badParam = "optimizer state " + *badState;
  }
  if (!std::isfinite(loss) || !badParam.empty()) {
    if (resident) {
      // The device applied this step's updates in place: its state is lost, and the host's is
      // the last good one only when it was read back right before this step.
      resident_ = nullptr;
      hostStale_ = false;
      stateLost_ = !hostHadState;
    }
    numericsFailure(b, inputs, loss, badParam);
  }
  if (!resident)
    for (const auto &[i, name] : st.updates) {
      auto it = state_.params.find(name);
      (it != state_.params.end() ? it->second : state_.optState[name]) = outs[i];
    }
  Correct c = countCorrect(builder_->lossKind(), outs[st.predIndex], target);
  state_.step = step;
  state_.batchInEpoch++;
  state_.epochLoss += loss * (double)b.size;
  state_.epochExamples += b.size;
  state_.epochCorrect += c.correct;
  state_.epochPredictions += c.count;
  Point p;
  p.step = step;
  p.epoch = epochFraction();
  p.loss = loss;
  p.accuracy = c.count ? c.correct / (double)c.count : NAN;
  p.lr = lr;
  state_.trainCurve.push_back(p);
}

EvalResult Trainer::evaluateNow(const std::string &label) {
  syncState();
  EvalResult r = evaluate(*builder_, *data_, state_.params, batch_, s_->threads, &gInterrupt);
  if (r.interrupted || r.examples == 0)
    return r;
  lastEval_ = r;
  lastEvalStep_ = state_.step;
  Point p;
  p.step = state_.step;
  p.epoch = epochFraction();
  p.loss = r.loss;
  p.accuracy = r.accuracy;
  state_.testCurve.push_back(p);
  s_->log.test(p, r.examples);
  if (!label.empty()) {
    std::string line = label + ": test loss " + fixed(r.loss, 4);
    if (std::isfinite(r.accuracy))
      line += "  acc " + percent(r.accuracy);
    s_->progress.message(line);
  }
  return r;
}

void Trainer::saveCheckpoint(const std::string &path) {
  // The end of the last epoch and the end of the run save the same state: writing it twice would
  // push the previous, different checkpoint out of PATH.prev.
  auto key = std::make_tuple(path, state_.step, state_.testCurve.size());
  if (path.empty() || key == lastSaved_)
    return;
  syncState();
  writeCheckpoint(path, state_);
  lastSaved_ = key;
}

std::string Trainer::interruptCheckpointPath() const {
  if (!opts_.checkpoint.empty())
    return opts_.checkpoint;
  return std::filesystem::path(opts_.model).stem().string() + ".interrupted.ckpt";
}

void Trainer::writePlotFile() {
  if (opts_.plot.empty())
    return;
  PlotData d;
  d.title = std::filesystem::path(opts_.model).filename().string() + " on " +
            data_->dataset.name;
  std::ostringstream sub;
  sub << opts_.optimizer << ", " << schedule_.describe() << ", batch " << batch_ << "; "
      << state_.step << " steps";
  if (lastEvalStep_ >= 0 && std::isfinite(lastEval_.accuracy))
    sub << "; test accuracy " << percent(lastEval_.accuracy) << " at step " << lastEvalStep_;
  d.subtitle = sub.str();
  d.train = state_.trainCurve;
  d.test = state_.testCurve;
  d.accuracy = hasAccuracy(builder_->lossKind());
  writePlot(opts_.plot, d);
}

void Trainer::endEpoch() {
  std::ostringstream os;
  bool partial = state_.batchInEpoch < batchesPerEpoch_;
  os << "epoch " << state_.epoch + 1 << "/" << totalEpochs_;
  if (partial)
    os << " (" << state_.batchInEpoch << " of " << batchesPerEpoch_ << " steps)";
  os << ": train loss "
     << fixed(state_.epochExamples ? state_.epochLoss / (double)state_.epochExamples : NAN, 4);
  if (state_.epochPredictions)
    os << " acc " << percent(state_.epochCorrect / (double)state_.epochPredictions);
  EvalResult r = evaluateNow("");
  if (r.interrupted)
    return;
  if (r.examples) {
    os << "  |  test loss " << fixed(r.loss, 4);
    if (std::isfinite(r.accuracy))
      os << " acc " << percent(r.accuracy);
  }
  if (s_->epochSeconds > 0)
    os << "  |  " << fixed(s_->epochSeconds, 1) << " s, "
       << formatRate((double)s_->epochExamples / s_->epochSeconds) << " ex/s";
  s_->progress.message(os.str());
  if (!partial) {
    state_.epoch++;
    state_.batchInEpoch = 0;
    state_.epochLoss = state_.epochCorrect = 0;
    state_.epochExamples = state_.epochPredictions = 0;
  }
  s_->epochSeconds = 0;
  s_->epochExamples = 0;
  saveCheckpoint(opts_.checkpoint);
  writePlotFile();
}

TrainResult Trainer::run() {
  setUp();
  initState();
  if (!opts_.log.empty())
    s_->log.open(opts_.log, opts_.resume.empty() ? -1 : state_.step);
  TrainResult result;
  auto interrupted = [&] {
    syncState();
    s_->progress.finishBar();
    std::string path = interruptCheckpointPath();
    saveCheckpoint(path);
    writePlotFile();
    s_->progress.message("interrupted after step " + std::to_string(state_.step) +
                         ": checkpoint written to " + path + "; continue with --resume=" + path);
    result.interrupted = true;
    result.checkpoint = path;
    result.steps = state_.step;
    return result;
  };
  bool fixedBatch = builder_->fixedBatch() != 0;
  while (state_.step < totalSteps_) {
    std::vector<int64_t> order =
        data::epochOrder(data_->dataset.train.size(), state_.seed, state_.epoch, opts_.shuffle);
    data::BatchLoader loader(data_->dataset.train, data_->format, std::move(order), batch_,
                             state_.batchInEpoch, fixedBatch);
    while (state_.step < totalSteps_ && state_.batchInEpoch < batchesPerEpoch_) {
      auto t0 = Clock::now();
      std::optional<data::Batch> b = loader.next();
      check(b.has_value(), "internal error: the data ran out before the epoch ended");
      trainStep(*b);
      double dt = secondsSince(t0);
      state_.trainSeconds += dt;
      s_->seconds += dt;
      s_->epochSeconds += dt;
      s_->steps++;
      s_->examples += b->size;
      s_->epochExamples += b->size;
      double rate = (double)s_->epochExamples / std::max(s_->epochSeconds, 1e-9);
      s_->log.train(state_.trainCurve.back(), rate, state_.trainSeconds);
      ProgressInfo pi;
      pi.epoch = state_.epoch + 1;
      pi.epochs = totalEpochs_;
      pi.batch = state_.batchInEpoch;
      pi.batches = batchesPerEpoch_;
      pi.step = state_.step;
      pi.steps = totalSteps_;
      pi.loss = state_.epochLoss / (double)std::max<int64_t>(state_.epochExamples, 1);
      pi.accuracy = state_.epochPredictions
                        ? state_.epochCorrect / (double)state_.epochPredictions
                        : -1;
      pi.lr = state_.trainCurve.back().lr;
      pi.examplesPerSecond = rate;
      pi.etaSeconds = s_->seconds / (double)s_->steps * (double)(totalSteps_ - state_.step);
      s_->progress.update(pi);
      if (gInterrupt || state_.step == opts_.stopAfter)
        return interrupted();
      if (opts_.evalEvery && state_.step % opts_.evalEvery == 0 &&
          state_.batchInEpoch < batchesPerEpoch_) {
        s_->progress.finishBar();
        if (evaluateNow("step " + std::to_string(state_.step)).interrupted)
          return interrupted();
        writePlotFile();
      }
      if (opts_.checkpointEvery && state_.step % opts_.checkpointEvery == 0)
        saveCheckpoint(opts_.checkpoint);
    }
    if (state_.batchInEpoch == batchesPerEpoch_ || state_.step == totalSteps_) {
      s_->progress.finishBar();
      endEpoch();
      if (gInterrupt)
        return interrupted();
    }
  }
  if (lastEvalStep_ != state_.step && data_->dataset.test) {
    // A resumed run that had already finished, or an evaluation the interrupt cut short.
    if (evaluateNow("step " + std::to_string(state_.step)).interrupted)
      return interrupted();
  }
  syncState();
  result.steps = state_.step;
  result.test = lastEval_;
  result.seconds = s_->seconds;
  result.examplesPerSecond = s_->seconds > 0 ? (double)s_->examples / s_->seconds : 0;
  std::ostringstream os;
  if (lastEvalStep_ >= 0 && std::isfinite(lastEval_.accuracy))
    os << "final test accuracy: " << percent(lastEval_.accuracy) << " (" << lastEval_.examples
       << " examples), test loss " << fixed(lastEval_.loss, 4) << "\n";
  else if (lastEvalStep_ >= 0)
    os << "final test loss: " << fixed(lastEval_.loss, 4) << " (" << lastEval_.examples
       << " examples)\n";
  os << "trained " << s_->steps << " steps in " << fixed(s_->seconds, 1) << " s ("
     << formatRate(result.examplesPerSecond) << " examples/s, "
     << builder_->train(batch_).compiled.backend << " backend)";
  if (resident_ != nullptr)
    os << "\nthe training state stayed on the device: " << deviceTraffic();
  if (!opts_.output.empty()) {
    model_->writeWithInitializers(state_.params, opts_.output);
    os << "\nwrote the trained model to " << opts_.output;
  }
  if (!opts_.checkpoint.empty())
    os << "\nwrote the checkpoint to " << opts_.checkpoint;
  if (!opts_.plot.empty())
    os << "\nwrote the loss curves to " << opts_.plot;
  saveCheckpoint(opts_.checkpoint);
  writePlotFile();
  s_->progress.message(os.str());
  return result;
}

} // namespace adjoint::train
