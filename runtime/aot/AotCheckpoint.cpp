#include "AotCheckpoint.h"
#include "OnnxSplice.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <zlib.h>

namespace adjoint::aot {

namespace {

constexpr char kMagic[8] = {'A', 'D', 'J', 'A', 'O', 'T', 'C', 'K'};

uint32_t crc(const std::string &s) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large payloads in pieces.
  for (size_t at = 0; at < s.size();) {
    size_t n = std::min<size_t>(s.size() - at, 1u << 30);
    c = crc32(c, reinterpret_cast<const Bytef *>(s.data() + at), (uInt)n);
    at += n;
  }
  return (uint32_t)c;
}

} // namespace

std::string modelFingerprint(const ModelInfo &m) {
  std::ostringstream os;
  os << m.get("model") << ";" << m.lossKind() << ";" << m.get("optimizer") << ";batch "
     << m.batch();
  for (const TensorInfo &t : m.params)
    os << ";" << t.name << t.describe();
  return os.str();
}

void writeCheckpoint(const std::string &path, Session &s,
                     const std::map<std::string, std::string> &meta) {
  BlobWriter p;
  std::map<std::string, std::string> all = meta;
  all["model"] = modelFingerprint(s.model());
  p.pod<uint32_t>((uint32_t)all.size());
  for (const auto &[k, v] : all) {
    p.str(k);
    p.str(v);
  }
  const ModelInfo &m = s.model();
  p.pod<uint32_t>((uint32_t)(m.params.size() + m.state.size()));
  for (int role = 0; role < 2; ++role)
    for (const TensorInfo &t : role ? m.state : m.params) {
      const Buffer &b = role ? s.currentState(t.name) : s.currentParam(t.name);
      p.pod<uint8_t>((uint8_t)role);
      p.str(t.name);
      p.pod<int32_t>(t.dtype);
      p.shape(t.shape);
      p.bytes(b.data(), b.size());
    }
  BlobWriter file;
  file.raw(kMagic, sizeof kMagic);
  file.pod<uint32_t>(kCheckpointVersion);
  file.pod<uint64_t>(p.data().size());
  file.raw(p.data().data(), p.data().size());
  file.pod<uint32_t>(crc(p.data()));
  writeFileAtomically(path, file.data());
}

std::map<std::string, std::string> readCheckpoint(const std::string &path, Session &s) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read checkpoint '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  auto bad = [&](const std::string &why) {
    return std::runtime_error("checkpoint '" + path + "': " + why);
  };
  if (bytes.size() < 24 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw bad("not a checkpoint of an adjoint-compile binary");
  BlobReader head(bytes.data() + 8, 12);
  uint32_t version = head.pod<uint32_t>();
  uint64_t size = head.pod<uint64_t>();
  if (version != kCheckpointVersion)
    throw bad("format version " + std::to_string(version) + ", this binary reads " +
              std::to_string(kCheckpointVersion));
  if (size != bytes.size() - 24)
    throw bad("truncated or padded (" + std::to_string(bytes.size()) + " bytes)");
  std::string payload = bytes.substr(20, (size_t)size);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + 20 + size, 4);
  if (stored != crc(payload))
    throw bad("checksum mismatch (the file is corrupt)");

  try {
    BlobReader r(payload.data(), payload.size());
    std::map<std::string, std::string> meta;
    for (uint32_t n = r.pod<uint32_t>(); n--;) {
      std::string k = r.str();
      meta[k] = r.str();
    }
    if (meta["model"] != modelFingerprint(s.model()))
      throw bad("written for another model or compilation (" + meta["model"] + ")");
    uint32_t n = r.pod<uint32_t>();
    if (n != s.model().params.size() + s.model().state.size())
      throw bad("holds " + std::to_string(n) + " tensors, the model " +
                std::to_string(s.model().params.size() + s.model().state.size()));
    while (n--) {
      uint8_t role = r.pod<uint8_t>();
      std::string name = r.str();
      TensorInfo t{name, r.pod<int32_t>(), r.shape()};
      std::string data = r.str();
      Buffer &b = role ? s.state(name) : s.param(name);
      if (data.size() != b.size() || data.size() != t.byteSize())
        throw bad("tensor '" + name + "' is " + t.describe() + ", not the model's");
      std::memcpy(b.data(), data.data(), data.size());
    }
    if (!r.done())
      throw bad("trailing bytes");
    return meta;
  } catch (const std::runtime_error &e) {
    if (std::string(e.what()).rfind("checkpoint '", 0) == 0)
      throw;
    throw bad(e.what());
  }
}

} // namespace adjoint::aot
