#include "data/FileBytes.h"
#include "data/DataError.h"

#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <zlib.h>

namespace adjoint::data {

namespace {
std::atomic<uint64_t> gMaxFileBytes{uint64_t(4) << 30};
}

uint64_t maxFileBytes() { return gMaxFileBytes.load(); }

std::optional<uint64_t> parseByteSize(const std::string &text, std::string *why) {
  std::string digits = text;
  int shift = 0;
  if (!digits.empty()) {
    char last = digits.back();
    shift = last == 'K' || last == 'k' ? 10 : last == 'M' || last == 'm' ? 20 : last == 'G' || last == 'g' ? 30 : 0;
    if (shift)
      digits.pop_back();
  }
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    *why = "is not a number";
    return std::nullopt;
  }
  if (n <= 0) {
    *why = "must be positive";
    return std::nullopt;
  }
  if (n > (INT64_MAX >> shift)) {
    *why = "is too large";
    return std::nullopt;
  }
  return (uint64_t)n << shift;
}
void setMaxFileBytes(uint64_t bytes) { gMaxFileBytes = bytes; }

std::vector<uint8_t> readFileBytes(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    dataFail(path, ": cannot open: ", std::strerror(errno));
  dataCheck(!S_ISDIR(st.st_mode), path, ": is a directory, expected a file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    dataFail(path, ": cannot open: ", std::strerror(errno ? errno : ENOMEM));
  gzbuffer(f, 1 << 17);
  uint64_t limit = maxFileBytes();
  std::vector<uint8_t> out;
  out.reserve((size_t)std::min<uint64_t>((uint64_t)st.st_size, limit));
  uint8_t chunk[1 << 16];
  for (;;) {
    int n = gzread(f, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      dataFail(path, ": cannot read: ", code == Z_ERRNO ? std::strerror(errno) : msg);
    }
    if (n == 0)
      break;
    if ((uint64_t)n > limit - out.size()) {
      gzclose(f);
      dataFail(path, ": holds more than ", limit,
               " bytes (uncompressed), the limit (raise it with --max-tensor-bytes)");
    }
    out.insert(out.end(), chunk, chunk + n);
  }
  // A gzip stream cut short reads as a clean end of file; gzclose reports it as Z_BUF_ERROR.
  int rc = gzclose(f);
  dataCheck(rc == Z_OK, path, ": truncated or corrupt gzip data");
  return out;
}

} // namespace adjoint::data
