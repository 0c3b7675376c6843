// Binding the graph inputs' symbolic dimensions to sizes. Shapes are static per compilation
// (DESIGN.md, "Shapes"): a dim_param takes its size from --dim name=N (opts.dims) or, failing
// that, from a concrete shape given for an input that uses it (opts.inputShapes). Anything left
// unbound is an error that says how to bind it.
#include "Frontend/OnnxImportContext.h"
#include "Frontend/TensorIO.h"

namespace adjoint {

namespace {

std::string declaredShapeStr(const onnx::TensorShapeProto &s) {
  std::string r = "[";
  for (int i = 0; i < s.dim_size(); ++i) {
    const auto &d = s.dim(i);
    r += i ? "," : "";
    r += d.has_dim_value() ? std::to_string(d.dim_value()) : d.has_dim_param() ? d.dim_param() : "?";
  }
  return r + "]";
}

const onnx::TypeProto_Tensor &tensorTypeOf(const onnx::ValueInfoProto &vi, const std::string &origin,
                                           const char *what) {
  if (!vi.has_type() || !vi.type().has_tensor_type())
    fail(origin, ": ", what, " '", vi.name(), "' is not a tensor (sequences, maps and optionals are "
         "not supported)");
  return vi.type().tensor_type();
}

} // namespace

InputBinding bindInputs(onnx::GraphProto &graph, const std::set<std::string> &initializers,
                        const ImportOptions &opts, const std::string &origin) {
  InputBinding b;
  for (const auto &[name, n] : opts.dims) {
    if (n < 0)
      fail(origin, ": --dim ", name, "=", n, " is negative");
    b.dims[name] = n;
  }
  // Where each binding came from, for messages about contradictions.
  std::map<std::string, std::string> source;
  for (const auto &[name, n] : opts.dims)
    source[name] = "--dim " + name + "=" + std::to_string(n);

  // Pass 1: concrete input shapes bind the dim_params they meet, and must agree with the model.
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (in.name().empty())
      fail(origin, ": a graph input has no name");
    if (initializers.count(in.name()))
      continue;
    auto given = opts.inputShapes.find(in.name());
    if (given == opts.inputShapes.end())
      continue;
    const auto &tt = tensorTypeOf(in, origin, "input");
    if (!tt.has_shape())
      continue;
    const auto &decl = tt.shape();
    const Shape &g = given->second;
    if ((size_t)decl.dim_size() != g.size())
      fail(origin, ": input '", in.name(), "' is declared with shape ", declaredShapeStr(decl),
           " (rank ", decl.dim_size(), ") but is given shape ", shapeStr(g), " (rank ", g.size(),
           ")");
    for (int i = 0; i < decl.dim_size(); ++i) {
      const auto &d = decl.dim(i);
      if (d.has_dim_value() && d.dim_value() != g[i])
        fail(origin, ": input '", in.name(), "' is declared with shape ", declaredShapeStr(decl),
             " but is given shape ", shapeStr(g), " (dimension ", i, " differs)");
      if (!d.has_dim_param())
        continue;
      const std::string &p = d.dim_param();
      std::string here = "input '" + in.name() + "' of shape " + shapeStr(g);
      auto it = b.dims.find(p);
      if (it != b.dims.end() && it->second != g[i])
        fail(origin, ": symbolic dimension '", p, "' is ", it->second, " (from ", source[p],
             ") but ", g[i], " in ", here);
      b.dims[p] = g[i];
      source.emplace(p, here);
    }
  }

  // Pass 2: every input's type, with each dimension bound.
  for (onnx::ValueInfoProto &in : *graph.mutable_input()) {
    if (initializers.count(in.name()))
      continue;
    const auto &tt = tensorTypeOf(in, origin, "input");
    std::optional<DType> dt = dtypeFromOnnx(tt.elem_type());
    if (!dt)
      fail(origin, ": input '", in.name(), "' has element type ", onnxTypeName(tt.elem_type()),
           ", which is not supported (supported: FLOAT, DOUBLE, INT64, INT32, BOOL)");
    BoundInput bi{in.name(), {*dt, {}}};
    auto given = opts.inputShapes.find(in.name());
    if (!tt.has_shape()) {
      if (given == opts.inputShapes.end())
        fail(origin, ": input '", in.name(), "' has no declared shape; give its shape");
      bi.type.shape = given->second;
    } else {
      auto *decl = in.mutable_type()->mutable_tensor_type()->mutable_shape();
      for (int i = 0; i < decl->dim_size(); ++i) {
        auto *d = decl->mutable_dim(i);
        int64_t size;
        if (d->has_dim_value()) {
          size = d->dim_value();
          if (size < 0)
            fail(origin, ": input '", in.name(), "' dimension ", i, " is negative (", size, ")");
        } else if (d->has_dim_param() && b.dims.count(d->dim_param())) {
          size = b.dims[d->dim_param()];
        } else if (given != opts.inputShapes.end()) {
          size = given->second[i];
        } else if (d->has_dim_param()) {
          fail(origin, ": input '", in.name(), "' dimension ", i, " is symbolic ('",
               d->dim_param(), "'); bind it with --dim ", d->dim_param(), "=N");
        } else {
          fail(origin, ": input '", in.name(), "' dimension ", i,
               " has no size; give the input's shape");
        }
        d->set_dim_value(size); // clears dim_param (a oneof)
        bi.type.shape.push_back(size);
      }
    }
    checkedTensorBytes(bi.type.dtype, bi.type.shape, origin + ": input '" + in.name() + "'");
    if (!tt.has_shape()) {
      auto *decl = in.mutable_type()->mutable_tensor_type()->mutable_shape();
      for (int64_t d : bi.type.shape)
        decl->add_dim()->set_dim_value(d);
    }
    b.inputs.push_back(std::move(bi));
  }
  return b;
}

void checkDeclaredOutput(const onnx::ValueInfoProto &decl, const TensorType &actual,
                         const std::map<std::string, int64_t> &dims, const std::string &origin) {
  if (!decl.has_type() || !decl.type().has_tensor_type())
    return;
  const auto &tt = decl.type().tensor_type();
  bool ok = true;
  if (tt.elem_type() != onnx::TensorProto::UNDEFINED)
    ok = dtypeFromOnnx(tt.elem_type()) == actual.dtype;
  if (ok && tt.has_shape()) {
    const auto &s = tt.shape();
    ok = (size_t)s.dim_size() == actual.shape.size();
    for (int i = 0; ok && i < s.dim_size(); ++i) {
      const auto &d = s.dim(i);
      if (d.has_dim_value())
        ok = d.dim_value() == actual.shape[i];
      else if (d.has_dim_param() && dims.count(d.dim_param()))
        ok = dims.at(d.dim_param()) == actual.shape[i];
    }
  }
  if (!ok)
    fail(origin, ": graph output '", decl.name(), "' is declared as ",
         onnxTypeName(tt.elem_type()), tt.has_shape() ? declaredShapeStr(tt.shape()) : "",
         " but the model computes ", actual.str());
}

} // namespace adjoint
