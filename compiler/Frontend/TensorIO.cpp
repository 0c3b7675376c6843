#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <onnx/onnx_pb.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace adjoint {

namespace fs = std::filesystem;

namespace {

std::string readWholeFile(const std::string &path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    fail(path, ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, ": cannot open: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    fail(path, ": read error");
  return ss.str();
}

// ---- .npy -------------------------------------------------------------------------------------
// The header is a Python dict literal; numpy writes exactly three keys. The parser accepts what
// numpy writes (any key order, either quote style, trailing commas) and nothing cleverer.

struct NpyHeader {
  std::string descr;
  bool fortran = false;
  Shape shape;
};

struct HeaderParser {
  const std::string &s;
  const std::string &path;
  size_t i = 0;

  [[noreturn]] void bad(const char *what) {
    fail(path, ": malformed .npy header (", what, " at offset ", i, "): ", s);
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
      ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"'))
      bad("expected a string");
    char q = s[i++];
    size_t start = i;
    while (i < s.size() && s[i] != q)
      ++i;
    if (i >= s.size())
      bad("unterminated string");
    return s.substr(start, i++ - start);
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) {
      i += 4;
      return true;
    }
    if (s.compare(i, 5, "False") == 0) {
      i += 5;
      return false;
    }
    bad("expected True or False");
  }
  Shape tuple() {
    if (!eat('('))
      bad("expected a shape tuple");
    Shape r;
    while (!eat(')')) {
      ws();
      size_t start = i;
      while (i < s.size() && std::isdigit((unsigned char)s[i]))
        ++i;
      if (start == i)
        bad("expected a dimension");
      if (i - start > 18)
        bad("dimension too large");
      r.push_back(std::stoll(s.substr(start, i - start)));
      if (!eat(',')) {
        if (!eat(')'))
          bad("expected ',' or ')'");
        break;
      }
    }
    return r;
  }
  NpyHeader parse() {
    NpyHeader h;
    bool haveDescr = false, haveFortran = false, haveShape = false;
    if (!eat('{'))
      bad("expected '{'");
    while (!eat('}')) {
      std::string key = str();
      if (!eat(':'))
        bad("expected ':'");
      if (key == "descr") {
        h.descr = str();
        haveDescr = true;
      } else if (key == "fortran_order") {
        h.fortran = boolean();
        haveFortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        haveShape = true;
      } else {
        bad("unknown key");
      }
      if (!eat(',')) {
        if (!eat('}'))
          bad("expected ',' or '}'");
        break;
      }
    }
    if (!haveDescr || !haveFortran || !haveShape)
      bad("missing descr, fortran_order or shape");
    return h;
  }
};

std::optional<DType> npyDType(const std::string &descr) {
  if (descr == "<f4")
    return DType::F32;
  if (descr == "<f8")
    return DType::F64;
  if (descr == "<i8")
    return DType::I64;
  if (descr == "<i4")
    return DType::I32;
  if (descr == "|b1")
    return DType::Bool;
  return std::nullopt;
}

const char *npyDescr(DType t) {
  switch (t) {
  case DType::F32: return "<f4";
  case DType::F64: return "<f8";
  case DType::I64: return "<i8";
  case DType::I32: return "<i4";
  case DType::Bool: return "|b1";
  }
  return "?";
}

// Data stored column-major with `shape` → row-major tensor.
Tensor fromFortranOrder(const Tensor &colMajor) {
  const Shape &shape = colMajor.shape();
  Tensor out(colMajor.dtype(), shape);
  size_t es = dtypeSize(colMajor.dtype());
  int64_t n = colMajor.numel();
  size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0), fstrides(rank, 1);
  for (size_t d = 1; d < rank; ++d)
    fstrides[d] = fstrides[d - 1] * shape[d - 1];
  const uint8_t *src = colMajor.bytes();
  uint8_t *dst = out.mutableBytes();
  for (int64_t o = 0; o < n; ++o) {
    int64_t f = 0;
    for (size_t d = 0; d < rank; ++d)
      f += idx[d] * fstrides[d];
    std::memcpy(dst + (size_t)o * es, src + (size_t)f * es, es);
    for (int64_t d = (int64_t)rank - 1; d >= 0; --d) {
      if (++idx[d] < shape[d])
        break;
      idx[d] = 0;
    }
  }
  return out;
}

void copyBoolBytes(uint8_t *dst, const char *src, size_t n) {
  // Normalizes to 0/1 so that every stored bool is a valid C++ bool.
  for (size_t k = 0; k < n; ++k)
    dst[k] = src[k] != 0;
}


uint64_t gMaxTensorBytes = kDefaultMaxTensorBytes;

} // namespace

uint64_t maxTensorBytes() { return gMaxTensorBytes; }
void setMaxTensorBytes(uint64_t bytes) { gMaxTensorBytes = bytes; }

uint64_t checkedTensorBytes(DType dt, const Shape &shape, const std::string &what) {
  int64_t n;
  try {
    n = numElements(shape);
  } catch (const Error &e) {
    fail(what, ": bad tensor shape: ", e.what());
  }
  if ((uint64_t)n > (uint64_t)INT64_MAX / dtypeSize(dt))
    fail(what, ": tensor shape ", shapeStr(shape), " is too large (its byte size overflows)");
  uint64_t bytes = (uint64_t)n * dtypeSize(dt);
  if (bytes > gMaxTensorBytes)
    fail(what, ": tensor ", dtypeName(dt), shapeStr(shape), " needs ", bytes,
         " bytes, more than the limit of ", gMaxTensorBytes, " (--max-tensor-bytes)");
  return bytes;
}

Tensor readNpy(const std::string &path) { return parseNpy(readWholeFile(path), path); }

Tensor parseNpy(const std::string &bytes, const std::string &path) {
  static const char magic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, magic, 6) != 0)
    fail(path, ": not a .npy file (bad magic)");
  int major = (uint8_t)bytes[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = (uint8_t)bytes[8] | ((size_t)(uint8_t)bytes[9] << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      fail(path, ": truncated .npy header");
    headerLen = 0;
    for (int k = 0; k < 4; ++k)
      headerLen |= (size_t)(uint8_t)bytes[8 + k] << (8 * k);
    headerStart = 12;
  } else {
    fail(path, ": unsupported .npy format version ", major, ".", (int)(uint8_t)bytes[7]);
  }
  if (bytes.size() - headerStart < headerLen)
    fail(path, ": truncated .npy header");
  std::string header = bytes.substr(headerStart, headerLen);
  NpyHeader h = HeaderParser{header, path}.parse();
  std::optional<DType> dt = npyDType(h.descr);
  if (!dt)
    fail(path, ": unsupported .npy dtype '", h.descr,
         "' (supported: '<f4', '<f8', '<i8', '<i4', '|b1')");
  size_t nbytes = checkedTensorBytes(*dt, h.shape, path);
  size_t dataStart = headerStart + headerLen;
  if (bytes.size() - dataStart < nbytes)
    fail(path, ": truncated .npy data: expected ", nbytes, " bytes for ", dtypeName(*dt),
         shapeStr(h.shape), ", found ", bytes.size() - dataStart);
  Tensor t(*dt, h.shape);
  if (t.byteSize()) {
    if (*dt == DType::Bool)
      copyBoolBytes(t.mutableBytes(), bytes.data() + dataStart, t.byteSize());
    else
      std::memcpy(t.mutableBytes(), bytes.data() + dataStart, t.byteSize());
  }
  return h.fortran && t.rank() > 1 ? fromFortranOrder(t) : t;
}

void writeNpy(const std::string &path, const Tensor &t) {
  std::string dims;
  for (size_t d = 0; d < t.shape().size(); ++d)
    dims += (d ? ", " : "") + std::to_string(t.shape()[d]);
  if (t.shape().size() == 1)
    dims += ",";
  std::string dict = std::string("{'descr': '") + npyDescr(t.dtype()) +
                     "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pads with spaces so the data starts 64-byte aligned, as numpy does.
  size_t prefix = 10;
  bool v2 = dict.size() + 1 + prefix + 64 > 65535;
  if (v2)
    prefix = 12;
  size_t total = prefix + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out = "\x93NUMPY";
  out += v2 ? '\x02' : '\x01';
  out += '\0';
  size_t len = dict.size();
  for (size_t k = 0; k < (v2 ? 4u : 2u); ++k)
    out += (char)((len >> (8 * k)) & 0xff);
  out += dict;
  if (t.byteSize())
    out.append(reinterpret_cast<const char *>(t.bytes()), t.byteSize());
  writeFileAtomic(path, out);
}

// ---- TensorProto ------------------------------------------------------------------------------

std::string onnxTypeName(int32_t t) {
  if (onnx::TensorProto_DataType_IsValid(t))
    return onnx::TensorProto_DataType_Name((onnx::TensorProto_DataType)t);
  return "data type " + std::to_string(t);
}

std::optional<DType> dtypeFromOnnx(int32_t t) {
  switch (t) {
  case onnx::TensorProto::FLOAT: return DType::F32;
  case onnx::TensorProto::DOUBLE: return DType::F64;
  case onnx::TensorProto::INT64: return DType::I64;
  case onnx::TensorProto::INT32: return DType::I32;
  case onnx::TensorProto::BOOL: return DType::Bool;
  default: return std::nullopt;
  }
}

int32_t onnxFromDType(DType t) {
  switch (t) {
  case DType::F32: return onnx::TensorProto::FLOAT;
  case DType::F64: return onnx::TensorProto::DOUBLE;
  case DType::I64: return onnx::TensorProto::INT64;
  case DType::I32: return onnx::TensorProto::INT32;
  case DType::Bool: return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

namespace {

bool hasDotDot(const fs::path &p) {
  for (const auto &part : p)
    if (part == "..")
      return true;
  return false;
}

// Reads `length` bytes at `offset` of the external file, refusing locations that leave baseDir.
std::string readExternal(const onnx::TensorProto &p, const std::string &baseDir,
                         const std::string &what, size_t expected) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &kv : p.external_data()) {
    try {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoll(kv.value());
      else if (kv.key() == "length")
        length = std::stoll(kv.value());
    } catch (const std::exception &) {
      fail(what, ": external data ", kv.key(), " '", kv.value(), "' is not a number");
    }
  }
  if (location.empty())
    fail(what, ": external data has no location");
  fs::path loc(location);
  if (loc.is_absolute() || hasDotDot(loc) || location.find('\0') != std::string::npos)
    fail(what, ": external data location '", location,
         "' must be a relative path inside the model's folder");
  fs::path base = baseDir.empty() ? fs::path(".") : fs::path(baseDir);
  fs::path full = base / loc;
  std::error_code ec;
  if (!fs::exists(full, ec))
    fail(what, ": external data file '", full.string(), "' does not exist");
  fs::path realBase = fs::canonical(base, ec);
  fs::path realFull = ec ? fs::path() : fs::canonical(full, ec);
  if (ec)
    fail(what, ": cannot resolve external data file '", full.string(), "': ", ec.message());
  auto rel = realFull.lexically_relative(realBase);
  if (rel.empty() || hasDotDot(rel) || rel.is_absolute())
    fail(what, ": external data file '", full.string(), "' resolves to '", realFull.string(),
         "', outside the model's folder");
  if (!fs::is_regular_file(realFull, ec))
    fail(what, ": external data file '", full.string(), "' is not a regular file");
  if (offset < 0)
    fail(what, ": external data offset ", offset, " is negative");
  if (length >= 0 && (size_t)length != expected)
    fail(what, ": external data length ", length, " does not match the ", expected,
         " bytes its type needs");
  std::ifstream in(realFull, std::ios::binary);
  if (!in)
    fail(what, ": cannot open external data file '", full.string(), "'");
  auto fileSize = fs::file_size(realFull, ec);
  if (ec || (uint64_t)offset > fileSize || fileSize - (uint64_t)offset < expected)
    fail(what, ": external data file '", full.string(), "' is too short: needs ", expected,
         " bytes at offset ", offset);
  in.seekg(offset);
  std::string buf(expected, '\0');
  if (expected)
    in.read(buf.data(), (std::streamsize)expected);
  if (!in || (size_t)in.gcount() != expected)
    fail(what, ": external data file '", full.string(), "' is too short: needs ", expected,
         " bytes at offset ", offset);
  return buf;
}

template <typename T, typename Field>
void copyTyped(Tensor &t, const Field &field, const std::string &what, const char *fieldName) {
  if ((int64_t)field.size() != t.numel())
    fail(what, ": ", fieldName, " holds ", field.size(), " values, the shape ", shapeStr(t.shape()),
         " needs ", t.numel());
  T *dst = t.data<T>();
  for (int64_t k = 0; k < t.numel(); ++k) {
    if constexpr (std::is_same_v<T, bool>)
      dst[k] = field.Get((int)k) != 0;
    else
      dst[k] = static_cast<T>(field.Get((int)k));
  }
}

} // namespace

Tensor tensorFromProto(const onnx::TensorProto &p, const std::string &baseDir,
                       const std::string &what) {
  std::optional<DType> dt = dtypeFromOnnx(p.data_type());
  if (!dt)
    fail(what, ": tensor type ", onnxTypeName(p.data_type()),
         " is not supported (supported: FLOAT, DOUBLE, INT64, INT32, BOOL)");
  if (p.has_segment())
    fail(what, ": segmented tensors are not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  size_t nbytes = checkedTensorBytes(*dt, shape, what);
  Tensor t;
  auto fillRaw = [&](const std::string &raw) {
    if (raw.size() != nbytes)
      fail(what, ": raw data holds ", raw.size(), " bytes, ", dtypeName(*dt), shapeStr(shape),
           " needs ", nbytes);
    t = Tensor(*dt, shape);
    if (!nbytes)
      return;
    if (*dt == DType::Bool)
      copyBoolBytes(t.mutableBytes(), raw.data(), nbytes);
    else
      std::memcpy(t.mutableBytes(), raw.data(), nbytes);
  };
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    fillRaw(readExternal(p, baseDir, what, nbytes));
    return t;
  }
  if (p.has_raw_data()) {
    fillRaw(p.raw_data());
    return t;
  }
  auto typedCount = [&]() -> int64_t {
    switch (*dt) {
    case DType::F32: return p.float_data_size();
    case DType::F64: return p.double_data_size();
    case DType::I64: return p.int64_data_size();
    default: return p.int32_data_size();
    }
  };
  if ((uint64_t)typedCount() != nbytes / dtypeSize(*dt))
    fail(what, ": holds ", typedCount(), " values, ", dtypeName(*dt), shapeStr(shape), " needs ",
         nbytes / dtypeSize(*dt));
  t = Tensor(*dt, shape);
  switch (*dt) {
  case DType::F32: copyTyped<float>(t, p.float_data(), what, "float_data"); break;
  case DType::F64: copyTyped<double>(t, p.double_data(), what, "double_data"); break;
  case DType::I64: copyTyped<int64_t>(t, p.int64_data(), what, "int64_data"); break;
  case DType::I32: copyTyped<int32_t>(t, p.int32_data(), what, "int32_data"); break;
  case DType::Bool: copyTyped<bool>(t, p.int32_data(), what, "int32_data"); break;
  }
  return t;
}

void tensorToProto(const Tensor &t, onnx::TensorProto &p) {
  p.Clear();
  p.set_data_type(onnxFromDType(t.dtype()));
  for (int64_t d : t.shape())
    p.add_dims(d);
  if (t.byteSize() && t.bytes())
    p.set_raw_data(reinterpret_cast<const char *>(t.bytes()), t.byteSize());
  else
    p.set_raw_data(std::string(t.byteSize(), '\0'));
}

Tensor readTensorProtoFile(const std::string &path) {
  std::string base = fs::path(path).parent_path().string();
  return parseTensorProto(readWholeFile(path), base.empty() ? "." : base, path);
}

Tensor parseTensorProto(const std::string &bytes, const std::string &baseDir,
                        const std::string &path) {
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes))
    fail(path, ": not a valid ONNX TensorProto (protobuf parse failed)");
  std::string what = path + (p.name().empty() ? "" : " (tensor '" + p.name() + "')");
  return tensorFromProto(p, baseDir, what);
}

Tensor readTensorFile(const std::string &path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".npy")
    return readNpy(path);
  if (ext == ".pb")
    return readTensorProtoFile(path);
  fail(path, ": unknown tensor file type '", ext, "' (expected .npy or .pb)");
}

void writeFileAtomic(const std::string &path, const std::string &bytes) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(path, ": cannot write: ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(path, ": write failed: ", std::strerror(err));
    }
    done += (size_t)n;
  }
  int rc = ::fsync(fd);
  int err = errno;
  if (::close(fd) != 0 && rc == 0) {
    rc = -1;
    err = errno;
  }
  if (rc != 0) {
    ::unlink(tmp.c_str());
    fail(path, ": write failed: ", std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(path, ": cannot rename ", tmp, " into place: ", std::strerror(err));
  }
  // The rename is durable only once the folder's entry is: without this a crash right after can
  // leave the old file (or none) although the call returned. Best effort: some file systems
  // refuse to sync a folder, and the data itself is already on disk.
  fs::path dir = fs::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

} // namespace adjoint
