// IDX bytes (MNIST-family datasets) after gunzip, as adjoint-train's loader parses them.
#include "FuzzTarget.h"
#include "data/DataError.h"
#include "data/Idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    adjoint::data::parseIdx(std::vector<uint8_t>(data, data + size), "fuzz.idx");
  } catch (const adjoint::data::DataError &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
