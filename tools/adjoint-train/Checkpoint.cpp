#include "Checkpoint.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <zlib.h>

namespace adjoint::train {

namespace {

const char kMagic[8] = {'A', 'D', 'J', 'C', 'K', 'P', 'T', '\0'};

class Writer {
public:
  template <typename T> void pod(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  void str(const std::string &s) {
    pod<uint32_t>((uint32_t)s.size());
    out += s;
  }
  std::string out;
};

class Reader {
public:
  Reader(const std::string &b, const std::string &w) : bytes(b), what(w) {}
  template <typename T> T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str() {
    uint32_t n = pod<uint32_t>();
    need(n);
    std::string s = bytes.substr(pos, n);
    pos += n;
    return s;
  }
  void need(size_t n) {
    check(n <= bytes.size() - pos, what, ": corrupt checkpoint (a record runs past the end)");
  }
  const std::string &bytes;
  std::string what;
  size_t pos = 0;
};

void putPoints(Writer &w, const std::vector<Point> &pts) {
  w.pod<uint64_t>(pts.size());
  for (const Point &p : pts) {
    w.pod<int64_t>(p.step);
    w.pod<double>(p.epoch);
    w.pod<double>(p.loss);
    w.pod<double>(p.accuracy);
    w.pod<double>(p.lr);
  }
}

std::vector<Point> getPoints(Reader &r) {
  uint64_t n = r.pod<uint64_t>();
  // Divided, not multiplied: a damaged count times 40 could wrap around to a small number.
  check(n <= (r.bytes.size() - r.pos) / 40, r.what,
        ": corrupt checkpoint (a curve runs past the end)");
  std::vector<Point> pts(n);
  for (Point &p : pts) {
    p.step = r.pod<int64_t>();
    p.epoch = r.pod<double>();
    p.loss = r.pod<double>();
    p.accuracy = r.pod<double>();
    p.lr = r.pod<double>();
  }
  return pts;
}

// Doubles are stored by their bits, so a resumed run's sums continue exactly.
std::string bitsOf(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return std::to_string(b);
}

double doubleOf(const std::string &s) {
  uint64_t b = std::stoull(s);
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

} // namespace

std::string serializeCheckpoint(const TrainState &s) {
  Writer p;
  std::map<std::string, std::string> meta = s.config;
  meta["state.step"] = std::to_string(s.step);
  meta["state.epoch"] = std::to_string(s.epoch);
  meta["state.batch_in_epoch"] = std::to_string(s.batchInEpoch);
  meta["state.seed"] = std::to_string(s.seed);
  meta["state.epoch_loss"] = bitsOf(s.epochLoss);
  meta["state.epoch_correct"] = bitsOf(s.epochCorrect);
  meta["state.epoch_examples"] = std::to_string(s.epochExamples);
  meta["state.epoch_predictions"] = std::to_string(s.epochPredictions);
  meta["state.train_seconds"] = bitsOf(s.trainSeconds);
  p.pod<uint32_t>((uint32_t)meta.size());
  for (const auto &[k, v] : meta) {
    p.str(k);
    p.str(v);
  }
  p.pod<uint32_t>((uint32_t)(s.params.size() + s.optState.size()));
  for (int role = 0; role < 2; ++role)
    for (const auto &[name, t] : role == 0 ? s.params : s.optState) {
      p.str(name);
      p.pod<uint8_t>((uint8_t)role);
      p.pod<int32_t>(onnxFromDType(t.dtype()));
      p.pod<uint32_t>((uint32_t)t.rank());
      for (int64_t d : t.shape())
        p.pod<int64_t>(d);
      p.pod<uint64_t>(t.byteSize());
      if (t.byteSize())
        p.out.append(reinterpret_cast<const char *>(t.bytes()), t.byteSize());
    }
  putPoints(p, s.trainCurve);
  putPoints(p, s.testCurve);

  Writer file;
  file.out.append(kMagic, 8);
  file.pod<uint32_t>(kCheckpointVersion);
  file.pod<uint64_t>(p.out.size());
  file.out += p.out;
  file.pod<uint32_t>((uint32_t)crc32(0L, reinterpret_cast<const Bytef *>(p.out.data()),
                                     (uInt)p.out.size()));
  return file.out;
}

TrainState parseCheckpoint(const std::string &bytes, const std::string &what) {
  check(bytes.size() >= 20 && std::memcmp(bytes.data(), kMagic, 8) == 0, what,
        ": not an adjoint-train checkpoint");
  Reader head(bytes, what);
  head.pos = 8;
  uint32_t version = head.pod<uint32_t>();
  check(version <= kCheckpointVersion, what, ": checkpoint format version ", version,
        " is newer than this adjoint-train reads (", kCheckpointVersion, ")");
  check(version >= 1, what, ": invalid checkpoint format version ", version);
  uint64_t size = head.pod<uint64_t>();
  check(bytes.size() >= 24 && size == bytes.size() - 24, what,
        ": truncated checkpoint (", bytes.size(), " bytes; the header says ", size + 24, ")");
  std::string payload = bytes.substr(20, size);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + 20 + size, 4);
  uint32_t actual =
      (uint32_t)crc32(0L, reinterpret_cast<const Bytef *>(payload.data()), (uInt)payload.size());
  check(stored == actual, what, ": checkpoint checksum mismatch: the file is corrupt");

  Reader r(payload, what);
  TrainState s;
  uint32_t nMeta = r.pod<uint32_t>();
  std::map<std::string, std::string> meta;
  for (uint32_t i = 0; i < nMeta; ++i) {
    std::string k = r.str();
    meta[k] = r.str();
  }
  auto take = [&](const std::string &k) {
    auto it = meta.find(k);
    check(it != meta.end(), what, ": checkpoint lacks '", k, "'");
    std::string v = it->second;
    meta.erase(it);
    return v;
  };
  try {
    s.step = std::stoll(take("state.step"));
    s.epoch = std::stoll(take("state.epoch"));
    s.batchInEpoch = std::stoll(take("state.batch_in_epoch"));
    s.seed = std::stoull(take("state.seed"));
    s.epochLoss = doubleOf(take("state.epoch_loss"));
    s.epochCorrect = doubleOf(take("state.epoch_correct"));
    s.epochExamples = std::stoll(take("state.epoch_examples"));
    s.epochPredictions = std::stoll(take("state.epoch_predictions"));
    s.trainSeconds = doubleOf(take("state.train_seconds"));
  } catch (const std::logic_error &) { // stoll on garbage
    fail(what, ": corrupt checkpoint (a counter is not a number)");
  }
  s.config = std::move(meta);
  uint32_t nTensors = r.pod<uint32_t>();
  for (uint32_t i = 0; i < nTensors; ++i) {
    std::string name = r.str();
    uint8_t role = r.pod<uint8_t>();
    auto dt = dtypeFromOnnx(r.pod<int32_t>());
    check(dt.has_value() && role < 2, what, ": corrupt checkpoint (tensor '", name, "')");
    uint32_t rank = r.pod<uint32_t>();
    r.need((size_t)rank * 8);
    Shape shape(rank);
    for (auto &d : shape) {
      d = r.pod<int64_t>();
      check(d >= 0, what, ": corrupt checkpoint (tensor '", name, "' has a negative dimension)");
    }
    uint64_t nbytes = r.pod<uint64_t>();
    r.need(nbytes);
    // The product is checked step by step: dims from a damaged file may overflow int64.
    uint64_t expect = dtypeSize(*dt);
    for (int64_t d : shape)
      check(!__builtin_mul_overflow(expect, (uint64_t)d, &expect), what,
            ": corrupt checkpoint (tensor '", name, "' size)");
    check(expect == nbytes, what, ": corrupt checkpoint (tensor '", name, "' size)");
    Tensor t(*dt, shape);
    if (nbytes)
      std::memcpy(t.mutableBytes(), payload.data() + r.pos, nbytes);
    r.pos += nbytes;
    (role == 0 ? s.params : s.optState)[name] = std::move(t);
  }
  s.trainCurve = getPoints(r);
  s.testCurve = getPoints(r);
  check(r.pos == payload.size(), what, ": corrupt checkpoint (trailing data)");
  return s;
}

std::string previousCheckpointPath(const std::string &path) { return path + ".prev"; }

namespace {

// Temporary files of writes that a killed process never renamed (PATH[.next|.prev].tmp-<pid>,
// whose process is gone); a stale PATH.next is simply replaced by the next write.
void removeStaleTemporaries(const std::filesystem::path &path) {
  std::error_code ec;
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string base = path.filename().string();
  for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    size_t at = name.rfind(".tmp-");
    if (name.rfind(base, 0) != 0 || at == std::string::npos)
      continue;
    std::string middle = name.substr(base.size(), at - base.size());
    if (middle != "" && middle != ".next" && middle != ".prev")
      continue;
    std::string pid = name.substr(at + 5);
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
      continue;
    long id = std::strtol(pid.c_str(), nullptr, 10);
    if (id != (long)::getpid() && ::kill((pid_t)id, 0) != 0 && errno == ESRCH)
      std::filesystem::remove(entry.path(), ec);
  }
}

} // namespace

void writeCheckpoint(const std::string &path, const TrainState &s) {
  removeStaleTemporaries(path);
  std::string next = path + ".next", prev = previousCheckpointPath(path);
  writeFileAtomic(next, serializeCheckpoint(s));
  if (std::filesystem::exists(path)) {
    // PATH.prev is replaced atomically too: link to a temporary name, rename over PATH.prev.
    std::string prevTmp = prev + ".tmp-" + std::to_string(::getpid());
    ::unlink(prevTmp.c_str());
    if (::link(path.c_str(), prevTmp.c_str()) != 0) {
      int err = errno;
      ::unlink(next.c_str());
      fail(path, ": cannot keep the previous checkpoint as ", prev, ": ", std::strerror(err));
    }
    if (::rename(prevTmp.c_str(), prev.c_str()) != 0) {
      int err = errno;
      ::unlink(prevTmp.c_str());
      ::unlink(next.c_str());
      fail(path, ": cannot keep the previous checkpoint as ", prev, ": ", std::strerror(err));
    }
  }
  if (::rename(next.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(next.c_str());
    fail(path, ": cannot rename ", next, " into place: ", std::strerror(err));
  }
}

namespace {

TrainState readOne(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  check((bool)in, path, ": cannot open checkpoint");
  std::ostringstream ss;
  ss << in.rdbuf();
  check(!in.bad(), path, ": cannot read checkpoint");
  return parseCheckpoint(ss.str(), path);
}

} // namespace

TrainState readCheckpoint(const std::string &path) {
  try {
    return readOne(path);
  } catch (const Error &e) {
    std::string prev = previousCheckpointPath(path);
    if (!std::filesystem::exists(prev))
      throw;
    std::string hint;
    try {
      TrainState older = readOne(prev);
      hint = "; the previous checkpoint " + prev + " (after step " + std::to_string(older.step) +
             ") is intact: resume from it with --resume=" + prev;
    } catch (const Error &e2) {
      hint = std::string("; the previous checkpoint is unusable too: ") + e2.what();
    }
    fail(e.what(), hint);
  }
}

} // namespace adjoint::train
