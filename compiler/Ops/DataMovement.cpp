// Ops that copy elements into a new order: Transpose Concat Slice Split Gather. They work for
// every dtype by moving elements, never by computing with them.
#include "Ops/KernelUtil.h"
#include "Ops/SliceWindow.h"

#include <algorithm>
#include <limits>

namespace adjoint {

namespace {

int64_t axisFor(const InferContext &ctx, int64_t axis, int64_t rank) {
  ctx.require(axis >= -rank && axis < rank, "axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

// Copies src[base + sum(i[d] * strides[d])] to dst in row-major order over `out`.
template <typename T>
void stridedCopy(const T *src, int64_t base, const std::vector<int64_t> &strides, T *dst,
                 const Shape &out) {
  forEachStrided(out, base, strides, [&](int64_t o, int64_t s) { dst[o] = src[s]; });
}

void stridedCopy(const Tensor &in, int64_t base, const std::vector<int64_t> &strides, Tensor &out) {
  dispatchDType(in.dtype(), [&](auto z) {
    using T = decltype(z);
    stridedCopy(in.data<T>(), base, strides, out.data<T>(), out.shape());
  });
}

// Copies `count` contiguous elements between buffers of the same dtype.
void copyElems(const Tensor &src, int64_t srcOff, Tensor &dst, int64_t dstOff, int64_t count) {
  if (count <= 0)
    return;
  size_t es = dtypeSize(src.dtype());
  std::memcpy(dst.mutableBytes() + dstOff * es, src.bytes() + srcOff * es, (size_t)count * es);
}

// The value of a constant operand as int64s (a Constant printed with elided data has none).
std::vector<int64_t> constantInts(const InferContext &ctx, size_t i, const char *what) {
  const Tensor &t = ctx.requireConstant(i, what);
  ctx.require(!t.empty() || t.numel() == 0, what, " constant has no data");
  return t.toInts();
}

int64_t product(const Shape &s, size_t from, size_t to) {
  return numElements(Shape(s.begin() + from, s.begin() + to));
}

// ---- Transpose --------------------------------------------------------------------------------

std::vector<int64_t> transposePerm(const AttrReader &a, int64_t rank) {
  if (!a.has("perm")) {
    std::vector<int64_t> p(rank);
    for (int64_t i = 0; i < rank; ++i)
      p[i] = rank - 1 - i;
    return p;
  }
  return a.ints("perm");
}

std::vector<TensorType> inferTranspose(InferContext &ctx) {
  const Shape &in = ctx.shape(0);
  int64_t rank = (int64_t)in.size();
  std::vector<int64_t> perm = transposePerm(ctx, rank);
  ctx.require((int64_t)perm.size() == rank, "perm has ", perm.size(),
              " entries but the input has rank ", rank);
  std::vector<bool> seen(rank, false);
  Shape out(rank);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t p = perm[i];
    ctx.require(p >= 0 && p < rank && !seen[p], "perm ", shapeStr(perm),
                " is not a permutation of [0, ", rank, ")");
    seen[p] = true;
    out[i] = in[p];
  }
  return {{ctx.dtype(0), out}};
}

void transposeKernel(KernelContext &ctx) {
  const Tensor &in = ctx.in(0);
  std::vector<int64_t> perm = transposePerm(ctx, in.rank());
  // Inference validated perm; this guards the raw indexing below against an unverified op.
  if ((int64_t)perm.size() != in.rank() ||
      std::any_of(perm.begin(), perm.end(), [&](int64_t p) { return p < 0 || p >= in.rank(); }))
    ctx.error("perm ", shapeStr(perm), " does not fit rank ", in.rank());
  std::vector<int64_t> inStrides = stridesOf(in.shape()), strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    strides[i] = inStrides[perm[i]];
  stridedCopy(in, 0, strides, ctx.out());
}

// ---- Concat -----------------------------------------------------------------------------------

std::vector<TensorType> inferConcat(InferContext &ctx) {
  const TensorType &first = ctx.type(0);
  int64_t axis = axisFor(ctx, ctx.i("axis"), first.rank());
  Shape out = first.shape;
  out[axis] = 0;
  for (size_t i = 0; i < ctx.numOperands(); ++i) {
    const TensorType &t = ctx.type(i);
    ctx.require(t.dtype == first.dtype, "operand ", i, " has dtype ", dtypeName(t.dtype),
                " but operand 0 has ", dtypeName(first.dtype));
    bool same = t.rank() == first.rank();
    for (int64_t d = 0; same && d < t.rank(); ++d)
      same = d == axis || t.shape[d] == first.shape[d];
    ctx.require(same, "operand ", i, " has shape ", shapeStr(t.shape),
                ", which does not match operand 0's ", shapeStr(first.shape),
                " outside axis ", axis);
    out[axis] += t.shape[axis];
  }
  return {{first.dtype, out}};
}

void concatKernel(KernelContext &ctx) {
  Tensor &out = ctx.out();
  int64_t axis = ctx.i("axis");
  if (axis < 0)
    axis += out.rank();
  int64_t outer = product(out.shape(), 0, axis);
  int64_t outRow = product(out.shape(), axis, out.shape().size());
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Tensor &in = ctx.in(i);
    int64_t row = product(in.shape(), axis, in.shape().size());
    for (int64_t o = 0; o < outer; ++o)
      copyElems(in, o * row, out, o * outRow + offset, row);
    offset += row;
  }
}

// ---- Slice ------------------------------------------------------------------------------------

// Slice's index operands: int32 or int64, all of one type, 1-D.

std::vector<TensorType> inferSlice(InferContext &ctx) {
  return {{ctx.dtype(0), inferSliceWindow(ctx, ctx.shape(0), 1).out}};
}

void sliceKernel(KernelContext &ctx) {
  const Tensor &in = ctx.in(0);
  SliceWindow w = kernelSliceWindow(ctx, in.shape(), 1);
  if (w.out != ctx.out().shape())
    ctx.error("index operands at run time give shape ", shapeStr(w.out), ", not the ",
              shapeStr(ctx.out().shape()), " they gave at compile time");
  if (numElements(w.out) == 0)
    return;
  int64_t base;
  std::vector<int64_t> strides;
  sliceStrides(w, in.shape(), base, strides);
  stridedCopy(in, base, strides, ctx.out());
}

// ---- Split ------------------------------------------------------------------------------------

std::vector<TensorType> inferSplit(InferContext &ctx) {
  const TensorType &in = ctx.type(0);
  int64_t axis = axisFor(ctx, ctx.i("axis"), in.rank());
  int64_t dim = in.shape[axis], n = (int64_t)ctx.numResults;
  std::vector<int64_t> sizes;
  if (ctx.hasOperand(1)) {
    const Tensor &t = ctx.requireConstant(1, "split");
    ctx.require(t.dtype() == DType::I64 && t.rank() == 1, "split must be a 1-D int64 tensor, got ",
                TensorType{t.dtype(), t.shape()}.str());
    sizes = constantInts(ctx, 1, "split");
    ctx.require((int64_t)sizes.size() == n, "split has ", sizes.size(), " entries for ", n,
                " results");
    int64_t sum = 0;
    for (int64_t s : sizes) {
      ctx.require(s >= 0 && s <= dim, "split ", shapeStr(sizes), " has invalid size ", s);
      sum += s;
    }
    ctx.require(sum == dim, "split ", shapeStr(sizes), " sums to ", sum, ", not to the size ",
                dim, " of axis ", axis);
  } else {
    // Split-13 without `split` needs equal parts (uneven splits arrive only in opset 18).
    ctx.require(dim % n == 0, "cannot split axis ", axis, " of size ", dim, " into ", n,
                " equal parts");
    sizes.assign(n, dim / n);
  }
  std::vector<TensorType> types;
  for (int64_t s : sizes) {
    Shape sh = in.shape;
    sh[axis] = s;
    types.push_back({in.dtype, sh});
  }
  return types;
}

void splitKernel(KernelContext &ctx) {
  const Tensor &in = ctx.in(0);
  int64_t axis = ctx.i("axis");
  if (axis < 0)
    axis += in.rank();
  int64_t outer = product(in.shape(), 0, axis);
  int64_t inRow = product(in.shape(), axis, in.shape().size());
  int64_t offset = 0;
  for (Tensor &out : ctx.outputs) {
    int64_t row = product(out.shape(), axis, out.shape().size());
    for (int64_t o = 0; o < outer; ++o)
      copyElems(in, o * inRow + offset, out, o * row, row);
    offset += row;
  }
}

// ---- Gather -----------------------------------------------------------------------------------

std::vector<TensorType> inferGather(InferContext &ctx) {
  const TensorType &data = ctx.type(0), &idx = ctx.type(1);
  ctx.require(idx.dtype == DType::I64 || idx.dtype == DType::I32,
              "indices must be int32 or int64, got ", dtypeName(idx.dtype));
  int64_t axis = axisFor(ctx, ctx.i("axis"), data.rank());
  int64_t dim = data.shape[axis];
  // Known indices are checked now, so a bad model fails at compile time, not at run time.
  if (const Tensor *c = ctx.constant(1); c && !c->empty())
    for (int64_t v : c->toInts())
      ctx.require(v >= -dim && v < dim, "index ", v, " is out of range for axis ", axis,
                  " of size ", dim);
  Shape out(data.shape.begin(), data.shape.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), data.shape.begin() + axis + 1, data.shape.end());
  return {{data.dtype, out}};
}

void gatherKernel(KernelContext &ctx) {
  const Tensor &data = ctx.in(0), &idx = ctx.in(1);
  Tensor &out = ctx.out();
  int64_t axis = ctx.i("axis");
  if (axis < 0)
    axis += data.rank();
  int64_t outer = product(data.shape(), 0, axis), dim = data.shape()[axis];
  int64_t inner = product(data.shape(), axis + 1, data.shape().size());
  int64_t count = idx.numel();
  std::vector<int64_t> ix = idx.toInts();
  for (int64_t &v : ix) {
    if (v < -dim || v >= dim)
      ctx.error("index ", v, " is out of range for axis ", axis, " of size ", dim);
    if (v < 0)
      v += dim;
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < count; ++j)
      copyElems(data, (o * dim + ix[j]) * inner, out, (o * count + j) * inner, inner);
}

OpSchema schema(const char *name, int minIn, int maxIn, InferFn infer, KernelFn kernel,
                std::vector<AttrSpec> attrs) {
  OpSchema s;
  s.name = name;
  s.minInputs = minIn;
  s.maxInputs = maxIn;
  s.attrs = std::move(attrs);
  s.infer = std::move(infer);
  s.kernel = std::move(kernel);
  return s;
}

} // namespace

void registerDataMovementOps(OpRegistry &r) {
  constexpr int unbounded = std::numeric_limits<int>::max();
  r.add(schema("Transpose", 1, 1, inferTranspose, transposeKernel,
               {{"perm", AttrKind::Ints, std::nullopt, /*optional=*/true}}));
  r.add(schema("Concat", 1, unbounded, inferConcat, concatKernel,
               {{"axis", AttrKind::Int, std::nullopt}}));
  r.add(schema("Slice", 3, 5, inferSlice, sliceKernel, {}));
  OpSchema split = schema("Split", 1, 2, inferSplit, splitKernel,
                          {{"axis", AttrKind::Int, Attribute(0)}});
  split.maxOutputs = unbounded;
  r.add(std::move(split));
  r.add(schema("Gather", 2, 2, inferGather, gatherKernel, {{"axis", AttrKind::Int, Attribute(0)}}));
}

} // namespace adjoint
