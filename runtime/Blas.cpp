// The BLAS bridge: generated code calls adj_sgemm/adj_dgemm with 64-bit sizes; this turns them
// into one cblas call, transposes passed as flags. BLAS takes 32-bit sizes; the code generator
// rejects larger matrices at compile time, so a size that does not fit here is a bug and aborts
// with a message rather than computing garbage.
#include "adjoint_runtime.h"

#include <cblas.h>

#include <algorithm>
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

} // namespace

extern "C" {

void adj_sgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc) {
  if (m == 0 || n == 0)
    return;
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              blasInt(m, "m"), blasInt(n, "n"), blasInt(k, "k"), alpha, a,
              blasInt(std::max<int64_t>(lda, 1), "lda"), b, blasInt(std::max<int64_t>(ldb, 1), "ldb"),
              beta, c, blasInt(std::max<int64_t>(ldc, 1), "ldc"));
}

void adj_dgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, double alpha,
               const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
               int64_t ldc) {
  if (m == 0 || n == 0)
    return;
  cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              blasInt(m, "m"), blasInt(n, "n"), blasInt(k, "k"), alpha, a,
              blasInt(std::max<int64_t>(lda, 1), "lda"), b, blasInt(std::max<int64_t>(ldb, 1), "ldb"),
              beta, c, blasInt(std::max<int64_t>(ldc, 1), "ldc"));
}

} // extern "C"
