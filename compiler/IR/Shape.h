#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace adjoint {

using Shape = std::vector<int64_t>;

// Element count; throws Error when the product overflows int64 or a dim is negative.
int64_t numElements(const Shape &s);
std::string shapeStr(const Shape &s); // "[2,3]"
// Row-major strides in elements.
std::vector<int64_t> stridesOf(const Shape &s);
// Numpy/ONNX multidirectional broadcast; throws Error naming both shapes when incompatible.
Shape broadcastShapes(const Shape &a, const Shape &b);
// Normalizes a possibly negative axis against rank; throws naming `what` when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank, const char *what);

} // namespace adjoint
