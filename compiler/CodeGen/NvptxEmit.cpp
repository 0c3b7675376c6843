// The last mile of the NVPTX target: what the shared scalar code calls is given device meaning
// (libm and llvm.exp/llvm.log become libdevice's __nv_* functions, adj_ipow is defined in the
// module, adj_report_error records the first report in the global adj_gpu_error that the runtime
// reads after each step), libdevice is linked (only what is used), everything but the kernels
// is internalized, and the module is optimized at the target's level and printed as PTX.
#include "CodeGen/NvptxKernels.h"
#include "CodeGen/Optimize.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>

#include <set>

namespace adjoint::nvptx {

namespace {

// libm (and the exp/log intrinsics, which NVPTX cannot select in double) to libdevice.
const std::map<std::string, std::string> &mathNames() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> r;
    for (const char *f : {"exp", "log", "tanh", "erf", "pow", "expm1", "log1p", "sqrt", "sin",
                          "cos", "atan", "fabs", "floor", "ceil"}) {
      r[f] = std::string("__nv_") + f;
      r[std::string(f) + "f"] = std::string("__nv_") + f + "f";
    }
    r["llvm.exp.f32"] = "__nv_expf";
    r["llvm.exp.f64"] = "__nv_exp";
    r["llvm.log.f32"] = "__nv_logf";
    r["llvm.log.f64"] = "__nv_log";
    return r;
  }();
  return m;
}

// Calls of `from` become calls of the libdevice function `to` (same type).
void redirect(llvm::Module &m, llvm::Function *from, const std::string &to) {
  llvm::FunctionCallee callee = m.getOrInsertFunction(to, from->getFunctionType());
  if (auto *f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    f->setDoesNotAccessMemory();
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::WillReturn);
  }
  std::vector<llvm::CallInst *> calls;
  for (llvm::User *u : from->users())
    if (auto *c = llvm::dyn_cast<llvm::CallInst>(u))
      calls.push_back(c);
  for (llvm::CallInst *c : calls) {
    llvm::IRBuilder<> b(c);
    std::vector<llvm::Value *> args(c->arg_begin(), c->arg_end());
    llvm::CallInst *n = b.CreateCall(callee, args);
    c->replaceAllUsesWith(n);
    c->eraseFromParent();
  }
  if (from->use_empty())
    from->eraseFromParent();
}

void defineIpow(llvm::Module &m) {
  llvm::Function *f = m.getFunction("adj_ipow");
  if (!f || !f->isDeclaration())
    return;
  // As runtime/Scalar.cpp: square-and-multiply on unsigned 64-bit (wrapping).
  llvm::LLVMContext &c = m.getContext();
  f->setLinkage(llvm::GlobalValue::InternalLinkage);
  auto *entry = llvm::BasicBlock::Create(c, "entry", f);
  auto *loop = llvm::BasicBlock::Create(c, "loop", f);
  auto *done = llvm::BasicBlock::Create(c, "done", f);
  llvm::IRBuilder<> b(entry);
  b.CreateCondBr(b.CreateICmpEQ(f->getArg(1), b.getInt64(0)), done, loop);
  b.SetInsertPoint(loop);
  llvm::PHINode *r = b.CreatePHI(b.getInt64Ty(), 2), *x = b.CreatePHI(b.getInt64Ty(), 2),
                *n = b.CreatePHI(b.getInt64Ty(), 2);
  r->addIncoming(b.getInt64(1), entry);
  x->addIncoming(f->getArg(0), entry);
  n->addIncoming(f->getArg(1), entry);
  llvm::Value *odd = b.CreateICmpNE(b.CreateAnd(n, b.getInt64(1)), b.getInt64(0));
  llvm::Value *r2 = b.CreateSelect(odd, b.CreateMul(r, x), r);
  llvm::Value *x2 = b.CreateMul(x, x);
  llvm::Value *n2 = b.CreateLShr(n, b.getInt64(1));
  r->addIncoming(r2, loop);
  x->addIncoming(x2, loop);
  n->addIncoming(n2, loop);
  b.CreateCondBr(b.CreateICmpEQ(n2, b.getInt64(0)), done, loop);
  b.SetInsertPoint(done);
  llvm::PHINode *res = b.CreatePHI(b.getInt64Ty(), 2);
  res->addIncoming(b.getInt64(1), entry);
  res->addIncoming(r2, loop);
  b.CreateRet(res);
}

void defineReportError(llvm::Module &m) {
  llvm::LLVMContext &c = m.getContext();
  auto *i64 = llvm::Type::getInt64Ty(c);
  auto *type = llvm::ArrayType::get(i64, 4);
  auto *g = new llvm::GlobalVariable(m, type, false, llvm::GlobalValue::ExternalLinkage,
                                     llvm::ConstantAggregateZero::get(type), gpu::Plan::kErrorSymbol,
                                     nullptr, llvm::GlobalValue::NotThreadLocal, /*AddressSpace=*/1);
  llvm::Function *f = m.getFunction("adj_report_error");
  if (!f || !f->isDeclaration())
    return;
  f->setLinkage(llvm::GlobalValue::InternalLinkage);
  auto *entry = llvm::BasicBlock::Create(c, "entry", f);
  auto *first = llvm::BasicBlock::Create(c, "first", f);
  auto *done = llvm::BasicBlock::Create(c, "done", f);
  llvm::IRBuilder<> b(entry);
  auto slot = [&](int i) { return b.CreateConstInBoundsGEP2_64(type, g, 0, i); };
  llvm::Value *site = b.CreateAdd(b.CreateSExt(f->getArg(0), i64), b.getInt64(1));
  // The first report wins; later ones (other threads, other rows) are dropped as on the CPU.
  auto *cas = b.CreateAtomicCmpXchg(slot(0), b.getInt64(0), site, llvm::MaybeAlign(8),
                                    llvm::AtomicOrdering::Monotonic, llvm::AtomicOrdering::Monotonic);
  b.CreateCondBr(b.CreateExtractValue(cas, 1), first, done);
  b.SetInsertPoint(first);
  for (int i = 0; i < 3; ++i)
    b.CreateStore(f->getArg(i + 1), slot(i + 1));
  b.CreateBr(done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
}

std::set<llvm::Function *> kernels(llvm::Module &m) {
  std::set<llvm::Function *> r;
  if (llvm::NamedMDNode *md = m.getNamedMetadata("nvvm.annotations"))
    for (llvm::MDNode *n : md->operands())
      if (n->getNumOperands() == 3)
        if (auto *s = llvm::dyn_cast<llvm::MDString>(n->getOperand(1)); s && s->getString() == "kernel")
          if (auto *v = llvm::dyn_cast_or_null<llvm::ValueAsMetadata>(n->getOperand(0).get()))
            if (auto *f = llvm::dyn_cast<llvm::Function>(v->getValue()))
              r.insert(f);
  return r;
}

void linkLibdevice(llvm::Module &m, const std::string &path) {
  bool needed = false;
  for (llvm::Function &f : m)
    needed |= f.isDeclaration() && f.getName().starts_with("__nv_");
  if (!needed)
    return;
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    fail("libdevice '", path, "' cannot be read (", buf.getError().message(),
         "): the GPU code needs its math functions; set ADJOINT_LIBDEVICE or install the CUDA toolkit");
  auto lib = llvm::parseBitcodeFile(**buf, m.getContext());
  if (!lib) {
    std::string msg = llvm::toString(lib.takeError());
    fail("libdevice '", path, "' is not LLVM bitcode: ", msg);
  }
  (*lib)->setTargetTriple(m.getTargetTriple());
  (*lib)->setDataLayout(m.getDataLayout());
  if (llvm::Linker::linkModules(m, std::move(*lib), llvm::Linker::Flags::LinkOnlyNeeded))
    fail("linking libdevice '", path, "' into the GPU module failed");
}

} // namespace

void defineDeviceRuntime(llvm::Module &m) {
  defineIpow(m);
  defineReportError(m);
}

std::string finishModule(llvm::Module &m, const Target &target, const std::string &libdevice) {
  defineDeviceRuntime(m);
  std::vector<std::pair<llvm::Function *, std::string>> redirects;
  for (llvm::Function &f : m) {
    auto it = mathNames().find(f.getName().str());
    if (f.isDeclaration() && it != mathNames().end())
      redirects.push_back({&f, it->second});
  }
  for (auto &[f, to] : redirects)
    redirect(m, f, to);
  for (llvm::Function &f : m)
    if (f.isDeclaration() && !f.isIntrinsic() && !f.getName().starts_with("__nv_"))
      fail("internal error: the GPU code calls '", f.getName().str(), "', which has no device version");
  linkLibdevice(m, libdevice);
  // Full-precision math (libdevice's __nvvm_reflect("__CUDA_FTZ") reads this): denormals kept.
  m.addModuleFlag(llvm::Module::Override, "nvvm-reflect-ftz", (uint32_t)0);
  std::set<llvm::Function *> entry = kernels(m);
  for (llvm::Function &f : m)
    if (!f.isDeclaration() && !entry.count(&f))
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(m, &os))
    fail("internal error: invalid GPU module: ", os.str());
  optimizeModule(m, target);
  return emitMachineCode(m, target, /*assembly=*/true);
}

} // namespace adjoint::nvptx
