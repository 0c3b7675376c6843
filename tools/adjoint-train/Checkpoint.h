#pragma once
// Checkpoint files. Layout (little-endian):
//
//   "ADJCKPT\0"  u32 format version (1)  u64 payload bytes  payload  u32 CRC-32 of the payload
//
// payload: the config and counters as key/value strings, the tensors (name, role, ONNX dtype
// code, dims, bytes), and the training and test curves. A wrong magic, a newer version, a short
// file or a checksum mismatch is an error naming the file; writes are atomic.
#include "TrainState.h"

#include <string>

namespace adjoint::train {

constexpr uint32_t kCheckpointVersion = 1;

void writeCheckpoint(const std::string &path, const TrainState &s);
TrainState readCheckpoint(const std::string &path);

std::string serializeCheckpoint(const TrainState &s);
TrainState parseCheckpoint(const std::string &bytes, const std::string &what);

} // namespace adjoint::train
