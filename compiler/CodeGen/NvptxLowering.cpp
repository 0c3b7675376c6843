// Lowering of a top-level function for the GPU: the CPU lowering's storage (Lowering.cpp: caller
// buffers, the memory plan's arena, temporaries above it) with device addresses instead of
// pointers, and its schedule with steps instead of calls:
//  - an elementwise op, or each stage of a fused kernel (as LowerKernel.cpp splits them), is one
//    kernel: a grid-stride loop over the flat output index, evaluating the tree of scalar
//    expressions the CPU uses (ScalarOps.cpp, through the LoweringRegistry) in registers;
//  - every other op goes to its emitter in NvptxOps.cpp (cuBLAS GEMMs, reductions, losses, conv);
//  - aliases and output copies are device copies.
#include "CodeGen/Elementwise.h"
#include "CodeGen/Loops.h"
#include "CodeGen/NvptxKernels.h"
#include "CodeGen/NvptxLowering.h"
#include "Transforms/MemoryPlan.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <cstdlib>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace adjoint {

namespace {

using namespace nvptx;
using gpu::BufferRef;

int64_t byteSize(const Value *v) { return numElements(v->shape()) * (int64_t)dtypeSize(v->dtype()); }
int64_t alignUp(int64_t n) { return (n + 255) / 256 * 256; }

const OpLowering *cpuLowering(const Op &op) { return LoweringRegistry::instance().find(op); }

bool isKind(const Op *op, OpLowering::Kind k) {
  const OpLowering *l = op ? cpuLowering(*op) : nullptr;
  return l && l->kind == k;
}
bool isConstant(const Value *v) { return isKind(v->definingOp(), OpLowering::Kind::Constant); }

const Function *kernelBody(const Op &op) {
  const Module *m = op.parent() ? op.parent()->module() : nullptr;
  std::string name = op.stringAttr("body", "");
  const Function *body = m ? m->find(name) : nullptr;
  if (!body)
    fail(op.describe(), ": body @", name, " is not a function of the module");
  return body;
}

void checkOp(const Op &op, const std::string &where, std::vector<std::string> &out) {
  std::string what = op.domain().empty() ? op.describe() : op.domain() + "." + op.describe();
  const OpLowering *l = cpuLowering(op);
  if (l && l->kind == OpLowering::Kind::Kernel) {
    const Function *body = kernelBody(op);
    for (const auto &inner : body->ops())
      checkOp(*inner, " (in kernel @" + body->name() + ")", out);
    return;
  }
  if (l && (l->kind == OpLowering::Kind::Elementwise || l->kind == OpLowering::Kind::Alias ||
            l->kind == OpLowering::Kind::Constant))
    return; // the CPU's scalar code, made device code by NvptxEmit.cpp
  auto it = gpuOpTable().find({op.domain(), op.opType()});
  if (it == gpuOpTable().end()) {
    out.push_back(what + where);
    return;
  }
  if (it->second.unsupported) {
    std::string why = it->second.unsupported(op);
    if (!why.empty())
      out.push_back(what + where + ": " + why);
  }
}

// Where a value's bytes are on the device.
struct Place {
  BufferRef ref;
  int64_t bytes = 0;
  bool overlaps(const Place &o) const {
    if (ref.slot != o.ref.slot || bytes == 0 || o.bytes == 0)
      return false;
    return ref.offset < o.ref.offset + o.bytes && o.ref.offset < ref.offset + bytes;
  }
  bool same(const Place &o) const { return ref.slot == o.ref.slot && ref.offset == o.ref.offset; }
};

// The operands an elementwise op reads per element (as LowerElementwise.cpp).
std::vector<size_t> elementOperands(const Op &op) {
  const OpLowering *l = cpuLowering(op);
  std::vector<size_t> r;
  if (l && l->kind == OpLowering::Kind::Elementwise && !l->elementOperands.empty()) {
    for (int i : l->elementOperands)
      r.push_back((size_t)i);
  } else if (l && l->kind == OpLowering::Kind::Alias) {
    r.push_back(0);
  } else {
    for (size_t i = 0; i < op.numOperands(); ++i)
      r.push_back(i);
  }
  return r;
}

llvm::Value *immediate(Builder &b, const Tensor &t) {
  switch (t.dtype()) {
  case DType::F32: return llvm::ConstantFP::get(b.getFloatTy(), t.data<float>()[0]);
  case DType::F64: return llvm::ConstantFP::get(b.getDoubleTy(), t.data<double>()[0]);
  case DType::I64: return b.getInt64((uint64_t)t.data<int64_t>()[0]);
  case DType::I32: return b.getInt32((uint32_t)t.data<int32_t>()[0]);
  case DType::Bool: return b.getInt1(t.data<bool>()[0]);
  }
  return nullptr;
}

class GpuLowering {
public:
  GpuLowering(const Function &fn, llvm::Module &m, const Target &target, const GpuOptions &opts)
      : fn_(fn), opts_(opts), g_(m, target) {}
  gpu::Plan run();

private:
  void addSlots();
  void assignWithPlan();
  void assignOwn();
  Place &placeOf(const Value *v);
  Place temp(int64_t bytes);
  void copyWhenComputed(const Value *v, const Place &dst);
  void computed(const Value *v);
  void emitOp(const Op &op, const std::string &stem);
  void emitNest(const std::string &name, const Op &owner, const Shape &domain,
                const std::vector<const Value *> &outputs);
  void lowerKernel(const Op &kernel, const std::string &stem);

  const Function &fn_;
  const GpuOptions &opts_;
  GpuCodegen g_;
  std::unordered_map<const Value *, int> argSlots_;
  std::unordered_map<const Value *, Place> place_;
  std::unordered_set<const Value *> computed_;
  std::unordered_map<const Value *, std::vector<Place>> pending_;
  int firstOutput_ = 0, workspaceSlot_ = 0;
  int64_t arenaBytes_ = 0, tempTop_ = 0, tempMax_ = 0;
};

void GpuLowering::addSlots() {
  auto &slots = g_.plan.slots;
  for (Value *v : fn_.inputs()) {
    argSlots_[v] = (int)slots.size();
    slots.push_back({v->name(), byteSize(v), false, -1});
  }
  for (Value *v : fn_.params()) {
    argSlots_[v] = (int)slots.size();
    slots.push_back({v->name(), byteSize(v), false, -1});
  }
  firstOutput_ = (int)slots.size();
  for (const auto &o : fn_.outputs())
    slots.push_back({o.name, byteSize(o.value), true, -1});
  workspaceSlot_ = (int)slots.size();
  slots.push_back({"workspace", 0, false, -1});
  for (const auto &a : fn_.args())
    place_[a.get()] = {{argSlots_.at(a.get()), 0}, byteSize(a.get())};
}

void GpuLowering::assignWithPlan() {
  MemoryPlan plan = planMemory(fn_);
  arenaBytes_ = alignUp(plan.arenaBytes);
  std::map<std::string, int> outputSlot;
  for (size_t k = 0; k < fn_.outputs().size(); ++k)
    outputSlot.emplace(fn_.outputs()[k].name, firstOutput_ + (int)k);
  using K = Placement::Kind;
  for (const Placement &p : plan.values) {
    if (p.kind == K::Input || p.kind == K::Constant)
      continue;
    Place s;
    s.bytes = p.bytes;
    if (p.inArena) {
      s.ref = {workspaceSlot_, p.offset};
    } else if (p.kind == K::Output) {
      s.ref = {outputSlot.at(p.output), 0};
    } else if (p.kind == K::InPlace && p.owner && p.owner->isArg()) {
      s.ref = {argSlots_.at(p.owner), 0};
      g_.plan.slots[outputSlot.at(p.output)].inPlaceOf = s.ref.slot;
    } else {
      fail("internal error: memory plan placement of a value in @", fn_.name(), " is not understood");
    }
    place_[p.value] = s;
  }
}

void GpuLowering::assignOwn() {
  std::unordered_map<const Value *, const Value *> root;
  auto rootOf = [&](const Value *v) {
    auto it = root.find(v);
    return it == root.end() ? v : it->second;
  };
  for (const auto &op : fn_.ops())
    if (isKind(op.get(), OpLowering::Kind::Alias))
      root[op->result(0)] = rootOf(op->operand(0));
  for (size_t k = 0; k < fn_.outputs().size(); ++k) {
    const Value *r = rootOf(fn_.outputs()[k].value);
    if (!r->definingOp() || isConstant(r) || place_.count(r))
      continue;
    place_[r] = {{firstOutput_ + (int)k, 0}, byteSize(r)};
  }
  for (const auto &op : fn_.ops()) {
    if (isKind(op.get(), OpLowering::Kind::Constant) || isKind(op.get(), OpLowering::Kind::Alias))
      continue;
    for (size_t i = 0; i < op->numResults(); ++i) {
      const Value *r = op->result(i);
      if (place_.count(r))
        continue;
      place_[r] = {{workspaceSlot_, arenaBytes_}, byteSize(r)};
      arenaBytes_ += alignUp(byteSize(r));
    }
  }
  for (const auto &op : fn_.ops())
    if (isKind(op.get(), OpLowering::Kind::Alias) && !place_.count(op->result(0)))
      place_[op->result(0)] = placeOf(rootOf(op->result(0)));
}

Place &GpuLowering::placeOf(const Value *v) {
  auto it = place_.find(v);
  if (it != place_.end())
    return it->second;
  if (std::optional<Tensor> t = constantValue(v))
    return place_[v] = {g_.constant(t->bytes(), (int64_t)t->byteSize()), (int64_t)t->byteSize()};
  fail("internal error: a value of @", fn_.name(), " has no storage");
}

Place GpuLowering::temp(int64_t bytes) {
  Place s{{workspaceSlot_, arenaBytes_ + tempTop_}, bytes};
  tempTop_ += alignUp(bytes);
  tempMax_ = std::max(tempMax_, tempTop_);
  return s;
}

void GpuLowering::copyWhenComputed(const Value *v, const Place &dst) {
  if (computed_.count(v) || constantValue(v)) {
    const Place &src = placeOf(v);
    if (!src.same(dst))
      g_.copy("output " + v->name(), dst.ref, src.ref, byteSize(v));
    return;
  }
  pending_[v].push_back(dst);
}

void GpuLowering::computed(const Value *v) {
  computed_.insert(v);
  auto it = pending_.find(v);
  if (it == pending_.end())
    return;
  std::vector<Place> dsts = std::move(it->second);
  pending_.erase(it);
  for (const Place &d : dsts)
    copyWhenComputed(v, d);
}

// One kernel: thread i computes element i of every output (all of shape `domain`, contiguous)
// from the leaves read at broadcast offsets, through the scalar expressions of the ops between.
void GpuLowering::emitNest(const std::string &name, const Op &owner, const Shape &domain,
                           const std::vector<const Value *> &outputs) {
  auto inMemory = [&](const Value *v) { return computed_.count(v) != 0; };
  std::vector<const Value *> leaves = nestLeaves(outputs, inMemory);
  LoopSpace space;
  space.dims = domain;
  for (size_t j = 0; j < outputs.size(); ++j)
    space.strides.push_back(stridesOf(domain));
  for (const Value *leaf : leaves)
    space.strides.push_back(broadcastStridesTo(leaf->shape(), domain));
  const int64_t total = space.total();
  if (total == 0)
    return;
  LoopSpace s = coalesce(space);
  std::vector<BufferRef> args;
  for (const Value *v : outputs)
    args.push_back(placeOf(v).ref);
  for (const Value *v : leaves)
    args.push_back(placeOf(v).ref);
  nvptx::KernelFn k = g_.kernel(name, owner.describe(), args, GpuCodegen::gridFor(total));
  CodegenContext &cg = g_.cg;
  std::unordered_set<const Value *> leafSet(leaves.begin(), leaves.end());
  g_.gridStride(*k.b, total, [&](Builder &b, llvm::Value *i) {
    // Per coalesced dimension, its index; then each access's offset.
    std::vector<llvm::Value *> off(s.strides.size(), cg.i64c(0));
    llvm::Value *rest = i;
    for (size_t d = s.dims.size(); d-- > 0;) {
      llvm::Value *idx = d == 0 ? rest : b.CreateURem(rest, cg.i64c(s.dims[d]));
      if (d > 0)
        rest = b.CreateUDiv(rest, cg.i64c(s.dims[d]));
      for (size_t a = 0; a < s.strides.size(); ++a)
        if (s.strides[a][d] != 0)
          off[a] = b.CreateAdd(off[a], b.CreateMul(idx, cg.i64c(s.strides[a][d])));
    }
    std::unordered_map<const Value *, llvm::Value *> scalar;
    for (size_t l = 0; l < leaves.size(); ++l)
      scalar[leaves[l]] = cg.load(b, leaves[l]->dtype(), k.args[outputs.size() + l], off[outputs.size() + l]);
    std::unordered_set<const Value *> seen;
    std::function<llvm::Value *(const Value *)> value = [&](const Value *v) -> llvm::Value * {
      auto it = scalar.find(v);
      if (it != scalar.end())
        return it->second;
      if (!leafSet.count(v) && !computableInNest(v)) {
        std::optional<Tensor> t = constantValue(v);
        if (!t || t->numel() != 1)
          fail("internal error: ", v->name(), " has no value in a GPU nest");
        return scalar[v] = immediate(b, *t);
      }
      const Op *d = v->definingOp();
      std::vector<llvm::Value *> a(d->numOperands(), nullptr);
      for (size_t o : elementOperands(*d))
        if (d->operand(o))
          a[o] = value(d->operand(o));
      const OpLowering *l = cpuLowering(*d);
      llvm::Value *r = l->kind == OpLowering::Kind::Alias ? a[0] : l->scalar(cg, b, *d, a);
      return scalar[v] = r;
    };
    for (size_t j = 0; j < outputs.size(); ++j)
      cg.store(b, outputs[j]->dtype(), value(outputs[j]), k.args[j], off[j]);
  });
  k.b->CreateRetVoid();
}

void GpuLowering::lowerKernel(const Op &kernel, const std::string &stem) {
  const Function *body = kernelBody(kernel);
  if (body->args().size() != kernel.numOperands() || body->outputs().size() != kernel.numResults())
    fail(kernel.describe(), ": body @", body->name(), " does not match the kernel's operands and results");
  std::string name = stem + "." + body->name();
  for (size_t i = 0; i < kernel.numOperands(); ++i) {
    const Value *a = body->args()[i].get();
    place_[a] = placeOf(kernel.operand(i));
    computed_.insert(a);
  }
  // As LowerKernel.cpp: what must be in memory is kernelStoredValues; a GEMM-like result over an
  // operand goes to a temporary copied at the end.
  std::unordered_set<const Value *> stored = kernelStoredValues(*body);
  auto overlapsAnOperand = [&](const Place &s) {
    for (size_t i = 0; i < kernel.numOperands(); ++i)
      if (placeOf(kernel.operand(i)).overlaps(s))
        return true;
    return false;
  };
  std::vector<std::pair<const Value *, Place>> atEnd;
  for (size_t j = 0; j < body->outputs().size(); ++j) {
    const Value *v = body->outputs()[j].value;
    const Op *d = v->definingOp();
    const Place &dst = placeOf(kernel.result(j));
    bool own = d && !isConstant(v) && !place_.count(v) && !isKind(d, OpLowering::Kind::Alias);
    if (own && !computableInNest(v) && overlapsAnOperand(dst))
      atEnd.push_back({v, dst});
    else if (own)
      place_[v] = dst;
    else
      copyWhenComputed(v, dst);
  }
  std::vector<const Value *> pending;
  int nest = 0;
  auto flush = [&] {
    std::map<Shape, std::vector<const Value *>> byShape;
    std::vector<Shape> order;
    for (const Value *v : pending) {
      if (!byShape.count(v->shape()))
        order.push_back(v->shape());
      byShape[v->shape()].push_back(v);
      if (!place_.count(v))
        place_[v] = temp(byteSize(v));
    }
    for (const Shape &s : order) {
      const std::vector<const Value *> &outs = byShape[s];
      emitNest(nest ? name + "." + std::to_string(nest) : name, *outs[0]->definingOp(), s, outs);
      ++nest;
      for (const Value *v : outs)
        computed(v);
    }
    pending.clear();
  };
  int index = 0;
  for (const auto &op : body->ops()) {
    const Value *r0 = op->result(0);
    if (isConstant(r0))
      continue;
    if (computableInNest(r0)) {
      if (stored.count(r0))
        pending.push_back(r0);
      continue;
    }
    flush();
    if (!isKind(op.get(), OpLowering::Kind::Alias))
      for (size_t i = 0; i < op->numResults(); ++i)
        if (!place_.count(op->result(i)))
          place_[op->result(i)] = temp(byteSize(op->result(i)));
    emitOp(*op, name + ".op" + std::to_string(index++));
  }
  flush();
  for (const auto &[v, dst] : atEnd)
    g_.copy(kernel.describe(), dst.ref, placeOf(v).ref, byteSize(v));
}

std::string stemOf(const std::string &s) {
  std::string r;
  for (char c : s)
    r += std::isalnum((unsigned char)c) || c == '_' ? c : '_';
  return r.empty() ? "f" : r;
}

void GpuLowering::emitOp(const Op &op, const std::string &stem) {
  const OpLowering *l = cpuLowering(op);
  std::string name = stem + "_" + stemOf(op.opType());
  switch (l->kind) {
  case OpLowering::Kind::Constant:
    for (size_t i = 0; i < op.numResults(); ++i) {
      auto it = place_.find(op.result(i));
      if (it == place_.end() || it->second.ref.slot == BufferRef::kConstants)
        continue;
      Place dst = it->second;
      place_.erase(it);
      Place src = placeOf(op.result(i));
      place_[op.result(i)] = dst;
      g_.copy(op.describe(), dst.ref, src.ref, byteSize(op.result(i)));
    }
    break;
  case OpLowering::Kind::Alias: {
    const Value *r = op.result(0);
    if (!place_.count(r))
      place_[r] = placeOf(op.operand(0));
    else if (!place_.at(r).same(placeOf(op.operand(0))))
      g_.copy(op.describe(), place_.at(r).ref, placeOf(op.operand(0)).ref, byteSize(r));
    break;
  }
  case OpLowering::Kind::Elementwise:
    emitNest(name, op, op.result(0)->shape(), {op.result(0)});
    break;
  case OpLowering::Kind::Kernel:
    lowerKernel(op, stem);
    break;
  case OpLowering::Kind::Emit: {
    const GpuOpLowering &e = gpuOpTable().at({op.domain(), op.opType()});
    GpuOpContext c{g_, op, name, {}, {}, [this](int64_t bytes) { return temp(bytes).ref; }};
    for (const Value *v : op.operands())
      c.operands.push_back(v ? placeOf(v).ref : BufferRef{});
    for (size_t i = 0; i < op.numResults(); ++i)
      c.results.push_back(placeOf(op.result(i)).ref);
    e.emit(c);
    break;
  }
  }
  for (size_t i = 0; i < op.numResults(); ++i)
    computed(op.result(i));
}

gpu::Plan GpuLowering::run() {
  std::vector<std::string> bad = gpuUnloweredOps(fn_);
  if (!bad.empty()) {
    std::string list;
    for (size_t i = 0; i < bad.size(); ++i)
      list += (i ? ", " : "") + bad[i];
    fail("@", fn_.name(), ": ", bad.size(), bad.size() == 1 ? " op is" : " ops are",
         " not supported by the GPU code generator yet: ", list);
  }
  addSlots();
  if (opts_.lowering.memoryPlan)
    assignWithPlan();
  else
    assignOwn();
  for (const auto &a : fn_.args())
    computed_.insert(a.get());
  for (size_t k = 0; k < fn_.outputs().size(); ++k) {
    if (g_.plan.slots[firstOutput_ + k].inPlaceOf >= 0)
      continue;
    const Value *v = fn_.outputs()[k].value;
    copyWhenComputed(v, {{firstOutput_ + (int)k, 0}, byteSize(v)});
  }
  int index = 0;
  for (const auto &op : fn_.ops()) {
    tempTop_ = 0;
    emitOp(*op, stemOf(fn_.name()) + "_" + std::to_string(index++));
  }
  if (!pending_.empty())
    fail("internal error: an output of @", fn_.name(), " is never computed");
  g_.plan.entry = fn_.name();
  g_.plan.workspaceBytes = arenaBytes_ + tempMax_;
  g_.plan.slots[workspaceSlot_].bytes = g_.plan.workspaceBytes;
  g_.plan.errorMessages = g_.cg.errorMessages;
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(g_.cg.module, &os))
    fail("internal error: invalid LLVM IR for the GPU code of @", fn_.name(), ": ", os.str());
  return std::move(g_.plan);
}

} // namespace

std::vector<std::string> gpuUnloweredOps(const Function &fn) {
  std::vector<std::string> out;
  for (const auto &op : fn.ops())
    checkOp(*op, "", out);
  return out;
}

namespace {
bool gpuLowers(const std::string &domain, const std::string &name) {
  const OpLowering *l = LoweringRegistry::instance().find(domain, name);
  if (l && l->kind != OpLowering::Kind::Emit)
    return true; // elementwise, alias, constant, fused kernel
  return gpuOpTable().count({domain, name}) != 0;
}
std::vector<std::string> cpuLoweredKeys(bool gpu) {
  std::vector<std::string> r;
  for (const std::string &n : loweredOpNames()) {
    size_t dot = n.rfind('.'); // domains have dots (ai.onnx.preview.training)
    std::string domain = dot == std::string::npos ? "" : n.substr(0, dot);
    std::string name = dot == std::string::npos ? n : n.substr(dot + 1);
    if (gpuLowers(domain, name) == gpu)
      r.push_back(n);
  }
  return r;
}
} // namespace

std::vector<std::string> gpuLoweredOpNames() { return cpuLoweredKeys(true); }
std::vector<std::string> gpuMissingOpNames() { return cpuLoweredKeys(false); }

std::string libdevicePath(const GpuOptions &opts) {
  if (!opts.libdevice.empty())
    return opts.libdevice;
  if (const char *e = std::getenv("ADJOINT_LIBDEVICE"); e && *e)
    return e;
#ifdef ADJOINT_CUDA_LIBDEVICE
  return ADJOINT_CUDA_LIBDEVICE;
#else
  return "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc";
#endif
}

std::unique_ptr<NvptxTarget> nvptx::gpuTarget(const GpuOptions &opts) {
  TargetOptions to;
  to.triple = "nvptx64-nvidia-cuda";
  to.cpu = opts.arch.empty() ? NvptxTarget::kDefaultArch : opts.arch;
  to.optLevel = opts.optLevel;
  return NvptxTarget::create(to);
}

gpu::Plan nvptx::lowerForGpu(const Function &fn, llvm::Module &m, const Target &target,
                             const GpuOptions &opts) {
  target.configureModule(m);
  gpu::Plan plan = GpuLowering(fn, m, target, opts).run();
  plan.arch = target.options().cpu;
  return plan;
}

gpu::Plan compileForGpu(const Function &fn, const GpuOptions &opts) {
  std::unique_ptr<NvptxTarget> target = nvptx::gpuTarget(opts);
  llvm::LLVMContext ctx;
  llvm::Module m(fn.name(), ctx);
  gpu::Plan plan = nvptx::lowerForGpu(fn, m, *target, opts);
  plan.ptx = nvptx::finishModule(m, *target, libdevicePath(opts));
  return plan;
}

} // namespace adjoint
