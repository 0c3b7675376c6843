#include "data/Array.h"
#include "data/DataError.h"

#include <cstring>

namespace adjoint::data {

const char *elemTypeName(ElemType t) {
  switch (t) {
  case ElemType::U8: return "uint8";
  case ElemType::I8: return "int8";
  case ElemType::I16: return "int16";
  case ElemType::U16: return "uint16";
  case ElemType::I32: return "int32";
  case ElemType::I64: return "int64";
  case ElemType::F32: return "float32";
  case ElemType::F64: return "float64";
  case ElemType::Bool: return "bool";
  }
  return "?";
}

size_t elemSize(ElemType t) {
  switch (t) {
  case ElemType::U8:
  case ElemType::I8:
  case ElemType::Bool: return 1;
  case ElemType::I16:
  case ElemType::U16: return 2;
  case ElemType::I32:
  case ElemType::F32: return 4;
  case ElemType::I64:
  case ElemType::F64: return 8;
  }
  return 1;
}

bool isIntegral(ElemType t) { return t != ElemType::F32 && t != ElemType::F64; }

static int64_t product(const std::vector<int64_t> &dims, size_t from) {
  int64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) {
    dataCheck(dims[i] >= 0, "negative dimension ", dims[i]);
    dataCheck(dims[i] == 0 || n <= INT64_MAX / dims[i], "array shape overflows");
    n *= dims[i];
  }
  return n;
}

Array::Array(ElemType t, std::vector<int64_t> s) : type(t), shape(std::move(s)) {
  bytes.assign((size_t)numel() * elemSize(t), 0);
}

int64_t Array::numel() const { return product(shape, 0); }
int64_t Array::rowSize() const { return product(shape, 1); }

template <typename T> static T load(const uint8_t *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T> static void store(uint8_t *p, T v) { std::memcpy(p, &v, sizeof v); }

double Array::at(int64_t i) const {
  const uint8_t *p = bytes.data() + (size_t)i * elemSize(type);
  switch (type) {
  case ElemType::U8: return *p;
  case ElemType::I8: return (int8_t)*p;
  case ElemType::Bool: return *p ? 1.0 : 0.0;
  case ElemType::I16: return load<int16_t>(p);
  case ElemType::U16: return load<uint16_t>(p);
  case ElemType::I32: return load<int32_t>(p);
  case ElemType::I64: return (double)load<int64_t>(p);
  case ElemType::F32: return load<float>(p);
  case ElemType::F64: return load<double>(p);
  }
  return 0;
}

void Array::set(int64_t i, double v) {
  uint8_t *p = bytes.data() + (size_t)i * elemSize(type);
  switch (type) {
  case ElemType::U8: *p = (uint8_t)v; break;
  case ElemType::I8: *p = (uint8_t)(int8_t)v; break;
  case ElemType::Bool: *p = v != 0; break;
  case ElemType::I16: store<int16_t>(p, (int16_t)v); break;
  case ElemType::U16: store<uint16_t>(p, (uint16_t)v); break;
  case ElemType::I32: store<int32_t>(p, (int32_t)v); break;
  case ElemType::I64: store<int64_t>(p, (int64_t)v); break;
  case ElemType::F32: store<float>(p, (float)v); break;
  case ElemType::F64: store<double>(p, v); break;
  }
}

std::string Array::shapeStr() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string Array::describe() const { return elemTypeName(type) + shapeStr(); }

Array firstRows(const Array &a, int64_t n) {
  if (a.shape.empty() || n >= a.rows())
    return a;
  Array r;
  r.type = a.type;
  r.shape = a.shape;
  r.shape[0] = n;
  size_t bytes = (size_t)(n * a.rowSize()) * elemSize(a.type);
  r.bytes.assign(a.bytes.begin(), a.bytes.begin() + (std::ptrdiff_t)bytes);
  return r;
}

} // namespace adjoint::data
