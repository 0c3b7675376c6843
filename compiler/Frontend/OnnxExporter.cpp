#include "Frontend/OnnxExporter.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <unordered_map>

namespace adjoint {

namespace {

void setType(onnx::ValueInfoProto &vi, const std::string &name, const TensorType &t) {
  vi.set_name(name);
  auto *tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnxFromDType(t.dtype));
  auto *shape = tt->mutable_shape();
  for (int64_t d : t.shape)
    shape->add_dim()->set_dim_value(d);
}

void exportAttribute(const std::string &name, const Attribute &a, onnx::AttributeProto &p) {
  p.set_name(name);
  switch (a.kind()) {
  case AttrKind::Int:
    p.set_type(onnx::AttributeProto::INT);
    p.set_i(a.i());
    break;
  case AttrKind::Float:
    p.set_type(onnx::AttributeProto::FLOAT);
    p.set_f((float)a.f());
    break;
  case AttrKind::String:
    p.set_type(onnx::AttributeProto::STRING);
    p.set_s(a.s());
    break;
  case AttrKind::Ints:
    p.set_type(onnx::AttributeProto::INTS);
    for (int64_t v : a.ints())
      p.add_ints(v);
    break;
  case AttrKind::Floats:
    p.set_type(onnx::AttributeProto::FLOATS);
    for (double v : a.floats())
      p.add_floats((float)v);
    break;
  case AttrKind::Strings:
    p.set_type(onnx::AttributeProto::STRINGS);
    for (const auto &v : a.strings())
      p.add_strings(v);
    break;
  case AttrKind::Tensor:
    p.set_type(onnx::AttributeProto::TENSOR);
    tensorToProto(a.tensor(), *p.mutable_t());
    break;
  }
}

// ONNX values are named; IR results are not necessarily. Keeps the names values carry when they
// are unique, and makes up the rest, never reusing an argument's or a graph output's name.
class Namer {
public:
  explicit Namer(const Function &fn) {
    for (const auto &a : fn.args())
      taken_.insert(a->name());
    for (const auto &o : fn.outputs())
      taken_.insert(o.name);
  }
  bool isTaken(const std::string &s) const { return taken_.count(s) != 0; }
  void assign(const Value *v, const std::string &name) {
    names_[v] = name;
    taken_.insert(name);
  }
  const std::string *find(const Value *v) const {
    auto it = names_.find(v);
    return it == names_.end() ? nullptr : &it->second;
  }
  const std::string &nameOf(const Value *v) {
    if (const std::string *s = find(v))
      return *s;
    std::string n = v->name();
    if (n.empty() || taken_.count(n)) {
      std::string base = n.empty() ? "t" : n + "_";
      do
        n = base + std::to_string(counter_++);
      while (taken_.count(n));
    }
    assign(v, n);
    return names_[v];
  }

private:
  std::set<std::string> taken_;
  std::unordered_map<const Value *, std::string> names_;
  int64_t counter_ = 0;
};

} // namespace

void exportOnnxModel(const Function &fn, onnx::ModelProto &out) {
  out.Clear();
  out.set_ir_version(8);
  out.set_producer_name("adjoint");
  std::map<std::string, int64_t> domains{{"", 17}};
  for (const auto &op : fn.ops())
    if (!op->domain().empty())
      domains.emplace(op->domain(), 1);
  for (const auto &[d, v] : domains) {
    auto *imp = out.add_opset_import();
    imp->set_domain(d);
    imp->set_version(v);
  }

  onnx::GraphProto &g = *out.mutable_graph();
  g.set_name(fn.name());
  Namer names(fn);
  std::set<std::string> argNames;
  for (const auto &a : fn.args()) {
    if (!argNames.insert(a->name()).second || a->name().empty())
      fail("export of @", fn.name(), ": argument name '", a->name(), "' is empty or not unique");
    names.assign(a.get(), a->name());
    if (!a->isParam()) {
      setType(*g.add_input(), a->name(), a->type());
      continue;
    }
    const Tensor &data = a->paramData();
    if (data.empty())
      fail("export of @", fn.name(), ": parameter '", a->name(),
           "' has no data; an ONNX initializer needs its values");
    if (data.dtype() != a->dtype() || data.shape() != a->shape())
      fail("export of @", fn.name(), ": parameter '", a->name(), "' holds ",
           TensorType{data.dtype(), data.shape()}.str(), " but is declared ", a->type().str());
    auto *init = g.add_initializer();
    tensorToProto(data, *init);
    init->set_name(a->name());
  }

  // A result that is an output takes the output's name, so the graph output needs no copy.
  std::set<std::string> outputNamed;
  for (const auto &o : fn.outputs())
    if (!o.value->isArg() && !names.find(o.value) && !outputNamed.count(o.name)) {
      names.assign(o.value, o.name);
      outputNamed.insert(o.name);
    }

  for (const auto &op : fn.ops()) {
    if (op->domain().empty() && op->opType() == "Dropout" && op->numOperands() > 3)
      fail("export of @", fn.name(), ": ", op->describe(),
           " has a run-time seed operand (an adjoint extension ONNX's Dropout lacks)");
    onnx::NodeProto &node = *g.add_node();
    node.set_op_type(op->opType());
    if (!op->domain().empty())
      node.set_domain(op->domain());
    if (!op->name().empty())
      node.set_name(op->name());
    for (Value *v : op->operands())
      node.add_input(v ? names.nameOf(v) : std::string());
    for (size_t i = 0; i < op->numResults(); ++i) {
      Value *r = op->result(i);
      node.add_output(names.nameOf(r));
      if (!fn.isOutput(r))
        setType(*g.add_value_info(), names.nameOf(r), r->type());
    }
    for (const auto &[name, a] : op->attrs())
      exportAttribute(name, a, *node.add_attribute());
  }

  // Outputs named otherwise (an argument, or a value given twice) go through an Identity.
  std::set<std::string> outputNames;
  for (const auto &o : fn.outputs()) {
    if (o.name.empty() || !outputNames.insert(o.name).second)
      fail("export of @", fn.name(), ": output name '", o.name, "' is empty or not unique");
    const std::string &vn = names.nameOf(o.value);
    if (vn != o.name) {
      if (argNames.count(o.name) || outputNamed.count(o.name))
        fail("export of @", fn.name(), ": output '", o.name,
             "' has the name of another value; ONNX names each value once");
      onnx::NodeProto &node = *g.add_node();
      node.set_op_type("Identity");
      node.set_name(o.name + "/output");
      node.add_input(vn);
      node.add_output(o.name);
    }
    setType(*g.add_output(), o.name, o.value->type());
  }
}

void exportOnnxFile(const Function &fn, const std::string &path) {
  onnx::ModelProto model;
  exportOnnxModel(fn, model);
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    fail(path, ": cannot serialize the ONNX model (over 2 GiB?)");
  writeFileAtomic(path, bytes);
}

} // namespace adjoint
