#pragma once
// ONNX → graph IR. Reads a model (with external data), runs ONNX shape inference, binds symbolic
// dimensions, upgrades older opset forms to the opset-17 op schemas, folds shape arithmetic to
// constants and maps every node. Errors name the file and node; unsupported ops are all listed
// in one error.
#include "IR/Graph.h"

#include <map>
#include <memory>
#include <string>

namespace onnx {
class ModelProto;
}

namespace adjoint {

struct ImportOptions {
  // Symbolic dimension bindings (--dim name=N).
  std::map<std::string, int64_t> dims;
  // Concrete shapes of graph inputs (e.g. from the tensors given to adjoint-run); they bind the
  // symbolic dims of those inputs when `dims` does not.
  std::map<std::string, Shape> inputShapes;
  // Fold ops whose operands are all constants into Constants (PyTorch shape arithmetic).
  bool foldConstants = true;
};

std::unique_ptr<Module> importOnnxFile(const std::string &path, const ImportOptions &opts = {});
// A serialized ModelProto; `baseDir` resolves external data, `origin` names it in messages.
std::unique_ptr<Module> importOnnxBytes(const std::string &bytes, const std::string &baseDir,
                                        const std::string &origin, const ImportOptions &opts = {});
// `baseDir` resolves external data; `origin` names the model in messages.
std::unique_ptr<Module> importOnnxModel(const onnx::ModelProto &model, const std::string &baseDir,
                                        const std::string &origin, const ImportOptions &opts = {});

} // namespace adjoint
