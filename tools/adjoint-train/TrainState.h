#pragma once
// Everything a training run carries from step to step; a checkpoint is this, written down.
#include "IR/Tensor.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace adjoint::train {

struct Point {
  int64_t step = 0;
  double epoch = 0;    // fractional: 1.5 is halfway through the second epoch
  double loss = 0;
  double accuracy = NAN; // NaN when the loss has none (mse, l1)
  double lr = NAN;       // training points only
};

struct TrainState {
  std::map<std::string, Tensor> params;   // every parameter, by name
  std::map<std::string, Tensor> optState; // optimizer state, by step input name
  int64_t step = 0;         // steps completed
  int64_t epoch = 0;        // the current epoch, 0-based
  int64_t batchInEpoch = 0; // batches of the current epoch completed
  uint64_t seed = 0;        // with epoch and batchInEpoch, this is the data order's state
  // The current epoch's running totals, for its summary line.
  double epochLoss = 0, epochCorrect = 0;
  int64_t epochExamples = 0, epochPredictions = 0;
  double trainSeconds = 0; // time spent in steps so far
  std::vector<Point> trainCurve, testCurve;
  // How the run was started (optimizer, batch, ...), checked on resume.
  std::map<std::string, std::string> config;
};

} // namespace adjoint::train
