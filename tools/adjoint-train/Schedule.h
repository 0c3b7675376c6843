#pragma once
// Learning-rate schedules. The step function takes lr as an input, so a schedule is a plain
// function of the step number and changing it never recompiles.
#include <cstdint>
#include <string>

namespace adjoint::train {

struct Schedule {
  std::string kind = "constant"; // constant | step | cosine | warmup-cosine
  double lr = 1e-3;              // the base rate
  double minLr = 0;              // cosine, warmup-cosine: the rate at the last step
  double gamma = 0.1;            // step: the factor applied every stepEvery steps
  int64_t stepEvery = 0;         // step: steps between decays
  int64_t warmup = 0;            // warmup-cosine: steps of linear warmup
  int64_t total = 1;             // steps in the whole run

  // The rate of step `step` (1-based, as the optimizer's step input).
  double at(int64_t step) const;
  std::string describe() const;
};

// Throws Error for an unknown kind.
void checkScheduleKind(const std::string &kind);

} // namespace adjoint::train
