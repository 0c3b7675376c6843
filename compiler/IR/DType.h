#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace adjoint {

// Element types the IR carries. ONNX types outside this set are rejected at import with a message.
enum class DType : uint8_t { F32, F64, I64, I32, Bool };

std::string_view dtypeName(DType t);                 // "f32", "f64", ...
std::optional<DType> parseDType(std::string_view s); // inverse of dtypeName
size_t dtypeSize(DType t);
bool isFloat(DType t);
bool isInteger(DType t);

// Calls f with a value of the C++ element type of t (float, double, int64_t, int32_t, bool).
template <typename F> decltype(auto) dispatchDType(DType t, F &&f) {
  switch (t) {
  case DType::F32: return f(float{});
  case DType::F64: return f(double{});
  case DType::I64: return f(int64_t{});
  case DType::I32: return f(int32_t{});
  case DType::Bool: return f(bool{});
  }
  return f(float{});
}

template <typename T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::F32; }
template <> constexpr DType dtypeOf<double>() { return DType::F64; }
template <> constexpr DType dtypeOf<int64_t>() { return DType::I64; }
template <> constexpr DType dtypeOf<int32_t>() { return DType::I32; }
template <> constexpr DType dtypeOf<bool>() { return DType::Bool; }

} // namespace adjoint
