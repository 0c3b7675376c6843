#pragma once
// The steps of an adjoint-compile --target=cuda binary on a device: every step's plan (embedded
// in the model description, PlanFile.h's format) loaded once at start — on the GPU through the
// CUDA driver (CudaRuntime.h: the PTX is compiled by the driver when the trainer starts), or on
// the host emulator (EmulatedProgram.h, kernels from the object adjoint-compile links in).
//
// Parameters and optimizer state stay on the device for the whole run. Each step's plan has its
// own buffers; the state lives in those of the step that last trained (the owner: the main batch's
// training step in a steady run) and is handed to another step — the tail batch's training step,
// an evaluation step — by a device-to-device copy, only when that step runs after the owner
// changed it (from the host copy after the start or a resume). Each step uploads only its
// batch (x, target: pinned double-buffered staging on the GPU), lr, step and dropout_seed and
// downloads only its loss and prediction. Checkpoints and ONNX export download the state.
#include "AotSession.h"

#include <cstdint>
#include <memory>
#include <string>

namespace adjoint::aot {

// The host object's tables (GpuAotBuilder in compiler/CodeGen/GpuFunction.h): per step of the
// description, its kernels (one per plan step) and its error record.
struct EmulatedKernels {
  uint64_t count = 0;
  void *const *kernels = nullptr; // per step: void (*const[])(void **)
  void *const *errors = nullptr;  // per step: int64_t[4]
};

// device: "cuda" or "emulator". Throws std::runtime_error with one line when the device cannot
// be used ("no CUDA driver: ...", "no CUDA device") or a plan does not load (naming the step).
std::unique_ptr<StepExecutor> makeGpuExecutor(Session &session, const std::string &device,
                                              const EmulatedKernels &emulated);

} // namespace adjoint::aot
