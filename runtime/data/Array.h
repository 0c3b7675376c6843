#pragma once
// A dataset array as read from disk: the file's own element type and shape, bytes kept as they
// are (Fashion-MNIST stays 47 MB of uint8 instead of 188 MB of float). Batches convert elements
// to the model's type when they are assembled.
#include <cstdint>
#include <string>
#include <vector>

namespace adjoint::data {

enum class ElemType : uint8_t { U8, I8, I16, U16, I32, I64, F32, F64, Bool };

const char *elemTypeName(ElemType t); // "uint8", "float32", ...
size_t elemSize(ElemType t);
bool isIntegral(ElemType t); // every type but F32/F64

struct Array {
  ElemType type = ElemType::F32;
  std::vector<int64_t> shape; // shape[0] is the example axis
  std::vector<uint8_t> bytes;

  Array() = default;
  Array(ElemType t, std::vector<int64_t> s); // zero-filled

  int64_t numel() const;
  // Examples along axis 0 (a rank-0 array has none).
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  // Elements per example: the product of shape[1:].
  int64_t rowSize() const;
  // Element i as a double, whatever the type.
  double at(int64_t i) const;
  void set(int64_t i, double v);
  std::string shapeStr() const; // "[60000,28,28]"
  std::string describe() const; // "uint8[60000,28,28]"
};

// The first n rows (n >= rows() returns a copy of a).
Array firstRows(const Array &a, int64_t n);

} // namespace adjoint::data
