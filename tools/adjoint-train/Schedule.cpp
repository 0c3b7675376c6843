#include "Schedule.h"
#include "Support/Error.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace adjoint::train {

void checkScheduleKind(const std::string &kind) {
  check(kind == "constant" || kind == "step" || kind == "cosine" || kind == "warmup-cosine",
        "--schedule expects constant, step, cosine or warmup-cosine; got '", kind, "'");
}

double Schedule::at(int64_t step) const {
  int64_t t = std::max<int64_t>(step - 1, 0); // steps already taken
  if (kind == "step")
    return lr * std::pow(gamma, (double)(t / std::max<int64_t>(stepEvery, 1)));
  if (kind == "constant")
    return lr;
  if (kind == "warmup-cosine" && t < warmup)
    return lr * (double)(t + 1) / (double)warmup;
  int64_t start = kind == "warmup-cosine" ? warmup : 0;
  int64_t span = std::max<int64_t>(total - 1 - start, 1);
  double progress = std::min(1.0, (double)(t - start) / (double)span);
  return minLr + (lr - minLr) * 0.5 * (1 + std::cos(M_PI * progress));
}

std::string Schedule::describe() const {
  std::ostringstream os;
  os << "lr " << lr;
  if (kind == "step")
    os << ", x" << gamma << " every " << stepEvery << " steps";
  else if (kind == "cosine")
    os << ", cosine to " << minLr << " over " << total << " steps";
  else if (kind == "warmup-cosine")
    os << ", linear warmup over " << warmup << (warmup == 1 ? " step" : " steps")
       << ", then cosine to " << minLr << " over " << total << " steps";
  return os.str();
}

} // namespace adjoint::train
