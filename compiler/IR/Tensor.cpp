#include "IR/Tensor.h"
#include "IR/Convert.h"
#include "Support/Error.h"

#include <functional>

namespace adjoint {

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(numElements(shape_)),
      buf_(std::make_shared<std::vector<uint8_t>>((size_t)numel_ * dtypeSize(dtype))) {}

Tensor Tensor::placeholder(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = numElements(t.shape_);
  return t;
}

uint8_t *Tensor::mutableBytes() {
  if (!buf_)
    return nullptr;
  if (buf_.use_count() > 1)
    buf_ = std::make_shared<std::vector<uint8_t>>(*buf_);
  return buf_->data();
}

double Tensor::getDouble(int64_t i) const {
  return dispatchDType(dtype_, [&](auto z) -> double {
    using T = decltype(z);
    return static_cast<double>(data<T>()[i]);
  });
}

int64_t Tensor::getInt(int64_t i) const {
  return dispatchDType(dtype_, [&](auto z) -> int64_t {
    using T = decltype(z);
    return static_cast<int64_t>(data<T>()[i]);
  });
}

void Tensor::setDouble(int64_t i, double v) {
  dispatchDType(dtype_, [&](auto z) {
    using T = decltype(z);
    data<T>()[i] = convertElement<T, double>(v);
  });
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> r((size_t)numel_);
  for (int64_t i = 0; i < numel_; ++i)
    r[(size_t)i] = getInt(i);
  return r;
}

Tensor Tensor::cast(DType to) const {
  Tensor out(to, shape_);
  dispatchDType(dtype_, [&](auto zi) {
    using I = decltype(zi);
    dispatchDType(to, [&](auto zo) {
      using O = decltype(zo);
      const I *src = data<I>();
      O *dst = out.data<O>();
      for (int64_t i = 0; i < numel_; ++i)
        dst[i] = convertElement<O, I>(src[i]);
    });
  });
  return out;
}

Tensor Tensor::reshaped(Shape s) const {
  check(numElements(s) == numel_, "cannot reshape tensor of shape ", shapeStr(shape_), " to ",
        shapeStr(s));
  Tensor t = *this;
  t.shape_ = std::move(s);
  return t;
}

bool Tensor::identical(const Tensor &o) const {
  if (dtype_ != o.dtype_ || shape_ != o.shape_)
    return false;
  if (byteSize() == 0)
    return true;
  return std::memcmp(bytes(), o.bytes(), byteSize()) == 0;
}

size_t Tensor::hash() const {
  size_t h = std::hash<int>()((int)dtype_);
  for (int64_t d : shape_)
    h = h * 1000003u ^ std::hash<int64_t>()(d);
  const uint8_t *b = bytes();
  for (size_t i = 0; i < byteSize(); ++i)
    h = h * 131u ^ b[i];
  return h;
}

} // namespace adjoint
