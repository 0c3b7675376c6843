#pragma once
// The graph IR: a Function is a list of Ops in topological order over SSA Values. A Value is a
// function argument (an input, or a parameter with its initial data) or a result of one Op.
// Optional ONNX operands that are absent are nullptr operands.
#include "IR/Attribute.h"

#include <list>
#include <memory>
#include <string>
#include <vector>

namespace adjoint {

struct TensorType {
  DType dtype = DType::F32;
  Shape shape;
  bool operator==(const TensorType &o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
  int64_t rank() const { return (int64_t)shape.size(); }
  std::string str() const; // "f32[2,3]"
};

class Op;
class Function;
class Module;

struct Use {
  Op *user;
  unsigned operandIndex;
};

class Value {
public:
  enum class Kind { Input, Param, Result };

  Kind kind() const { return kind_; }
  bool isArg() const { return kind_ != Kind::Result; }
  bool isParam() const { return kind_ == Kind::Param; }
  const TensorType &type() const { return type_; }
  DType dtype() const { return type_.dtype; }
  const Shape &shape() const { return type_.shape; }
  void setType(TensorType t) { type_ = std::move(t); }
  const std::string &name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  Op *definingOp() const { return def_; }
  unsigned resultIndex() const { return resultIndex_; }
  const std::vector<Use> &uses() const { return uses_; }
  bool hasUses() const { return !uses_.empty(); }

  // Parameter data; empty when the parameter was declared without data (elided text form).
  const Tensor &paramData() const { return data_; }
  void setParamData(Tensor t) { data_ = std::move(t); }

private:
  friend class Op;
  friend class Function;
  Kind kind_ = Kind::Result;
  TensorType type_;
  std::string name_;
  Op *def_ = nullptr;
  unsigned resultIndex_ = 0;
  std::vector<Use> uses_;
  Tensor data_;
};

class Op {
public:
  const std::string &opType() const { return type_; }
  // ONNX domain; "" is the default ai.onnx domain.
  const std::string &domain() const { return domain_; }
  void setDomain(std::string d) { domain_ = std::move(d); }
  const std::string &name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  // "Conv 'conv1'" or "Conv" — for messages.
  std::string describe() const;

  size_t numOperands() const { return operands_.size(); }
  Value *operand(size_t i) const { return i < operands_.size() ? operands_[i] : nullptr; }
  const std::vector<Value *> &operands() const { return operands_; }
  void setOperand(size_t i, Value *v);

  size_t numResults() const { return results_.size(); }
  Value *result(size_t i = 0) const { return results_[i].get(); }

  const AttrMap &attrs() const { return attrs_; }
  bool hasAttr(const std::string &n) const { return attrs_.count(n) != 0; }
  const Attribute *attr(const std::string &n) const;
  void setAttr(const std::string &n, Attribute a) { attrs_[n] = std::move(a); }
  void removeAttr(const std::string &n) { attrs_.erase(n); }
  int64_t intAttr(const std::string &n, int64_t dflt) const;
  double floatAttr(const std::string &n, double dflt) const;
  std::string stringAttr(const std::string &n, const std::string &dflt) const;
  std::vector<int64_t> intsAttr(const std::string &n, std::vector<int64_t> dflt = {}) const;
  std::vector<double> floatsAttr(const std::string &n, std::vector<double> dflt = {}) const;

  Function *parent() const { return parent_; }

private:
  friend class Function;
  std::string type_, domain_, name_;
  std::vector<Value *> operands_;
  std::vector<std::unique_ptr<Value>> results_;
  AttrMap attrs_;
  Function *parent_ = nullptr;
};

struct FunctionOutput {
  std::string name;
  Value *value;
};

class Function {
public:
  using OpList = std::list<std::unique_ptr<Op>>;

  explicit Function(std::string name) : name_(std::move(name)) {}
  Function(const Function &) = delete;
  Function &operator=(const Function &) = delete;

  const std::string &name() const { return name_; }
  void setName(std::string n) { name_ = std::move(n); }
  // The module holding this function (null for a free-standing one): ops that name other
  // functions (adjoint.Kernel's body) look them up there.
  Module *module() const { return module_; }

  Value *addInput(std::string name, TensorType type);
  Value *addParam(std::string name, TensorType type, Tensor data);
  const std::vector<std::unique_ptr<Value>> &args() const { return args_; }
  std::vector<Value *> inputs() const; // Kind::Input args, in order
  std::vector<Value *> params() const; // Kind::Param args, in order
  Value *findArg(const std::string &name) const;
  void eraseArg(Value *arg); // must have no uses

  const OpList &ops() const { return ops_; }
  OpList::iterator begin() { return ops_.begin(); }
  OpList::iterator end() { return ops_.end(); }

  // Creates an op before `before` (end when null). Result types are given; Ops/Build.h infers them.
  Op *createOp(std::string type, std::vector<Value *> operands, std::vector<TensorType> resultTypes,
               AttrMap attrs = {}, Op *before = nullptr);
  void eraseOp(Op *op); // its results must have no uses
  // Removes every op for which pred is true, in one sweep (results must be unused after all go).
  template <typename Pred> size_t eraseOpsIf(Pred pred);
  void moveBefore(Op *op, Op *before);

  void replaceAllUses(Value *from, Value *to); // including function outputs

  const std::vector<FunctionOutput> &outputs() const { return outputs_; }
  void addOutput(std::string name, Value *v) { outputs_.push_back({std::move(name), v}); }
  void setOutput(size_t i, Value *v) { outputs_[i].value = v; }
  void clearOutputs() { outputs_.clear(); }
  bool isOutput(const Value *v) const;

private:
  void dropOperandUses(Op *op);
  friend class Module;
  Module *module_ = nullptr;
  std::string name_;
  std::vector<std::unique_ptr<Value>> args_;
  OpList ops_;
  std::vector<FunctionOutput> outputs_;
};

template <typename Pred> size_t Function::eraseOpsIf(Pred pred) {
  // Uses are dropped before anything is freed: an erased op may use another erased op's result.
  std::vector<OpList::iterator> doomed;
  for (auto it = ops_.begin(); it != ops_.end(); ++it)
    if (pred(**it))
      doomed.push_back(it);
  for (auto it : doomed)
    dropOperandUses(it->get());
  for (auto it : doomed)
    ops_.erase(it);
  return doomed.size();
}

class Module {
public:
  Function *addFunction(std::string name);
  const std::vector<std::unique_ptr<Function>> &functions() const { return funcs_; }
  Function *main() const { return funcs_.empty() ? nullptr : funcs_.front().get(); }
  Function *find(const std::string &name) const;
  // ONNX opset the model was imported from (default domain); 0 when built by hand.
  int64_t opsetVersion = 0;

private:
  std::vector<std::unique_ptr<Function>> funcs_;
};

} // namespace adjoint
