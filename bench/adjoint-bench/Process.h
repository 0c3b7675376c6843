#pragma once
// What the benchmark reads about its own process: resident memory from /proc/self/status, and a
// reset of its high-water mark so the peak of the training loop alone can be told apart from the
// peak of compilation.
#include <cstdint>

namespace adjoint::bench {

struct Memory {
  int64_t peakKiB = 0;    // VmHWM: the most resident since start (or since the last reset)
  int64_t currentKiB = 0; // VmRSS
};

Memory readMemory();

// Lowers VmHWM to the present VmRSS (Linux's /proc/self/clear_refs "5"); false where refused.
bool resetPeakMemory();

} // namespace adjoint::bench
