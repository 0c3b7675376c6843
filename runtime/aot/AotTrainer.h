#pragma once
// The training loop of an AOT trainer executable: adjoint-train's loop (tools/adjoint-train/
// Trainer.cpp) over the compiled steps of the linked model, with the same data order, schedule,
// progress display and numbers, so the same steps with the same seed give the same parameters.
#include "AotSession.h"
#include "AotTrainerOptions.h"

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>

namespace adjoint::aot {

// Set by SIGINT: the loop checkpoints and stops after the current step.
extern std::atomic<bool> gInterrupt;

struct TrainerResult {
  bool interrupted = false;
  int64_t steps = 0;
  double testAccuracy = 0, testLoss = 0;
};

// How a --target=cuda trainer puts a session's steps on its device (GpuTrainerMain.cpp):
// called once at start with --device's value; throws when the device cannot be used.
using ExecutorFactory = std::function<std::unique_ptr<StepExecutor>(Session &, const std::string &device)>;

TrainerResult runTrainer(const TrainerOptions &opts, const ModelInfo &m, std::ostream &out,
                         const ExecutorFactory &device = {});

// main() of the executable: options, SIGINT, errors as "NAME: error: ..." and exit 1.
int trainerMain(int argc, char **argv, const ExecutorFactory &device = {});

} // namespace adjoint::aot
