// adjoint.Kernel: a fused group of ops (Transforms/Fusion.cpp). Its `body` attribute names another
// function of the same module whose inputs are the kernel's operands and whose outputs are its
// results; the body is an ordinary function, printed as its own `func @main.kernel0(...)`.
//
// The reference kernel evaluates the body op by op with the registry's kernels, exactly as the
// Interpreter would (it cannot call interpret(): the interpreter library sits above adjoint_ops).
// A fused function therefore computes bit for bit what the unfused one did. Bodies are flat (they
// hold no kernels), which also rules out a kernel reaching itself.
#include "Ops/Build.h"

#include <climits>
#include <unordered_map>

namespace adjoint {

namespace {
const Function &bodyOf(const Op &op, const std::string &name) {
  const Function *parent = op.parent();
  const Module *m = parent ? parent->module() : nullptr;
  if (!m)
    fail(op.describe(), ": body @", name, " cannot be found: the kernel is not in a module");
  const Function *body = m->find(name);
  if (!body)
    fail(op.describe(), ": body @", name, " is not a function of the module");
  if (body == parent)
    fail(op.describe(), ": body @", name, " is the function that holds the kernel");
  for (const auto &inner : body->ops())
    if (inner->opType() == "Kernel" && inner->domain() == "adjoint")
      fail(op.describe(), ": body @", name, " holds another adjoint.Kernel (",
           inner->describe(), "); kernels do not nest");
  return *body;
}

std::vector<TensorType> inferKernel(InferContext &c) {
  std::string name = c.s("body");
  const Function &body = bodyOf(c.op, name);
  const auto &args = body.args();
  c.require(args.size() == c.numOperands(), "has ", c.numOperands(), " operands but body @", name,
            " takes ", args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    c.require(c.hasOperand(i), "operand ", i, " is absent but body @", name, " takes it");
    c.require(c.type(i) == args[i]->type(), "operand ", i, " is ", c.type(i).str(), " but body @",
              name, " takes ", args[i]->type().str(), " (argument '", args[i]->name(), "')");
  }
  c.require(c.numResults == body.outputs().size(), "has ", c.numResults, " results but body @",
            name, " returns ", body.outputs().size());
  std::vector<TensorType> types;
  for (const auto &o : body.outputs())
    types.push_back(o.value->type());
  return types;
}

void runKernel(KernelContext &c) {
  std::string name = c.s("body");
  const Function &body = bodyOf(c.op, name);
  std::unordered_map<const Value *, Tensor> env;
  for (size_t i = 0; i < body.args().size(); ++i)
    env[body.args()[i].get()] = c.in(i);
  // Values die after their last use, as in the Interpreter, so a large kernel stays small.
  std::unordered_map<const Value *, size_t> remaining;
  for (const auto &op : body.ops())
    for (Value *v : op->operands())
      if (v)
        remaining[v]++;
  for (const auto &op : body.ops()) {
    std::vector<const Tensor *> ins;
    for (Value *v : op->operands()) {
      auto it = v ? env.find(v) : env.end();
      if (v && it == env.end())
        c.error("in body @", name, ": ", op->describe(), " uses a value before it is defined");
      ins.push_back(v ? &it->second : nullptr);
    }
    std::vector<Tensor> outs = evaluateOp(*op, ins);
    for (Value *v : op->operands())
      if (v && --remaining[v] == 0 && !body.isOutput(v))
        env.erase(v);
    for (size_t i = 0; i < outs.size(); ++i)
      env[op->result(i)] = std::move(outs[i]);
  }
  for (size_t i = 0; i < body.outputs().size(); ++i) {
    auto it = env.find(body.outputs()[i].value);
    if (it == env.end())
      c.error("in body @", name, ": output '", body.outputs()[i].name, "' is not defined");
    c.out(i) = it->second;
  }
}
} // namespace

void registerKernelOp(OpRegistry &r) {
  r.add(OpSchema{
      .name = "Kernel",
      .domain = "adjoint",
      .minInputs = 0,
      .maxInputs = INT_MAX,
      .minOutputs = 1,
      .maxOutputs = INT_MAX,
      .attrs = {{"body", AttrKind::String, std::nullopt}},
      .infer = inferKernel,
      .kernel = runKernel,
  });
}

} // namespace adjoint
