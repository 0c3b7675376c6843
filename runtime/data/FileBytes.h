#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace adjoint::data {

// The whole file, gunzipped when it starts with the gzip magic (zlib reads plain files as they
// are). Errors name the file: missing, unreadable, corrupt or truncated gzip data.
std::vector<uint8_t> readFileBytes(const std::string &path);

} // namespace adjoint::data
