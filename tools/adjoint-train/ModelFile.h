#pragma once
// The ONNX model adjoint-train was given, kept as read: its graph inputs (to find the data input
// and bind the batch dimension) and, at the end, the file the trained model is written from.
#include "Frontend/OnnxImporter.h"
#include "IR/Graph.h"

#include <map>
#include <memory>
#include <string>

namespace adjoint::train {

struct ModelInput {
  std::string name;
  DType dtype = DType::F32;
  bool typeKnown = true;
  // Dimensions: a value, or -1 with dimParams[i] naming the symbolic dimension ("" if unnamed).
  std::vector<int64_t> dims;
  std::vector<std::string> dimParams;
};

class ModelFile {
public:
  explicit ModelFile(const std::string &path);
  ~ModelFile();

  const std::string &path() const { return path_; }
  // Graph inputs that are not initializers: what the caller feeds.
  const std::vector<ModelInput> &inputs() const { return inputs_; }
  std::vector<std::string> outputNames() const;

  // Imports the model with the given bindings (each call is independent).
  std::unique_ptr<Module> import(const ImportOptions &opts) const;

  // Writes the model with each initializer named in `params` replaced by that tensor: the
  // original inference graph (symbolic batch dimension included) with the trained values.
  // Atomic. Errors when a tensor names no initializer or changes its type or shape.
  void writeWithInitializers(const std::map<std::string, Tensor> &params,
                             const std::string &out) const;

private:
  std::string path_, baseDir_;
  struct Proto;
  std::unique_ptr<Proto> proto_;
  std::vector<ModelInput> inputs_;
};

} // namespace adjoint::train
