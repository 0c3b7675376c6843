// adjoint-train checkpoints. The CRC-32 over the payload stops almost every mutation at the
// checksum, so when the first byte is odd the rest is taken as a payload and wrapped in a valid
// header and checksum: the fuzzer then reaches the record parser behind the check.
#include "FuzzTarget.h"
#include "Checkpoint.h"
#include "Support/Error.h"

#include <cstring>
#include <zlib.h>

namespace {

std::string wrapPayload(const uint8_t *data, size_t size) {
  std::string out("ADJCKPT\0", 8);
  auto put = [&](auto v) { out.append(reinterpret_cast<const char *>(&v), sizeof v); };
  put(adjoint::train::kCheckpointVersion);
  put(uint64_t{size});
  out.append(reinterpret_cast<const char *>(data), size);
  put((uint32_t)crc32(0L, data, (uInt)size));
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string bytes = data[0] & 1 ? wrapPayload(data + 1, size - 1)
                                  : std::string(reinterpret_cast<const char *>(data + 1), size - 1);
  try {
    adjoint::train::parseCheckpoint(bytes, "fuzz.ckpt");
  } catch (const adjoint::Error &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
