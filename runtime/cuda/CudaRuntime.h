#pragma once
// Runs gpu::Plans (GpuPlan.h) on an NVIDIA GPU through the CUDA driver API and cuBLAS. Both
// libraries are opened at run time (dlopen of libcuda.so.1 and libcublas), so every binary
// starts on machines without a driver or GPU and cudaAvailable() says why CUDA cannot be used.
//
// A CudaProgram owns one device arena holding every buffer of its plan (arguments, outputs,
// workspace, constants), the loaded PTX module and a stream. Buffers stay on the device between
// runs: a training loop uploads only its batch (through pinned, double-buffered staging memory)
// while parameters and optimizer state are updated in place by the step itself.
// Errors are std::runtime_error with the driver's error name, the kernel and the op.
#include "GpuPlan.h"

#include <memory>
#include <string>

namespace adjoint::gpu {

// Whether a CUDA driver, a device and cuBLAS can be used; `why` says what is missing
// ("no CUDA driver: libcuda.so.1: cannot open shared object file", "no CUDA device").
bool cudaAvailable(std::string *why = nullptr);
// "NVIDIA H200" and its architecture "sm_90" (cudaAvailable() must be true).
std::string cudaDeviceName();
std::string cudaDeviceArch();

class CudaProgram {
public:
  // Loads the PTX (the driver compiles it for the device), allocates the arena and uploads the
  // constants. Throws when CUDA is unavailable or the module does not load (with ptxas's log).
  explicit CudaProgram(Plan plan);
  ~CudaProgram();
  CudaProgram(const CudaProgram &) = delete;
  CudaProgram &operator=(const CudaProgram &) = delete;

  const Plan &plan() const;
  // Slot contents, host to device and back (bytes <= the slot's size). upload() goes through
  // pinned staging memory and is ordered before the next run() on the program's stream.
  void upload(int slot, const void *src, int64_t bytes);
  void download(int slot, void *dst, int64_t bytes) const;
  // Runs every step and waits. Throws for a driver or cuBLAS error (naming the step's kernel and
  // op; with ADJOINT_CUDA_SYNC=1 each step is waited for so that asynchronous faults name theirs
  // too) and for an error a kernel reported (a label out of range), formatted as the CPU's.
  void run();
  // Device-to-device copy of `bytes` from slot src to slot dst, ordered after the last run().
  void copySlot(int dst, int src, int64_t bytes);
  // Device-to-device copy of `bytes` from slot srcSlot of another program on this device into
  // slot dst; waits for both programs' work first and for the copy itself (it hands state between
  // the plans of one trainer, rarely).
  void copyFrom(int dst, const CudaProgram &src, int srcSlot, int64_t bytes);
  // Device time of the last run(), from CUDA events (ms).
  double lastRunMs() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace adjoint::gpu
