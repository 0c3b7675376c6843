#pragma once
// The window geometry shared by Conv, the pooling ops (Ops/ConvPool.cpp) and their dedicated
// backward ops (Ops/ConvPoolBackward.cpp): one place computes padding, output sizes and the tap
// table, so a backward op walks exactly the windows its forward op read.
//
// Per spatial axis: the kernel extent, stride, dilation, begin/end padding and output size,
// computed the way ONNX shape inference and onnxruntime do (auto_pad SAME_* splits the total
// padding with the odd element at the end for SAME_UPPER and at the beginning for SAME_LOWER;
// ceil_mode rounds the output size up but drops a last window that would start inside the end
// padding, as PyTorch does). The tap table then lists, for each output position and kernel tap,
// the input spatial offset it reads, or -1 for a tap in padding.
#include "Ops/OpRegistry.h"
#include "PoolArgmax.h"

#include <cmath>

namespace adjoint::convpool {

struct Window {
  size_t rank = 0; // spatial axes
  Shape in, kernel, strides, dilations, padBegin, padEnd, out;
};

// `in` is the input's spatial shape and `kernel` the kernel's spatial extent (before dilation).
// Reads the attributes strides, dilations (when the op has it), pads and auto_pad.
Window computeWindow(const AttrReader &a, const std::string &who, const Shape &in, Shape kernel,
                     bool ceilMode);

// Pooling has no value for a window that holds only padding; fails naming `who` if one does.
void requireNonEmptyWindows(const std::string &who, const Window &w);

// For each output position (row-major over w.out) and kernel tap (row-major over w.kernel): the
// row-major input spatial offset the tap reads, or -1 where it falls in padding (or past the
// input in ceil mode). `padded` counts, per output, the taps inside the declared padded extent
// [-padBegin, in + padEnd): AveragePool's count_include_pad divisor.
struct Taps {
  int64_t outSize = 1, kSize = 1, inSize = 1;
  std::vector<int64_t> index;
  std::vector<int64_t> padded;
};
Taps buildTaps(const Window &w);

// The spatial part of an [N, C, D1, ..., Dk] shape.
inline Shape spatialOf(const Shape &s) { return Shape(s.begin() + 2, s.end()); }

// Conv's window for input shape x and weight shape wt (checks kernel_shape against wt).
Window convWindow(const AttrReader &a, const std::string &who, const Shape &x, const Shape &wt);
// A pooling op's window for input shape x (kernel_shape and ceil_mode from the attributes).
Window poolWindow(const AttrReader &a, const std::string &who, const Shape &x);

// Offset of a row-major spatial offset when the spatial axes are laid out column-major instead
// (MaxPool's storage_order = 1: the first spatial axis varies fastest).
int64_t columnMajorOffset(int64_t rowMajor, const Shape &in);

// MaxPool's pick (the runtime helpers use the same function).
using rt::windowArgmax;

} // namespace adjoint::convpool
