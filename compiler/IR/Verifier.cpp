#include "IR/Verifier.h"
#include "IR/Lexer.h"
#include "Support/Error.h"

#include <unordered_map>
#include <unordered_set>

namespace adjoint {
namespace {

// Pointers are only dereferenced once they are known to belong to the function: a value from
// an erased op or another function may be dangling.
class StructureVerifier {
public:
  explicit StructureVerifier(const Function &fn) : fn_(fn) {}

  void run() {
    checkArgs();
    // Every value of the function, named as the printer would name it; results are numbered up
    // front so that a use before the definition can say which value it is.
    unsigned n = 0;
    for (const auto &op : fn_.ops()) {
      ops_.insert(op.get());
      for (size_t i = 0; i < op->numResults(); ++i)
        names_[op->result(i)] = std::string("%").append(std::to_string(n++));
    }
    for (const auto &a : fn_.args()) {
      names_[a.get()] = "%" + (isBareValueName(a->name()) ? a->name() : quoteString(a->name()));
      defined_.insert(a.get());
    }

    for (const auto &op : fn_.ops()) {
      checkOp(*op);
      for (size_t i = 0; i < op->numResults(); ++i)
        defined_.insert(op->result(i));
    }
    checkOutputs();
    for (const auto &a : fn_.args())
      checkUses(*a);
    for (const auto &op : fn_.ops()) {
      for (size_t i = 0; i < op->numResults(); ++i)
        checkUses(*op->result(i));
      checkOperandUses(*op);
    }
  }

private:
  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail("in @", fn_.name(), ": ", args...);
  }

  void checkArgs() {
    std::unordered_set<std::string> seen;
    for (const auto &a : fn_.args()) {
      if (!a->isArg())
        error("argument '", a->name(), "' is not of kind input or param");
      if (!seen.insert(a->name()).second)
        error("duplicate argument name '", a->name(), "'");
      const Tensor &d = a->paramData();
      if (a->isParam() && !d.empty() &&
          (d.dtype() != a->dtype() || d.shape() != a->shape()))
        error("parameter '", a->name(), "' is declared ", a->type().str(), " but its data is ",
              TensorType{d.dtype(), d.shape()}.str());
    }
  }

  void checkOp(const Op &op) {
    if (op.parent() != &fn_)
      error(op.describe(), ": its parent is not this function");
    for (size_t i = 0; i < op.numResults(); ++i) {
      const Value *r = op.result(i);
      if (r->kind() != Value::Kind::Result || r->definingOp() != &op || r->resultIndex() != i)
        error(op.describe(), ": result ", i, " does not point back to its op");
    }
    for (size_t i = 0; i < op.numOperands(); ++i) {
      const Value *v = op.operand(i);
      if (!v || defined_.count(v))
        continue;
      auto it = names_.find(v);
      if (it == names_.end())
        error(op.describe(), ": operand ", i, " is not a value of this function");
      error(op.describe(), ": operand ", i, " uses ", it->second,
            " before its definition (a cycle or misordered ops)");
    }
  }

  void checkOutputs() {
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < fn_.outputs().size(); ++i) {
      const FunctionOutput &o = fn_.outputs()[i];
      if (o.name.empty())
        error("output ", i, " has no name");
      if (!seen.insert(o.name).second)
        error("duplicate output name '", o.name, "'");
      if (!o.value)
        error("output '", o.name, "' has no value");
      if (!names_.count(o.value))
        error("output '", o.name, "' is not a value of this function");
    }
  }

  // The uses list of v must hold exactly the operand slots that refer to v.
  void checkUses(const Value &v) {
    const std::string &name = names_[&v];
    for (const Use &u : v.uses()) {
      if (!ops_.count(u.user))
        error(name, " lists a use by an op that is not in this function");
      if (u.user->operand(u.operandIndex) != &v)
        error(name, " lists a use as operand ", u.operandIndex, " of ", u.user->describe(),
              ", which holds another value");
    }
  }

  // Each operand slot must appear in its value's uses list exactly once.
  void checkOperandUses(const Op &op) {
    for (size_t i = 0; i < op.numOperands(); ++i) {
      const Value *v = op.operand(i);
      if (!v)
        continue;
      size_t count = 0;
      for (const Use &u : v->uses())
        count += u.user == &op && u.operandIndex == i;
      if (count != 1)
        error(op.describe(), ": operand ", i, " (", names_[v], ") appears ", count,
              " times in its value's uses list");
    }
  }

  const Function &fn_;
  std::unordered_set<const Op *> ops_;
  std::unordered_map<const Value *, std::string> names_;
  std::unordered_set<const Value *> defined_;
};

} // namespace

void verifyStructure(const Function &fn) { StructureVerifier(fn).run(); }

} // namespace adjoint
