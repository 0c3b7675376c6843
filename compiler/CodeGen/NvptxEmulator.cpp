// The host emulator of GPU plans, its LLVM half: the GPU lowering's module (the kernels exactly
// as they go to PTX, before libdevice) compiled for this CPU, with the PTX special registers and
// barriers turned into calls of the fiber block of runtime/cuda/EmulatedProgram.cpp, which runs
// the plan (each launch one block; GEMMs on the CPU BLAS). Here: JIT-compiled for tests and
// tools (createEmulatedDevice), or compiled to an object for adjoint-compile --target=cuda
// trainers (GpuAotBuilder). It checks what the GPU target computes, op by op, on machines
// without a GPU; it says nothing about speed, PTX or the driver (the ptxas test and the
// gpu-labelled tests do).
#include "CodeGen/GpuFunction.h"
#include "CodeGen/NvptxKernels.h"
#include "CodeGen/Optimize.h"
#include "cuda/EmulatedProgram.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Linker/Linker.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <stdexcept>

namespace adjoint {

namespace {

using nvptx::kBlock;
static_assert(kBlock == gpu::kEmulatedBlock, "the emulator's block is the target's");

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

// The module made host code for this CPU (optimized as the JIT optimizes, at -O2).
std::unique_ptr<Target> hostTarget() {
  TargetOptions host;
  host.optLevel = 2;
  return createTarget(host);
}

void compileForHost(llvm::Module &m, const Target &cpu) {
  cpu.configureModule(m);
  for (llvm::Function &f : m)
    if (!f.isDeclaration())
      cpu.configureFunction(f);
  optimizeModule(m, cpu);
}

template <typename F> auto rethrow(F &&f) {
  try {
    return f();
  } catch (const std::runtime_error &e) {
    fail(e.what());
  }
}

class EmulatedDevice : public GpuDevice {
public:
  EmulatedDevice(const Function &fn, const GpuOptions &opts, gpu::Plan &plan) {
    std::unique_ptr<NvptxTarget> gpuTarget = nvptx::gpuTarget(opts);
    llvm::LLVMContext ctx;
    llvm::Module m(fn.name(), ctx);
    plan = nvptx::lowerForGpu(fn, m, *gpuTarget, opts);
    retargetToHost(m, plan);
    std::unique_ptr<Target> cpu = hostTarget();
    compileForHost(m, *cpu);
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
    std::vector<gpu::HostKernel> kernels;
    for (const gpu::Step &s : plan.steps)
      kernels.push_back(s.kind == gpu::Step::Kind::Launch
                            ? unwrap(jit_->lookup(s.launch.kernel + ".emu"), "finding a kernel").toPtr<gpu::HostKernel>()
                            : nullptr);
    auto *error = unwrap(jit_->lookup(gpu::Plan::kErrorSymbol), "finding the error record").toPtr<int64_t *>();
    program_ = rethrow([&] { return std::make_unique<gpu::EmulatedProgram>(plan, std::move(kernels), error); });
  }

  void upload(int slot, const void *src, int64_t bytes) override {
    rethrow([&] { program_->upload(slot, src, bytes); });
  }
  void download(int slot, void *dst, int64_t bytes) override {
    rethrow([&] { program_->download(slot, dst, bytes); });
  }
  void run() override { rethrow([&] { program_->run(); }); }
  void copySlot(int dst, int src, int64_t bytes) override {
    rethrow([&] { program_->copySlot(dst, src, bytes); });
  }
  void copyFrom(int dst, GpuDevice &src, int srcSlot, int64_t bytes) override {
    auto *other = dynamic_cast<EmulatedDevice *>(&src);
    check(other != nullptr, "internal error: a device-to-device copy between the emulator and another device");
    rethrow([&] { program_->copyFrom(dst, *other->program_, srcSlot, bytes); });
  }
  double lastRunMs() const override { return program_->lastRunMs(); }
  std::string describe() const override { return "host emulator of the GPU target"; }

private:
  std::unique_ptr<llvm::orc::LLJIT> jit_; // owns the kernels program_ runs: destroyed after it
  std::unique_ptr<gpu::EmulatedProgram> program_;
};

} // namespace

std::unique_ptr<GpuDevice> createEmulatedDevice(const Function &fn, const GpuOptions &opts, gpu::Plan &plan) {
  return std::make_unique<EmulatedDevice>(fn, opts, plan);
}


struct GpuAotBuilder::Impl {
  GpuOptions opts;
  std::unique_ptr<NvptxTarget> gpu;
  std::unique_ptr<Target> cpu;
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> host;
  std::vector<std::string> tables, errors;
};

GpuAotBuilder::GpuAotBuilder(const GpuOptions &opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = opts;
  impl_->gpu = nvptx::gpuTarget(opts);
  impl_->cpu = hostTarget();
  impl_->host = std::make_unique<llvm::Module>("adjoint-aot-emulator", impl_->ctx);
  impl_->cpu->configureModule(*impl_->host);
}

GpuAotBuilder::~GpuAotBuilder() = default;

gpu::Plan GpuAotBuilder::add(const Function &fn) {
  Impl &d = *impl_;
  check(d.host != nullptr, "internal error: GpuAotBuilder used after finishHostObject()");
  auto m = std::make_unique<llvm::Module>(fn.name(), d.ctx);
  gpu::Plan plan = nvptx::lowerForGpu(fn, *m, *d.gpu, d.opts);
  std::unique_ptr<llvm::Module> hostM = llvm::CloneModule(*m);
  plan.ptx = nvptx::finishModule(*m, *d.gpu, libdevicePath(d.opts));

  // As createEmulatedDevice compiles it, so the trainer's kernels are the emulator's.
  retargetToHost(*hostM, plan);
  compileForHost(*hostM, *d.cpu);
  std::string index = std::to_string(d.tables.size());
  auto *ptr = llvm::PointerType::get(d.ctx, 0);
  std::vector<llvm::Constant *> kernels;
  for (const gpu::Step &s : plan.steps) {
    llvm::Function *k = s.kind == gpu::Step::Kind::Launch ? hostM->getFunction(s.launch.kernel + ".emu") : nullptr;
    check(k || s.kind != gpu::Step::Kind::Launch, "internal error: no host kernel ", s.launch.kernel, " for @",
          fn.name());
    kernels.push_back(k ? (llvm::Constant *)k : llvm::ConstantPointerNull::get(ptr));
  }
  auto *type = llvm::ArrayType::get(ptr, kernels.size());
  std::string table = "adj_aot_emu_k" + index, error = "adj_aot_emu_e" + index;
  new llvm::GlobalVariable(*hostM, type, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(type, kernels), table);
  llvm::GlobalVariable *record = hostM->getGlobalVariable(gpu::Plan::kErrorSymbol);
  check(record != nullptr, "internal error: @", fn.name(), " has no error record");
  record->setName(error);
  // Each step's code is private to it: only its tables are seen by the others' link.
  for (llvm::GlobalValue &g : hostM->global_values())
    if (!g.isDeclaration() && g.getName() != table && g.getName() != error)
      g.setLinkage(llvm::GlobalValue::InternalLinkage);
  check(!llvm::Linker::linkModules(*d.host, std::move(hostM)), "linking the emulated kernels of @", fn.name(),
        " failed");
  d.tables.push_back(table);
  d.errors.push_back(error);
  return plan;
}

std::string GpuAotBuilder::finishHostObject() {
  Impl &d = *impl_;
  check(d.host != nullptr, "internal error: GpuAotBuilder::finishHostObject() called twice");
  llvm::Module &m = *d.host;
  auto *ptr = llvm::PointerType::get(d.ctx, 0);
  auto *i64 = llvm::Type::getInt64Ty(d.ctx);
  std::vector<llvm::Constant *> tables, errors;
  for (size_t i = 0; i < d.tables.size(); ++i) {
    tables.push_back(m.getGlobalVariable(d.tables[i]));
    errors.push_back(llvm::ConstantExpr::getPointerBitCastOrAddrSpaceCast(m.getGlobalVariable(d.errors[i]), ptr));
  }
  auto *type = llvm::ArrayType::get(ptr, tables.size());
  new llvm::GlobalVariable(m, type, true, llvm::GlobalValue::ExternalLinkage, llvm::ConstantArray::get(type, tables),
                           "adj_aot_emu_kernels");
  new llvm::GlobalVariable(m, type, true, llvm::GlobalValue::ExternalLinkage, llvm::ConstantArray::get(type, errors),
                           "adj_aot_emu_errors");
  new llvm::GlobalVariable(m, i64, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, tables.size()), "adj_aot_emu_count");
  std::string out = emitMachineCode(m, *d.cpu, /*assembly=*/false);
  d.host.reset();
  return out;
}

} // namespace adjoint
