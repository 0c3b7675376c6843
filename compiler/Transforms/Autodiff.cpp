// Reverse-mode automatic differentiation as a pass. For a scalar loss output and the trainable
// parameters (every floating-point parameter not frozen), it appends the adjoint graph to the
// same function and adds one output `grad.<param>` per trainable parameter.
//
// How: a forward sweep marks the values that depend on a trainable parameter (only those can
// carry a gradient); ops are then visited in reverse order, and each op whose results received a
// gradient and whose operands need one calls its schema's gradient rule (a vector-Jacobian
// product built from ordinary ops, Ops/GradContext.h). Forward values are reused, not
// recomputed. Gradients reaching one value from several uses are summed here, in one place.
// Integer and bool values never carry gradients; nor do StopGradient's results.
#include "Transforms/Autodiff.h"
#include "Ops/Build.h"
#include "Ops/GradContext.h"
#include "Transforms/Pass.h"

#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace adjoint {

namespace {
std::set<std::string> splitList(const std::string &s) {
  std::set<std::string> r;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty())
      r.insert(x);
  return r;
}

const FunctionOutput &findLoss(const Function &f, const std::string &name) {
  check(!f.outputs().empty(), "autodiff: function @", f.name(), " has no outputs");
  if (name.empty())
    return f.outputs().front();
  for (const auto &o : f.outputs())
    if (o.name == name)
      return o;
  fail("autodiff: function @", f.name(), " has no output named '", name, "'");
}
} // namespace

std::vector<Value *> differentiate(Function &f, Value *y, const std::vector<Value *> &xs,
                                   int64_t *rulesApplied) {
  // Forward: which values depend on an x through floating-point values.
  std::unordered_set<const Value *> active(xs.begin(), xs.end());
  std::vector<Op *> forward;
  for (const auto &op : f.ops())
    forward.push_back(op.get());
  for (Op *op : forward) {
    if (op->domain() == "adjoint" && op->opType() == "StopGradient")
      continue;
    bool any = false;
    for (Value *v : op->operands())
      any |= v && active.count(v);
    if (any)
      for (size_t i = 0; i < op->numResults(); ++i)
        if (isFloat(op->result(i)->dtype()))
          active.insert(op->result(i));
  }

  std::unordered_map<const Value *, Value *> grads;
  auto accumulate = [&](Value *v, Value *g) {
    auto [it, fresh] = grads.emplace(v, g);
    if (!fresh)
      it->second = buildOp(f, "Add", {it->second, g})->result();
  };
  if (active.count(y)) {
    // The seed is ones: for a non-scalar y this differentiates the sum of its elements.
    Tensor one(y->dtype(), {});
    one.setDouble(0, 1.0);
    Value *ones = buildConstant(f, std::move(one));
    if (y->type().rank() != 0)
      ones = buildOp(f, "Expand", {ones, buildConstant(f, Tensor::fromVector<int64_t>(
                                                             {y->type().rank()}, y->shape()))})
                 ->result();
    grads[y] = ones;
  }

  // Ops after y cannot affect it; walking from the end is still correct, they just get no grads.
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    Op *op = *it;
    std::vector<Value *> outGrads;
    bool anyOut = false;
    for (size_t i = 0; i < op->numResults(); ++i) {
      auto g = grads.find(op->result(i));
      outGrads.push_back(g == grads.end() ? nullptr : g->second);
      anyOut |= g != grads.end();
    }
    std::vector<bool> needs;
    bool anyIn = false;
    for (Value *v : op->operands()) {
      needs.push_back(v && active.count(v));
      anyIn |= needs.back();
    }
    if (!anyOut || !anyIn)
      continue;
    const OpSchema *schema = OpRegistry::instance().find(*op);
    if (!schema || !schema->grad)
      fail("autodiff: ", op->describe(), " has no gradient rule, but a gradient must flow ",
           "through it");
    GradContext gctx(f, *op, outGrads, needs);
    std::vector<Value *> inGrads = schema->grad(gctx);
    for (size_t i = 0; i < op->numOperands(); ++i) {
      Value *g = i < inGrads.size() ? inGrads[i] : nullptr;
      if (!needs[i] || !g)
        continue;
      if (g->type() != op->operand(i)->type())
        fail("autodiff: internal error: gradient rule of ", op->describe(), " gave ",
             g->type().str(), " for operand ", i, " of type ", op->operand(i)->type().str());
      accumulate(op->operand(i), g);
    }
    if (rulesApplied)
      ++*rulesApplied;
  }

  std::vector<Value *> result;
  for (Value *x : xs) {
    auto g = grads.find(x);
    result.push_back(g == grads.end() ? nullptr : g->second);
  }
  return result;
}

bool runAutodiff(Function &f, PassContext &ctx) {
  const FunctionOutput &lossOut = findLoss(f, ctx.option("loss"));
  Value *loss = lossOut.value;
  check(isFloat(loss->dtype()) && numElements(loss->shape()) == 1, "autodiff: loss '",
        lossOut.name, "' must be a floating-point scalar, got ", loss->type().str());

  std::set<std::string> frozen = splitList(ctx.option("freeze"));
  std::vector<Value *> trainable;
  for (Value *p : f.params()) {
    if (frozen.erase(p->name()))
      continue;
    if (isFloat(p->dtype()))
      trainable.push_back(p);
  }
  if (!frozen.empty())
    fail("autodiff: --freeze names '", *frozen.begin(), "', which is not a parameter of @",
         f.name());

  std::vector<Value *> grads = differentiate(f, loss, trainable, &ctx.stats["autodiff.rules"]);
  for (size_t i = 0; i < trainable.size(); ++i) {
    Value *p = trainable[i];
    Value *gv = grads[i];
    if (!gv) {
      if (ctx.debugging("autodiff"))
        ctx.dbgs() << "autodiff: parameter '" << p->name()
                   << "' does not affect the loss; its gradient is zero\n";
      gv = buildZeros(f, p->type());
    }
    f.addOutput("grad." + p->name(), gv);
  }
  if (ctx.debugging("autodiff"))
    for (const std::string &name : splitList(ctx.option("freeze")))
      ctx.dbgs() << "autodiff: parameter '" << name << "' is frozen: no gradient\n";
  return true;
}

} // namespace adjoint
