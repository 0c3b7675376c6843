#pragma once
// What the NVPTX lowering files share (NvptxLowering.cpp: storage and schedule; NvptxOps.cpp:
// the op families; NvptxEmit.cpp: libdevice and PTX): the module being filled and the plan's
// steps (GpuCodegen), kernel building blocks (thread indices, grid-stride loops, shared-memory
// tree reductions), and the table of ops lowered by a dedicated emitter.
#include "CodeGen/LoweringContext.h"
#include "CodeGen/NvptxLowering.h"
#include "cuda/GpuPlan.h"

#include <functional>
#include <map>
#include <memory>

namespace adjoint::nvptx {

constexpr int kBlock = 256;         // threads per block of every kernel
constexpr int64_t kMaxGrid = 65535; // grid-stride loops cover the rest

// A kernel being emitted: args[i] is the device pointer of the launch's i-th BufferRef.
struct KernelFn {
  llvm::Function *fn = nullptr;
  std::unique_ptr<Builder> b;
  std::vector<llvm::Value *> args;
};

class GpuCodegen {
public:
  GpuCodegen(llvm::Module &m, const Target &target) : cg(m, target) {}
  CodegenContext cg;
  gpu::Plan plan;

  // A new kernel `stem` (made unique) launched now with these pointer arguments over `grid`
  // blocks of kBlock threads; the caller fills its body through the returned builder, which
  // is positioned in the entry block (the kernel returns where the body ends).
  KernelFn kernel(const std::string &stem, const std::string &what,
                  const std::vector<gpu::BufferRef> &args, int64_t grid);
  // Blocks for a grid-stride loop over n items.
  static int64_t gridFor(int64_t n) {
    return std::max<int64_t>(1, std::min<int64_t>((n + kBlock - 1) / kBlock, kMaxGrid));
  }
  void gemm(const std::string &what, const gpu::Gemm &g);
  void copy(const std::string &what, gpu::BufferRef dst, gpu::BufferRef src, int64_t bytes);
  // Constant bytes (int64 tables, folded values) placed in the plan's constant data.
  gpu::BufferRef constant(const void *data, int64_t bytes);
  gpu::BufferRef constantInts(const std::vector<int64_t> &v) {
    return constant(v.data(), (int64_t)(v.size() * sizeof(int64_t)));
  }

  // Thread/block indices as i64.
  llvm::Value *threadIdx(Builder &b);
  llvm::Value *blockIdx(Builder &b);
  llvm::Value *gridDim(Builder &b);
  // for (i = blockIdx * kBlock + threadIdx; i < n; i += gridDim * kBlock) body(i)
  void gridStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body);
  // for (i = blockIdx; i < n; i += gridDim) body(i): one block per item.
  void blockStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body);
  // for (i = threadIdx; i < n; i += kBlock) body(i), within one block.
  void threadStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body);
  // Combines v (double) across the block's threads with a shared-memory tree (every thread
  // must call it); every thread gets the result. Deterministic: the tree's order is fixed.
  llvm::Value *blockReduce(Builder &b, llvm::Value *v,
                           const std::function<llvm::Value *(Builder &, llvm::Value *, llvm::Value *)> &op);
  void barrier(Builder &b);
  // if (threadIdx == 0) body()
  void firstThread(Builder &b, const std::function<void(Builder &)> &body);

private:
  llvm::GlobalVariable *shared_ = nullptr;
};

// The device pointer `base` advanced by `bytes` (a constant).
inline llvm::Value *advance(Builder &b, llvm::Value *base, int64_t bytes) {
  return bytes ? b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), base, bytes) : base;
}

// An op lowered by a dedicated emitter (NvptxOps.cpp): refs of its operands (slot -1: absent)
// and results, and scratch memory on request.
struct GpuOpContext {
  GpuCodegen &g;
  const Op &op;
  std::string stem;
  std::vector<gpu::BufferRef> operands, results;
  std::function<gpu::BufferRef(int64_t bytes)> scratch;
  std::string what() const { return op.describe(); }
  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(op.describe(), ": ", args...);
  }
};

struct GpuOpLowering {
  std::function<void(GpuOpContext &)> emit;
  // Why this instance cannot be lowered, or "".
  std::function<std::string(const Op &)> unsupported;
};

// (domain, op type) -> emitter, for the ops that are not elementwise, aliases, constants or
// fused kernels.
const std::map<std::pair<std::string, std::string>, GpuOpLowering> &gpuOpTable();

// The plan of fn with its kernels in m (no PTX yet), and the target it is lowered for.
gpu::Plan lowerForGpu(const Function &fn, llvm::Module &m, const Target &target, const GpuOptions &opts);
std::unique_ptr<NvptxTarget> gpuTarget(const GpuOptions &opts);

// Defines adj_ipow and adj_report_error (into the global gpu::Plan::kErrorSymbol) in m, for
// the device and for the host emulator alike.
void defineDeviceRuntime(llvm::Module &m);

// Device versions of what CPU code calls (libm, adj_ipow, adj_report_error), then libdevice
// linked, O3 and PTX (NvptxEmit.cpp).
std::string finishModule(llvm::Module &m, const Target &target, const std::string &libdevice);

} // namespace adjoint::nvptx
