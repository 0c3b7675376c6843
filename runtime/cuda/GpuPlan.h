#pragma once
// What the NVPTX code generator (compiler/CodeGen/Nvptx*.cpp) hands the CUDA runtime
// (CudaRuntime.h): PTX text and the host side of one training step as a list of steps — kernel
// launches, cuBLAS GEMMs and device copies — over device buffers named by slot and byte offset.
// Plain data with no CUDA types, so the compiler builds it on machines without the toolkit.
#include <cstdint>
#include <string>
#include <vector>

namespace adjoint::gpu {

// A device address: byte `offset` into buffer `slot` (the BufferLayout's slot index: inputs,
// parameters, outputs, then the workspace arena) or into the plan's constant data.
struct BufferRef {
  static constexpr int kConstants = -2;
  int slot = -1;
  int64_t offset = 0;
};

// kernel<<<grid, block>>>(pointer args...): every kernel of a plan takes device pointers only
// (sizes are compiled in).
struct Launch {
  std::string kernel;
  std::vector<BufferRef> args;
  int64_t grid = 1;
  int block = 256;
};

// Row-major C[batch][m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C, strides in elements
// between batch members (0: the same matrix for every member). The runtime turns it into the
// column-major cuBLAS call (C^T = op(B)^T op(A)^T).
struct Gemm {
  bool f64 = false, transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  double alpha = 1, beta = 0;
  BufferRef a, b, c;
  int64_t batch = 1, strideA = 0, strideB = 0, strideC = 0;
};

struct Copy {
  BufferRef dst, src;
  int64_t bytes = 0;
};

struct Step {
  enum class Kind { Launch, Gemm, Copy };
  Kind kind = Kind::Launch;
  std::string what; // the op it comes from ("Gemm 'fc1'"), for error messages
  Launch launch;
  Gemm gemm;
  Copy copy;
};

struct Slot {
  std::string name;
  int64_t bytes = 0;
  bool output = false;
  int inPlaceOf = -1; // an output written into the buffer of argument slot inPlaceOf
};

struct Plan {
  std::string entry;               // the function's name
  std::string arch;                // "sm_90"
  std::string ptx;                 // the module: every kernel the steps launch
  std::vector<Slot> slots;         // the BufferLayout's slots, the workspace last
  int64_t workspaceBytes = 0;
  std::vector<uint8_t> constants;  // uploaded once; BufferRef::kConstants points into it
  std::vector<Step> steps;
  // Kernels report bad data (a label out of range) into the module's global kErrorSymbol:
  // {site + 1, a, b, c} of the first report; messages use {0} {1} {2} for a, b, c.
  std::vector<std::string> errorMessages;
  static constexpr const char *kErrorSymbol = "adj_gpu_error";
};

// The message of a kernel's error report {site + 1, a, b, c} ("{0}" in the message is a)
// (PlanFile.cpp).
std::string formatKernelError(const Plan &plan, const int64_t record[4]);

} // namespace adjoint::gpu
