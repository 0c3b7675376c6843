// Dropout's training-mode mask, drawn exactly as the interpreter's kernel (Ops/Norm.cpp) and the
// ONNX reference (numpy) draw it: MT19937 seeded with seed mod 2^32, one 53-bit double in [0, 1)
// per element in row-major order from two 32-bit draws (numpy's random_sample), kept where it is
// >= ratio. One sequential stream, so it runs on one thread; generated code scales by the mask.
#include "adjoint_runtime.h"

#include <random>

extern "C" void adj_dropout_mask(uint8_t *keep, int64_t n, double ratio, int64_t seed) {
  std::mt19937 gen(static_cast<uint32_t>(seed));
  for (int64_t i = 0; i < n; ++i) {
    uint32_t a = gen() >> 5, b = gen() >> 6;
    keep[i] = (a * 67108864.0 + b) / 9007199254740992.0 >= ratio;
  }
}
