// Lowering of a top-level function: the buffer layout, where each value lives, and the entry
// function. Values live in the caller's buffers (arguments, outputs), in the workspace (at the
// memory plan's offsets, or one region each without the plan; kernel temporaries and op scratch
// above that), or in constant data. Ops are emitted in schedule order, each as a call to its own
// generated function whose pointer parameters are noalias wherever buffers cannot overlap.
#include "CodeGen/Elementwise.h"
#include "CodeGen/FunctionLowering.h"
#include "Transforms/MemoryPlan.h"

#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <set>

namespace adjoint {

namespace {

int64_t byteSize(const Value *v) { return numElements(v->shape()) * (int64_t)dtypeSize(v->dtype()); }
int64_t alignUp(int64_t n) { return (n + 63) / 64 * 64; }

const Function *kernelBody(const Op &op) {
  const Module *m = op.parent() ? op.parent()->module() : nullptr;
  std::string name = op.stringAttr("body", "");
  const Function *body = m ? m->find(name) : nullptr;
  if (!body)
    fail(op.describe(), ": body @", name, " is not a function of the module");
  return body;
}

void checkOp(const Op &op, const std::string &where, std::vector<std::string> &out) {
  const OpLowering *l = LoweringRegistry::instance().find(op);
  std::string what = op.domain().empty() ? op.describe() : op.domain() + "." + op.describe();
  if (!l) {
    out.push_back(what + where);
    return;
  }
  if (l->unsupported) {
    std::string why = l->unsupported(op);
    if (!why.empty())
      out.push_back(what + where + ": " + why);
  }
  if (l->kind == OpLowering::Kind::Kernel) {
    const Function *body = kernelBody(op);
    for (const auto &inner : body->ops())
      checkOp(*inner, " (in kernel @" + body->name() + ")", out);
  }
}

// A symbol-safe stem: op types are identifiers already; this guards odd function names.
std::string stemOf(const std::string &s) {
  std::string r;
  for (char c : s)
    r += std::isalnum((unsigned char)c) || c == '_' || c == '.' ? c : '_';
  return r.empty() ? "f" : r;
}

} // namespace

std::vector<std::string> unloweredOps(const Function &fn) {
  std::vector<std::string> out;
  for (const auto &op : fn.ops())
    checkOp(*op, "", out);
  return out;
}

std::vector<std::string> loweredOpNames() { return LoweringRegistry::instance().names(); }

std::vector<const Function *> topLevelFunctions(const Module &m) {
  std::set<std::string> bodies;
  for (const auto &f : m.functions())
    for (const auto &op : f->ops())
      if (op->domain() == "adjoint" && op->opType() == "Kernel")
        bodies.insert(op->stringAttr("body", ""));
  std::vector<const Function *> r;
  for (const auto &f : m.functions())
    if (!bodies.count(f->name()))
      r.push_back(f.get());
  return r;
}

FunctionLowering::FunctionLowering(const Function &fn, llvm::Module &m, const Target &target,
                                   const LoweringOptions &opts)
    : fn_(fn), opts_(opts), cg_(m, target) {}

void FunctionLowering::addSlots() {
  BufferLayout &l = out_.layout;
  for (Value *v : fn_.inputs()) {
    argSlots_[v] = (int)l.slots.size();
    l.slots.push_back({BufferSlot::Kind::Input, v->name(), v->type(), -1});
  }
  for (Value *v : fn_.params()) {
    argSlots_[v] = (int)l.slots.size();
    l.slots.push_back({BufferSlot::Kind::Param, v->name(), v->type(), -1});
  }
  l.firstOutput = (int)l.slots.size();
  for (const auto &o : fn_.outputs())
    l.slots.push_back({BufferSlot::Kind::Output, o.name, o.value->type(), -1});
  l.workspaceSlot = (int)l.slots.size();
  l.slots.push_back({BufferSlot::Kind::Workspace, "workspace", {}, -1});
  for (const auto &a : fn_.args())
    storage_[a.get()] = {Storage::Kind::Slot, argSlot(a.get()), 0, byteSize(a.get()), nullptr};
}

// The memory plan's placements, read as storage.
void FunctionLowering::assignWithPlan() {
  MemoryPlan plan = planMemory(fn_);
  arenaBytes_ = plan.arenaBytes;
  std::map<std::string, int> outputSlot;
  for (size_t k = 0; k < fn_.outputs().size(); ++k)
    outputSlot.emplace(fn_.outputs()[k].name, out_.layout.firstOutput + (int)k);
  using K = Placement::Kind;
  for (const Placement &p : plan.values) {
    const Value *v = p.value;
    if (p.kind == K::Input || p.kind == K::Constant)
      continue;
    Storage s;
    s.bytes = p.bytes;
    if (p.inArena) {
      s.kind = Storage::Kind::Workspace;
      s.offset = p.offset;
    } else if (p.kind == K::Output) {
      s.kind = Storage::Kind::Slot;
      s.slot = outputSlot.at(p.output);
    } else if (p.kind == K::InPlace && p.owner && p.owner->isArg()) {
      s.kind = Storage::Kind::Slot;
      s.slot = argSlot(p.owner);
      out_.layout.slots[outputSlot.at(p.output)].inPlaceOf = s.slot;
    } else {
      fail("internal error: memory plan placement of a value in @", fn_.name(), " is not understood");
    }
    storage_[v] = s;
  }
}

// One workspace region per intermediate; an op result that is returned is computed straight into
// its output buffer (through Reshape-like aliases too).
void FunctionLowering::assignOwn() {
  const LoweringRegistry &reg = LoweringRegistry::instance();
  std::unordered_map<const Value *, const Value *> root;
  auto rootOf = [&](const Value *v) {
    auto it = root.find(v);
    return it == root.end() ? v : it->second;
  };
  for (const auto &op : fn_.ops()) {
    const OpLowering *l = reg.find(*op);
    if (l && l->kind == OpLowering::Kind::Alias)
      root[op->result(0)] = rootOf(op->operand(0));
  }
  for (size_t k = 0; k < fn_.outputs().size(); ++k) {
    const Value *r = rootOf(fn_.outputs()[k].value);
    const OpLowering *l = r->definingOp() ? reg.find(*r->definingOp()) : nullptr;
    if (!l || l->kind == OpLowering::Kind::Constant || storage_.count(r))
      continue;
    storage_[r] = {Storage::Kind::Slot, out_.layout.firstOutput + (int)k, 0, byteSize(r), nullptr};
  }
  for (const auto &op : fn_.ops()) {
    const OpLowering *l = reg.find(*op);
    if (l->kind == OpLowering::Kind::Constant || l->kind == OpLowering::Kind::Alias)
      continue;
    for (size_t i = 0; i < op->numResults(); ++i) {
      const Value *r = op->result(i);
      if (storage_.count(r))
        continue;
      storage_[r] = {Storage::Kind::Workspace, -1, arenaBytes_, byteSize(r), nullptr};
      arenaBytes_ += alignUp(byteSize(r));
    }
  }
  for (const auto &op : fn_.ops()) {
    const OpLowering *l = reg.find(*op);
    if (l->kind == OpLowering::Kind::Alias && !storage_.count(op->result(0)))
      storage_[op->result(0)] = storageOf(rootOf(op->result(0)));
  }
}

Storage &FunctionLowering::storageOf(const Value *v) {
  auto it = storage_.find(v);
  if (it != storage_.end())
    return it->second;
  if (std::optional<Tensor> t = constantValue(v)) {
    Storage s{Storage::Kind::Global, -1, 0, (int64_t)t->byteSize(), nullptr};
    s.global = cg_.constantData(*t, cg_.uniqueName(stemOf(fn_.name()) + ".const"));
    return storage_[v] = s;
  }
  fail("internal error: a value of @", fn_.name(), " has no storage");
}

Storage FunctionLowering::temp(int64_t bytes) {
  Storage s{Storage::Kind::Workspace, -1, arenaBytes_ + tempTop_, bytes, nullptr};
  tempTop_ += alignUp(bytes);
  tempMax_ = std::max(tempMax_, tempTop_);
  return s;
}

llvm::Value *FunctionLowering::pointerTo(const Storage &s) {
  llvm::Value *base = nullptr;
  switch (s.kind) {
  case Storage::Kind::Slot: base = slotBase_[s.slot]; break;
  case Storage::Kind::Workspace: base = slotBase_[out_.layout.workspaceSlot]; break;
  case Storage::Kind::Global: base = s.global; break;
  case Storage::Kind::None: fail("internal error: pointer to a value without storage");
  }
  return s.offset ? b_->CreateConstInBoundsGEP1_64(b_->getInt8Ty(), base, s.offset) : base;
}

void FunctionLowering::copyWhenComputed(const Value *v, const Storage &dst) {
  if (computed_.count(v) || constantValue(v)) {
    const Storage &src = storageOf(v);
    if (!src.same(dst))
      cg_.copy(*b_, pointerTo(dst), pointerTo(src), byteSize(v));
    return;
  }
  pendingCopies_[v].push_back(dst);
}

void FunctionLowering::computed(const Value *v) {
  computed_.insert(v);
  auto it = pendingCopies_.find(v);
  if (it == pendingCopies_.end())
    return;
  std::vector<Storage> dsts = std::move(it->second);
  pendingCopies_.erase(it);
  for (const Storage &d : dsts)
    copyWhenComputed(v, d);
}

void FunctionLowering::emitCall(const std::string &name, const Op &op,
                                const std::vector<const Value *> &operands,
                                const std::vector<const Value *> &results, int64_t scratchBytes,
                                const std::function<void(OpEmitContext &)> &body) {
  // One parameter per distinct buffer start: an in-place op gets one pointer for its operand
  // and result, so that LLVM sees the same base and vectorizes without runtime checks.
  std::vector<Storage> params;
  std::vector<bool> written;
  auto paramOf = [&](const Storage &s, bool write) {
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].same(s)) {
        params[i].bytes = std::max(params[i].bytes, s.bytes);
        written[i] = written[i] || write;
        return (int)i;
      }
    params.push_back(s);
    written.push_back(write);
    return (int)params.size() - 1;
  };
  std::vector<int> opIdx, resIdx;
  for (const Value *v : operands)
    opIdx.push_back(v ? paramOf(storageOf(v), false) : -1);
  for (const Value *v : results)
    resIdx.push_back(paramOf(storageOf(v), true));
  int scratchIdx = scratchBytes > 0 ? paramOf(temp(scratchBytes), true) : -1;

  std::vector<llvm::Type *> types(params.size(), cg_.ptr());
  llvm::Function *f = cg_.createFunction(cg_.uniqueName(name),
                                         llvm::FunctionType::get(b_->getVoidTy(), types, false));
  // Each op function is called once, so the inliner would paste every one into the entry; a
  // ResNet-18 step then became one function of ~80k lines whose code generation took seconds
  // (superlinear register allocation and scheduling). A call per op costs nanoseconds.
  f->addFnAttr(llvm::Attribute::NoInline);
  for (size_t i = 0; i < params.size(); ++i) {
    bool alone = true;
    for (size_t j = 0; j < params.size(); ++j)
      if (j != i && params[i].overlaps(params[j]) && (written[i] || written[j]))
        alone = false;
    if (alone)
      f->addParamAttr(i, llvm::Attribute::NoAlias);
    f->addParamAttr(i, llvm::Attribute::NoCapture);
    if (!written[i])
      f->addParamAttr(i, llvm::Attribute::ReadOnly);
  }
  ++out_.opFunctions;
  Builder fb(llvm::BasicBlock::Create(cg_.ctx, "entry", f));
  OpEmitContext ctx(cg_, op, f, fb);
  for (size_t i = 0; i < params.size(); ++i)
    ctx.params_.push_back(f->getArg(i));
  for (int i : opIdx)
    ctx.operands.push_back(i < 0 ? nullptr : f->getArg(i));
  for (int i : resIdx)
    ctx.results.push_back(f->getArg(i));
  ctx.scratch = scratchIdx < 0 ? nullptr : f->getArg(scratchIdx);
  body(ctx);
  fb.CreateRetVoid();

  std::vector<llvm::Value *> args;
  for (const Storage &s : params)
    args.push_back(pointerTo(s));
  b_->CreateCall(f, args);
}

void FunctionLowering::emitNest(const std::string &name, const Op &owner, const Shape &domain,
                                const std::vector<const Value *> &outputs) {
  auto inMemory = [&](const Value *v) { return computed_.count(v) != 0; };
  std::vector<const Value *> leaves = nestLeaves(outputs, inMemory);
  double cost = nestCost(outputs, inMemory);
  emitCall(name, owner, leaves, outputs, 0, [&](OpEmitContext &ctx) {
    emitElementwiseNest(ctx, domain, leaves, outputs, cost);
  });
}

void FunctionLowering::emitOp(const Op &op, const std::string &stem) {
  const OpLowering *l = LoweringRegistry::instance().find(op);
  std::string name = stem + "." + stemOf(op.opType());
  switch (l->kind) {
  case OpLowering::Kind::Constant:
    // The memory plan places only Constant ops as data; other compile-time values (Shape) have
    // buffers, filled here from the data.
    for (size_t i = 0; i < op.numResults(); ++i) {
      auto it = storage_.find(op.result(i));
      if (it == storage_.end() || it->second.kind == Storage::Kind::Global)
        continue;
      Storage dst = it->second;
      storage_.erase(it);
      Storage src = storageOf(op.result(i));
      storage_[op.result(i)] = dst;
      cg_.copy(*b_, pointerTo(dst), pointerTo(src), byteSize(op.result(i)));
    }
    break;
  case OpLowering::Kind::Alias: {
    const Value *r = op.result(0);
    if (!storage_.count(r))
      storage_[r] = storageOf(op.operand(0));
    else if (!storage_.at(r).same(storageOf(op.operand(0))))
      cg_.copy(*b_, pointerTo(storage_.at(r)), pointerTo(storageOf(op.operand(0))), byteSize(r));
    break;
  }
  case OpLowering::Kind::Elementwise:
    emitNest(name, op, op.result(0)->shape(), {op.result(0)});
    break;
  case OpLowering::Kind::Emit: {
    std::vector<const Value *> operands(op.operands().begin(), op.operands().end());
    std::vector<const Value *> results;
    for (size_t i = 0; i < op.numResults(); ++i)
      results.push_back(op.result(i));
    int64_t scratch = l->scratchBytes ? l->scratchBytes(op) : 0;
    emitCall(name, op, operands, results, scratch, l->emit);
    break;
  }
  case OpLowering::Kind::Kernel:
    lowerKernel(op, stem);
    break;
  }
  for (size_t i = 0; i < op.numResults(); ++i)
    computed(op.result(i));
}

LoweredFunction FunctionLowering::run() {
  std::vector<std::string> bad = unloweredOps(fn_);
  if (!bad.empty()) {
    std::string list;
    for (size_t i = 0; i < bad.size(); ++i)
      list += (i ? ", " : "") + bad[i];
    fail("@", fn_.name(), ": ", bad.size(), bad.size() == 1 ? " op is" : " ops are",
         " not supported by the code generator yet: ", list);
  }
  addSlots();
  if (opts_.memoryPlan)
    assignWithPlan();
  else
    assignOwn();

  out_.entry = fn_.name();
  entry_ = cg_.createFunction(out_.entry,
                              llvm::FunctionType::get(llvm::Type::getVoidTy(cg_.ctx), {cg_.ptr()}, false),
                              /*exported=*/true);
  b_ = std::make_unique<Builder>(llvm::BasicBlock::Create(cg_.ctx, "entry", entry_));
  for (size_t i = 0; i < out_.layout.slots.size(); ++i)
    slotBase_.push_back(b_->CreateLoad(cg_.ptr(), b_->CreateConstInBoundsGEP1_64(cg_.ptr(), entry_->getArg(0), i),
                                       out_.layout.slots[i].name));

  for (const auto &a : fn_.args())
    computed_.insert(a.get());
  for (size_t k = 0; k < fn_.outputs().size(); ++k) {
    const BufferSlot &slot = out_.layout.slots[out_.layout.firstOutput + k];
    if (slot.inPlaceOf >= 0)
      continue;
    const Value *v = fn_.outputs()[k].value;
    copyWhenComputed(v, {Storage::Kind::Slot, out_.layout.firstOutput + (int)k, 0, byteSize(v), nullptr});
  }
  int index = 0;
  for (const auto &op : fn_.ops()) {
    tempTop_ = 0; // temporaries live within one top-level op
    emitOp(*op, stemOf(fn_.name()) + "." + std::to_string(index++));
  }
  if (!pendingCopies_.empty())
    fail("internal error: an output of @", fn_.name(), " is never computed");
  b_->CreateRetVoid();

  out_.errorMessages = cg_.errorMessages;
  out_.layout.arenaBytes = arenaBytes_;
  out_.layout.workspaceBytes = arenaBytes_ + tempMax_;
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(cg_.module, &os))
    fail("internal error: invalid LLVM IR for @", fn_.name(), ": ", os.str());
  return out_;
}

LoweredFunction lowerFunction(const Function &fn, llvm::Module &m, const Target &target,
                              const LoweringOptions &opts) {
  // GPU targets have their own lowering (NvptxLowering.h): this one calls the CPU runtime.
  check(target.kind() == Target::Kind::Cpu, "target ", target.describe(),
        ": the CPU code generator cannot compile for a GPU; use --emit=ptx or the cuda backend");
  target.configureModule(m);
  return FunctionLowering(fn, m, target, opts).run();
}

} // namespace adjoint
