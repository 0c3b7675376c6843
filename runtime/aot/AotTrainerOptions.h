#pragma once
// The command line of an AOT trainer: adjoint-train's data, length, schedule, output, checkpoint
// and run options. The loss, optimizer and batch size are compiled in.
#include "AotModel.h"

#include <cstdint>
#include <string>

namespace adjoint::aot {

struct TrainerOptions {
  std::string data, normalize = "auto";
  bool shuffle = true;
  double lr = 0; // 0: the compiled default
  std::string schedule = "constant";
  double stepSize = 1, gamma = 0.1, minLr = 0;
  int64_t warmup = -1;
  int64_t epochs = 1, steps = 0, evalEvery = 0;
  std::string output, checkpoint, resume;
  int64_t checkpointEvery = 0;
  int threads = 0;
  uint64_t seed = 0;
  std::string progress = "auto";
  int64_t printEvery = 0, stopAfter = 0;
  std::string device; // --target=cuda trainers: "cuda" (default) or "emulator"; else empty
};

// Returns false when --help was printed. Defaults come from the model's compiled settings.
bool parseTrainerOptions(int argc, char **argv, const ModelInfo &m, TrainerOptions &o);

} // namespace adjoint::aot
