// .npy bytes through both readers: the compiler's (adjoint-run inputs) and the data library's
// (adjoint-train datasets).
#include "FuzzTarget.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"
#include "data/DataError.h"
#include "data/Npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  adjoint::setMaxTensorBytes(adjoint::fuzz::kFuzzMaxTensorBytes);
  try {
    adjoint::parseNpy(std::string(reinterpret_cast<const char *>(data), size), "fuzz.npy");
  } catch (const adjoint::Error &e) {
    adjoint::fuzz::expectedError(e);
  }
  try {
    adjoint::data::parseNpy(std::vector<uint8_t>(data, data + size), "fuzz.npy");
  } catch (const adjoint::data::DataError &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
