#pragma once
// Element conversion with numpy's astype results on x86 where C++ leaves the conversion
// undefined (NaN, infinities and out-of-range floats to integers).
#include <cmath>
#include <limits>
#include <type_traits>

namespace adjoint {

// Converts one element as numpy's astype does on x86: float to integer truncates toward zero,
// and NaN, infinities and out-of-range values become the type's minimum (the "integer
// indefinite" value); to bool is `!= 0` (so NaN is true); f64 to f32 overflows to infinity;
// integer narrowing wraps.
template <typename O, typename I> O convertElement(I v) {
  if constexpr (std::is_same_v<O, bool>) {
    return v != I{};
  } else if constexpr (std::is_floating_point_v<I> && std::is_integral_v<O>) {
    constexpr I lo = static_cast<I>(std::numeric_limits<O>::min()); // -2^(bits-1), exact
    if (!(v >= lo && v < -lo))
      return std::numeric_limits<O>::min();
    return static_cast<O>(v);
  } else if constexpr (std::is_same_v<I, double> && std::is_same_v<O, float>) {
    // Round-to-nearest sends magnitudes from FLT_MAX + half an ulp upward to infinity.
    constexpr double overflow = 0x1.ffffffp127;
    double m = std::fabs(v);
    if (m > (double)std::numeric_limits<float>::max() && !std::isnan(v))
      return std::copysign(m >= overflow ? std::numeric_limits<float>::infinity()
                                         : std::numeric_limits<float>::max(),
                           static_cast<float>(std::copysign(1.0, v)));
    return static_cast<float>(v);
  } else {
    return static_cast<O>(v);
  }
}

} // namespace adjoint
