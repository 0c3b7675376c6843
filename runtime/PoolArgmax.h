#pragma once
// MaxPool's pick, shared by the interpreter's kernels (compiler/Ops/ConvPool*.cpp) and the
// runtime helpers generated code calls (runtime/ConvPool.cpp), so both pick the same element.
// Header-only C++ with no dependencies: the runtime still depends on nothing in compiler/.
#include <cmath>
#include <cstdint>

namespace adjoint::rt {

// The input offset (within one plane xp) of the maximum over the taps tap[0..kSize) (negative
// taps are padding): NaN propagates (numpy, PyTorch), and among equal maxima the first tap wins,
// as ONNX Indices define. -1 only for a window made of padding alone.
template <typename T> int64_t windowArgmax(const T *xp, const int64_t *tap, int64_t kSize) {
  int64_t best = -1;
  for (int64_t j = 0; j < kSize; ++j) {
    if (tap[j] < 0)
      continue;
    T v = xp[tap[j]];
    if (best < 0 || v > xp[best] || (std::isnan(v) && !std::isnan(xp[best])))
      best = tap[j];
  }
  return best;
}

} // namespace adjoint::rt
