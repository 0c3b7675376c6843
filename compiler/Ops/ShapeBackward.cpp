// Dedicated backward ops of the Shape family (domain "adjoint"), used by Ops/ShapeGrad.cpp where
// building the gradient from ONNX ops would cost a full-size temporary per use:
//   SliceGrad(dy, shape, starts, ends [, axes [, steps]]) -> zeros of `shape` with dy written at
//     the positions Slice(x, starts, ends, axes, steps) read (slices never read a position twice).
//   GatherGrad(dy, indices, shape) {axis} -> zeros of `shape` with each slab of dy added at its
//     index: repeated indices accumulate (the embedding gradient), negative ones count from the
//     back. Indices get no gradient.
// `shape` is the forward data's shape as a constant int64 list; the index operands are the
// forward op's own operands, so the same clamping rules apply to both directions.
#include "Ops/KernelUtil.h"
#include "Ops/SliceWindow.h"

#include <algorithm>
#include <limits>

namespace adjoint {

namespace {

// The constant int64 list that gives a backward op its result shape.
Shape constantShape(const InferContext &ctx, size_t i) {
  const Tensor &t = ctx.requireConstant(i, "shape");
  ctx.require(t.dtype() == DType::I64 && t.rank() == 1, "shape must be a 1-D int64 tensor, got ",
              TensorType{t.dtype(), t.shape()}.str());
  ctx.require(!t.empty() || t.numel() == 0, "shape constant has no data");
  Shape s = t.toInts();
  for (int64_t d : s)
    ctx.require(d >= 0, "shape ", shapeStr(s), " has negative dimension ", d);
  return s;
}

int64_t product(const Shape &s, size_t from, size_t to) {
  return numElements(Shape(s.begin() + from, s.begin() + to));
}

// ---- SliceGrad --------------------------------------------------------------------------------

std::vector<TensorType> inferSliceGrad(InferContext &ctx) {
  Shape shape = constantShape(ctx, 1);
  SliceWindow w = inferSliceWindow(ctx, shape, 2);
  ctx.require(ctx.shape(0) == w.out, "dy has shape ", shapeStr(ctx.shape(0)), " but the slice of ",
              shapeStr(shape), " has shape ", shapeStr(w.out));
  return {{ctx.dtype(0), shape}};
}


void sliceGradKernel(KernelContext &ctx) {
  const Tensor &dy = ctx.in(0);
  Tensor &out = ctx.out();
  SliceWindow w = kernelSliceWindow(ctx, out.shape(), 2);
  if (w.out != dy.shape())
    ctx.error("index operands at run time give a slice of shape ", shapeStr(w.out),
              ", but dy has shape ", shapeStr(dy.shape()));
  if (dy.numel() == 0)
    return;
  int64_t base;
  std::vector<int64_t> strides;
  sliceStrides(w, out.shape(), base, strides);
  // The mirror of Slice's strided copy: dy's elements land where the slice read them.
  dispatchDType(dy.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *src = dy.data<T>();
    T *dst = out.data<T>();
    forEachStrided(dy.shape(), base, strides, [&](int64_t o, int64_t s) { dst[s] = src[o]; });
  });
}

// ---- GatherGrad -------------------------------------------------------------------------------

std::vector<TensorType> inferGatherGrad(InferContext &ctx) {
  Shape shape = constantShape(ctx, 2);
  const TensorType &dy = ctx.type(0), &idx = ctx.type(1);
  ctx.require(dy.dtype != DType::Bool, "dy must be numeric, got ", dtypeName(dy.dtype));
  ctx.require(idx.dtype == DType::I64 || idx.dtype == DType::I32,
              "indices must be int32 or int64, got ", dtypeName(idx.dtype));
  int64_t rank = (int64_t)shape.size(), axis = ctx.i("axis");
  ctx.require(axis >= -rank && axis < rank, "axis ", axis, " is out of range for rank ", rank);
  if (axis < 0)
    axis += rank;
  int64_t dim = shape[axis];
  if (const Tensor *c = ctx.constant(1); c && !c->empty())
    for (int64_t v : c->toInts())
      ctx.require(v >= -dim && v < dim, "index ", v, " is out of range for axis ", axis,
                  " of size ", dim);
  Shape want(shape.begin(), shape.begin() + axis);
  want.insert(want.end(), idx.shape.begin(), idx.shape.end());
  want.insert(want.end(), shape.begin() + axis + 1, shape.end());
  ctx.require(dy.shape == want, "dy has shape ", shapeStr(dy.shape), " but gathering ",
              shapeStr(idx.shape), " indices from ", shapeStr(shape), " along axis ", axis,
              " gives ", shapeStr(want));
  return {{dy.dtype, shape}};
}

void gatherGradKernel(KernelContext &ctx) {
  const Tensor &dy = ctx.in(0), &idx = ctx.in(1);
  Tensor &out = ctx.out();
  const Shape &shape = out.shape();
  int64_t axis = ctx.i("axis");
  if (axis < 0)
    axis += out.rank();
  if (axis < 0 || axis >= out.rank())
    ctx.error("axis ", ctx.i("axis"), " is out of range for rank ", out.rank());
  int64_t outer = product(shape, 0, axis), dim = shape[axis];
  int64_t inner = product(shape, axis + 1, shape.size());
  int64_t count = idx.numel();
  if (dy.numel() != outer * count * inner)
    ctx.error("dy has ", dy.numel(), " elements, not the ", outer * count * inner,
              " that gathering ", count, " indices gives");
  std::vector<int64_t> ix = idx.toInts();
  for (int64_t &v : ix) {
    if (v < -dim || v >= dim)
      ctx.error("index ", v, " is out of range for axis ", axis, " of size ", dim);
    if (v < 0)
      v += dim;
  }
  dispatchNumeric(ctx, dy.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *src = dy.data<T>();
    T *dst = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < count; ++j) {
        const T *s = src + (o * count + j) * inner;
        T *d = dst + (o * dim + ix[j]) * inner;
        for (int64_t k = 0; k < inner; ++k)
          d[k] += s[k];
      }
  });
}

} // namespace

void registerShapeBackwardOps(OpRegistry &r) {
  r.add(OpSchema{
      .name = "SliceGrad",
      .domain = "adjoint",
      .minInputs = 4,
      .maxInputs = 6,
      .infer = inferSliceGrad,
      .kernel = sliceGradKernel,
  });
  r.add(OpSchema{
      .name = "GatherGrad",
      .domain = "adjoint",
      .minInputs = 3,
      .maxInputs = 3,
      .attrs = {{"axis", AttrKind::Int, Attribute(0)}},
      .infer = inferGatherGrad,
      .kernel = gatherGradKernel,
  });
}

} // namespace adjoint
