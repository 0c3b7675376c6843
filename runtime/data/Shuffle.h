#pragma once
// Deterministic data order. The order of epoch e is a function of (seed, e) alone, so a resumed
// run needs only the seed, the epoch and the position in it to continue bit-identically. The
// generator (SplitMix64) and the shuffle (Fisher-Yates from the end, bounded draws by rejection)
// are spelled out here rather than taken from <random>, whose distributions differ between
// standard libraries; bench/ reimplements them in Python to replay the same order in PyTorch.
#include <cstdint>
#include <vector>

namespace adjoint::data {

class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, n), n > 0: draws below the largest multiple of n, then takes the remainder.
  uint64_t below(uint64_t n);
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return (double)(next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller, one value per two draws).
  double normal();
  uint64_t state() const { return state_; }

private:
  uint64_t state_;
};

// The generator's starting state for a purpose (a stream) under a seed: different streams of
// one seed are unrelated.
uint64_t streamSeed(uint64_t seed, uint64_t stream);

// The `dropout_seed` input of training step `step` (1-based): a function of (seed, step) alone, so
// a resumed run and an ahead-of-time trainer draw the masks an uninterrupted adjoint-train does.
int64_t dropoutStepSeed(uint64_t seed, int64_t step);

// Example indices of epoch `epoch` (0-based): 0..n-1 shuffled with SplitMix64(streamSeed(seed,
// 1000 + epoch)), or in order when !shuffle.
std::vector<int64_t> epochOrder(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

} // namespace adjoint::data
