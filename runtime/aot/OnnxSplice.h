#pragma once
// Exporting the trained model without libprotobuf: the ONNX file the binary was compiled from is
// kept as bytes, and the initializers named by trained parameters are replaced in its protobuf
// wire format (ModelProto.graph = field 7, GraphProto.initializer = field 5; the new TensorProto
// holds dims, data_type, name and raw_data). Every other byte is copied as it was.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace adjoint::aot {

struct SpliceTensor {
  int32_t dtype = 1; // ONNX TensorProto code
  std::vector<int64_t> shape;
  const void *data = nullptr;
  size_t bytes = 0;
};

// `what` names the model in messages. Throws std::runtime_error when the bytes are not a model,
// a tensor names no initializer or changes its type or shape, or a kept initializer refers to
// external data (its file would not follow the exported model).
std::string spliceInitializers(const std::string &model,
                               const std::map<std::string, SpliceTensor> &tensors,
                               const std::string &what);

// Writes to PATH.tmp<pid> and renames, so a reader never sees half a file.
void writeFileAtomically(const std::string &path, const std::string &bytes);

} // namespace adjoint::aot
