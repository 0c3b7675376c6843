#pragma once
// A GPU check bundle: a compiled plan with its inputs and the answers computed on this machine
// (the interpreter's outputs, or the CPU JIT's loss curve), written to a folder so that a
// machine with only a CUDA driver and a C++ compiler can run and check it (bench/gpu/replay.cpp,
// bench/gpu-check --prepare / --replay; docs/gpu.md). The GPU suites write one per case when
// ADJOINT_GPU_EXPORT=DIR is set.
#include "IR/Tensor.h"
#include "cuda/GpuPlan.h"

#include <map>
#include <string>
#include <vector>

namespace adjoint {

struct GpuBundle {
  std::string kind; // check: run once, compare outputs; curve: train, compare losses; time
  gpu::Plan plan;
  std::map<std::string, Tensor> inputs;  // every input and parameter, by name
  std::map<std::string, Tensor> expect;  // check: outputs by name
  double f32 = 1e-4, f64 = 1e-9, ofMax = 1e-5;
  // curve / time: after each step new.X is copied into X; batch k of step s = s % batches.
  std::vector<std::map<std::string, Tensor>> batches;
  int64_t steps = 0;
  std::vector<double> curve;            // curve: the CPU JIT's loss per step
  std::map<std::string, std::string> info; // free-form notes (model, batch, cpu_jit_ms)
};

// Writes dir/plan.adjplan, dir/manifest.txt and dir/t<N>.bin (raw little-endian tensors; an
// all-zero tensor is `zero` in the manifest instead).
void writeGpuBundle(const std::string &dir, const GpuBundle &b);

// A new folder under $ADJOINT_GPU_EXPORT named for `what` (numbered when the name is taken), or
// "" when it is not set.
std::string gpuExportDir(const std::string &what);

} // namespace adjoint
