// Expands ONNX's Gradient op (ai.onnx.preview.training) into the adjoint graph it stands for.
//
// Gradient(inputs) {xs, y, zs}: the gradient of the tensor named y with respect to the tensors
// named xs, evaluated at the values given as inputs (xs's, then zs's). Names resolve to a function
// argument, else an op result of that name (ONNX output names), else the result of the
// single-result op with that name (.adj text numbers results, but keeps op names as loc(...)). When
// every input is the very tensor its name denotes (the usual case) the gradient is built on the
// function as it is; otherwise the ops from those tensors to y are first cloned with the inputs in
// their place. The gradient of a non-scalar y is that of the sum of its elements; a tensor of xs
// that y does not depend on gets zeros.
//
// differentiate() appends the adjoint ops at the end of the function, after the users of the
// Gradient's results; a stable topological sort puts them back in order.
#include "Ops/Build.h"
#include "Transforms/Autodiff.h"
#include "Transforms/Pass.h"

#include <unordered_map>
#include <unordered_set>

namespace adjoint {

namespace {

const char *const kTraining = "ai.onnx.preview.training";

bool isGradientOp(const Op &op) { return op.domain() == kTraining && op.opType() == "Gradient"; }

Value *findNamed(Function &f, const std::string &name) {
  if (Value *a = f.findArg(name))
    return a;
  for (const auto &op : f.ops())
    for (size_t i = 0; i < op->numResults(); ++i)
      if (op->result(i)->name() == name)
        return op->result(i);
  for (const auto &op : f.ops())
    if (op->numResults() == 1 && op->name() == name && !isGradientOp(*op))
      return op->result();
  return nullptr;
}

// Ops from the substituted values to y, cloned with the substitutes in their place (appended to f);
// returns y's clone, or y when nothing it depends on is substituted.
Value *cloneWithSubstitutes(Function &f, Value *y, std::unordered_map<Value *, Value *> subst) {
  std::vector<Op *> ops;
  for (const auto &op : f.ops())
    ops.push_back(op.get());
  for (Op *op : ops) {
    if (subst.count(y))
      break;
    if (isGradientOp(*op))
      continue;
    bool touched = false;
    std::vector<Value *> operands;
    for (Value *v : op->operands()) {
      auto it = v ? subst.find(v) : subst.end();
      touched |= it != subst.end();
      operands.push_back(it != subst.end() ? it->second : v);
    }
    if (!touched)
      continue;
    std::vector<TensorType> types;
    for (size_t i = 0; i < op->numResults(); ++i)
      types.push_back(op->result(i)->type());
    Op *copy = f.createOp(op->opType(), operands, types, op->attrs());
    copy->setDomain(op->domain());
    copy->setName(op->name());
    for (size_t i = 0; i < op->numResults(); ++i)
      subst[op->result(i)] = copy->result(i);
  }
  auto it = subst.find(y);
  return it == subst.end() ? y : it->second;
}

// Reorders f's ops so that every operand is defined before its use, keeping the current order
// wherever it already is one.
void restoreTopologicalOrder(Function &f) {
  std::vector<Op *> order, current;
  for (const auto &op : f.ops())
    current.push_back(op.get());
  std::unordered_set<const Op *> placed, visiting;
  for (Op *root : current) {
    // Iterative post-order: place an op once all its operands' definitions are placed.
    std::vector<std::pair<Op *, size_t>> stack{{root, 0}};
    while (!stack.empty()) {
      auto &[op, next] = stack.back();
      if (placed.count(op)) {
        stack.pop_back();
        continue;
      }
      visiting.insert(op);
      if (next < op->numOperands()) {
        Value *v = op->operand(next++);
        Op *def = v ? v->definingOp() : nullptr;
        if (def && visiting.count(def) && !placed.count(def))
          fail("expand-gradient: ", def->describe(), " depends on its own result");
        if (def && !placed.count(def))
          stack.push_back({def, 0});
        continue;
      }
      placed.insert(op);
      order.push_back(op);
      stack.pop_back();
    }
  }
  if (order == current)
    return;
  for (Op *op : order)
    f.moveBefore(op, nullptr);
}

void expand(Function &f, Op *g) {
  std::vector<std::string> xs = g->attr("xs")->strings();
  std::vector<std::string> zs =
      g->hasAttr("zs") ? g->attr("zs")->strings() : std::vector<std::string>{};
  std::string yName = g->stringAttr("y", "");
  Value *y = findNamed(f, yName);
  if (!y)
    fail("expand-gradient: ", g->describe(), ": y names no value '", yName, "' of @", f.name());
  std::unordered_map<Value *, Value *> subst;
  for (size_t i = 0; i < g->numOperands(); ++i) {
    const std::string &name = i < xs.size() ? xs[i] : zs[i - xs.size()];
    Value *named = findNamed(f, name);
    if (!named)
      fail("expand-gradient: ", g->describe(), ": ", i < xs.size() ? "xs" : "zs",
           " names no value '", name, "' of @", f.name());
    Value *given = g->operand(i);
    if (named == given)
      continue;
    check(named->type() == given->type(), "expand-gradient: ", g->describe(), ": input ", i,
          " has type ", given->type().str(), " but '", name, "' is ", named->type().str());
    subst[named] = given;
  }
  Value *target = cloneWithSubstitutes(f, y, subst);
  std::vector<Value *> wrt(g->operands().begin(), g->operands().begin() + (long)xs.size());
  std::vector<Value *> grads = differentiate(f, target, wrt);
  for (size_t i = 0; i < g->numResults(); ++i) {
    Value *r = g->result(i);
    Value *d = grads[i] ? grads[i] : buildZeros(f, r->type());
    // Another Gradient's y may name this result.
    if (d->name().empty() && !d->isArg())
      d->setName(r->name());
    f.replaceAllUses(r, d);
  }
  f.eraseOp(g);
}

} // namespace

bool runExpandGradient(Function &f, PassContext &ctx) {
  std::vector<Op *> gradients;
  for (const auto &op : f.ops())
    if (isGradientOp(*op))
      gradients.push_back(op.get());
  for (Op *g : gradients)
    expand(f, g);
  if (gradients.empty()) {
    if (ctx.debugging("expand-gradient"))
      ctx.dbgs() << "expand-gradient: @" << f.name() << " has no Gradient ops\n";
    return false;
  }
  restoreTopologicalOrder(f);
  ctx.stats["expand-gradient.expanded"] += (int64_t)gradients.size();
  return true;
}

} // namespace adjoint
