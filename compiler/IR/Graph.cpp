#include "IR/Graph.h"
#include "Support/Error.h"

#include <algorithm>

namespace adjoint {

std::string TensorType::str() const {
  return std::string(dtypeName(dtype)) + shapeStr(shape);
}

std::string Op::describe() const {
  return name_.empty() ? type_ : type_ + " '" + name_ + "'";
}

void Op::setOperand(size_t i, Value *v) {
  if (i >= operands_.size())
    operands_.resize(i + 1, nullptr);
  if (Value *old = operands_[i]) {
    auto &u = old->uses_;
    u.erase(std::find_if(u.begin(), u.end(),
                         [&](const Use &x) { return x.user == this && x.operandIndex == i; }));
  }
  operands_[i] = v;
  if (v)
    v->uses_.push_back({this, (unsigned)i});
}

const Attribute *Op::attr(const std::string &n) const {
  auto it = attrs_.find(n);
  return it == attrs_.end() ? nullptr : &it->second;
}

int64_t Op::intAttr(const std::string &n, int64_t dflt) const {
  const Attribute *a = attr(n);
  return a && a->kind() == AttrKind::Int ? a->i() : dflt;
}

double Op::floatAttr(const std::string &n, double dflt) const {
  const Attribute *a = attr(n);
  if (a && a->kind() == AttrKind::Float)
    return a->f();
  if (a && a->kind() == AttrKind::Int)
    return (double)a->i();
  return dflt;
}

std::string Op::stringAttr(const std::string &n, const std::string &dflt) const {
  const Attribute *a = attr(n);
  return a && a->kind() == AttrKind::String ? a->s() : dflt;
}

std::vector<int64_t> Op::intsAttr(const std::string &n, std::vector<int64_t> dflt) const {
  const Attribute *a = attr(n);
  return a && a->kind() == AttrKind::Ints ? a->ints() : dflt;
}

std::vector<double> Op::floatsAttr(const std::string &n, std::vector<double> dflt) const {
  const Attribute *a = attr(n);
  return a && a->kind() == AttrKind::Floats ? a->floats() : dflt;
}

Value *Function::addInput(std::string name, TensorType type) {
  auto v = std::make_unique<Value>();
  v->kind_ = Value::Kind::Input;
  v->name_ = std::move(name);
  v->type_ = std::move(type);
  args_.push_back(std::move(v));
  return args_.back().get();
}

Value *Function::addParam(std::string name, TensorType type, Tensor data) {
  Value *v = addInput(std::move(name), std::move(type));
  v->kind_ = Value::Kind::Param;
  v->data_ = std::move(data);
  return v;
}

std::vector<Value *> Function::inputs() const {
  std::vector<Value *> r;
  for (auto &a : args_)
    if (a->kind() == Value::Kind::Input)
      r.push_back(a.get());
  return r;
}

std::vector<Value *> Function::params() const {
  std::vector<Value *> r;
  for (auto &a : args_)
    if (a->kind() == Value::Kind::Param)
      r.push_back(a.get());
  return r;
}

Value *Function::findArg(const std::string &name) const {
  for (auto &a : args_)
    if (a->name() == name)
      return a.get();
  return nullptr;
}

void Function::eraseArg(Value *arg) {
  check(!arg->hasUses() && !isOutput(arg), "cannot erase argument '", arg->name(),
        "': it is still used");
  args_.erase(std::find_if(args_.begin(), args_.end(), [&](auto &a) { return a.get() == arg; }));
}

Op *Function::createOp(std::string type, std::vector<Value *> operands,
                       std::vector<TensorType> resultTypes, AttrMap attrs, Op *before) {
  auto op = std::make_unique<Op>();
  op->type_ = std::move(type);
  op->attrs_ = std::move(attrs);
  op->parent_ = this;
  for (size_t i = 0; i < operands.size(); ++i)
    op->setOperand(i, operands[i]);
  for (size_t i = 0; i < resultTypes.size(); ++i) {
    auto v = std::make_unique<Value>();
    v->def_ = op.get();
    v->resultIndex_ = (unsigned)i;
    v->type_ = std::move(resultTypes[i]);
    op->results_.push_back(std::move(v));
  }
  Op *raw = op.get();
  auto pos = ops_.end();
  if (before)
    pos = std::find_if(ops_.begin(), ops_.end(), [&](auto &o) { return o.get() == before; });
  ops_.insert(pos, std::move(op));
  return raw;
}

void Function::dropOperandUses(Op *op) {
  for (size_t i = 0; i < op->operands_.size(); ++i)
    op->setOperand(i, nullptr);
}

void Function::eraseOp(Op *op) {
  for (auto &r : op->results_)
    check(!r->hasUses() && !isOutput(r.get()), "cannot erase ", op->describe(),
          ": its result is still used");
  dropOperandUses(op);
  ops_.erase(std::find_if(ops_.begin(), ops_.end(), [&](auto &o) { return o.get() == op; }));
}

void Function::moveBefore(Op *op, Op *before) {
  auto from = std::find_if(ops_.begin(), ops_.end(), [&](auto &o) { return o.get() == op; });
  auto to = before ? std::find_if(ops_.begin(), ops_.end(), [&](auto &o) { return o.get() == before; })
                   : ops_.end();
  ops_.splice(to, ops_, from);
}

void Function::replaceAllUses(Value *from, Value *to) {
  if (from == to)
    return;
  std::vector<Use> uses = from->uses();
  for (const Use &u : uses)
    u.user->setOperand(u.operandIndex, to);
  for (auto &o : outputs_)
    if (o.value == from)
      o.value = to;
}

bool Function::isOutput(const Value *v) const {
  for (auto &o : outputs_)
    if (o.value == v)
      return true;
  return false;
}

Function *Module::addFunction(std::string name) {
  funcs_.push_back(std::make_unique<Function>(std::move(name)));
  funcs_.back()->module_ = this;
  return funcs_.back().get();
}

Function *Module::find(const std::string &name) const {
  for (auto &f : funcs_)
    if (f->name() == name)
      return f.get();
  return nullptr;
}

} // namespace adjoint
