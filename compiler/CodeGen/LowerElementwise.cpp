// The loop nest of elementwise code. Each output element is one evaluation of a tree of scalar
// expressions (ScalarOps.cpp) whose leaves are loads at broadcast indices; loops are coalesced so
// the innermost one is long and contiguous in every output and walks each leaf with stride 1 or
// 0, which LLVM vectorizes for the host (noalias pointers make that safe without runtime checks).
#include "CodeGen/Elementwise.h"
#include "CodeGen/Loops.h"
#include "Ops/Build.h"

#include <unordered_map>
#include <unordered_set>

namespace adjoint {

std::optional<Tensor> constantValue(const Value *v) {
  const Op *d = v ? v->definingOp() : nullptr;
  if (!d)
    return std::nullopt;
  const OpLowering *l = LoweringRegistry::instance().find(*d);
  if (!l || l->kind != OpLowering::Kind::Constant)
    return std::nullopt;
  // Constant ops hold their value; shape-only ops (Shape) read nothing but operand types.
  std::vector<Tensor> placeholders;
  std::vector<const Tensor *> ins;
  for (Value *o : d->operands())
    placeholders.push_back(o ? Tensor::placeholder(o->dtype(), o->shape()) : Tensor());
  for (size_t i = 0; i < d->numOperands(); ++i)
    ins.push_back(d->operand(i) ? &placeholders[i] : nullptr);
  Tensor t = evaluateOp(*d, ins).at(v->resultIndex());
  if (t.empty() && t.numel() != 0)
    fail(d->describe(), ": the constant has no data (it was printed elided); it cannot be compiled");
  return t;
}

bool computableInNest(const Value *v) {
  const Op *d = v->definingOp();
  if (!d)
    return false;
  const OpLowering *l = LoweringRegistry::instance().find(*d);
  if (!l)
    return false;
  if (l->kind == OpLowering::Kind::Elementwise)
    return true;
  return l->kind == OpLowering::Kind::Alias && d->operand(0) &&
         d->operand(0)->shape() == v->shape() && d->operand(0)->dtype() == v->dtype();
}

namespace {

bool isScalarConstant(const Value *v) {
  const Op *d = v->definingOp();
  if (!d || numElements(v->shape()) != 1)
    return false;
  const OpLowering *l = LoweringRegistry::instance().find(*d);
  return l && l->kind == OpLowering::Kind::Constant;
}

// The operands an elementwise op reads per element.
std::vector<size_t> elementOperands(const Op &op) {
  const OpLowering *l = LoweringRegistry::instance().find(op);
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

// Walks the trees below `outputs`, calling leaf(v) for leaves and node(op) for each op computed
// in the nest, each once, operands before users.
void walkNest(const std::vector<const Value *> &outputs,
              const std::function<bool(const Value *)> &inMemory,
              const std::function<void(const Value *)> &leaf,
              const std::function<void(const Op *)> &node) {
  std::unordered_set<const Value *> seen;
  std::function<void(const Value *)> visit = [&](const Value *v) {
    if (!v || !seen.insert(v).second)
      return;
    if (inMemory(v)) {
      leaf(v);
      return;
    }
    if (isScalarConstant(v))
      return;
    if (!computableInNest(v)) {
      leaf(v); // multi-element constants
      return;
    }
    const Op *d = v->definingOp();
    for (size_t i : elementOperands(*d))
      visit(d->operand(i));
    node(d);
  };
  for (const Value *v : outputs)
    visit(v);
}

} // namespace

std::vector<const Value *> nestLeaves(const std::vector<const Value *> &outputs,
                                      const std::function<bool(const Value *)> &inMemory) {
  std::vector<const Value *> leaves;
  walkNest(outputs, inMemory, [&](const Value *v) { leaves.push_back(v); }, [](const Op *) {});
  return leaves;
}

double nestCost(const std::vector<const Value *> &outputs,
                const std::function<bool(const Value *)> &inMemory) {
  double cost = 0.5 * (double)outputs.size();
  walkNest(outputs, inMemory, [&](const Value *) { cost += 0.5; }, [&](const Op *op) {
    const OpLowering *l = LoweringRegistry::instance().find(*op);
    cost += l && l->kind == OpLowering::Kind::Elementwise ? l->cost : 0;
  });
  return cost;
}

void emitElementwiseNest(OpEmitContext &ctx, const Shape &domain,
                         const std::vector<const Value *> &leaves,
                         const std::vector<const Value *> &outputs, double cost) {
  LoopSpace space;
  space.dims = domain;
  for (size_t j = 0; j < outputs.size(); ++j)
    space.strides.push_back(stridesOf(domain));
  for (const Value *leaf : leaves)
    space.strides.push_back(broadcastStridesTo(leaf->shape(), domain));
  if (space.total() == 0)
    return;
  LoopSpace s = coalesce(space);
  int64_t inner = s.total() / s.dims[0];
  std::unordered_set<const Value *> leafSet(leaves.begin(), leaves.end());
  auto inMemory = [&](const Value *v) { return leafSet.count(v) != 0; };

  ctx.parallelFor(s.dims[0], cost * (double)inner, [&](OpEmitContext &c, llvm::Value *begin,
                                                          llvm::Value *end) {
    emitLoops(c.b, c.cg, s, begin, end, [&](Builder &b, const std::vector<llvm::Value *> &off) {
      std::unordered_map<const Value *, llvm::Value *> scalar;
      for (size_t i = 0; i < leaves.size(); ++i)
        scalar[leaves[i]] = c.cg.load(b, leaves[i]->dtype(), c.operands[i], off[outputs.size() + i]);
      walkNest(outputs, inMemory, [](const Value *) {}, [&](const Op *op) {
        const OpLowering *l = LoweringRegistry::instance().find(*op);
        std::vector<llvm::Value *> args(op->numOperands(), nullptr);
        for (size_t i : elementOperands(*op)) {
          const Value *o = op->operand(i);
          if (!o)
            continue;
          auto it = scalar.find(o);
          if (it != scalar.end()) {
            args[i] = it->second;
            continue;
          }
          // A one-element constant: an immediate.
          std::optional<Tensor> t = constantValue(o);
          if (!t)
            fail("internal error: ", op->describe(), " operand ", i, " has no value in the nest");
          llvm::Value *v = nullptr;
          switch (o->dtype()) {
          case DType::F32: v = llvm::ConstantFP::get(b.getFloatTy(), t->data<float>()[0]); break;
          case DType::F64: v = llvm::ConstantFP::get(b.getDoubleTy(), t->data<double>()[0]); break;
          case DType::I64: v = b.getInt64((uint64_t)t->data<int64_t>()[0]); break;
          case DType::I32: v = b.getInt32((uint32_t)t->data<int32_t>()[0]); break;
          case DType::Bool: v = b.getInt1(t->data<bool>()[0]); break;
          }
          scalar[o] = args[i] = v;
        }
        llvm::Value *r = l->kind == OpLowering::Kind::Alias ? args[0] : l->scalar(c.cg, b, *op, args);
        scalar[op->result(0)] = r;
      });
      for (size_t j = 0; j < outputs.size(); ++j) {
        auto it = scalar.find(outputs[j]);
        if (it == scalar.end())
          fail("internal error: nest output has no value");
        c.cg.store(b, outputs[j]->dtype(), it->second, c.results[j], off[j]);
      }
    });
  });
}

} // namespace adjoint
