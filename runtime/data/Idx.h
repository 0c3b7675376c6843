#pragma once
// IDX files (the MNIST family's format), plain or gzipped: magic 00 00 TYPE NDIMS, NDIMS
// big-endian uint32 dimensions, then the big-endian elements.
#include "data/Array.h"

namespace adjoint::data {

Array readIdx(const std::string &path);
// Parses IDX bytes; `what` names them in messages.
Array parseIdx(const std::vector<uint8_t> &bytes, const std::string &what);

} // namespace adjoint::data
