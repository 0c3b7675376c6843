#include "CodeGen/LoweringContext.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>

#include <cmath>

namespace adjoint {

llvm::Type *CodegenContext::storageType(DType t) const {
  switch (t) {
  case DType::F32: return llvm::Type::getFloatTy(ctx);
  case DType::F64: return llvm::Type::getDoubleTy(ctx);
  case DType::I64: return llvm::Type::getInt64Ty(ctx);
  case DType::I32: return llvm::Type::getInt32Ty(ctx);
  case DType::Bool: return llvm::Type::getInt8Ty(ctx);
  }
  return nullptr;
}

llvm::Type *CodegenContext::scalarType(DType t) const {
  return t == DType::Bool ? llvm::Type::getInt1Ty(ctx) : storageType(t);
}

llvm::Value *CodegenContext::elementPtr(Builder &b, DType t, llvm::Value *base,
                                        llvm::Value *index) const {
  return b.CreateInBoundsGEP(storageType(t), base, index);
}

llvm::Value *CodegenContext::load(Builder &b, DType t, llvm::Value *base,
                                  llvm::Value *index) const {
  llvm::Value *v = b.CreateLoad(storageType(t), elementPtr(b, t, base, index));
  // Bool bytes come from user tensors too: any non-zero byte is true.
  return t == DType::Bool ? b.CreateICmpNE(v, b.getInt8(0)) : v;
}

void CodegenContext::store(Builder &b, DType t, llvm::Value *v, llvm::Value *base,
                           llvm::Value *index) const {
  if (t == DType::Bool)
    v = b.CreateZExt(v, b.getInt8Ty());
  b.CreateStore(v, elementPtr(b, t, base, index));
}

llvm::Function *CodegenContext::createFunction(const std::string &name, llvm::FunctionType *type,
                                               bool exported) const {
  auto *f = llvm::Function::Create(
      type, exported ? llvm::Function::ExternalLinkage : llvm::Function::InternalLinkage, name,
      module);
  f->addFnAttr(llvm::Attribute::NoUnwind);
  target.configureFunction(*f);
  return f;
}

llvm::FunctionCallee CodegenContext::runtime(const std::string &name) const {
  llvm::Type *v = llvm::Type::getVoidTy(ctx), *i32t = i32(), *i64t = i64(), *p = ptr();
  llvm::Type *f32 = llvm::Type::getFloatTy(ctx), *f64 = llvm::Type::getDoubleTy(ctx);
  llvm::FunctionType *type = nullptr;
  if (name == "adj_parallel_for")
    type = llvm::FunctionType::get(v, {p, p, i64t, i64t}, false);
  else if (name == "adj_sgemm")
    type = llvm::FunctionType::get(
        v, {i32t, i32t, i64t, i64t, i64t, f32, p, i64t, p, i64t, f32, p, i64t}, false);
  else if (name == "adj_dgemm")
    type = llvm::FunctionType::get(
        v, {i32t, i32t, i64t, i64t, i64t, f64, p, i64t, p, i64t, f64, p, i64t}, false);
  else if (name == "adj_ipow")
    type = llvm::FunctionType::get(i64t, {i64t, i64t}, false);
  else if (name == "adj_dropout_mask")
    type = llvm::FunctionType::get(v, {p, i64t, f64, i64t}, false); // Dropout.cpp
  else if (name == "adj_report_error")
    type = llvm::FunctionType::get(v, {i32t, i64t, i64t, i64t}, false);
  else if (name.rfind("adj_conv", 0) == 0 || name.rfind("adj_maxpool", 0) == 0 ||
           name.rfind("adj_avgpool", 0) == 0 || name.rfind("adj_gavgpool", 0) == 0)
    type = llvm::FunctionType::get(v, {p, p, p, p, p, p, i64t, i64t}, false); // ConvPool.cpp
  else
    fail("internal error: unknown runtime function '", name, "'");
  llvm::FunctionCallee c = module.getOrInsertFunction(name, type);
  if (auto *f = llvm::dyn_cast<llvm::Function>(c.getCallee())) {
    f->addFnAttr(llvm::Attribute::NoUnwind);
    if (name == "adj_ipow") {
      f->setDoesNotAccessMemory();
      f->addFnAttr(llvm::Attribute::WillReturn);
    }
  }
  return c;
}

llvm::FunctionCallee CodegenContext::libm(const std::string &name, llvm::Type *t,
                                          int arity) const {
  std::vector<llvm::Type *> params(arity, t);
  llvm::FunctionCallee c = module.getOrInsertFunction(name, llvm::FunctionType::get(t, params, false));
  if (auto *f = llvm::dyn_cast<llvm::Function>(c.getCallee())) {
    // As with -fno-math-errno: the result depends on the arguments only.
    f->setDoesNotAccessMemory();
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::WillReturn);
  }
  return c;
}

void CodegenContext::copy(Builder &b, llvm::Value *dst, llvm::Value *src, int64_t bytes) const {
  if (bytes > 0 && dst != src)
    b.CreateMemCpy(dst, llvm::MaybeAlign(1), src, llvm::MaybeAlign(1), bytes);
}

llvm::GlobalVariable *CodegenContext::constantData(const Tensor &t, const std::string &name) const {
  llvm::StringRef bytes(reinterpret_cast<const char *>(t.bytes()), t.byteSize());
  llvm::Constant *init = llvm::ConstantDataArray::getRaw(bytes, t.byteSize(),
                                                         llvm::Type::getInt8Ty(ctx));
  auto *g = new llvm::GlobalVariable(module, init->getType(), /*isConstant=*/true,
                                     llvm::GlobalValue::PrivateLinkage, init, name);
  g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  g->setAlignment(llvm::Align(64));
  return g;
}

void CodegenContext::reportError(Builder &b, const std::string &message, llvm::Value *a,
                                 llvm::Value *c1, llvm::Value *c2) {
  int32_t site = (int32_t)errorMessages.size();
  errorMessages.push_back(message);
  b.CreateCall(runtime("adj_report_error"), {b.getInt32(site), a, c1, c2});
}

std::string CodegenContext::uniqueName(const std::string &stem) {
  int n = names_[stem]++;
  return n == 0 ? stem : stem + "." + std::to_string(n);
}

void OpEmitContext::parallelFor(
    int64_t n, double workPerIteration,
    const std::function<void(OpEmitContext &, llvm::Value *, llvm::Value *)> &body) {
  // The range function: this function's pointer parameters (same attributes) and [begin, end).
  std::vector<llvm::Type *> types(params_.size(), cg.ptr());
  types.push_back(cg.i64());
  types.push_back(cg.i64());
  auto *rangeType = llvm::FunctionType::get(b.getVoidTy(), types, false);
  llvm::Function *range = cg.createFunction(fn->getName().str() + ".range", rangeType);
  for (size_t i = 0; i < params_.size(); ++i)
    range->addParamAttrs(i, llvm::AttrBuilder(cg.ctx, fn->getAttributes().getParamAttrs(i)));
  {
    Builder rb(llvm::BasicBlock::Create(cg.ctx, "entry", range));
    OpEmitContext inner(cg, op, range, rb);
    auto remap = [&](llvm::Value *v) -> llvm::Value * {
      for (size_t i = 0; i < params_.size(); ++i)
        if (params_[i] == v)
          return range->getArg(i);
      return v; // null, or a constant (global data)
    };
    for (size_t i = 0; i < params_.size(); ++i)
      inner.params_.push_back(range->getArg(i));
    for (llvm::Value *v : operands)
      inner.operands.push_back(remap(v));
    for (llvm::Value *v : results)
      inner.results.push_back(remap(v));
    inner.scratch = remap(scratch);
    body(inner, range->getArg(params_.size()), range->getArg(params_.size() + 1));
    rb.CreateRetVoid();
  }

  std::vector<llvm::Value *> args(params_.begin(), params_.end());
  double work = (double)n * workPerIteration;
  if (work < kParallelWork || n < 2) {
    args.push_back(cg.i64c(0));
    args.push_back(cg.i64c(n));
    b.CreateCall(range, args);
    return;
  }
  // The task the pool calls: unpacks the pointers from ctx and calls the range function, whose
  // noalias parameters survive inlining as scoped alias metadata.
  auto *taskType = llvm::FunctionType::get(b.getVoidTy(), {cg.ptr(), cg.i64(), cg.i64()}, false);
  llvm::Function *task = cg.createFunction(fn->getName().str() + ".task", taskType);
  {
    Builder tb(llvm::BasicBlock::Create(cg.ctx, "entry", task));
    std::vector<llvm::Value *> targs;
    for (size_t i = 0; i < params_.size(); ++i)
      targs.push_back(tb.CreateLoad(cg.ptr(), tb.CreateConstInBoundsGEP1_64(cg.ptr(), task->getArg(0), i)));
    targs.push_back(task->getArg(1));
    targs.push_back(task->getArg(2));
    tb.CreateCall(range, targs);
    tb.CreateRetVoid();
  }
  llvm::Value *ctxArray = b.CreateAlloca(cg.ptr(), cg.i64c((int64_t)std::max<size_t>(params_.size(), 1)));
  for (size_t i = 0; i < params_.size(); ++i)
    b.CreateStore(params_[i], b.CreateConstInBoundsGEP1_64(cg.ptr(), ctxArray, i));
  int64_t grain = std::max<int64_t>(1, (int64_t)std::ceil(kParallelWork / std::max(workPerIteration, 1e-9)));
  b.CreateCall(cg.runtime("adj_parallel_for"), {task, ctxArray, cg.i64c(n), cg.i64c(grain)});
}

const LoweringRegistry &LoweringRegistry::instance() {
  static const LoweringRegistry r = [] {
    LoweringRegistry r;
    registerElementwiseLowerings(r);
    registerShapeLowerings(r);
    registerLinalgLowerings(r);
    registerReduceLowerings(r);
    registerKernelLowering(r);
    registerLossLowerings(r);
    registerConvPoolLowerings(r);
    registerNormLowerings(r);
    registerDataMovementLowerings(r);
    registerTrainingLowerings(r);
    return r;
  }();
  return r;
}

void LoweringRegistry::add(const std::string &domain, const std::string &name, OpLowering l) {
  table_[{domain, name}] = std::move(l);
}

const OpLowering *LoweringRegistry::find(const std::string &domain, const std::string &name) const {
  auto it = table_.find({domain, name});
  return it == table_.end() ? nullptr : &it->second;
}

std::vector<std::string> LoweringRegistry::names() const {
  std::vector<std::string> r;
  for (const auto &[key, l] : table_)
    r.push_back(key.first.empty() ? key.second : key.first + "." + key.second);
  return r;
}

AttrReader attrsOf(const Op &op) {
  const OpSchema *s = OpRegistry::instance().find(op);
  if (!s)
    fail(op.describe(), ": unknown op");
  return AttrReader(op, *s);
}

} // namespace adjoint
