#ifndef ADJOINT_RUNTIME_DROPOUT_SEED_H
#define ADJOINT_RUNTIME_DROPOUT_SEED_H
/* The MT19937 seed of a Dropout that has a run-time seed operand (an adjoint extension: its
 * fourth operand, an int64 scalar; adjoint-train passes one per step so that each step draws a
 * new mask without recompiling). The `seed` attribute and the operand are mixed by splitmix64's
 * finalizer, so nearby pairs give unrelated streams. The interpreter's kernel calls this; the
 * code generator emits the same arithmetic (LowerNorm.cpp), and unit-JitNormTest checks they
 * draw the same mask. */
#include <stdint.h>

static inline uint32_t adj_dropout_seed(int64_t attr, int64_t salt) {
  uint64_t z = ((uint64_t)attr * 0x9E3779B97F4A7C15ull) ^ (uint64_t)salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)(z ^ (z >> 31));
}

#endif
