// ONNX → graph IR: reading and checking the model, then the walk over its graph. Input binding
// is in OnnxInputs.cpp, attributes in OnnxAttributes.cpp, older opset forms in OnnxUpgrade.cpp.
#include "Frontend/OnnxImportContext.h"
#include "Frontend/TensorIO.h"
#include "Ops/Build.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace adjoint {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMinOpset = 7, kMaxOpset = 17;
// Folding is for shape arithmetic and small constants; a huge constant result stays an op.
constexpr int64_t kMaxFoldElements = int64_t{1} << 22;

std::string normalizeDomain(const std::string &d) { return d == "ai.onnx" ? std::string() : d; }

std::string qualifiedType(const std::string &domain, const std::string &type) {
  return domain.empty() ? type : domain + "." + type;
}

std::string nodeLabel(const onnx::NodeProto &node, int index) {
  std::string t = qualifiedType(normalizeDomain(node.domain()), node.op_type());
  if (!node.name().empty())
    return t + " '" + node.name() + "'";
  return t + " (node #" + std::to_string(index) + ")";
}

// Function names print as @name: keep them to identifier characters.
std::string sanitizeName(const std::string &s) {
  std::string r;
  for (char c : s)
    r += std::isalnum((unsigned char)c) || c == '_' ? c : '_';
  if (r.empty())
    return "main";
  if (std::isdigit((unsigned char)r[0]))
    r = "_" + r;
  return r;
}

// Errors from a node's ops name the op; make sure they name the model and the node as well.
[[noreturn]] void rethrowForNode(const Error &e, const NodeImport &n, const std::string &origin) {
  std::string msg = e.what();
  if (msg.rfind(n.label, 0) == 0)
    fail(origin, ": ", msg);
  std::string bare = n.opType + ": ";
  if (msg.rfind(bare, 0) == 0)
    msg = msg.substr(bare.size());
  fail(origin, ": ", n.label, ": ", msg);
}

void checkVersions(const onnx::ModelProto &model, const std::string &origin, int64_t &opset) {
  if (!model.has_graph())
    fail(origin, ": not an ONNX model (no graph)");
  if (model.ir_version() < 3)
    fail(origin, ": ONNX IR version ", model.ir_version(),
         " is not supported (needs at least 3, i.e. a model with opset imports)");
  if (model.ir_version() > onnx::IR_VERSION)
    fail(origin, ": ONNX IR version ", model.ir_version(), " is newer than the supported ",
         (int)onnx::IR_VERSION);
  opset = -1;
  std::set<std::string> importedDomains;
  for (const auto &imp : model.opset_import()) {
    if (!importedDomains.insert(normalizeDomain(imp.domain())).second)
      fail(origin, ": the model imports domain '", imp.domain(), "' twice");
    if (normalizeDomain(imp.domain()).empty())
      opset = imp.version();
    else if (imp.domain() == "ai.onnx.preview.training" && imp.version() != 1)
      fail(origin, ": ai.onnx.preview.training opset ", imp.version(),
           " is not supported (only version 1)");
  }
  if (opset < 0) {
    // A model of other domains' ops only (the training ops' node tests) needs no default opset.
    for (const auto &n : model.graph().node())
      if (normalizeDomain(n.domain()).empty())
        fail(origin, ": the model imports no default-domain (ai.onnx) opset");
    opset = kMaxOpset;
    return;
  }
  if (opset >= kMinOpset && opset <= kMaxOpset)
    return;
  if (opset <= 0)
    fail(origin, ": default-domain opset ", opset, " is not a valid opset version");
  if (opset > 0 && opset < kMinOpset) {
    // An older model imports as opset kMinOpset when none of its ops changed meaning between
    // its opset and kMinOpset (Elu since 6, Not and GlobalAveragePool since 1, ...).
    std::vector<std::string> changed;
    for (int i = 0; i < model.graph().node_size(); ++i) {
      const auto &n = model.graph().node(i);
      if (!normalizeDomain(n.domain()).empty())
        continue;
      auto *then = onnx::OpSchemaRegistry::Schema(n.op_type(), (int)opset, "");
      auto *now = onnx::OpSchemaRegistry::Schema(n.op_type(), (int)kMinOpset, "");
      if (!then || !now || then->since_version() != now->since_version())
        changed.push_back(n.op_type() + " (" + nodeLabel(n, i) + ")");
    }
    if (changed.empty()) {
      opset = kMinOpset;
      return;
    }
    std::string list;
    for (const auto &c : changed)
      list += (list.empty() ? "" : ", ") + c;
    fail(origin, ": default-domain opset ", opset, " is older than the supported ", kMinOpset,
         "..", kMaxOpset, " and these ops changed meaning since: ", list,
         "; convert the model with onnx.version_converter");
  }
  std::string firstNode;
  for (int i = 0; i < model.graph().node_size(); ++i)
    if (normalizeDomain(model.graph().node(i).domain()).empty()) {
      firstNode = " (first used by node " + nodeLabel(model.graph().node(i), i) + ")";
      break;
    }
  fail(origin, ": default-domain opset ", opset, firstNode, " is newer than the supported ",
       kMinOpset, "..", kMaxOpset, "; convert the model with onnx.version_converter");
}

// Lists every op the registry lacks at once, so one run shows all the work a model needs.
void checkSupportedOps(const onnx::ModelProto &model, const std::string &origin) {
  std::set<std::string> imported;
  for (const auto &imp : model.opset_import())
    imported.insert(normalizeDomain(imp.domain()));
  std::vector<std::string> missing;
  const auto &g = model.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto &node = g.node(i);
    std::string domain = normalizeDomain(node.domain());
    std::string where = node.name().empty() ? "node #" + std::to_string(i)
                                            : "node '" + node.name() + "'";
    if (!OpRegistry::instance().find(domain, node.op_type()))
      missing.push_back(qualifiedType(domain, node.op_type()) + " (" + where + ")");
    else if (!imported.count(domain))
      fail(origin, ": ", nodeLabel(node, i), " uses domain '", domain,
           "', which the model does not import");
  }
  if (missing.empty())
    return;
  std::string list;
  for (size_t i = 0; i < missing.size(); ++i)
    list += (i ? ", " : "") + missing[i];
  fail(origin, ": ", missing.size(), " unsupported op", missing.size() == 1 ? "" : "s", ": ",
       list);
}

// Names every value before ONNX shape inference sees the graph, whose messages for an undefined
// input are less direct.
void checkGraphStructure(const onnx::GraphProto &g, const std::string &origin) {
  std::set<std::string> defined;
  for (const auto &in : g.input())
    defined.insert(in.name());
  for (const auto &init : g.initializer())
    defined.insert(init.name());
  // Which node makes each value, to tell a missing input from a cycle or an unsorted graph.
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string &out : g.node(i).output())
      if (!out.empty())
        producer.emplace(out, i);
  for (int i = 0; i < g.node_size(); ++i) {
    const auto &node = g.node(i);
    for (const std::string &in : node.input()) {
      if (in.empty() || defined.count(in))
        continue;
      auto p = producer.find(in);
      if (p == producer.end())
        fail(origin, ": ", nodeLabel(node, i), ": input '", in,
             "' is not a graph input, an initializer or any node's output");
      if (p->second == i)
        fail(origin, ": ", nodeLabel(node, i), ": input '", in,
             "' is its own output (a cycle)");
      fail(origin, ": ", nodeLabel(node, i), ": input '", in, "' is produced by a later node, ",
           nodeLabel(g.node(p->second), p->second),
           " (the graph has a cycle or is not topologically sorted)");
    }
    for (const std::string &out : node.output())
      if (!out.empty() && !defined.insert(out).second)
        fail(origin, ": ", nodeLabel(node, i), ": output '", out,
             "' is already defined (ONNX values are assigned once)");
  }
  if (g.output_size() == 0)
    fail(origin, ": the graph has no outputs");
  for (const auto &out : g.output())
    if (!defined.count(out.name()))
      fail(origin, ": graph output '", out.name(), "' is not produced by any node");
}

// Declared sizes come before anything that trusts them (shape inference, reading the data).
void checkInitializerSizes(const onnx::GraphProto &g, const std::string &origin) {
  for (const onnx::TensorProto &init : g.initializer()) {
    std::optional<DType> dt = dtypeFromOnnx(init.data_type());
    if (dt)
      checkedTensorBytes(*dt, Shape(init.dims().begin(), init.dims().end()),
                         origin + ": initializer '" + init.name() + "'");
  }
}

// The model without the data of its large float initializers: shape inference needs only their
// types, and weights can be most of a model's size.
onnx::ModelProto copyForShapeInference(const onnx::ModelProto &in) {
  onnx::ModelProto out;
  for (const auto &imp : in.opset_import())
    *out.add_opset_import() = imp;
  out.set_ir_version(in.ir_version());
  *out.mutable_functions() = in.functions();
  const onnx::GraphProto &g = in.graph();
  onnx::GraphProto &h = *out.mutable_graph();
  h.set_name(g.name());
  *h.mutable_node() = g.node();
  *h.mutable_input() = g.input();
  *h.mutable_output() = g.output();
  *h.mutable_value_info() = g.value_info();
  for (const onnx::TensorProto &init : g.initializer()) {
    bool isFloatData = init.data_type() == onnx::TensorProto::FLOAT ||
                       init.data_type() == onnx::TensorProto::DOUBLE;
    if (!isFloatData || (init.raw_data().size() <= 4096 && init.float_data_size() <= 1024 &&
                         init.double_data_size() <= 1024)) {
      *h.add_initializer() = init;
      continue;
    }
    onnx::TensorProto &t = *h.add_initializer();
    t.set_name(init.name());
    t.set_data_type(init.data_type());
    *t.mutable_dims() = init.dims();
  }
  return out;
}

void runShapeInference(onnx::ModelProto &model, const std::string &origin) {
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/1,
                                        /*enable_data_propagation=*/false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception &e) {
    fail(origin, ": ONNX shape inference failed: ", e.what());
  }
}

} // namespace

std::vector<Value *> ImportContext::emit(const std::string &type, std::vector<Value *> operands,
                                         AttrMap attrs, size_t numResults, const std::string &name,
                                         const std::string &domain) {
  Op *op = buildOp(fn, type, std::move(operands), std::move(attrs), numResults, nullptr, domain,
                   name);
  std::vector<Value *> results;
  for (size_t i = 0; i < op->numResults(); ++i) {
    results.push_back(op->result(i));
    // Every value is allocated when the model runs: refuse here what no run could hold.
    checkedTensorBytes(op->result(i)->dtype(), op->result(i)->shape(),
                       "result " + std::to_string(i));
  }
  if (!opts.foldConstants)
    return results;
  for (Value *r : results)
    if (numElements(r->shape()) > kMaxFoldElements)
      return results;
  std::optional<std::vector<Tensor>> folded = tryFold(*op);
  if (!folded)
    return results;
  for (size_t i = 0; i < results.size(); ++i) {
    Value *c = buildConstant(fn, std::move((*folded)[i]), op);
    c->definingOp()->setName(name);
    results[i] = c;
  }
  fn.eraseOp(op);
  return results;
}

Value *ImportContext::constant(Tensor t, const std::string &name) {
  Value *v = buildConstant(fn, std::move(t));
  v->definingOp()->setName(name);
  return v;
}

std::unique_ptr<Module> importOnnxModel(const onnx::ModelProto &modelIn, const std::string &baseDir,
                                        const std::string &origin, const ImportOptions &opts) {
  int64_t opset = 0;
  checkVersions(modelIn, origin, opset);
  checkSupportedOps(modelIn, origin);

  const onnx::GraphProto &g = modelIn.graph();
  std::set<std::string> initNames;
  for (const auto &init : g.initializer())
    initNames.insert(init.name());
  if (g.sparse_initializer_size())
    fail(origin, ": sparse initializers are not supported");
  checkGraphStructure(g, origin);
  checkInitializerSizes(g, origin);
  onnx::ModelProto shapeModel = copyForShapeInference(modelIn);
  InputBinding binding = bindInputs(*shapeModel.mutable_graph(), initNames, opts, origin);

  auto module = std::make_unique<Module>();
  module->opsetVersion = opset;
  Function &fn = *module->addFunction(sanitizeName(g.name()));
  ImportContext ctx(fn, origin, baseDir, opset, opts);
  std::unordered_map<std::string, Value *> values;
  std::unordered_map<std::string, std::string> dropped; // name → why it has no value

  for (const BoundInput &in : binding.inputs) {
    if (values.count(in.name))
      fail(origin, ": graph input '", in.name, "' is declared twice");
    values[in.name] = fn.addInput(in.name, in.type);
  }
  for (const onnx::TensorProto &init : g.initializer()) {
    const std::string &name = init.name();
    if (name.empty())
      fail(origin, ": an initializer has no name");
    if (values.count(name))
      fail(origin, ": initializer '", name, "' is defined twice");
    Tensor t = tensorFromProto(init, baseDir, origin + ": initializer '" + name + "'");
    if (isFloat(t.dtype())) {
      values[name] = fn.addParam(name, {t.dtype(), t.shape()}, t);
    } else {
      // Integer and bool initializers are shape-like data (Reshape targets, Gather indices):
      // constants, so that ops needing their values at compile time see them.
      values[name] = ctx.constant(t, name);
      values[name]->setName(name);
    }
  }

  const auto &nodes = g.node();
  for (int i = 0; i < nodes.size(); ++i) {
    const onnx::NodeProto &node = nodes[i];
    NodeImport n;
    n.node = &node;
    n.opType = node.op_type();
    n.domain = normalizeDomain(node.domain());
    n.name = node.name();
    n.label = nodeLabel(node, i);
    try {
      for (const std::string &in : node.input()) {
        if (in.empty()) {
          n.operands.push_back(nullptr);
          continue;
        }
        auto it = values.find(in);
        if (it != values.end()) {
          n.operands.push_back(it->second);
          continue;
        }
        auto d = dropped.find(in);
        if (d != dropped.end())
          n.error("uses '", in, "': ", d->second);
        n.error("input '", in, "' is not defined before this node (the graph must be "
                "topologically sorted)");
      }
      while (!n.operands.empty() && !n.operands.back())
        n.operands.pop_back();
      n.numResults = (size_t)node.output_size();
      while (n.numResults > 1 && node.output((int)n.numResults - 1).empty())
        --n.numResults;
      if (n.numResults == 0)
        n.error("has no outputs");
      n.attrs = convertAttributes(n, baseDir);
      std::vector<Value *> results = buildNode(ctx, n);
      for (size_t k = 0; k < (size_t)node.output_size(); ++k) {
        const std::string &out = node.output((int)k);
        if (out.empty())
          continue;
        if (values.count(out) || dropped.count(out))
          n.error("output '", out, "' is already defined (ONNX values are assigned once)");
        Value *v = k < results.size() ? results[k] : nullptr;
        if (!v) {
          auto why = n.droppedResults.find(k);
          dropped[out] = why != n.droppedResults.end() ? why->second : "it is not produced";
          continue;
        }
        values[out] = v;
        if (v->name().empty())
          v->setName(out);
      }
    } catch (const Error &e) {
      rethrowForNode(e, n, origin);
    } catch (const std::bad_alloc &) {
      throw;
    } catch (const std::exception &e) {
      fail(origin, ": ", n.label, ": internal error: ", e.what());
    }
  }

  for (const onnx::ValueInfoProto &out : g.output()) {
    auto it = values.find(out.name());
    if (it == values.end()) {
      auto d = dropped.find(out.name());
      fail(origin, ": graph output '", out.name(), "' ",
           d != dropped.end() ? d->second : std::string("is not produced by any node"));
    }
    checkDeclaredOutput(out, it->second->type(), binding.dims, origin);
    fn.addOutput(out.name(), it->second);
  }

  // ONNX shape inference last, as a cross-check of the declared value_info: libonnx's inference
  // functions trust their inputs' ranks (a fuzzed Conv over a rank-2 input read past the end of
  // its shape and crashed), so it only sees graphs every op of which our own inference accepted.
  runShapeInference(shapeModel, origin);

  // Constants left unused by folding (the operands of folded shape arithmetic).
  fn.eraseOpsIf([&](const Op &op) {
    return op.opType() == "Constant" && op.domain().empty() && !op.result()->hasUses() &&
           !fn.isOutput(op.result());
  });
  return module;
}

std::unique_ptr<Module> importOnnxFile(const std::string &path, const ImportOptions &opts) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail(path, ": no such file");
  if (fs::is_directory(path, ec))
    fail(path, ": is a directory, not an ONNX model");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string base = fs::path(path).parent_path().string();
  return importOnnxBytes(ss.str(), base.empty() ? "." : base, path, opts);
}

std::unique_ptr<Module> importOnnxBytes(const std::string &bytes, const std::string &baseDir,
                                        const std::string &origin, const ImportOptions &opts) {
  if (bytes.empty())
    fail(origin, ": empty file, not an ONNX model");
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes))
    fail(origin, ": not a valid ONNX model (protobuf parse failed; the file is truncated or not "
                 "ONNX)");
  return importOnnxModel(model, baseDir, origin, opts);
}

} // namespace adjoint
