#pragma once
// numpy .npy files (format versions 1-3, C order, little-endian or single-byte types).
#include "data/Array.h"

namespace adjoint::data {

Array readNpyArray(const std::string &path);
Array parseNpy(const std::vector<uint8_t> &bytes, const std::string &what);

} // namespace adjoint::data
