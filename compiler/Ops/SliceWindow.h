#pragma once
// The window ONNX Slice-13 reads, shared by Slice (Ops/DataMovement.cpp) and its backward op
// SliceGrad (Ops/ShapeBackward.cpp) so the two can never disagree on clamping.
#include "IR/Shape.h"
#include "Ops/OpRegistry.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace adjoint {

struct SliceWindow {
  std::vector<int64_t> start, step; // per input dimension
  Shape out;
};

// Effective start/step/length per dimension, clamped exactly as the ONNX Slice-13 spec says:
// starts into [0, dim] (forward) or [0, dim-1] (backward), ends into [0, dim] or [-1, dim-1].
template <typename Ctx>
SliceWindow sliceWindow(const Ctx &ctx, const Shape &in, const std::vector<int64_t> &starts,
                        const std::vector<int64_t> &ends, const std::vector<int64_t> *axesIn,
                        const std::vector<int64_t> *stepsIn) {
  int64_t rank = (int64_t)in.size();
  size_t n = starts.size();
  if (ends.size() != n || (axesIn && axesIn->size() != n) || (stepsIn && stepsIn->size() != n))
    ctx.error("starts, ends, axes and steps must have the same length, got ", n, ", ",
              ends.size(), ", ", axesIn ? (int64_t)axesIn->size() : (int64_t)n, ", ",
              stepsIn ? (int64_t)stepsIn->size() : (int64_t)n);
  SliceWindow w{std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 1), in};
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < n; ++i) {
    int64_t axis = axesIn ? (*axesIn)[i] : (int64_t)i;
    if (axis < -rank || axis >= rank)
      ctx.error("axis ", axis, " is out of range for rank ", rank);
    if (axis < 0)
      axis += rank;
    if (seen[axis])
      ctx.error("axes repeat axis ", axis);
    seen[axis] = true;
    int64_t step = stepsIn ? (*stepsIn)[i] : 1;
    if (step == 0)
      ctx.error("steps must not be 0");
    int64_t dim = in[axis], start = starts[i], end = ends[i];
    if (start < 0)
      start += dim;
    if (end < 0)
      end += dim;
    int64_t len;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      len = end > start ? 1 + (end - start - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, std::max<int64_t>(dim - 1, 0));
      end = std::clamp<int64_t>(end, -1, dim - 1);
      // -INT64_MIN overflows; any stride beyond the dimension takes a single element anyway.
      int64_t back = step == std::numeric_limits<int64_t>::min()
                         ? std::numeric_limits<int64_t>::max()
                         : -step;
      len = dim > 0 && start > end ? 1 + (start - end - 1) / back : 0;
    }
    // A step longer than the dimension takes at most one element; shrinking it keeps the
    // kernel's stride arithmetic from overflowing.
    if (len <= 1)
      step = step > 0 ? 1 : -1;
    w.start[axis] = start;
    w.step[axis] = step;
    w.out[axis] = len;
  }
  return w;
}

// The window of a Slice-like op whose starts, ends[, axes[, steps]] are operands first..first+3:
// at inference from their constant values (checking they are 1-D int32/int64 of one type), in a
// kernel from the tensors it is given.
SliceWindow inferSliceWindow(const InferContext &ctx, const Shape &in, size_t first);
SliceWindow kernelSliceWindow(const KernelContext &ctx, const Shape &in, size_t first);

// Element offsets of the window in a row-major buffer of shape `in`: base + sum(i[d]*strides[d]).
void sliceStrides(const SliceWindow &w, const Shape &in, int64_t &base,
                  std::vector<int64_t> &strides);

} // namespace adjoint
