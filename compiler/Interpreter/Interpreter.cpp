#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Support/Error.h"

#include <unordered_map>

namespace adjoint {

std::vector<Tensor> interpret(const Function &fn, const std::map<std::string, Tensor> &inputs,
                              const InterpreterOptions &opts) {
  std::unordered_map<const Value *, Tensor> env;
  for (const auto &arg : fn.args()) {
    auto it = inputs.find(arg->name());
    if (it == inputs.end()) {
      if (arg->isParam() && !arg->paramData().empty()) {
        env[arg.get()] = arg->paramData();
        continue;
      }
      fail("input '", arg->name(), "' of function @", fn.name(), " was not given",
           arg->isParam() ? " (a parameter without data)" : "");
    }
    const Tensor &t = it->second;
    if (t.dtype() != arg->dtype() || t.shape() != arg->shape())
      fail("input '", arg->name(), "' has type ", TensorType{t.dtype(), t.shape()}.str(),
           " but the function expects ", arg->type().str());
    env[arg.get()] = t;
  }
  for (const auto &name_t : inputs)
    if (!fn.findArg(name_t.first))
      fail("function @", fn.name(), " has no input named '", name_t.first, "'");

  // Values are freed after their last use so that large graphs fit in memory.
  std::unordered_map<const Value *, size_t> remaining;
  for (const auto &op : fn.ops())
    for (Value *v : op->operands())
      if (v)
        remaining[v]++;

  for (const auto &op : fn.ops()) {
    std::vector<const Tensor *> ins;
    for (Value *v : op->operands()) {
      if (!v) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = env.find(v);
      if (it == env.end())
        fail(op->describe(), ": operand is used before it is defined");
      ins.push_back(&it->second);
    }
    std::vector<Tensor> outs = evaluateOp(*op, ins);
    if (opts.afterOp)
      opts.afterOp(*op, outs);
    for (Value *v : op->operands())
      if (v && --remaining[v] == 0 && !fn.isOutput(v))
        env.erase(v);
    for (size_t i = 0; i < outs.size(); ++i)
      env[op->result(i)] = std::move(outs[i]);
  }

  std::vector<Tensor> results;
  for (const auto &o : fn.outputs()) {
    auto it = env.find(o.value);
    if (it == env.end())
      fail("output '", o.name, "' of function @", fn.name(), " is not defined");
    results.push_back(it->second);
  }
  return results;
}

} // namespace adjoint
