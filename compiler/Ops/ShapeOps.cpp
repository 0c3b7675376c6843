// Ops that only change how a tensor's elements are indexed, or that produce shapes/constants:
// Reshape Flatten Squeeze Unsqueeze Expand Shape Identity Constant. Their result shapes are
// decided at compile time (shapes are static), so operands such as Reshape's `shape` must be
// Constant ops; kernels then take the result shape from the preallocated output instead of
// re-reading those operands.
#include "Ops/KernelUtil.h"

#include <algorithm>
#include <limits>

namespace adjoint {

namespace {

// A constant operand holding a 1-D (or, where `allowScalar`, 0-D) int64 list: shapes and axes.
std::vector<int64_t> constantInts(const InferContext &ctx, size_t i, const char *what,
                                  bool allowScalar = false) {
  const Tensor &t = ctx.requireConstant(i, what);
  ctx.require(t.dtype() == DType::I64, what, " must be an int64 tensor, got ", dtypeName(t.dtype()));
  ctx.require(t.rank() == 1 || (allowScalar && t.rank() == 0), what,
              " must be a 1-D tensor, got shape ", shapeStr(t.shape()));
  ctx.require(!t.empty() || t.numel() == 0, what, " constant has no data");
  return t.toInts();
}

// Normalizes each axis against `rank`; rejects out-of-range and repeated axes.
std::vector<int64_t> normalizeAxes(const InferContext &ctx, std::vector<int64_t> axes,
                                   int64_t rank, const char *what) {
  for (int64_t &a : axes) {
    ctx.require(a >= -rank && a < rank, what, " axis ", a, " is out of range for rank ", rank);
    if (a < 0)
      a += rank;
  }
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  ctx.require(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), what,
              " contains a repeated axis");
  return axes;
}

// The kernel of every op that keeps the elements in order: the result shares the buffer.
void reshapeKernel(KernelContext &ctx) { ctx.out() = ctx.in(0).reshaped(ctx.out().shape()); }

TensorType inferReshape(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  std::vector<int64_t> req = constantInts(ctx, 1, "shape");
  int64_t allowZero = ctx.i("allowzero");
  ctx.require(allowZero == 0 || allowZero == 1, "allowzero must be 0 or 1, got ", allowZero);
  Shape out(req.size());
  int64_t inferred = -1, known = 1;
  bool hasZero = false;
  for (size_t d = 0; d < req.size(); ++d) {
    int64_t v = req[d];
    if (v == -1) {
      ctx.require(inferred < 0, "shape ", shapeStr(req), " has more than one -1");
      inferred = (int64_t)d;
      continue;
    }
    ctx.require(v >= 0, "shape ", shapeStr(req), " has invalid dimension ", v);
    if (v == 0 && !allowZero) {
      ctx.require(d < in.size(), "shape ", shapeStr(req), " copies dimension ", d,
                  " (0) but the input ", shapeStr(in), " has rank ", in.size());
      v = in[d];
    }
    hasZero |= v == 0;
    ctx.require(v == 0 || known <= std::numeric_limits<int64_t>::max() / v, "shape ",
                shapeStr(req), " has too many elements");
    out[d] = v;
    known *= v;
  }
  ctx.require(!(allowZero && hasZero && inferred >= 0), "shape ", shapeStr(req),
              " has both 0 and -1, which allowzero=1 forbids");
  int64_t total = numElements(in);
  if (inferred >= 0) {
    ctx.require(known != 0 && total % known == 0, "cannot reshape ", shapeStr(in), " to ",
                shapeStr(req));
    out[inferred] = total / known;
  }
  ctx.require(numElements(out) == total, "cannot reshape ", shapeStr(in), " (", total,
              " elements) to ", shapeStr(out));
  return {ctx.dtype(0), out};
}

TensorType inferFlatten(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  int64_t rank = (int64_t)in.size(), axis = ctx.i("axis");
  ctx.require(axis >= -rank && axis <= rank, "axis ", axis, " is out of range for rank ", rank);
  if (axis < 0)
    axis += rank;
  Shape head(in.begin(), in.begin() + axis), tail(in.begin() + axis, in.end());
  return {ctx.dtype(0), {numElements(head), numElements(tail)}};
}

TensorType inferSqueeze(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  int64_t rank = (int64_t)in.size();
  std::vector<bool> drop(in.size(), false);
  if (ctx.hasOperand(1)) {
    for (int64_t a : normalizeAxes(ctx, constantInts(ctx, 1, "axes", true), rank, "axes")) {
      ctx.require(in[a] == 1, "cannot squeeze axis ", a, " of size ", in[a], " in ",
                  shapeStr(in));
      drop[a] = true;
    }
  } else {
    for (size_t d = 0; d < in.size(); ++d)
      drop[d] = in[d] == 1;
  }
  Shape out;
  for (size_t d = 0; d < in.size(); ++d)
    if (!drop[d])
      out.push_back(in[d]);
  return {ctx.dtype(0), out};
}

TensorType inferUnsqueeze(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  std::vector<int64_t> axes = constantInts(ctx, 1, "axes", true);
  int64_t outRank = (int64_t)(in.size() + axes.size());
  // Axes count in the result's rank, so [-1] appends a trailing dimension.
  std::vector<bool> inserted(outRank, false);
  for (int64_t a : normalizeAxes(ctx, axes, outRank, "axes"))
    inserted[a] = true;
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < outRank; ++d)
    out.push_back(inserted[d] ? 1 : in[next++]);
  return {ctx.dtype(0), out};
}

TensorType inferExpand(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  std::vector<int64_t> req = constantInts(ctx, 1, "shape");
  for (int64_t v : req)
    ctx.require(v >= 0, "shape ", shapeStr(req), " has negative dimension ", v);
  // Bidirectional: `shape` may have lower rank than the input or 1 where the input is larger.
  try {
    return {ctx.dtype(0), broadcastShapes(in, req)};
  } catch (const Error &e) {
    ctx.error("cannot expand ", shapeStr(in), " to ", shapeStr(req), ": ", e.what());
  }
}

void expandKernel(KernelContext &ctx) {
  const Tensor &in = ctx.in(0);
  Tensor &out = ctx.out();
  dispatchDType(in.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *src = in.data<T>();
    T *dst = out.data<T>();
    forEachBroadcast<1>(out.shape(), {&in.shape()},
                        [&](int64_t o, const std::array<int64_t, 1> &ix) { dst[o] = src[ix[0]]; });
  });
}

// Shape-15 slices the shape by [start, end), both clamped into [0, rank] after negatives are
// taken from the back, as Python slicing does.
std::pair<int64_t, int64_t> shapeRange(const AttrReader &a, int64_t rank) {
  auto clampDim = [rank](int64_t v) {
    if (v < 0)
      v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  int64_t start = clampDim(a.i("start"));
  int64_t end = a.has("end") ? clampDim(a.i("end")) : rank;
  return {start, std::max(start, end)};
}

TensorType inferShape(InferContext &ctx) {
  auto [start, end] = shapeRange(ctx, ctx.type(0).rank());
  return {DType::I64, {end - start}};
}

// Reads only the input's shape: constant folding passes a data-less placeholder.
void shapeKernel(KernelContext &ctx) {
  const Shape &in = ctx.in(0).shape();
  auto [start, end] = shapeRange(ctx, (int64_t)in.size());
  int64_t *dst = ctx.out().data<int64_t>();
  for (int64_t d = start; d < end; ++d)
    dst[d - start] = in[d];
}

void constantKernel(KernelContext &ctx) {
  const Tensor &v = ctx.tensor("value");
  if (v.empty() && v.numel() != 0)
    ctx.error("value has no data");
  if (!v.empty())
    ctx.out() = v;
}

// One schema with a single result; arity and attributes are set by the caller.
OpSchema schema(const char *name, int minIn, int maxIn, TensorType (*infer)(InferContext &),
                KernelFn kernel, std::vector<AttrSpec> attrs = {}) {
  OpSchema s;
  s.name = name;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.attrs = std::move(attrs);
  s.infer = [infer](InferContext &ctx) { return std::vector<TensorType>{infer(ctx)}; };
  s.kernel = std::move(kernel);
  return s;
}

TensorType inferIdentity(InferContext &ctx) { return ctx.type(0); }

TensorType inferConstant(InferContext &ctx) {
  const Tensor &v = ctx.tensor("value");
  return {v.dtype(), v.shape()};
}

} // namespace

void registerShapeOps(OpRegistry &r) {
  r.add(schema("Reshape", 2, 2, inferReshape, reshapeKernel,
               {{"allowzero", AttrKind::Int, Attribute(0)}}));
  r.add(schema("Flatten", 1, 1, inferFlatten, reshapeKernel,
               {{"axis", AttrKind::Int, Attribute(1)}}));
  r.add(schema("Squeeze", 1, 2, inferSqueeze, reshapeKernel));
  r.add(schema("Unsqueeze", 2, 2, inferUnsqueeze, reshapeKernel));
  r.add(schema("Expand", 2, 2, inferExpand, expandKernel));

  OpSchema shape = schema("Shape", 1, 1, inferShape, shapeKernel,
                          {{"start", AttrKind::Int, Attribute(0)},
                           {"end", AttrKind::Int, std::nullopt, /*optional=*/true}});
  shape.shapeOnly = true;
  r.add(std::move(shape));

  OpSchema identity = schema("Identity", 1, 1, inferIdentity,
                             [](KernelContext &ctx) { ctx.out() = ctx.in(0); });
  identity.elementwise = true;
  r.add(std::move(identity));

  // The importer turns value_float, value_ints, ... into `value`; sparse and string constants
  // have no IR dtype and are rejected there.
  r.add(schema("Constant", 0, 0, inferConstant, constantKernel,
               {{"value", AttrKind::Tensor, std::nullopt}}));
}

} // namespace adjoint
