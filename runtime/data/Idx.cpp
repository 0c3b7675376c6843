#include "data/Idx.h"
#include "data/DataError.h"
#include "data/FileBytes.h"

#include <algorithm>

namespace adjoint::data {

namespace {

uint32_t bigEndian32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

ElemType idxType(uint8_t code, const std::string &what) {
  switch (code) {
  case 0x08: return ElemType::U8;
  case 0x09: return ElemType::I8;
  case 0x0B: return ElemType::I16;
  case 0x0C: return ElemType::I32;
  case 0x0D: return ElemType::F32;
  case 0x0E: return ElemType::F64;
  }
  dataFail(what, ": unknown IDX element type 0x", std::hex, (int)code,
           " (expected 08 uint8, 09 int8, 0B int16, 0C int32, 0D float32 or 0E float64)");
}

} // namespace

Array parseIdx(const std::vector<uint8_t> &bytes, const std::string &what) {
  dataCheck(bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0, what,
            ": not an IDX file (it must start with two zero bytes, the element type and the "
            "number of dimensions)");
  Array a;
  a.type = idxType(bytes[2], what);
  size_t ndims = bytes[3];
  dataCheck(ndims >= 1, what, ": IDX file with no dimensions");
  size_t header = 4 + 4 * ndims;
  dataCheck(bytes.size() >= header, what, ": truncated IDX header");
  for (size_t i = 0; i < ndims; ++i)
    a.shape.push_back(bigEndian32(&bytes[4 + 4 * i]));
  size_t es = elemSize(a.type);
  uint64_t n = (uint64_t)a.numel(), have = bytes.size() - header;
  dataCheck(n <= have / es, what, ": IDX data is truncated: the header says ",
            a.describe(), " (", n, " elements of ", es, " bytes) but ", have, " bytes follow");
  dataCheck(n * es == have, what, ": ", have - n * es,
            " unexpected bytes after the IDX data of ", a.describe());
  a.bytes.assign(bytes.begin() + (std::ptrdiff_t)header, bytes.end());
  if (es > 1) // big-endian on disk
    for (size_t i = 0; i < a.bytes.size(); i += es)
      std::reverse(a.bytes.begin() + (std::ptrdiff_t)i, a.bytes.begin() + (std::ptrdiff_t)(i + es));
  return a;
}

Array readIdx(const std::string &path) { return parseIdx(readFileBytes(path), path); }

} // namespace adjoint::data
