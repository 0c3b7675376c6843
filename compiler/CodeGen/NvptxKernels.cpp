// Kernel building blocks of the NVPTX target: kernels as functions marked in nvvm.annotations,
// thread indices from the PTX special registers, grid-stride loops, and a shared-memory tree
// reduction used by every reduction-like kernel (reduce-*, softmax, losses).
#include "CodeGen/NvptxKernels.h"
#include "CodeGen/Loops.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/Metadata.h>

#include <cctype>
#include <cstring>

namespace adjoint::nvptx {

KernelFn GpuCodegen::kernel(const std::string &stem, const std::string &what,
                            const std::vector<gpu::BufferRef> &args, int64_t grid) {
  KernelFn k;
  std::vector<llvm::Type *> types(args.size(), cg.ptr());
  // PTX identifiers: letters, digits, '_' and '$' ('.' of kernel-body names is not one).
  std::string clean;
  for (char ch : stem)
    clean += std::isalnum((unsigned char)ch) || ch == '_' ? ch : '_';
  std::string name = cg.uniqueName(clean);
  k.fn = cg.createFunction(name, llvm::FunctionType::get(llvm::Type::getVoidTy(cg.ctx), types, false),
                           /*exported=*/true);
  // NVPTX takes kernels from nvvm.annotations; maxntid lets ptxas budget registers for kBlock.
  llvm::NamedMDNode *md = cg.module.getOrInsertNamedMetadata("nvvm.annotations");
  auto *i32 = llvm::Type::getInt32Ty(cg.ctx);
  md->addOperand(llvm::MDNode::get(cg.ctx, {llvm::ValueAsMetadata::get(k.fn),
                                            llvm::MDString::get(cg.ctx, "kernel"),
                                            llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(i32, 1))}));
  md->addOperand(llvm::MDNode::get(cg.ctx, {llvm::ValueAsMetadata::get(k.fn),
                                            llvm::MDString::get(cg.ctx, "maxntidx"),
                                            llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(i32, kBlock))}));
  for (size_t i = 0; i < args.size(); ++i)
    k.args.push_back(k.fn->getArg((unsigned)i));
  k.b = std::make_unique<Builder>(llvm::BasicBlock::Create(cg.ctx, "entry", k.fn));
  gpu::Step s;
  s.kind = gpu::Step::Kind::Launch;
  s.what = what;
  s.launch.kernel = name;
  s.launch.args = args;
  s.launch.grid = grid;
  s.launch.block = kBlock;
  plan.steps.push_back(std::move(s));
  return k;
}

void GpuCodegen::gemm(const std::string &what, const gpu::Gemm &g) {
  gpu::Step s;
  s.kind = gpu::Step::Kind::Gemm;
  s.what = what;
  s.gemm = g;
  plan.steps.push_back(std::move(s));
}

void GpuCodegen::copy(const std::string &what, gpu::BufferRef dst, gpu::BufferRef src, int64_t bytes) {
  if (bytes <= 0 || (dst.slot == src.slot && dst.offset == src.offset))
    return;
  gpu::Step s;
  s.kind = gpu::Step::Kind::Copy;
  s.what = what;
  s.copy = {dst, src, bytes};
  plan.steps.push_back(std::move(s));
}

gpu::BufferRef GpuCodegen::constant(const void *data, int64_t bytes) {
  std::vector<uint8_t> &c = plan.constants;
  c.resize((c.size() + 255) / 256 * 256);
  gpu::BufferRef r{gpu::BufferRef::kConstants, (int64_t)c.size()};
  c.resize(c.size() + (size_t)bytes);
  if (bytes > 0)
    std::memcpy(c.data() + r.offset, data, (size_t)bytes);
  return r;
}

namespace {
llvm::Value *sreg(Builder &b, llvm::Intrinsic::ID id) {
  llvm::Module *m = b.GetInsertBlock()->getModule();
  return b.CreateZExt(b.CreateCall(llvm::Intrinsic::getDeclaration(m, id)), b.getInt64Ty());
}

// for (i = start; i < n; i += step), with start and step run-time values.
void strided(Builder &b, llvm::Value *start, llvm::Value *step, int64_t n,
             const std::function<void(Builder &, llvm::Value *)> &body, const char *name) {
  llvm::Function *f = b.GetInsertBlock()->getParent();
  llvm::LLVMContext &c = b.getContext();
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(c, std::string(name) + ".loop", f);
  auto *exit = llvm::BasicBlock::Create(c, std::string(name) + ".end", f);
  llvm::Value *limit = b.getInt64(n);
  b.CreateCondBr(b.CreateICmpSLT(start, limit), loop, exit);
  b.SetInsertPoint(loop);
  llvm::PHINode *i = b.CreatePHI(b.getInt64Ty(), 2, name);
  i->addIncoming(start, pre);
  body(b, i);
  llvm::Value *next = b.CreateAdd(i, step, "", true, true);
  i->addIncoming(next, b.GetInsertBlock());
  b.CreateCondBr(b.CreateICmpSLT(next, limit), loop, exit);
  b.SetInsertPoint(exit);
}
} // namespace

llvm::Value *GpuCodegen::threadIdx(Builder &b) { return sreg(b, llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x); }
llvm::Value *GpuCodegen::blockIdx(Builder &b) { return sreg(b, llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x); }
llvm::Value *GpuCodegen::gridDim(Builder &b) { return sreg(b, llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_x); }

void GpuCodegen::gridStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body) {
  llvm::Value *start = b.CreateAdd(b.CreateMul(blockIdx(b), b.getInt64(kBlock)), threadIdx(b));
  llvm::Value *step = b.CreateMul(gridDim(b), b.getInt64(kBlock));
  strided(b, start, step, n, body, "gs");
}

void GpuCodegen::blockStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body) {
  strided(b, blockIdx(b), gridDim(b), n, body, "bs");
}

void GpuCodegen::threadStride(Builder &b, int64_t n, const std::function<void(Builder &, llvm::Value *)> &body) {
  strided(b, threadIdx(b), b.getInt64(kBlock), n, body, "ts");
}

void GpuCodegen::barrier(Builder &b) {
  b.CreateCall(llvm::Intrinsic::getDeclaration(&cg.module, llvm::Intrinsic::nvvm_barrier0));
}

void GpuCodegen::firstThread(Builder &b, const std::function<void(Builder &)> &body) {
  llvm::Function *f = b.GetInsertBlock()->getParent();
  auto *then = llvm::BasicBlock::Create(cg.ctx, "first", f);
  auto *next = llvm::BasicBlock::Create(cg.ctx, "first.end", f);
  b.CreateCondBr(b.CreateICmpEQ(threadIdx(b), b.getInt64(0)), then, next);
  b.SetInsertPoint(then);
  body(b);
  b.CreateBr(next);
  b.SetInsertPoint(next);
}

llvm::Value *GpuCodegen::blockReduce(
    Builder &b, llvm::Value *v,
    const std::function<llvm::Value *(Builder &, llvm::Value *, llvm::Value *)> &op) {
  auto *arrayType = llvm::ArrayType::get(b.getDoubleTy(), kBlock);
  if (!shared_)
    shared_ = new llvm::GlobalVariable(cg.module, arrayType, false, llvm::GlobalValue::InternalLinkage,
                                       llvm::UndefValue::get(arrayType), "adj_shared_reduce", nullptr,
                                       llvm::GlobalValue::NotThreadLocal, /*AddressSpace=*/3);
  llvm::Function *f = b.GetInsertBlock()->getParent();
  llvm::Value *tid = threadIdx(b);
  auto slot = [&](llvm::Value *i) { return b.CreateInBoundsGEP(arrayType, shared_, {b.getInt64(0), i}); };
  // The previous reduction of this block may still be reading the array.
  barrier(b);
  b.CreateStore(v, slot(tid));
  barrier(b);
  for (int s = kBlock / 2; s > 0; s /= 2) {
    auto *then = llvm::BasicBlock::Create(cg.ctx, "tree", f);
    auto *next = llvm::BasicBlock::Create(cg.ctx, "tree.end", f);
    b.CreateCondBr(b.CreateICmpULT(tid, b.getInt64(s)), then, next);
    b.SetInsertPoint(then);
    llvm::Value *other = b.CreateLoad(b.getDoubleTy(), slot(b.CreateAdd(tid, b.getInt64(s))));
    llvm::Value *mine = b.CreateLoad(b.getDoubleTy(), slot(tid));
    b.CreateStore(op(b, mine, other), slot(tid));
    b.CreateBr(next);
    b.SetInsertPoint(next);
    barrier(b);
  }
  return b.CreateLoad(b.getDoubleTy(), slot(b.getInt64(0)));
}

} // namespace adjoint::nvptx
