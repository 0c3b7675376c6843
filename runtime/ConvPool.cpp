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

// col[ic * kSize + j, o] = image channel ic at tap j of output o (0 in padding).
void im2col(const Desc &d, const float *x, int64_t channels, float *col) {
  for (int64_t ic = 0; ic < channels; ++ic) {
    const float *xc = x + ic * d.inSize;
    for (int64_t j = 0; j < d.kSize; ++j) {
      float *row = col + (ic * d.kSize + j) * d.outSize;
      for (int64_t o = 0; o < d.outSize; ++o) {
        int64_t t = d.index[o * d.kSize + j];
        row[o] = t >= 0 ? xc[t] : 0.0f;
      }
    }
  }
}

// Images [begin, end): per image and group, Y_g[mg, out] = W_g[mg, cg*k] * col[cg*k, out] (+ B).
void convGemm(const Desc &d, const float *X, const float *W, const float *B, float *Y, float *col,
              int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize;
  for (int64_t b = begin; b < end; ++b)
    for (int64_t g = 0; g < d.group; ++g) {
      im2col(d, X + (b * d.c + g * cg) * d.inSize, cg, col);
      float *y = Y + (b * d.m + g * mg) * d.outSize;
      if (B)
        for (int64_t oc = 0; oc < mg; ++oc)
          for (int64_t o = 0; o < d.outSize; ++o)
            y[oc * d.outSize + o] = B[g * mg + oc];
      adj_sgemm(0, 0, mg, d.outSize, kk, 1.0f, W + g * mg * kk, kk, col, d.outSize, B ? 1.0f : 0.0f,
                y, d.outSize);
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

// Groups [begin, end): dW_g[mg, cg*k] = sum over images of dY_b,g[mg, out] * col_b^T.
void convGradFilterGemm(const Desc &d, const float *X, const float *DY, float *DW, float *col,
                        int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize;
  for (int64_t g = begin; g < end; ++g)
    for (int64_t b = 0; b < d.n; ++b) {
      im2col(d, X + (b * d.c + g * cg) * d.inSize, cg, col);
      adj_sgemm(0, 1, mg, kk, d.outSize, 1.0f, DY + (b * d.m + g * mg) * d.outSize, d.outSize, col,
                d.outSize, b == 0 ? 0.0f : 1.0f, DW + g * mg * kk, kk);
    }
}

// Images [begin, end): per image and group, col[cg*k, out] = W_g^T * dY_b,g, then col2im adds
// each column entry into the dX element its tap reads.
void convGradDataGemm(const Desc &d, const float *DY, const float *W, float *DX, float *col,
                      int64_t begin, int64_t end) {
  const int64_t cg = d.c / d.group, mg = d.m / d.group, kk = cg * d.kSize;
  for (int64_t b = begin; b < end; ++b)
    for (int64_t g = 0; g < d.group; ++g) {
      adj_sgemm(1, 0, kk, d.outSize, mg, 1.0f, W + g * mg * kk, kk,
                DY + (b * d.m + g * mg) * d.outSize, d.outSize, 0.0f, col, d.outSize);
      for (int64_t ic = 0; ic < cg; ++ic) {
        float *dx = DX + (b * d.c + g * cg + ic) * d.inSize;
        std::memset(dx, 0, sizeof(float) * d.inSize);
        for (int64_t j = 0; j < d.kSize; ++j) {
          const float *row = col + (ic * d.kSize + j) * d.outSize;
          for (int64_t o = 0; o < d.outSize; ++o) {
            int64_t t = d.index[o * d.kSize + j];
            if (t >= 0)
              dx[t] += row[o];
          }
        }
      }
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
