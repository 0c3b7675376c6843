#pragma once
// Helpers shared by the reference kernels: dtype dispatch and broadcast iteration. Kernels are
// meant to be obviously correct, not fast.
#include "Ops/OpRegistry.h"

#include <array>
#include <type_traits>

namespace adjoint {

// Calls f(T{}) for a floating dtype; errors naming the op otherwise.
template <typename F> decltype(auto) dispatchFloat(const KernelContext &ctx, DType t, F &&f) {
  if (t == DType::F32)
    return f(float{});
  if (t == DType::F64)
    return f(double{});
  ctx.error("expects a floating-point tensor, got ", dtypeName(t));
}

// Calls f(T{}) for any numeric dtype (not bool).
template <typename F> decltype(auto) dispatchNumeric(const KernelContext &ctx, DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(float{});
  case DType::F64: return f(double{});
  case DType::I64: return f(int64_t{});
  case DType::I32: return f(int32_t{});
  case DType::Bool: break;
  }
  ctx.error("expects a numeric tensor, got ", dtypeName(t));
}

// Strides of `in` aligned to the broadcast shape `out` (0 along broadcast dimensions).
std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out);

// Calls f(outIndex, inIndex[0..N)) for every element of `out`, where each inIndex is the linear
// index into the corresponding broadcast input.
template <size_t N, typename F>
void forEachBroadcast(const Shape &out, const std::array<const Shape *, N> &ins, F &&f) {
  int64_t total = numElements(out);
  size_t rank = out.size();
  std::array<std::vector<int64_t>, N> st;
  for (size_t k = 0; k < N; ++k)
    st[k] = broadcastStrides(*ins[k], out);
  std::vector<int64_t> counter(rank, 0);
  std::array<int64_t, N> idx{};
  for (int64_t o = 0; o < total; ++o) {
    f(o, idx);
    for (int64_t d = (int64_t)rank - 1; d >= 0; --d) {
      if (++counter[d] < out[d]) {
        for (size_t k = 0; k < N; ++k)
          idx[k] += st[k][d];
        break;
      }
      for (size_t k = 0; k < N; ++k)
        idx[k] -= st[k][d] * (out[d] - 1);
      counter[d] = 0;
    }
  }
}

// Calls f(o, s) for every element of `shape` in row-major order o, where
// s = base + sum(i[d] * strides[d]) is its position in a strided view (strides may be negative:
// reversed slices; or permuted: transposes).
template <typename F>
void forEachStrided(const Shape &shape, int64_t base, const std::vector<int64_t> &strides, F &&f) {
  int64_t total = numElements(shape);
  std::vector<int64_t> counter(shape.size(), 0);
  int64_t s = base;
  for (int64_t o = 0; o < total; ++o) {
    f(o, s);
    for (int64_t d = (int64_t)shape.size() - 1; d >= 0; --d) {
      if (++counter[d] < shape[d]) {
        s += strides[d];
        break;
      }
      s -= strides[d] * (shape[d] - 1);
      counter[d] = 0;
    }
  }
}

// Multi-index <-> linear index, row-major.
inline int64_t linearIndex(const std::vector<int64_t> &idx, const std::vector<int64_t> &strides) {
  int64_t r = 0;
  for (size_t i = 0; i < idx.size(); ++i)
    r += idx[i] * strides[i];
  return r;
}
std::vector<int64_t> unravelIndex(int64_t linear, const Shape &shape);

} // namespace adjoint
