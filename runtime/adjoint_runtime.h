/* The C-ABI runtime that generated code calls: a thread pool that splits loops, the BLAS bridge,
 * and scalar helpers too long to inline. Generated code reaches these by plain C symbols; the JIT
 * defines them from adj_runtime_symbols() (so the executable needs no -rdynamic), and AOT
 * binaries link this library. It depends on nothing in compiler/. */
#ifndef ADJOINT_RUNTIME_H
#define ADJOINT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Thread pool ------------------------------------------------------------------------- */

/* A loop body over the iterations [begin, end) of an outer loop; ctx carries its buffers. */
typedef void (*adj_task_fn)(void *ctx, int64_t begin, int64_t end);

/* Runs fn over [0, n) split into chunks of at least `grain` iterations, one per thread at most,
 * and returns when all are done. Every chunk is non-empty. Runs fn(ctx, 0, n) on the calling
 * thread when one thread is set, n < 2 * grain, or when called from inside a chunk (nesting) or
 * while another thread owns the pool. */
void adj_parallel_for(adj_task_fn fn, void *ctx, int64_t n, int64_t grain);

/* Threads used by adj_parallel_for, and by GEMMs through it (the BLAS library itself is kept
 * single-threaded; see adj_sgemm); n <= 0 means every core. */
void adj_set_num_threads(int32_t n);
int32_t adj_get_num_threads(void);

/* ---- BLAS bridge ------------------------------------------------------------------------- */

/* Row-major C[m,n] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T by the trans flags
 * (no copies). Leading dimensions are row strides of the stored matrices. beta == 0 ignores
 * C's old contents (NaN included), as BLAS does. A product of at least 2^19 multiply-adds is
 * split into blocks of 16-row (or 16-column) panels of C across adj_parallel_for's threads. */
void adj_sgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc);
void adj_dgemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, double alpha,
               const double *a, int64_t lda, const double *b, int64_t ldb, double beta, double *c,
               int64_t ldc);

/* GEMM accounting (the benchmark's efficiency figure): adj_gemm_profile(1) zeroes the counters
 * and times every adj_sgemm/adj_dgemm from then on (2*m*n*k flops each); 0 stops. Not for use
 * while another thread runs GEMMs through the bridge. */
void adj_gemm_profile(int32_t on);
void adj_gemm_stats(int64_t *calls, double *seconds, double *flops);

/* ---- Conv and pooling (runtime/ConvPool.cpp) ---------------------------------------------- */

/* The interpreter's conv and pooling loops over the planes [begin, end), _f32 and _f64. desc is
 * the compile-time geometry, int64: n, c (input channels), m (output channels), group, inSize,
 * outSize, kSize (spatial element counts), flag (count_include_pad), hasColMap, then the tap
 * table (outSize * kSize input offsets, -1 in padding), the count_include_pad divisors (outSize)
 * and, when hasColMap, MaxPool's column-major index of each input offset (inSize). Operands:
 *   adj_conv            X, W, B (or null), Y       planes b * m + oc
 *   adj_maxpool         X, Y, Indices (or null)    planes b * c + channel
 *   adj_avgpool         X, Y                       ditto
 *   adj_gavgpool        X, Y                       ditto (inSize = the plane)
 *   adj_conv_grad_data  dY, W, dX                  planes of dX
 *   adj_conv_grad_filter X, dY, dW                 planes oc * (c / group) + ic of dW
 *   adj_maxpool_grad    dY, X, dX                  planes of dX
 *   adj_avgpool_grad    dY, dX                     planes of dX
 * The f32 GEMM forms take scratch of images * ((c / group) * kSize + m / group) * outSize floats
 * as the last pointer (im2col columns of `images` images side by side, then a staging matrix):
 * adj_conv_gemm_f32 (X, W, B, Y, col) and adj_conv_grad_data_gemm_f32 (dY, W, dX, col) over
 * images, adj_conv_grad_filter_gemm_f32 (X, dY, dW, col) over groups. Their descriptor goes on
 * after the tables: `images` (per GEMM), then per kernel offset its taps as runs: a count, then
 * per run its first output, first input offset (-1: padding), length and input step. */
#define ADJ_CONVPOOL_DECL(name)                                                                    \
  void name(const int64_t *desc, void *a, void *b, void *c, void *d, void *e, int64_t begin,        \
            int64_t end);
ADJ_CONVPOOL_DECL(adj_conv_f32)
ADJ_CONVPOOL_DECL(adj_conv_f64)
ADJ_CONVPOOL_DECL(adj_maxpool_f32)
ADJ_CONVPOOL_DECL(adj_maxpool_f64)
ADJ_CONVPOOL_DECL(adj_avgpool_f32)
ADJ_CONVPOOL_DECL(adj_avgpool_f64)
ADJ_CONVPOOL_DECL(adj_gavgpool_f32)
ADJ_CONVPOOL_DECL(adj_gavgpool_f64)
ADJ_CONVPOOL_DECL(adj_conv_grad_data_f32)
ADJ_CONVPOOL_DECL(adj_conv_grad_data_f64)
ADJ_CONVPOOL_DECL(adj_conv_grad_filter_f32)
ADJ_CONVPOOL_DECL(adj_conv_grad_filter_f64)
ADJ_CONVPOOL_DECL(adj_maxpool_grad_f32)
ADJ_CONVPOOL_DECL(adj_maxpool_grad_f64)
ADJ_CONVPOOL_DECL(adj_avgpool_grad_f32)
ADJ_CONVPOOL_DECL(adj_avgpool_grad_f64)
ADJ_CONVPOOL_DECL(adj_conv_gemm_f32)
ADJ_CONVPOOL_DECL(adj_conv_grad_filter_gemm_f32)
ADJ_CONVPOOL_DECL(adj_conv_grad_data_gemm_f32)
#undef ADJ_CONVPOOL_DECL

/* ---- Scalar helpers ---------------------------------------------------------------------- */

/* base**exp for exp >= 0 in wrapping 64-bit arithmetic (numpy's integer power); the low 32 bits
 * are the 32-bit result. */
int64_t adj_ipow(int64_t base, int64_t exp);

/* ---- Dropout ---------------------------------------------------------------------------- */

/* keep[i] = 1 where Dropout keeps element i of n in training mode, else 0: the interpreter's
 * MT19937 stream (numpy's uniform draws) for `seed`, compared with `ratio` (Dropout.cpp). */
void adj_dropout_mask(uint8_t *keep, int64_t n, double ratio, int64_t seed);

/* ---- Errors ------------------------------------------------------------------------------ */

/* Generated code that meets bad data (a label out of range) reports it here and carries on
 * safely; the caller takes the error after the call. `site` indexes the messages the code
 * generator recorded for the function; a, b, c are values for the message. The first report
 * wins until taken. */
void adj_report_error(int32_t site, int64_t a, int64_t b, int64_t c);
typedef struct adj_error {
  int32_t site;
  int64_t values[3];
} adj_error;
/* 1 and the error (which is cleared) when one was reported, else 0. */
int32_t adj_take_error(adj_error *out);

/* ---- Symbols ----------------------------------------------------------------------------- */

typedef struct adj_symbol {
  const char *name;
  void *address;
} adj_symbol;

/* Every function above, plus the libm/libc functions generated code may call, by name; a JIT
 * defines them as absolute symbols. `*count` receives the number of entries. */
const adj_symbol *adj_runtime_symbols(size_t *count);

#ifdef __cplusplus
}
#endif

#endif
