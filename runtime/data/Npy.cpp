#include "data/Npy.h"
#include "data/DataError.h"
#include "data/FileBytes.h"

#include <cctype>
#include <cstring>

namespace adjoint::data {

namespace {

// The value text of `'key': VALUE` in the header dict, up to the next top-level comma or brace.
std::string dictValue(const std::string &header, const std::string &key, const std::string &what) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos)
    k = header.find("\"" + key + "\"");
  dataCheck(k != std::string::npos, what, ": .npy header has no '", key, "': ", header);
  size_t colon = header.find(':', k);
  dataCheck(colon != std::string::npos, what, ": malformed .npy header: ", header);
  size_t b = colon + 1, e = b;
  int depth = 0;
  for (; e < header.size(); ++e) {
    char c = header[e];
    if (c == '(')
      ++depth;
    else if (c == ')')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  std::string v = header.substr(b, e - b);
  size_t s = v.find_first_not_of(" \t"), t = v.find_last_not_of(" \t");
  return s == std::string::npos ? "" : v.substr(s, t - s + 1);
}

ElemType npyType(std::string descr, const std::string &what) {
  if (descr.size() >= 2 && (descr.front() == '\'' || descr.front() == '"'))
    descr = descr.substr(1, descr.size() - 2);
  dataCheck(descr.size() >= 2, what, ": unsupported .npy dtype '", descr, "'");
  char order = descr[0];
  std::string kind = descr.substr(1);
  dataCheck(order != '>' || kind == "u1" || kind == "i1" || kind == "b1", what,
            ": big-endian .npy data ('", descr, "') is not supported; save it little-endian");
  if (kind == "u1") return ElemType::U8;
  if (kind == "i1") return ElemType::I8;
  if (kind == "b1") return ElemType::Bool;
  if (kind == "i2") return ElemType::I16;
  if (kind == "u2") return ElemType::U16;
  if (kind == "i4") return ElemType::I32;
  if (kind == "i8") return ElemType::I64;
  if (kind == "f4") return ElemType::F32;
  if (kind == "f8") return ElemType::F64;
  dataFail(what, ": unsupported .npy dtype '", descr,
           "' (supported: uint8, int8, bool, int16, uint16, int32, int64, float32, float64)");
}

std::vector<int64_t> npyShape(const std::string &text, const std::string &what) {
  dataCheck(text.size() >= 2 && text.front() == '(' && text.back() == ')', what,
            ": malformed .npy shape '", text, "'");
  std::vector<int64_t> shape;
  std::string body = text.substr(1, text.size() - 2);
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && (body[i] == ' ' || body[i] == ','))
      ++i;
    if (i >= body.size())
      break;
    size_t j = i;
    while (j < body.size() && std::isdigit((unsigned char)body[j]))
      ++j;
    dataCheck(j > i && j - i < 18, what, ": malformed .npy shape '", text, "'");
    shape.push_back(std::stoll(body.substr(i, j - i)));
    i = j;
  }
  return shape;
}

} // namespace

Array parseNpy(const std::vector<uint8_t> &bytes, const std::string &what) {
  static const char magic[] = "\x93NUMPY";
  dataCheck(bytes.size() >= 10 && std::memcmp(bytes.data(), magic, 6) == 0, what,
            ": not a .npy file");
  int major = bytes[6];
  dataCheck(major >= 1 && major <= 3, what, ": unsupported .npy format version ", major);
  size_t lenBytes = major == 1 ? 2 : 4, headerLen = 0;
  dataCheck(bytes.size() >= 8 + lenBytes, what, ": truncated .npy header");
  for (size_t i = 0; i < lenBytes; ++i)
    headerLen |= (size_t)bytes[8 + i] << (8 * i);
  size_t dataStart = 8 + lenBytes + headerLen;
  dataCheck(bytes.size() >= dataStart, what, ": truncated .npy header");
  std::string header(bytes.begin() + 8 + (std::ptrdiff_t)lenBytes,
                     bytes.begin() + (std::ptrdiff_t)dataStart);
  Array a;
  a.type = npyType(dictValue(header, "descr", what), what);
  dataCheck(dictValue(header, "fortran_order", what) == "False", what,
            ": Fortran-order .npy arrays are not supported (save with np.ascontiguousarray)");
  a.shape = npyShape(dictValue(header, "shape", what), what);
  uint64_t n = (uint64_t)a.numel(), have = bytes.size() - dataStart, es = elemSize(a.type);
  dataCheck(n <= have / es, what, ": .npy data is truncated: ", a.describe(), " needs ", n * es,
            " bytes, the file has ", have);
  dataCheck(n * es == have, what, ": ", have - n * es, " unexpected bytes after the .npy data");
  a.bytes.assign(bytes.begin() + (std::ptrdiff_t)dataStart, bytes.end());
  return a;
}

Array readNpyArray(const std::string &path) { return parseNpy(readFileBytes(path), path); }

} // namespace adjoint::data
