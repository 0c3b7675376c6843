#pragma once
// Checkpoint files. Layout (little-endian):
//
//   "ADJCKPT\0"  u32 format version (1)  u64 payload bytes  payload  u32 CRC-32 of the payload
//
// payload: the config and counters as key/value strings, the tensors (name, role, ONNX dtype
// code, dims, bytes), and the training and test curves. A wrong magic, a newer version, a short
// file or a checksum mismatch is an error naming the file.
//
// Writes keep the last two: PATH is the newest, PATH.prev the one before. The new file is written
// and synced beside PATH first, PATH is hard-linked to PATH.prev, then the new file is renamed over
// PATH, so that a process killed at any instant leaves PATH whole (old or new) and PATH.prev whole.
#include "TrainState.h"

#include <string>

namespace adjoint::train {

constexpr uint32_t kCheckpointVersion = 1;

void writeCheckpoint(const std::string &path, const TrainState &s);
// Reads PATH; when it is unreadable or corrupt and PATH.prev is intact, the error says so and
// names the step PATH.prev resumes from.
TrainState readCheckpoint(const std::string &path);
std::string previousCheckpointPath(const std::string &path);

std::string serializeCheckpoint(const TrainState &s);
TrainState parseCheckpoint(const std::string &bytes, const std::string &what);

} // namespace adjoint::train
