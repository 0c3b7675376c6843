#pragma once
// Internal to the ONNX importer: the state shared by the graph walk (OnnxImporter.cpp), input
// binding (OnnxInputs.cpp), attribute conversion (OnnxAttributes.cpp) and the opset upgrades
// (OnnxUpgrade.cpp).
#include "Frontend/OnnxImporter.h"
#include "Support/Error.h"

#include <onnx/onnx_pb.h>

#include <set>
#include <string>
#include <vector>

namespace adjoint {

// One ONNX node on its way into the IR.
struct NodeImport {
  const onnx::NodeProto *node = nullptr;
  std::string opType;
  std::string domain; // "" for ai.onnx
  std::string name;   // the node's name, possibly empty
  std::string label;  // "Conv 'conv1'" (as Op::describe), or "Conv (node #3)" when unnamed
  std::vector<Value *> operands;
  AttrMap attrs;
  size_t numResults = 1;
  // Results the upgraded form cannot produce (older opsets' training-only outputs), with why;
  // a later use of them is an error that says so.
  std::map<size_t, std::string> droppedResults;

  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(label, ": ", args...);
  }
};

class ImportContext {
public:
  ImportContext(Function &fn, std::string origin, std::string baseDir, int64_t opset,
                const ImportOptions &opts)
      : fn(fn), origin(std::move(origin)), baseDir(std::move(baseDir)), opset(opset), opts(opts) {}

  Function &fn;
  const std::string origin;  // the model, for messages
  const std::string baseDir; // resolves external data
  const int64_t opset;       // default-domain opset the model imports
  const ImportOptions &opts;

  // Builds an op with its result types inferred; with opts.foldConstants, an op whose operands
  // are all constants becomes Constants right away (so shape arithmetic is known to later ops).
  std::vector<Value *> emit(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                            size_t numResults, const std::string &name,
                            const std::string &domain = "");
  Value *constant(Tensor t, const std::string &name);
};

// ONNX attributes → IR attributes (OnnxAttributes.cpp). Graph and sparse attributes are errors.
AttrMap convertAttributes(const NodeImport &n, const std::string &baseDir);
// Constant's value_float/value_floats/value_int/value_ints → `value`; other forms are errors.
void normalizeConstant(NodeImport &n);

// Builds the node in the opset-17 form the registry has, upgrading older forms
// (OnnxUpgrade.cpp). Returns one value per node result; null where droppedResults says why.
std::vector<Value *> buildNode(ImportContext &ctx, NodeImport &n);

// The graph inputs that are not initializers with every dimension bound (OnnxInputs.cpp). The
// bound dims are written back into model's input declarations for ONNX shape inference.
struct BoundInput {
  std::string name;
  TensorType type;
};
struct InputBinding {
  std::vector<BoundInput> inputs;
  std::map<std::string, int64_t> dims; // every symbolic dim bound, by name
};
InputBinding bindInputs(onnx::GraphProto &graph, const std::set<std::string> &initializers,
                        const ImportOptions &opts, const std::string &origin);
// Checks a graph output's declared type against the computed one; symbolic dims are checked
// when `dims` binds them.
void checkDeclaredOutput(const onnx::ValueInfoProto &decl, const TensorType &actual,
                         const std::map<std::string, int64_t> &dims, const std::string &origin);

} // namespace adjoint
