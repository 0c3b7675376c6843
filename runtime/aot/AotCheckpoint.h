#pragma once
// Checkpoints of AOT binaries (the trainer and the C library write the same files). Layout:
//
//   "ADJAOTCK"  u32 version (1)  u64 payload bytes  payload  u32 CRC-32 of the payload
//
// payload: u32 n × (key, value) strings (the run's counters and settings, and the model's
// fingerprint), then u32 n × (u8 role 0 parameter / 1 optimizer state, name, dtype, shape,
// bytes). A wrong magic, another version, a short file, a checksum mismatch or tensors that do
// not match the model is an error naming the file; writes are atomic.
#include "AotSession.h"

#include <map>
#include <string>

namespace adjoint::aot {

constexpr uint32_t kCheckpointVersion = 1;

// What identifies a compiled model: a checkpoint of another one is refused.
std::string modelFingerprint(const ModelInfo &m);

void writeCheckpoint(const std::string &path, Session &s,
                     const std::map<std::string, std::string> &meta);
// Loads parameters and state into s; returns the key/value part.
std::map<std::string, std::string> readCheckpoint(const std::string &path, Session &s);

} // namespace adjoint::aot
