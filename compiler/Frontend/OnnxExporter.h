#pragma once
// Graph IR → ONNX: writes a function (parameters with their current data as initializers) as a
// valid ONNX model that onnx.checker accepts.
#include "IR/Graph.h"

#include <string>

namespace onnx {
class ModelProto;
}

namespace adjoint {

void exportOnnxModel(const Function &fn, onnx::ModelProto &out);
// Writes atomically (temporary file, then rename).
void exportOnnxFile(const Function &fn, const std::string &path);

} // namespace adjoint
