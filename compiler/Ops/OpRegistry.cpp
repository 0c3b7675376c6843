#include "Ops/OpRegistry.h"

namespace adjoint {

const AttrSpec *OpSchema::findAttr(const std::string &n) const {
  for (const auto &a : attrs)
    if (a.name == n)
      return &a;
  return nullptr;
}

const Attribute &AttrReader::get(const std::string &n, AttrKind k) const {
  const AttrSpec *spec = schema_.findAttr(n);
  if (!spec)
    fail(op_.describe(), ": internal error: attribute '", n, "' is not in the schema of ",
         schema_.name);
  const Attribute *a = op_.attr(n);
  if (!a) {
    if (!spec->dflt)
      fail(op_.describe(), ": missing required attribute '", n, "'");
    a = &*spec->dflt;
  }
  // An int literal where a float is expected is accepted (text form writes 1 for 1.0 rarely).
  if (a->kind() != k)
    fail(op_.describe(), ": attribute '", n, "' must be ", attrKindName(k), ", got ",
         attrKindName(a->kind()));
  return *a;
}

int64_t AttrReader::i(const std::string &n) const { return get(n, AttrKind::Int).i(); }
double AttrReader::f(const std::string &n) const { return get(n, AttrKind::Float).f(); }
std::string AttrReader::s(const std::string &n) const { return get(n, AttrKind::String).s(); }
std::vector<int64_t> AttrReader::ints(const std::string &n) const {
  return get(n, AttrKind::Ints).ints();
}
std::vector<double> AttrReader::floats(const std::string &n) const {
  return get(n, AttrKind::Floats).floats();
}
const Tensor &AttrReader::tensor(const std::string &n) const {
  return get(n, AttrKind::Tensor).tensor();
}

const TensorType &InferContext::type(size_t i) const {
  Value *v = op.operand(i);
  if (!v)
    fail(op.describe(), ": operand ", i, " is required");
  return v->type();
}

const Tensor *InferContext::constant(size_t i) const {
  Value *v = op.operand(i);
  if (!v || !v->definingOp() || v->definingOp()->opType() != "Constant" ||
      !v->definingOp()->domain().empty())
    return nullptr;
  const Attribute *a = v->definingOp()->attr("value");
  return a && a->kind() == AttrKind::Tensor ? &a->tensor() : nullptr;
}

const Tensor &InferContext::requireConstant(size_t i, const char *what) const {
  const Tensor *t = constant(i);
  if (!t)
    error(what, " (operand ", i, ") must be a compile-time constant: shapes are static");
  return *t;
}

const Tensor &KernelContext::in(size_t i) const {
  if (i >= inputs.size() || !inputs[i])
    error("operand ", i, " is required");
  return *inputs[i];
}

void OpRegistry::add(OpSchema s) {
  if (find(s.domain, s.name))
    fail("internal error: op ", s.name, " registered twice");
  schemas_.push_back(std::move(s));
}

void OpRegistry::setGrad(const std::string &domain, const std::string &name, GradFn fn) {
  for (auto &s : schemas_)
    if (s.name == name && s.domain == domain) {
      check(!s.grad, "internal error: gradient of ", name, " set twice");
      s.grad = std::move(fn);
      return;
    }
  fail("internal error: gradient for unregistered op ", name);
}

const OpSchema *OpRegistry::find(const std::string &domain, const std::string &name) const {
  for (const auto &s : schemas_)
    if (s.name == name && s.domain == domain)
      return &s;
  return nullptr;
}

} // namespace adjoint
