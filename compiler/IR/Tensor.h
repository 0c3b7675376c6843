#pragma once
// A dense row-major tensor with a shared buffer: copies are cheap, writers call mutableBytes(),
// which detaches a shared buffer first.
#include "IR/DType.h"
#include "IR/Shape.h"

#include <cstring>
#include <memory>
#include <vector>

namespace adjoint {

class Tensor {
public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape); // zero-filled

  template <typename T> static Tensor fromVector(Shape shape, const std::vector<T> &v) {
    Tensor t(dtypeOf<T>(), std::move(shape));
    for (size_t i = 0; i < v.size() && i < (size_t)t.numel(); ++i)
      t.data<T>()[i] = v[i];
    return t;
  }
  template <typename T> static Tensor scalar(T v) { return fromVector<T>({}, {v}); }
  // A tensor with a type and no data, for kernels that read only shapes (Shape).
  static Tensor placeholder(DType dtype, Shape shape);

  DType dtype() const { return dtype_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return (int64_t)shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t byteSize() const { return (size_t)numel_ * dtypeSize(dtype_); }
  bool empty() const { return !buf_; }

  const uint8_t *bytes() const { return buf_ ? buf_->data() : nullptr; }
  uint8_t *mutableBytes();

  template <typename T> const T *data() const { return reinterpret_cast<const T *>(bytes()); }
  template <typename T> T *data() { return reinterpret_cast<T *>(mutableBytes()); }

  // Element i converted to double / int64, whatever the dtype.
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  void setDouble(int64_t i, double v);
  // All elements as int64 (shape operands, axes lists).
  std::vector<int64_t> toInts() const;

  Tensor cast(DType to) const;
  Tensor reshaped(Shape s) const; // shares the buffer
  bool identical(const Tensor &o) const; // same dtype, shape and bytes
  bool operator==(const Tensor &o) const { return identical(o); }
  size_t hash() const;

private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::vector<uint8_t>> buf_;
};

} // namespace adjoint
