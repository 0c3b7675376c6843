#pragma once
// Tensors on disk: numpy .npy files and ONNX TensorProto .pb files (as in the ONNX test data).
#include "IR/Tensor.h"

#include <optional>
#include <string>

namespace onnx {
class TensorProto;
}

namespace adjoint {

Tensor readNpy(const std::string &path);
void writeNpy(const std::string &path, const Tensor &t); // atomic
Tensor readTensorProtoFile(const std::string &path);
// By extension: .npy or .pb.
Tensor readTensorFile(const std::string &path);

// `baseDir` resolves external data locations (which must stay inside it); `what` names the
// tensor in messages.
Tensor tensorFromProto(const onnx::TensorProto &p, const std::string &baseDir,
                       const std::string &what);
void tensorToProto(const Tensor &t, onnx::TensorProto &p);

// ONNX TensorProto::DataType codes for the IR's element types; other codes give nullopt.
std::optional<DType> dtypeFromOnnx(int32_t onnxType);
int32_t onnxFromDType(DType t);
std::string onnxTypeName(int32_t onnxType); // "FLOAT16", or "data type 99"

// Writes bytes to path through a temporary file and rename, so a crash leaves the old file.
void writeFileAtomic(const std::string &path, const std::string &bytes);

} // namespace adjoint
