#pragma once
// The training loop: compiles the steps, loads and checks the data, then runs steps over
// shuffled batches with evaluation, progress, logs, plots and checkpoints as the options ask.
#include "DataFit.h"
#include "Evaluate.h"
#include "Options.h"
#include "Schedule.h"
#include "StepBuilder.h"
#include "TrainState.h"

#include <atomic>
#include <memory>
#include <set>
#include <ostream>
#include <tuple>

namespace adjoint::train {

// Set by the SIGINT handler (or a test); the loop checks it between steps and between
// evaluation batches, writes a checkpoint and stops.
extern std::atomic<bool> gInterrupt;

struct TrainResult {
  bool interrupted = false;
  std::string checkpoint; // where the interrupted run's checkpoint went
  int64_t steps = 0;
  EvalResult test;        // the last evaluation
  double seconds = 0, examplesPerSecond = 0;
};

class Trainer {
public:
  Trainer(TrainOptions opts, std::ostream &out);
  ~Trainer();
  TrainResult run();
  const TrainState &state() const { return state_; }

private:
  void setUp();
  void initState();
  void checkResumable(const TrainState &ckpt) const;
  void trainStep(const data::Batch &b);
  // The state on a device that keeps it (CompiledStep::resident): the step whose device holds
  // the newest state, and whether state_ is older than it.
  std::vector<Tensor> runResident(Step &st, const std::map<std::string, Tensor> &stepInputs);
  void syncState(); // reads the device's state into state_ when state_ is older
  std::string deviceTraffic() const;
  void numericsFailure(const data::Batch &b, const std::map<std::string, Tensor> &inputs,
                       double loss, const std::string &badParam);
  std::string keepLastGoodState();
  Tensor dropoutSeed(int64_t step) const;
  EvalResult evaluateNow(const std::string &label);
  void endEpoch();
  void saveCheckpoint(const std::string &path);
  void writePlotFile();
  std::string interruptCheckpointPath() const;
  double epochFraction() const;

  TrainOptions opts_;
  std::ostream &out_;
  std::unique_ptr<ModelFile> model_;
  std::unique_ptr<StepBuilder> builder_;
  std::unique_ptr<FittedData> data_;
  struct Session;
  std::unique_ptr<Session> s_;
  TrainState state_;
  Schedule schedule_;
  int64_t batch_ = 0, batchesPerEpoch_ = 0, totalSteps_ = 0, totalEpochs_ = 0;
  EvalResult lastEval_;
  int64_t lastEvalStep_ = -1;
  std::tuple<std::string, int64_t, size_t> lastSaved_{"", -1, 0}; // path, step, test points
  Step *resident_ = nullptr;
  bool hostStale_ = false;
  bool stateLost_ = false; // a failed step overwrote the device's state, state_ is older
  std::set<const Step *> residentSteps_;
  int64_t loadedBytes_ = 0, loads_ = 0, handOvers_ = 0;
};

} // namespace adjoint::train
