// ONNX TensorProto .pb bytes (the ONNX test data's format, and adjoint-run inputs).
#include "FuzzTarget.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  adjoint::setMaxTensorBytes(adjoint::fuzz::kFuzzMaxTensorBytes);
  try {
    adjoint::parseTensorProto(std::string(reinterpret_cast<const char *>(data), size),
                              adjoint::fuzz::emptyBaseDir(), "fuzz.pb");
  } catch (const adjoint::Error &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
