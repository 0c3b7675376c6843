// The BLAS bridge: generated code calls adj_sgemm/adj_dgemm with 64-bit sizes; this turns them
// into cblas calls, transposes passed as flags. BLAS takes 32-bit sizes; the code generator
// rejects larger matrices at compile time, so a size that does not fit here is a bug and aborts
// with a message rather than computing garbage.
//
// BLAS runs single-threaded (ThreadPool.cpp sets it so) and a large product is split here into
// row (or column) blocks across the runtime's own pool: one pool on the machine instead of two
// whose idle threads spin against each other's workers. Blocks are fixed by the shape and the
// thread count, so results repeat run to run (BLAS may pick another kernel for a smaller block,
// so they need not repeat across thread counts).
#include "adjoint_runtime.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace {

int blasInt(int64_t v, const char *what) {
  if (v < 0 || v > INT_MAX) {
    std::fprintf(stderr, "adjoint runtime: GEMM %s = %lld does not fit BLAS's 32-bit sizes\n", what,
                 (long long)v);
    std::abort();
  }
  return (int)v;
}

// GEMM accounting for the benchmark's efficiency figure: off unless asked for, so a normal call
// pays one relaxed load.
std::atomic<bool> profiling{false};
std::atomic<int64_t> profCalls{0}, profNanos{0};
std::atomic<double> profFlops{0};

struct GemmTimer {
  explicit GemmTimer(int64_t m, int64_t n, int64_t k) : on(profiling.load(std::memory_order_relaxed)) {
    if (on) {
      flops = 2.0 * (double)m * (double)n * (double)k;
      t0 = std::chrono::steady_clock::now();
    }
  }
  ~GemmTimer() {
    if (!on)
      return;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
    profCalls.fetch_add(1);
    profNanos.fetch_add((int64_t)ns);
    double f = profFlops.load();
    while (!profFlops.compare_exchange_weak(f, f + flops)) {
    }
  }
  bool on;
  double flops = 0;
  std::chrono::steady_clock::time_point t0;
};

// Products smaller than this (m*n*k) run in one call: splitting costs a pool wake-up (microseconds).
constexpr int64_t kSplitWork = int64_t(1) << 19;

template <typename T> struct Gemm {
  int32_t ta, tb;
  int64_t m, n, k;
  T alpha;
  const T *a;
  int64_t lda;
  const T *b;
  int64_t ldb;
  T beta;
  T *c;
  int64_t ldc;
  bool byRows; // blocks of rows of C (else of columns)

  void call(int64_t m0, int64_t m1, int64_t n0, int64_t n1) const;

  // Rows [r0, r1) of C (or columns) as one BLAS call on the matching part of A (or B).
  void block(int64_t r0, int64_t r1) const {
    if (byRows)
      call(r0, r1, 0, n);
    else
      call(0, m, r0, r1);
  }
};

template <> void Gemm<float>::call(int64_t m0, int64_t m1, int64_t n0, int64_t n1) const {
  const float *a0 = a + (ta ? m0 : m0 * lda), *b0 = b + (tb ? n0 * ldb : n0);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              blasInt(m1 - m0, "m"), blasInt(n1 - n0, "n"), blasInt(k, "k"), alpha, a0,
              blasInt(std::max<int64_t>(lda, 1), "lda"), b0,
              blasInt(std::max<int64_t>(ldb, 1), "ldb"), beta, c + m0 * ldc + n0,
              blasInt(std::max<int64_t>(ldc, 1), "ldc"));
}

template <> void Gemm<double>::call(int64_t m0, int64_t m1, int64_t n0, int64_t n1) const {
  const double *a0 = a + (ta ? m0 : m0 * lda), *b0 = b + (tb ? n0 * ldb : n0);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              blasInt(m1 - m0, "m"), blasInt(n1 - n0, "n"), blasInt(k, "k"), alpha, a0,
              blasInt(std::max<int64_t>(lda, 1), "lda"), b0,
              blasInt(std::max<int64_t>(ldb, 1), "ldb"), beta, c + m0 * ldc + n0,
              blasInt(std::max<int64_t>(ldc, 1), "ldc"));
}

template <typename T> void gemmBlock(void *ctx, int64_t begin, int64_t end) {
  static_cast<const Gemm<T> *>(ctx)->block(begin, end);
}

template <typename T> void runGemm(Gemm<T> g) {
  if (g.m == 0 || g.n == 0)
    return;
  GemmTimer timer(g.m, g.n, g.k);
  int32_t threads = adj_get_num_threads();
  if (threads <= 1 || g.m * g.n * g.k < kSplitWork) {
    g.call(0, g.m, 0, g.n);
    return;
  }
  // Split the longer side of C, in blocks of whole 16-element panels (BLAS kernels' widths).
  g.byRows = g.m >= g.n;
  int64_t side = g.byRows ? g.m : g.n, panels = (side + 15) / 16;
  if (panels < 2) {
    g.call(0, g.m, 0, g.n);
    return;
  }
  struct Panels {
    const Gemm<T> *g;
    int64_t side;
  } ctx{&g, side};
  adj_parallel_for(
      [](void *p, int64_t begin, int64_t end) {
        const Panels &q = *static_cast<const Panels *>(p);
        q.g->block(begin * 16, std::min(end * 16, q.side));
      },
      &ctx, panels, 1);
}

} // namespace

extern "C" {

void adj_sgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc) {
  runGemm<float>({transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true});
}

void adj_dgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, double alpha,
               const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
               int64_t ldc) {
  runGemm<double>({transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true});
}

void adj_gemm_profile(int32_t on) {
  profCalls.store(0);
  profNanos.store(0);
  profFlops.store(0);
  profiling.store(on != 0);
}

void adj_gemm_stats(int64_t *calls, double *seconds, double *flops) {
  *calls = profCalls.load();
  *seconds = (double)profNanos.load() * 1e-9;
  *flops = profFlops.load();
}

} // extern "C"
