#pragma once
// Tensors on disk: numpy .npy files and ONNX TensorProto .pb files (as in the ONNX test data).
#include "IR/Tensor.h"

#include <optional>
#include <string>

namespace onnx {
class TensorProto;
}

namespace adjoint {

// The largest tensor a reader here or the ONNX importer will create, in bytes. Sizes come from
// untrusted headers and dims, so each is checked against this before anything is allocated; the
// tools set it from --max-tensor-bytes.
constexpr uint64_t kDefaultMaxTensorBytes = uint64_t{4} << 30; // 4 GiB
uint64_t maxTensorBytes();
void setMaxTensorBytes(uint64_t bytes);
// Bytes of a tensor of this type and shape; an Error naming `what` when the count overflows or
// the size passes maxTensorBytes().
uint64_t checkedTensorBytes(DType dt, const Shape &shape, const std::string &what);

Tensor readNpy(const std::string &path);
// The in-memory forms (fuzzing, tests): `what` names the bytes in messages.
Tensor parseNpy(const std::string &bytes, const std::string &what);
Tensor parseTensorProto(const std::string &bytes, const std::string &baseDir,
                        const std::string &what);
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
