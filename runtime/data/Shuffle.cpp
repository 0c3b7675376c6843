#include "data/Shuffle.h"

#include <cmath>
#include <numeric>

namespace adjoint::data {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do
    v = next();
  while (v >= limit);
  return v % n;
}

double SplitMix64::normal() {
  double u = uniform(), v = uniform();
  return std::sqrt(-2.0 * std::log(1.0 - u)) * std::cos(2.0 * M_PI * v);
}

uint64_t streamSeed(uint64_t seed, uint64_t stream) {
  SplitMix64 g(seed ^ (stream * 0xD1B54A32D192ED03ull));
  return g.next();
}

int64_t dropoutStepSeed(uint64_t seed, int64_t step) {
  return (int64_t)(streamSeed(seed, (1ull << 40) + (uint64_t)step) >> 1);
}

std::vector<int64_t> epochOrder(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order((size_t)n);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle)
    return order;
  SplitMix64 g(streamSeed(seed, 1000 + (uint64_t)epoch));
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[(size_t)i], order[(size_t)g.below((uint64_t)i + 1)]);
  return order;
}

} // namespace adjoint::data
