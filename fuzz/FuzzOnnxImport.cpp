// bytes → ModelProto → import (shape inference, upgrades, folding) → IR verifier.
#include "FuzzTarget.h"
#include "Frontend/OnnxImporter.h"
#include "Frontend/TensorIO.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  adjoint::setMaxTensorBytes(adjoint::fuzz::kFuzzMaxTensorBytes);
  try {
    auto m = adjoint::importOnnxBytes(std::string(reinterpret_cast<const char *>(data), size),
                                      adjoint::fuzz::emptyBaseDir(), "fuzz.onnx");
    adjoint::verifyModule(*m);
  } catch (const adjoint::Error &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
