#pragma once
// What Trainer.cpp and TrainerSetup.cpp share: the per-process session and number formatting.
#include "MetricsLog.h"
#include "Progress.h"
#include "Trainer.h"

#include <chrono>
#include <string>

namespace adjoint::train {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t);
std::string percent(double v);           // "85.30%"
std::string fixed(double v, int prec);   // fixed-point with prec decimals
std::string compileTime(double seconds); // "117 ms", "1.5 s"

// What one process adds to the run: the display, the log, rates and timings.
struct Trainer::Session {
  Session(std::ostream &out, Progress::Mode mode, int64_t printEvery)
      : progress(out, mode, printEvery) {}
  Progress progress;
  MetricsLog log;
  // This process's share of the current epoch, for rates.
  double epochSeconds = 0;
  int64_t epochExamples = 0;
  double seconds = 0;
  int64_t steps = 0, examples = 0;
  int threads = 1;
};

} // namespace adjoint::train
