// Scalar helpers generated code calls where an inline expression would be long, and the table of
// every symbol generated code may reference (runtime functions, libm and libc), which a JIT
// defines as absolute addresses.
#include "adjoint_runtime.h"

#include <cmath>
#include <cstring>
#include <mutex>

namespace {
std::mutex errorMutex;
bool errorPending = false;
adj_error pendingError;
} // namespace

extern "C" {

int64_t adj_ipow(int64_t base, int64_t exp) {
  uint64_t result = 1, b = (uint64_t)base;
  for (uint64_t n = (uint64_t)exp; n; n >>= 1) {
    if (n & 1)
      result *= b;
    b *= b;
  }
  return (int64_t)result;
}

void adj_report_error(int32_t site, int64_t a, int64_t b, int64_t c) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (errorPending)
    return;
  errorPending = true;
  pendingError = {site, {a, b, c}};
}

int32_t adj_take_error(adj_error *out) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (!errorPending)
    return 0;
  *out = pendingError;
  errorPending = false;
  return 1;
}

} // extern "C"

namespace {

// libm through plain function pointers: the overloads in <cmath> are not addressable by name.
float (*const expf_)(float) = ::expf;
double (*const exp_)(double) = ::exp;
float (*const logf_)(float) = ::logf;
double (*const log_)(double) = ::log;
float (*const expm1f_)(float) = ::expm1f;
double (*const expm1_)(double) = ::expm1;
float (*const tanhf_)(float) = ::tanhf;
double (*const tanh_)(double) = ::tanh;
double (*const erf_)(double) = ::erf;
double (*const pow_)(double, double) = ::pow;
float (*const powf_)(float, float) = ::powf;
float (*const sqrtf_)(float) = ::sqrtf;
double (*const sqrt_)(double) = ::sqrt;
float (*const fmodf_)(float, float) = ::fmodf;
double (*const fmod_)(double, double) = ::fmod;
void *(*const memcpy_)(void *, const void *, size_t) = ::memcpy;
void *(*const memmove_)(void *, const void *, size_t) = ::memmove;
void *(*const memset_)(void *, int, size_t) = ::memset;

#define ADJ_SYM(name, fn) {name, reinterpret_cast<void *>(fn)}

const adj_symbol symbols[] = {
    ADJ_SYM("adj_parallel_for", adj_parallel_for),
    ADJ_SYM("adj_set_num_threads", adj_set_num_threads),
    ADJ_SYM("adj_get_num_threads", adj_get_num_threads),
    ADJ_SYM("adj_sgemm", adj_sgemm),
    ADJ_SYM("adj_dgemm", adj_dgemm),
    ADJ_SYM("adj_ipow", adj_ipow),
    ADJ_SYM("adj_report_error", adj_report_error),
    ADJ_SYM("adj_conv_f32", adj_conv_f32),
    ADJ_SYM("adj_conv_f64", adj_conv_f64),
    ADJ_SYM("adj_maxpool_f32", adj_maxpool_f32),
    ADJ_SYM("adj_maxpool_f64", adj_maxpool_f64),
    ADJ_SYM("adj_avgpool_f32", adj_avgpool_f32),
    ADJ_SYM("adj_avgpool_f64", adj_avgpool_f64),
    ADJ_SYM("adj_gavgpool_f32", adj_gavgpool_f32),
    ADJ_SYM("adj_gavgpool_f64", adj_gavgpool_f64),
    ADJ_SYM("adj_conv_grad_data_f32", adj_conv_grad_data_f32),
    ADJ_SYM("adj_conv_grad_data_f64", adj_conv_grad_data_f64),
    ADJ_SYM("adj_conv_grad_filter_f32", adj_conv_grad_filter_f32),
    ADJ_SYM("adj_conv_grad_filter_f64", adj_conv_grad_filter_f64),
    ADJ_SYM("adj_maxpool_grad_f32", adj_maxpool_grad_f32),
    ADJ_SYM("adj_maxpool_grad_f64", adj_maxpool_grad_f64),
    ADJ_SYM("adj_avgpool_grad_f32", adj_avgpool_grad_f32),
    ADJ_SYM("adj_avgpool_grad_f64", adj_avgpool_grad_f64),
    ADJ_SYM("adj_conv_gemm_f32", adj_conv_gemm_f32),
    ADJ_SYM("adj_conv_grad_filter_gemm_f32", adj_conv_grad_filter_gemm_f32),
    ADJ_SYM("adj_conv_grad_data_gemm_f32", adj_conv_grad_data_gemm_f32),
    ADJ_SYM("adj_dropout_mask", adj_dropout_mask),
    ADJ_SYM("expf", expf_),
    ADJ_SYM("exp", exp_),
    ADJ_SYM("logf", logf_),
    ADJ_SYM("log", log_),
    ADJ_SYM("expm1f", expm1f_),
    ADJ_SYM("expm1", expm1_),
    ADJ_SYM("tanhf", tanhf_),
    ADJ_SYM("tanh", tanh_),
    ADJ_SYM("erf", erf_),
    ADJ_SYM("pow", pow_),
    ADJ_SYM("powf", powf_),
    ADJ_SYM("sqrtf", sqrtf_),
    ADJ_SYM("sqrt", sqrt_),
    ADJ_SYM("fmodf", fmodf_),
    ADJ_SYM("fmod", fmod_),
    ADJ_SYM("memcpy", memcpy_),
    ADJ_SYM("memmove", memmove_),
    ADJ_SYM("memset", memset_),
};

#undef ADJ_SYM

} // namespace

extern "C" const adj_symbol *adj_runtime_symbols(size_t *count) {
  *count = sizeof(symbols) / sizeof(symbols[0]);
  return symbols;
}
