// adjoint.Kernel (Transforms/Fusion.cpp): a fused group of ops whose body is a function of the
// module. The body is scheduled in stages:
//  - elementwise ops are evaluated inside loop nests, in registers, never stored unless their
//    value is needed in memory: a kernel result, or an operand of a non-elementwise op;
//  - each non-elementwise op (a reduction, a GEMM) runs as its own generated function, after a
//    loop nest has stored what it reads;
//  - the values to store before each such op, and at the end, are grouped by shape: one loop nest
//    per shape computes all of them per element.
// A kernel of elementwise ops only is therefore one loop nest; a GEMM with an elementwise
// epilogue is the GEMM then one loop nest; a softmax is a loop nest between its reductions.
// Values stored for the kernel's own use (not results) are temporaries in the workspace above
// the memory plan's arena; they die with the kernel.
#include "CodeGen/Elementwise.h"
#include "CodeGen/FunctionLowering.h"

#include <map>

namespace adjoint {

namespace {

int64_t byteSize(const Value *v) { return numElements(v->shape()) * (int64_t)dtypeSize(v->dtype()); }

bool isConstant(const Value *v) {
  const Op *d = v->definingOp();
  const OpLowering *l = d ? LoweringRegistry::instance().find(*d) : nullptr;
  return l && l->kind == OpLowering::Kind::Constant;
}

} // namespace

std::unordered_set<const Value *> kernelStoredValues(const Function &body) {
  std::unordered_set<const Value *> stored;
  for (const auto &op : body.ops()) {
    if (isConstant(op->result(0)) || computableInNest(op->result(0)))
      continue;
    for (const Value *v : op->operands())
      if (v)
        stored.insert(v);
  }
  for (const auto &o : body.outputs())
    stored.insert(o.value);
  return stored;
}

void FunctionLowering::lowerKernel(const Op &kernel, const std::string &stem) {
  const Module *m = fn_.module();
  std::string bodyName = kernel.stringAttr("body", "");
  const Function *body = m ? m->find(bodyName) : nullptr;
  if (!body)
    fail(kernel.describe(), ": body @", bodyName, " is not a function of the module");
  if (body->args().size() != kernel.numOperands() || body->outputs().size() != kernel.numResults())
    fail(kernel.describe(), ": body @", bodyName, " does not match the kernel's operands and results");
  std::string name = stem + "." + bodyName;

  for (size_t i = 0; i < kernel.numOperands(); ++i) {
    const Value *a = body->args()[i].get();
    storage_[a] = storageOf(kernel.operand(i));
    computed_.insert(a);
  }

  std::unordered_set<const Value *> stored = kernelStoredValues(*body);

  // Results are computed into the kernel's result buffers where possible, else copied there.
  // The memory plan may put a result over an operand the kernel reads elementwise (Transforms/
  // MemoryPlan.cpp, kernelMayWriteOver): a nest loads each element before it stores it, but a GEMM
  // runs before the nests that read the operand, so its result goes to a temporary and is copied
  // over the operand at the end.
  auto overlapsAnOperand = [&](const Storage &s) {
    for (size_t i = 0; i < kernel.numOperands(); ++i)
      if (storageOf(kernel.operand(i)).overlaps(s))
        return true;
    return false;
  };
  std::vector<std::pair<const Value *, Storage>> atEnd;
  for (size_t j = 0; j < body->outputs().size(); ++j) {
    const Value *v = body->outputs()[j].value;
    const Op *d = v->definingOp();
    const Storage &dst = storageOf(kernel.result(j));
    bool own = d && !isConstant(v) && !storage_.count(v) &&
               LoweringRegistry::instance().find(*d)->kind != OpLowering::Kind::Alias;
    if (own && !computableInNest(v) && overlapsAnOperand(dst))
      atEnd.push_back({v, dst});
    else if (own)
      storage_[v] = dst;
    else
      copyWhenComputed(v, dst);
  }

  std::vector<const Value *> pending; // elementwise values to store, in body order
  int nest = 0;
  auto flush = [&] {
    std::map<Shape, std::vector<const Value *>> byShape;
    std::vector<Shape> order;
    for (const Value *v : pending) {
      if (!byShape.count(v->shape()))
        order.push_back(v->shape());
      byShape[v->shape()].push_back(v);
      if (!storage_.count(v))
        storage_[v] = temp(byteSize(v));
    }
    for (const Shape &s : order) {
      const std::vector<const Value *> &outs = byShape[s];
      std::string nestName = name;
      if (nest)
        nestName.append(".").append(std::to_string(nest));
      emitNest(nestName, *outs[0]->definingOp(), s, outs);
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
    const OpLowering *l = LoweringRegistry::instance().find(*op);
    if (l->kind != OpLowering::Kind::Alias)
      for (size_t i = 0; i < op->numResults(); ++i)
        if (!storage_.count(op->result(i)))
          storage_[op->result(i)] = temp(byteSize(op->result(i)));
    emitOp(*op, name + ".op" + std::to_string(index++));
  }
  flush();
  for (const auto &[v, dst] : atEnd)
    cg_.copy(*b_, pointerTo(dst), pointerTo(storageOf(v)), numElements(v->shape()) * (int64_t)dtypeSize(v->dtype()));
}

void registerKernelLowering(LoweringRegistry &r) {
  OpLowering l;
  l.kind = OpLowering::Kind::Kernel;
  r.add("adjoint", "Kernel", l);
}

} // namespace adjoint
