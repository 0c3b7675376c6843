#pragma once
// The NVIDIA GPU target (docs/gpu.md): a top-level function becomes a gpu::Plan
// (runtime/cuda/GpuPlan.h) — a PTX module from LLVM's NVPTX backend holding one kernel per
// elementwise nest, reduction and helper, and the host steps that launch them and call cuBLAS
// for GEMMs — over the same buffer layout (Lowering.h) and memory plan as the CPU code.
// No LLVM or CUDA types here; nothing needs a GPU to compile.
#include "CodeGen/Lowering.h"
#include "CodeGen/Target.h"
#include "cuda/GpuPlan.h"

#include <string>
#include <vector>

namespace adjoint {

struct GpuOptions {
  std::string arch = NvptxTarget::kDefaultArch; // --gpu-arch
  int optLevel = 3;
  LoweringOptions lowering;
  // libdevice bitcode (math functions); empty: $ADJOINT_LIBDEVICE, then the CUDA toolkit's.
  std::string libdevice;
};

// The plan for fn, with its PTX. Throws Error listing every op the GPU code generator cannot
// lower yet (naming each), or naming what failed (no libdevice when the code needs math).
gpu::Plan compileForGpu(const Function &fn, const GpuOptions &opts = {});

// Ops of fn (and of its kernels' bodies) the GPU code generator cannot lower, as unloweredOps.
std::vector<std::string> gpuUnloweredOps(const Function &fn);

// Ops the GPU code generator lowers ("Add", "adjoint.ConvGradData", ...), and those the CPU
// lowers that it does not yet.
std::vector<std::string> gpuLoweredOpNames();
std::vector<std::string> gpuMissingOpNames();

// Where libdevice is looked for: opts.libdevice, $ADJOINT_LIBDEVICE, the CUDA toolkit's
// (ADJOINT_CUDA_LIBDEVICE at build time, else /usr/local/cuda/nvvm/libdevice/libdevice.10.bc).
std::string libdevicePath(const GpuOptions &opts = {});

} // namespace adjoint

#include <ostream>

namespace adjoint {

// adjoint-opt --emit=ptx: for each top-level function of m, its plan's steps as PTX comments
// ("// step 3: gemm f32 N N m=64 n=512 k=784 ...") followed by the PTX module.
void emitPtxModule(std::ostream &os, const Module &m, const GpuOptions &opts = {});

// One line per step, as emitPtxModule prints them (without the comment marks).
std::string describeStep(const gpu::Step &s);

} // namespace adjoint
