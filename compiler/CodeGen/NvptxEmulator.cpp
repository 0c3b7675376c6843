// The host emulator of GPU plans: the GPU lowering's module (the kernels exactly as they go to
// PTX, before libdevice) compiled for this CPU, with the PTX special registers and barriers
// provided by a pool of kBlock threads that run each launch as one block. Every kernel of the
// GPU target is a grid- or block-stride loop, so one block computes the whole launch; the
// shared-memory trees run with real barriers (fibers, below). GEMM steps go to the CPU BLAS.
// It checks what the GPU target computes, op by op, on machines without a GPU; it says
// nothing about speed, PTX or the driver (the ptxas test and the gpu-labelled tests do).
#include "CodeGen/GpuFunction.h"
#include "CodeGen/NvptxKernels.h"
#include "CodeGen/Optimize.h"
#include "adjoint_runtime.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/TargetParser/Host.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ucontext.h>

namespace adjoint {

namespace {

using nvptx::kBlock;

// A block's kBlock threads as fibers (ucontext) on the calling thread: each runs until it
// reaches a barrier or returns, round-robin, so a barrier is one pass over the fibers (every
// kernel of the target reaches its barriers uniformly). Far cheaper than kBlock OS threads on a
// small machine, and deterministic.
class FiberBlock {
public:
  FiberBlock() : ctx_(kBlock), stacks_((size_t)kBlock * kStack), done_(kBlock) {}
  void launch(void (*fn)(void **), void **args) {
    fn_ = fn;
    args_ = args;
    for (int i = 0; i < kBlock; ++i) {
      getcontext(&ctx_[i]);
      ctx_[i].uc_stack.ss_sp = stacks_.data() + (size_t)i * kStack;
      ctx_[i].uc_stack.ss_size = kStack;
      ctx_[i].uc_link = &main_;
      makecontext(&ctx_[i], (void (*)())&FiberBlock::entry, 0);
      done_[i] = false;
    }
    for (int live = kBlock; live > 0;) {
      live = 0;
      for (int i = 0; i < kBlock; ++i) {
        if (done_[i])
          continue;
        current_ = i;
        swapcontext(&main_, &ctx_[i]);
        live += !done_[i];
      }
    }
  }
  int tid() const { return current_; }
  void barrier() { swapcontext(&ctx_[current_], &main_); }
  static FiberBlock *active;

private:
  static constexpr size_t kStack = 64 * 1024;
  static void entry() {
    FiberBlock *b = active;
    b->fn_(b->args_);
    b->done_[b->current_] = true;
  }
  ucontext_t main_;
  std::vector<ucontext_t> ctx_;
  std::vector<char> stacks_;
  std::vector<char> done_;
  int current_ = 0;
  void (*fn_)(void **) = nullptr;
  void **args_ = nullptr;
};
FiberBlock *FiberBlock::active = nullptr;

extern "C" int32_t adj_emu_tid() { return FiberBlock::active->tid(); }
extern "C" void adj_emu_barrier() { FiberBlock::active->barrier(); }

// One block for all emulated launches of the process, one launch at a time.
void launchBlock(void (*fn)(void **), void **args) {
  static std::mutex m;
  static FiberBlock block;
  std::lock_guard<std::mutex> l(m);
  FiberBlock::active = &block;
  block.launch(fn, args);
}

template <typename T> T unwrap(llvm::Expected<T> v, const char *what) {
  if (!v)
    fail("GPU emulator: ", what, ": ", llvm::toString(v.takeError()));
  return std::move(*v);
}
void unwrap(llvm::Error e, const char *what) {
  if (e)
    fail("GPU emulator: ", what, ": ", llvm::toString(std::move(e)));
}

// The kernels made host code: special registers and barriers to the pool's, every launch one
// block; a trampoline `<kernel>.emu(void **args)` per kernel.
void retargetToHost(llvm::Module &m, const gpu::Plan &plan) {
  nvptx::defineDeviceRuntime(m);
  llvm::LLVMContext &c = m.getContext();
  auto *i32 = llvm::Type::getInt32Ty(c);
  llvm::FunctionCallee tid = m.getOrInsertFunction("adj_emu_tid", llvm::FunctionType::get(i32, false));
  llvm::FunctionCallee bar = m.getOrInsertFunction("adj_emu_barrier", llvm::FunctionType::get(llvm::Type::getVoidTy(c), false));
  std::vector<llvm::CallInst *> calls;
  for (llvm::Function &f : m)
    for (llvm::BasicBlock &bb : f)
      for (llvm::Instruction &i : bb)
        if (auto *call = llvm::dyn_cast<llvm::IntrinsicInst>(&i))
          calls.push_back(call);
  for (llvm::CallInst *call : calls) {
    llvm::IRBuilder<> b(call);
    llvm::Value *r = nullptr;
    switch (call->getCalledFunction()->getIntrinsicID()) {
    case llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x: r = b.CreateCall(tid); break;
    case llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x: r = b.getInt32(0); break;
    case llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_x: r = b.getInt32(1); break;
    case llvm::Intrinsic::nvvm_read_ptx_sreg_ntid_x: r = b.getInt32(kBlock); break;
    case llvm::Intrinsic::nvvm_barrier0:
      b.CreateCall(bar);
      call->eraseFromParent();
      continue;
    default: continue;
    }
    call->replaceAllUsesWith(r);
    call->eraseFromParent();
  }
  if (llvm::NamedMDNode *md = m.getNamedMetadata("nvvm.annotations"))
    m.eraseNamedMetadata(md);
  for (llvm::Function &f : m) {
    f.removeFnAttr("target-cpu");
    f.removeFnAttr("target-features");
  }
  auto *ptr = llvm::PointerType::get(c, 0);
  for (const gpu::Step &s : plan.steps) {
    if (s.kind != gpu::Step::Kind::Launch || m.getFunction(s.launch.kernel + ".emu"))
      continue;
    llvm::Function *k = m.getFunction(s.launch.kernel);
    if (!k)
      fail("internal error: kernel ", s.launch.kernel, " is not in the module");
    auto *t = llvm::Function::Create(llvm::FunctionType::get(llvm::Type::getVoidTy(c), {ptr}, false),
                                     llvm::Function::ExternalLinkage, s.launch.kernel + ".emu", m);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(c, "entry", t));
    std::vector<llvm::Value *> args;
    for (unsigned i = 0; i < k->arg_size(); ++i)
      args.push_back(b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, t->getArg(0), i)));
    b.CreateCall(k, args);
    b.CreateRetVoid();
  }
}

class EmulatedDevice : public GpuDevice {
public:
  EmulatedDevice(const Function &fn, const GpuOptions &opts, gpu::Plan &plan) {
    std::unique_ptr<NvptxTarget> gpuTarget = nvptx::gpuTarget(opts);
    llvm::LLVMContext ctx;
    llvm::Module m(fn.name(), ctx);
    plan = nvptx::lowerForGpu(fn, m, *gpuTarget, opts);
    plan_ = plan;
    retargetToHost(m, plan_);
    TargetOptions host;
    host.optLevel = 2;
    std::unique_ptr<Target> cpu = createTarget(host);
    cpu->configureModule(m);
    for (llvm::Function &f : m)
      if (!f.isDeclaration())
        cpu->configureFunction(f);
    optimizeModule(m, *cpu);
    std::string object = emitMachineCode(m, *cpu, /*assembly=*/false);

    auto jtmb = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host");
    jit_ = unwrap(llvm::orc::LLJITBuilder()
                      .setJITTargetMachineBuilder(std::move(jtmb))
                      .setObjectLinkingLayerCreator([](llvm::orc::ExecutionSession &es, const llvm::Triple &) {
                        return std::make_unique<llvm::orc::ObjectLinkingLayer>(es);
                      })
                      .create(),
                  "creating the JIT");
    llvm::orc::JITDylib &main = jit_->getMainJITDylib();
    llvm::orc::SymbolMap symbols;
    symbols[jit_->mangleAndIntern("adj_emu_tid")] = {llvm::orc::ExecutorAddr::fromPtr(&adj_emu_tid),
                                                     llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    symbols[jit_->mangleAndIntern("adj_emu_barrier")] = {llvm::orc::ExecutorAddr::fromPtr(&adj_emu_barrier),
                                                         llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    unwrap(main.define(llvm::orc::absoluteSymbols(std::move(symbols))), "defining symbols");
    main.addGenerator(unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                                 jit_->getDataLayout().getGlobalPrefix()),
                             "searching the process for symbols"));
    unwrap(jit_->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(object, fn.name() + ".o")), "adding the object");
    for (const gpu::Step &s : plan_.steps)
      kernels_.push_back(s.kind == gpu::Step::Kind::Launch
                             ? unwrap(jit_->lookup(s.launch.kernel + ".emu"), "finding a kernel").toPtr<void (*)(void **)>()
                             : nullptr);
    error_ = unwrap(jit_->lookup(gpu::Plan::kErrorSymbol), "finding the error record").toPtr<int64_t *>();

    int64_t top = 0;
    offsets_.assign(plan_.slots.size(), 0);
    for (size_t i = 0; i < plan_.slots.size(); ++i)
      if (plan_.slots[i].inPlaceOf < 0) {
        offsets_[i] = top;
        top += (std::max<int64_t>(plan_.slots[i].bytes, 1) + 255) / 256 * 256;
      }
    for (size_t i = 0; i < plan_.slots.size(); ++i)
      if (plan_.slots[i].inPlaceOf >= 0)
        offsets_[i] = offsets_[(size_t)plan_.slots[i].inPlaceOf];
    constOffset_ = top;
    top += ((int64_t)plan_.constants.size() + 256) / 256 * 256;
    arena_.assign((size_t)top + 256, 0);
    if (!plan_.constants.empty()) // data() of an empty vector may be null
      std::memcpy(base() + constOffset_, plan_.constants.data(), plan_.constants.size());
  }

  void upload(int slot, const void *src, int64_t bytes) override {
    check(slot >= 0 && slot < (int)plan_.slots.size() && bytes <= plan_.slots[(size_t)slot].bytes,
          "GPU emulator: upload out of range");
    std::memcpy(base() + offsets_[(size_t)slot], src, (size_t)bytes);
  }
  void download(int slot, void *dst, int64_t bytes) override {
    check(slot >= 0 && slot < (int)plan_.slots.size() && bytes <= plan_.slots[(size_t)slot].bytes,
          "GPU emulator: download out of range");
    std::memcpy(dst, base() + offsets_[(size_t)slot], (size_t)bytes);
  }
  void run() override {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const gpu::Step &s = plan_.steps[i];
      switch (s.kind) {
      case gpu::Step::Kind::Launch: {
        std::vector<void *> args;
        for (const gpu::BufferRef &r : s.launch.args)
          args.push_back(address(r));
        launchBlock(kernels_[i], args.data());
        break;
      }
      case gpu::Step::Kind::Gemm: {
        const gpu::Gemm &g = s.gemm;
        const int64_t es = g.f64 ? 8 : 4;
        for (int64_t b = 0; b < g.batch; ++b) {
          uint8_t *A = address(g.a) + b * g.strideA * es, *B = address(g.b) + b * g.strideB * es,
                  *C = address(g.c) + b * g.strideC * es;
          if (g.f64)
            adj_dgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, (const double *)A, g.lda, (const double *)B, g.ldb,
                      g.beta, (double *)C, g.ldc);
          else
            adj_sgemm(g.transA, g.transB, g.m, g.n, g.k, (float)g.alpha, (const float *)A, g.lda, (const float *)B,
                      g.ldb, (float)g.beta, (float *)C, g.ldc);
        }
        break;
      }
      case gpu::Step::Kind::Copy:
        std::memmove(address(s.copy.dst), address(s.copy.src), (size_t)s.copy.bytes);
        break;
      }
    }
    lastMs_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (error_[0] != 0) {
      size_t site = (size_t)(error_[0] - 1);
      int64_t v[3] = {error_[1], error_[2], error_[3]};
      std::memset(error_, 0, 4 * sizeof(int64_t));
      std::string msg = site < plan_.errorMessages.size() ? plan_.errorMessages[site] : "error";
      std::string out;
      for (size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] == '{' && i + 2 < msg.size() && msg[i + 2] == '}' && msg[i + 1] >= '0' && msg[i + 1] <= '2') {
          out += std::to_string(v[msg[i + 1] - '0']);
          i += 2;
        } else {
          out += msg[i];
        }
      }
      fail(out);
    }
  }
  void copySlot(int dst, int src, int64_t bytes) override {
    std::memmove(base() + offsets_.at((size_t)dst), base() + offsets_.at((size_t)src), (size_t)bytes);
  }
  double lastRunMs() const override { return lastMs_; }
  std::string describe() const override { return "host emulator of the GPU target"; }

private:
  uint8_t *base() { return reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(arena_.data()) + 255) / 256 * 256); }
  uint8_t *address(const gpu::BufferRef &r) {
    return base() + (r.slot == gpu::BufferRef::kConstants ? constOffset_ : offsets_.at((size_t)r.slot)) + r.offset;
  }
  gpu::Plan plan_;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::vector<void (*)(void **)> kernels_;
  int64_t *error_ = nullptr;
  std::vector<int64_t> offsets_;
  int64_t constOffset_ = 0;
  std::vector<uint8_t> arena_;
  double lastMs_ = 0;
};

} // namespace

std::unique_ptr<GpuDevice> createEmulatedDevice(const Function &fn, const GpuOptions &opts, gpu::Plan &plan) {
  return std::make_unique<EmulatedDevice>(fn, opts, plan);
}

} // namespace adjoint
