#pragma once
// A gpu::Plan run on the host: the LLVM-free half of the GPU emulator (docs/gpu.md). Kernels
// are host functions `void k(void **args)` (the GPU lowering's kernels compiled for the CPU with
// the PTX special registers and barriers turned into adj_emu_tid / adj_emu_barrier, below), each
// launch runs as one block of kBlock threads — fibers on the calling thread, switched at
// barriers — which computes the whole launch since every kernel of the target is a grid- or
// block-stride loop. GEMM steps go to the CPU BLAS (runtime/Blas.cpp), copies are memmove.
//
// Two users: compiler/CodeGen/NvptxEmulator.cpp (kernels from its JIT) and the trainers
// adjoint-compile --target=cuda writes (kernels from the host object linked into them).
// Errors are std::runtime_error; a kernel's report (a label out of range) reads as the CPU's.
#include "GpuPlan.h"

#include <memory>
#include <string>
#include <vector>

extern "C" {
// What the host-compiled kernels call for %tid.x and bar.sync.
int32_t adj_emu_tid();
void adj_emu_barrier();
}

namespace adjoint::gpu {

inline constexpr int kEmulatedBlock = 256;

using HostKernel = void (*)(void **);

class EmulatedProgram {
public:
  // kernels: one per plan step (null for non-launch steps); errorRecord: the kernels' error
  // global (Plan::kErrorSymbol, four int64). Throws when they do not match the plan.
  EmulatedProgram(Plan plan, std::vector<HostKernel> kernels, int64_t *errorRecord);
  ~EmulatedProgram();
  EmulatedProgram(const EmulatedProgram &) = delete;
  EmulatedProgram &operator=(const EmulatedProgram &) = delete;

  const Plan &plan() const { return plan_; }
  void upload(int slot, const void *src, int64_t bytes);
  void download(int slot, void *dst, int64_t bytes) const;
  void run();
  void copySlot(int dst, int src, int64_t bytes);
  // From a slot of another emulated program (CudaProgram::copyFrom's counterpart).
  void copyFrom(int dst, const EmulatedProgram &src, int srcSlot, int64_t bytes);
  double lastRunMs() const { return lastMs_; }

private:
  uint8_t *base() const;
  uint8_t *address(const BufferRef &r, int64_t bytes) const;
  void checkSlot(int slot, int64_t bytes, const char *what) const;
  Plan plan_;
  std::vector<HostKernel> kernels_;
  int64_t *error_ = nullptr;
  std::vector<int64_t> offsets_;
  int64_t constOffset_ = 0, top_ = 0;
  std::vector<uint8_t> arena_;
  double lastMs_ = 0;
};


} // namespace adjoint::gpu
