// Conv and pooling routines that JIT code calls (compiler/CodeGen/LowerConvPool.cpp), one plane
// range at a time so that the generated caller splits them across the thread pool. Their loops
// are the interpreter's (compiler/Ops/ConvPool.cpp, ConvPoolBackward.cpp), statement for
// statement, so results match it bit for bit, except for the f32 GEMM paths (BLAS's f32 sums).
// They live here rather than as generated IR because each walks a tap table with data-dependent
// skips and per-plane double accumulators, which is plain C++ here and long IR there; the window
// geometry itself (the tap table) is computed at compile time and passed in the descriptor
// (layout in adjoint_runtime.h).
#include "PoolArgmax.h"
#include "adjoint_runtime.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace {

struct Desc {
  int64_t n, c, m, group, inSize, outSize, kSize, flag;
  const int64_t *index, *padded, *colMap;
  explicit Desc(const int64_t *d)
      : n(d[0]), c(d[1]), m(d[2]), group(d[3]), inSize(d[4]), outSize(d[5]), kSize(d[6]),
        flag(d[7]), index(d + 9), padded(d + 9 + d[5] * d[6]),
        colMap(d[8] ? d + 9 + d[5] * d[6] + d[5] : nullptr) {}
};


template <typename T> void storePlane(const std::vector<double> &acc, T *dst) {
  for (size_t i = 0; i < acc.size(); ++i)
    dst[i] = (T)acc[i];
}

// Planes p = b * m + oc.
template <typename T>
void conv(const Desc &d, const T *X, const T *W, const T *B, T *Y, int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kSize = d.kSize;
  for (int64_t p = begin; p < end; ++p) {
    const int64_t b = p / d.m, oc = p % d.m, g = oc / mg;
    T *y = Y + p * d.outSize;
    for (int64_t o = 0; o < d.outSize; ++o) {
      const int64_t *tap = d.index + o * kSize;
      double acc = B ? (double)B[oc] : 0.0;
      for (int64_t ic = 0; ic < cg; ++ic) {
        const T *xc = X + (b * d.c + g * cg + ic) * d.inSize;
        const T *wc = W + (oc * cg + ic) * kSize;
        for (int64_t j = 0; j < kSize; ++j)
          if (tap[j] >= 0)
            acc += (double)xc[tap[j]] * (double)wc[j];
      }
      y[o] = (T)acc;
    }
  }
}

// The GEMM forms' extension of the descriptor: images per GEMM and, per kernel offset, its taps
// as runs (count, then first output, first input offset or -1 for padding, length, step).
struct GemmPlan {
  int64_t images;
  const int64_t *runs;
  explicit GemmPlan(const Desc &d) {
    const int64_t *e = d.padded + d.outSize + (d.colMap ? d.inSize : 0);
    images = std::max<int64_t>(e[0], 1);
    runs = e + 1;
  }
};

// Runs body(i) for i in [0, count) across the thread pool, chunks of at least enough items to
// move `minFloats` floats each. The GEMM forms are called once for the whole batch (their GEMMs
// split across the pool inside adj_sgemm), so without this their im2col / col2im / gathers ran on
// one thread. Every item writes its own part of the output, so the split cannot change results.
template <typename F> void acrossItems(int64_t count, int64_t floatsPerItem, F &&body) {
  using Body = std::remove_reference_t<F>;
  constexpr int64_t minFloats = 1 << 14;
  int64_t grain = std::max<int64_t>(1, minFloats / std::max<int64_t>(floatsPerItem, 1));
  adj_parallel_for(
      [](void *ctx, int64_t begin, int64_t end) {
        Body &f = *static_cast<Body *>(ctx);
        for (int64_t i = begin; i < end; ++i)
          f(i);
      },
      &body, count, grain);
}

// Runs are short (an output row: 4 to 32 elements), where a memcpy/memset call costs more than
// the copy: GCC would turn these loops back into such calls.
#if defined(__GNUC__) && !defined(__clang__)
#define ADJ_NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define ADJ_NO_LIBCALL_LOOPS
#endif

// col[ic * kSize + j, o] (row stride ld) = image channel ic at tap j of output o (0 in padding).
ADJ_NO_LIBCALL_LOOPS void im2col(const Desc &d, const GemmPlan &p, const float *x, int64_t channels, float *col,
            int64_t ld) {
  for (int64_t ic = 0; ic < channels; ++ic) {
    const float *xc = x + ic * d.inSize;
    const int64_t *r = p.runs;
    for (int64_t j = 0; j < d.kSize; ++j) {
      float *row = col + (ic * d.kSize + j) * ld;
      for (int64_t n = *r++; n > 0; --n, r += 4) {
        float *dst = row + r[0];
        const int64_t src = r[1], len = r[2], step = r[3];
        if (src < 0)
          for (int64_t k = 0; k < len; ++k)
            dst[k] = 0.0f;
        else if (step == 1)
          for (int64_t k = 0; k < len; ++k)
            dst[k] = xc[src + k];
        else
          for (int64_t k = 0; k < len; ++k)
            dst[k] = xc[src + k * step];
      }
    }
  }
}

// dx[tap] += col[ic * kSize + j, o] over the taps of one image (the adjoint of im2col).
void col2im(const Desc &d, const GemmPlan &p, const float *col, int64_t ld, int64_t channels,
            float *dx) {
  for (int64_t ic = 0; ic < channels; ++ic) {
    float *dc = dx + ic * d.inSize;
    std::memset(dc, 0, sizeof(float) * d.inSize);
    const int64_t *r = p.runs;
    for (int64_t j = 0; j < d.kSize; ++j) {
      const float *row = col + (ic * d.kSize + j) * ld;
      for (int64_t n = *r++; n > 0; --n, r += 4) {
        const float *srcRow = row + r[0];
        const int64_t at = r[1], len = r[2], step = r[3];
        if (at < 0)
          continue;
        if (step == 1)
          for (int64_t k = 0; k < len; ++k)
            dc[at + k] += srcRow[k];
        else
          for (int64_t k = 0; k < len; ++k)
            dc[at + k * step] += srcRow[k];
      }
    }
  }
}

// stage[oc, i * out + o] = T[(b0 + i) * planes + first + oc, o] for i < count: the [rows, out]
// planes of `count` images side by side, as one GEMM operand.
void gather(const float *t, int64_t planes, int64_t first, int64_t rows, int64_t out, int64_t b0,
            int64_t count, float *stage) {
  acrossItems(rows, count * out, [&](int64_t oc) {
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(stage + oc * count * out + i * out, t + ((b0 + i) * planes + first + oc) * out,
                  sizeof(float) * out);
  });
}

// im2col of images b0 .. b0 + count - 1 (group g) into col, image i at column i * out.
void im2colImages(const Desc &d, const GemmPlan &p, const float *X, int64_t g, int64_t b0,
                  int64_t count, float *col) {
  const int64_t cg = d.c / d.group, out = d.outSize, ld = count * out;
  acrossItems(count, cg * d.kSize * out, [&](int64_t i) {
    im2col(d, p, X + ((b0 + i) * d.c + g * cg) * d.inSize, cg, col + i * out, ld);
  });
}

// Images [begin, end), a few at a time per group: Y[mg, images * out] = W_g * col (+ B).
void convGemm(const Desc &d, const float *X, const float *W, const float *B, float *Y, float *col,
              int64_t begin, int64_t end) {
  const GemmPlan p(d);
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize, out = d.outSize;
  float *stage = col + kk * out * p.images;
  for (int64_t g = 0; g < d.group; ++g)
    for (int64_t b0 = begin; b0 < end; b0 += p.images) {
      const int64_t count = std::min(p.images, end - b0), ld = count * out;
      im2colImages(d, p, X, g, b0, count, col);
      if (count == 1) {
        float *y = Y + (b0 * d.m + g * mg) * out;
        if (B)
          for (int64_t oc = 0; oc < mg; ++oc)
            std::fill(y + oc * out, y + (oc + 1) * out, B[g * mg + oc]);
        adj_sgemm(0, 0, mg, out, kk, 1.0f, W + g * mg * kk, kk, col, out, B ? 1.0f : 0.0f, y, out);
        continue;
      }
      adj_sgemm(0, 0, mg, ld, kk, 1.0f, W + g * mg * kk, kk, col, ld, 0.0f, stage, ld);
      acrossItems(count, mg * out, [&](int64_t i) {
        for (int64_t oc = 0; oc < mg; ++oc) {
          const float *src = stage + oc * ld + i * out;
          float *y = Y + ((b0 + i) * d.m + g * mg + oc) * out;
          const float bias = B ? B[g * mg + oc] : 0.0f;
          for (int64_t o = 0; o < out; ++o)
            y[o] = B ? src[o] + bias : src[o];
        }
      });
    }
}

// Planes p = n * C + c.
template <typename T>
void maxPool(const Desc &d, const T *X, T *Y, int64_t *I, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const T *xp = X + p * d.inSize;
    for (int64_t o = 0; o < d.outSize; ++o) {
      int64_t best = adjoint::rt::windowArgmax(xp, d.index + o * d.kSize, d.kSize);
      Y[p * d.outSize + o] = xp[best];
      if (I)
        I[p * d.outSize + o] = p * d.inSize + (d.colMap ? d.colMap[best] : best);
    }
  }
}

template <typename T> void averagePool(const Desc &d, const T *X, T *Y, int64_t begin, int64_t end) {
  const bool includePad = d.flag != 0;
  for (int64_t p = begin; p < end; ++p) {
    const T *xp = X + p * d.inSize;
    for (int64_t o = 0; o < d.outSize; ++o) {
      const int64_t *tap = d.index + o * d.kSize;
      double sum = 0;
      int64_t count = 0;
      for (int64_t j = 0; j < d.kSize; ++j)
        if (tap[j] >= 0) {
          sum += (double)xp[tap[j]];
          ++count;
        }
      Y[p * d.outSize + o] = (T)(sum / (double)(includePad ? d.padded[o] : count));
    }
  }
}

template <typename T>
void globalAveragePool(const Desc &d, const T *X, T *Y, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    double sum = 0;
    for (int64_t i = 0; i < d.inSize; ++i)
      sum += (double)X[p * d.inSize + i];
    Y[p] = (T)(sum / (double)d.inSize);
  }
}

// Planes p = b * C + ch of dX.
template <typename T>
void convGradData(const Desc &d, const T *DY, const T *W, T *DX, int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kSize = d.kSize;
  std::vector<double> acc(d.inSize);
  for (int64_t p = begin; p < end; ++p) {
    const int64_t b = p / d.c, ch = p % d.c, g = ch / cg, ic = ch % cg;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t oc = g * mg; oc < (g + 1) * mg; ++oc) {
      const T *dy = DY + (b * d.m + oc) * d.outSize;
      const T *wc = W + (oc * cg + ic) * kSize;
      for (int64_t o = 0; o < d.outSize; ++o) {
        const int64_t *tap = d.index + o * kSize;
        const double v = (double)dy[o];
        for (int64_t j = 0; j < kSize; ++j)
          if (tap[j] >= 0)
            acc[tap[j]] += v * (double)wc[j];
      }
    }
    storePlane(acc, DX + p * d.inSize);
  }
}

// Planes p = oc * cg + ic of dW.
template <typename T>
void convGradFilter(const Desc &d, const T *X, const T *DY, T *DW, int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kSize = d.kSize;
  std::vector<double> acc(kSize);
  for (int64_t p = begin; p < end; ++p) {
    const int64_t oc = p / cg, ic = p % cg, g = oc / mg;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t b = 0; b < d.n; ++b) {
      const T *xc = X + (b * d.c + g * cg + ic) * d.inSize;
      const T *dy = DY + (b * d.m + oc) * d.outSize;
      for (int64_t o = 0; o < d.outSize; ++o) {
        const int64_t *tap = d.index + o * kSize;
        const double v = (double)dy[o];
        for (int64_t j = 0; j < kSize; ++j)
          if (tap[j] >= 0)
            acc[j] += v * (double)xc[tap[j]];
      }
    }
    storePlane(acc, DW + p * kSize);
  }
}

// Groups [begin, end): dW_g[mg, cg*k] = sum over images of dY_b,g[mg, out] * col_b^T, a few
// images per GEMM (their dY planes gathered side by side).
void convGradFilterGemm(const Desc &d, const float *X, const float *DY, float *DW, float *col,
                        int64_t begin, int64_t end) {
  const GemmPlan p(d);
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize, out = d.outSize;
  float *stage = col + kk * out * p.images;
  for (int64_t g = begin; g < end; ++g)
    for (int64_t b0 = 0; b0 < d.n; b0 += p.images) {
      const int64_t count = std::min(p.images, d.n - b0), ld = count * out;
      im2colImages(d, p, X, g, b0, count, col);
      const float *dy = DY + (b0 * d.m + g * mg) * out;
      if (count > 1) {
        gather(DY, d.m, g * mg, mg, out, b0, count, stage);
        dy = stage;
      }
      adj_sgemm(0, 1, mg, kk, ld, 1.0f, dy, ld, col, ld, b0 == 0 ? 0.0f : 1.0f, DW + g * mg * kk,
                kk);
    }
}

// Images [begin, end), a few at a time per group: col[cg*k, images * out] = W_g^T * dY, then
// col2im adds each column entry into the dX element its tap reads.
void convGradDataGemm(const Desc &d, const float *DY, const float *W, float *DX, float *col,
                      int64_t begin, int64_t end) {
  const GemmPlan p(d);
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize, out = d.outSize;
  float *stage = col + kk * out * p.images;
  for (int64_t g = 0; g < d.group; ++g)
    for (int64_t b0 = begin; b0 < end; b0 += p.images) {
      const int64_t count = std::min(p.images, end - b0), ld = count * out;
      const float *dy = DY + (b0 * d.m + g * mg) * out;
      if (count > 1) {
        gather(DY, d.m, g * mg, mg, out, b0, count, stage);
        dy = stage;
      }
      adj_sgemm(1, 0, kk, ld, mg, 1.0f, W + g * mg * kk, kk, dy, ld, 0.0f, col, ld);
      acrossItems(count, cg * d.kSize * out, [&](int64_t i) {
        col2im(d, p, col + i * out, ld, cg, DX + ((b0 + i) * d.c + g * cg) * d.inSize);
      });
    }
}

template <typename T>
void maxPoolGrad(const Desc &d, const T *DY, const T *X, T *DX, int64_t begin, int64_t end) {
  std::vector<double> acc(d.inSize);
  for (int64_t p = begin; p < end; ++p) {
    const T *xp = X + p * d.inSize;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t o = 0; o < d.outSize; ++o) {
      int64_t best = adjoint::rt::windowArgmax(xp, d.index + o * d.kSize, d.kSize);
      if (best >= 0)
        acc[best] += (double)DY[p * d.outSize + o];
    }
    storePlane(acc, DX + p * d.inSize);
  }
}

template <typename T>
void averagePoolGrad(const Desc &d, const T *DY, T *DX, int64_t begin, int64_t end) {
  const bool includePad = d.flag != 0;
  std::vector<double> acc(d.inSize);
  for (int64_t p = begin; p < end; ++p) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t o = 0; o < d.outSize; ++o) {
      const int64_t *tap = d.index + o * d.kSize;
      int64_t count = 0;
      for (int64_t j = 0; j < d.kSize; ++j)
        count += tap[j] >= 0;
      const double v = (double)DY[p * d.outSize + o] / (double)(includePad ? d.padded[o] : count);
      for (int64_t j = 0; j < d.kSize; ++j)
        if (tap[j] >= 0)
          acc[tap[j]] += v;
    }
    storePlane(acc, DX + p * d.inSize);
  }
}

} // namespace

#define ADJ_CP_BOTH(name, call)                                                                    \
  void name##_f32(const int64_t *desc, void *a, void *b, void *c, void *d, void *e, int64_t begin,  \
                  int64_t end) {                                                                    \
    using T = float;                                                                               \
    (void)a, (void)b, (void)c, (void)d, (void)e;                                                   \
    call;                                                                                          \
  }                                                                                                \
  void name##_f64(const int64_t *desc, void *a, void *b, void *c, void *d, void *e, int64_t begin,  \
                  int64_t end) {                                                                    \
    using T = double;                                                                              \
    (void)a, (void)b, (void)c, (void)d, (void)e;                                                   \
    call;                                                                                          \
  }

extern "C" {

ADJ_CP_BOTH(adj_conv, conv<T>(Desc(desc), (const T *)a, (const T *)b, (const T *)c, (T *)d, begin, end))
ADJ_CP_BOTH(adj_maxpool, maxPool<T>(Desc(desc), (const T *)a, (T *)b, (int64_t *)c, begin, end))
ADJ_CP_BOTH(adj_avgpool, averagePool<T>(Desc(desc), (const T *)a, (T *)b, begin, end))
ADJ_CP_BOTH(adj_gavgpool, globalAveragePool<T>(Desc(desc), (const T *)a, (T *)b, begin, end))
ADJ_CP_BOTH(adj_conv_grad_data, convGradData<T>(Desc(desc), (const T *)a, (const T *)b, (T *)c, begin, end))
ADJ_CP_BOTH(adj_conv_grad_filter,
            convGradFilter<T>(Desc(desc), (const T *)a, (const T *)b, (T *)c, begin, end))
ADJ_CP_BOTH(adj_maxpool_grad, maxPoolGrad<T>(Desc(desc), (const T *)a, (const T *)b, (T *)c, begin, end))
ADJ_CP_BOTH(adj_avgpool_grad, averagePoolGrad<T>(Desc(desc), (const T *)a, (T *)b, begin, end))

void adj_conv_gemm_f32(const int64_t *desc, void *x, void *w, void *b, void *y, void *col,
                       int64_t begin, int64_t end) {
  convGemm(Desc(desc), (const float *)x, (const float *)w, (const float *)b, (float *)y,
           (float *)col, begin, end);
}

void adj_conv_grad_data_gemm_f32(const int64_t *desc, void *dy, void *w, void *dx, void *col,
                                 void *unused, int64_t begin, int64_t end) {
  (void)unused;
  convGradDataGemm(Desc(desc), (const float *)dy, (const float *)w, (float *)dx, (float *)col,
                   begin, end);
}

void adj_conv_grad_filter_gemm_f32(const int64_t *desc, void *x, void *dy, void *dw, void *col,
                                   void *unused, int64_t begin, int64_t end) {
  (void)unused;
  convGradFilterGemm(Desc(desc), (const float *)x, (const float *)dy, (float *)dw, (float *)col,
                     begin, end);
}

} // extern "C"
