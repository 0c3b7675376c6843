#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace adjoint::data {

// The whole file, gunzipped when it starts with the gzip magic (zlib reads plain files as they
// are). Errors name the file: missing, unreadable, corrupt or truncated gzip data, or more than
// maxFileBytes() of it (a few kilobytes of gzip can expand to terabytes: the limit is checked
// while inflating, before the memory is taken).
std::vector<uint8_t> readFileBytes(const std::string &path);

// The most bytes readFileBytes returns: 4 GiB unless set (the tools' --max-tensor-bytes sets it
// too: a dataset file becomes one tensor).
uint64_t maxFileBytes();
void setMaxFileBytes(uint64_t bytes);

// A byte count as --max-tensor-bytes takes it: a positive integer with an optional binary K, M
// or G suffix. nullopt, with the reason in *why ("must be positive", "is too large", "is not a
// number"), when the text is not one.
std::optional<uint64_t> parseByteSize(const std::string &text, std::string *why);

} // namespace adjoint::data
