// ONNX AttributeProto → IR Attribute, and Constant's shorthand forms → its `value` tensor.
#include "Frontend/OnnxImportContext.h"
#include "Frontend/TensorIO.h"

namespace adjoint {

namespace {

// Models written before AttributeProto.type existed leave it UNDEFINED; the set field says.
onnx::AttributeProto::AttributeType kindOf(const onnx::AttributeProto &a) {
  if (a.type() != onnx::AttributeProto::UNDEFINED)
    return a.type();
  if (a.has_f())
    return onnx::AttributeProto::FLOAT;
  if (a.has_i())
    return onnx::AttributeProto::INT;
  if (a.has_s())
    return onnx::AttributeProto::STRING;
  if (a.has_t())
    return onnx::AttributeProto::TENSOR;
  if (a.has_g())
    return onnx::AttributeProto::GRAPH;
  if (a.has_sparse_tensor())
    return onnx::AttributeProto::SPARSE_TENSOR;
  if (a.floats_size())
    return onnx::AttributeProto::FLOATS;
  if (a.ints_size())
    return onnx::AttributeProto::INTS;
  if (a.strings_size())
    return onnx::AttributeProto::STRINGS;
  if (a.graphs_size())
    return onnx::AttributeProto::GRAPHS;
  return onnx::AttributeProto::UNDEFINED;
}

} // namespace

AttrMap convertAttributes(const NodeImport &n, const std::string &baseDir) {
  AttrMap out;
  for (const onnx::AttributeProto &a : n.node->attribute()) {
    const std::string &name = a.name();
    if (name.empty())
      n.error("has an attribute without a name");
    if (out.count(name))
      n.error("attribute '", name, "' is given twice");
    if (!a.ref_attr_name().empty())
      n.error("attribute '", name, "' refers to a function attribute ('", a.ref_attr_name(),
              "'), which only a function body may do");
    switch (kindOf(a)) {
    case onnx::AttributeProto::INT: out[name] = Attribute((int64_t)a.i()); break;
    case onnx::AttributeProto::FLOAT: out[name] = Attribute((double)a.f()); break;
    case onnx::AttributeProto::STRING: out[name] = Attribute(a.s()); break;
    case onnx::AttributeProto::INTS:
      out[name] = Attribute(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
      break;
    case onnx::AttributeProto::FLOATS:
      out[name] = Attribute(std::vector<double>(a.floats().begin(), a.floats().end()));
      break;
    case onnx::AttributeProto::STRINGS:
      out[name] = Attribute(std::vector<std::string>(a.strings().begin(), a.strings().end()));
      break;
    case onnx::AttributeProto::TENSOR:
      out[name] = Attribute(tensorFromProto(a.t(), baseDir, n.label + " attribute '" + name + "'"));
      break;
    case onnx::AttributeProto::UNDEFINED:
      n.error("attribute '", name, "' has no value");
    default:
      n.error("attribute '", name, "' is a ",
              onnx::AttributeProto::AttributeType_Name(kindOf(a)),
              " attribute, which is not supported (subgraphs, sparse tensors and types are not "
              "part of the op set)");
    }
  }
  return out;
}

void normalizeConstant(NodeImport &n) {
  if (n.attrs.count("sparse_value"))
    n.error("sparse_value constants are not supported");
  for (const char *s : {"value_string", "value_strings"})
    if (n.attrs.count(s))
      n.error("string constants (", s, ") are not supported");
  size_t forms = n.attrs.count("value");
  auto take = [&](const char *key, auto make) {
    auto it = n.attrs.find(key);
    if (it == n.attrs.end())
      return;
    Attribute a = std::move(it->second);
    n.attrs.erase(it);
    ++forms;
    n.attrs["value"] = Attribute(make(a));
  };
  auto wantKind = [&](const Attribute &a, AttrKind k, const char *key) {
    if (a.kind() != k)
      n.error("attribute '", key, "' must be ", attrKindName(k), ", got ", attrKindName(a.kind()));
  };
  take("value_float", [&](const Attribute &a) {
    wantKind(a, AttrKind::Float, "value_float");
    return Tensor::scalar<float>((float)a.f());
  });
  take("value_floats", [&](const Attribute &a) {
    wantKind(a, AttrKind::Floats, "value_floats");
    std::vector<float> v(a.floats().begin(), a.floats().end());
    return Tensor::fromVector<float>({(int64_t)v.size()}, v);
  });
  take("value_int", [&](const Attribute &a) {
    wantKind(a, AttrKind::Int, "value_int");
    return Tensor::scalar<int64_t>(a.i());
  });
  take("value_ints", [&](const Attribute &a) {
    wantKind(a, AttrKind::Ints, "value_ints");
    return Tensor::fromVector<int64_t>({(int64_t)a.ints().size()}, a.ints());
  });
  if (forms != 1)
    n.error(forms ? "has more than one of value, value_float, value_floats, value_int, value_ints"
                  : "has no value");
}

} // namespace adjoint
