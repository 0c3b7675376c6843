// Conv, MaxPool, AveragePool and GlobalAveragePool over N-d spatial inputs laid out
// [N, C, D1, ..., Dk].
//
// Every windowed op shares one geometry (Window): per spatial axis the kernel extent, stride,
// dilation, begin/end padding and output size, computed the way ONNX shape inference and
// onnxruntime do (auto_pad SAME_* splits the total padding with the odd element at the end for
// SAME_UPPER and at the beginning for SAME_LOWER; ceil_mode rounds the output size up but drops a
// last window that would start inside the end padding, as PyTorch does). The kernels then walk a
// tap table: for each output position and kernel tap, the input spatial offset it reads, or -1
// for a tap in padding. That keeps all the index arithmetic in one place for every op.
#include "Ops/KernelUtil.h"

#include <algorithm>
#include <cmath>

namespace adjoint {

namespace {

struct Window {
  size_t rank = 0; // spatial axes
  Shape in, kernel, strides, dilations, padBegin, padEnd, out;
};

std::vector<int64_t> intsOr(const AttrReader &a, const char *name, std::vector<int64_t> dflt) {
  return a.has(name) ? a.ints(name) : std::move(dflt);
}

// `in` is the input's spatial shape and `kernel` the kernel's spatial extent (before dilation).
Window computeWindow(const AttrReader &a, const std::string &who, const Shape &in, Shape kernel,
                     bool ceilMode) {
  Window w;
  w.rank = in.size();
  w.in = in;
  w.kernel = std::move(kernel);
  const size_t k = w.rank;
  w.strides = intsOr(a, "strides", Shape(k, 1));
  // AveragePool has no dilations before opset 19; its schema lacks the attribute.
  w.dilations = Shape(k, 1);
  if (a.has("dilations"))
    w.dilations = a.ints("dilations");
  if (w.kernel.size() != k)
    fail(who, ": kernel_shape has ", w.kernel.size(), " values for ", k, " spatial axes");
  if (w.strides.size() != k)
    fail(who, ": strides has ", w.strides.size(), " values for ", k, " spatial axes");
  if (w.dilations.size() != k)
    fail(who, ": dilations has ", w.dilations.size(), " values for ", k, " spatial axes");
  for (size_t i = 0; i < k; ++i) {
    if (w.kernel[i] < 1)
      fail(who, ": kernel size must be positive, got ", shapeStr(w.kernel));
    if (w.strides[i] < 1)
      fail(who, ": strides must be positive, got ", shapeStr(w.strides));
    if (w.dilations[i] < 1)
      fail(who, ": dilations must be positive, got ", shapeStr(w.dilations));
  }

  std::string autoPad = a.s("auto_pad");
  std::vector<int64_t> pads = intsOr(a, "pads", Shape(2 * k, 0));
  if (pads.size() != 2 * k)
    fail(who, ": pads has ", pads.size(), " values, expected ", 2 * k);
  for (int64_t p : pads)
    if (p < 0)
      fail(who, ": pads must be non-negative, got ", shapeStr(pads));
  bool explicitPads = false;
  for (int64_t p : pads)
    explicitPads |= p != 0;

  w.padBegin.assign(pads.begin(), pads.begin() + k);
  w.padEnd.assign(pads.begin() + k, pads.end());
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    if (explicitPads)
      fail(who, ": explicit pads cannot be combined with auto_pad ", autoPad);
    for (size_t i = 0; i < k; ++i) {
      int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1;
      int64_t out = (in[i] + w.strides[i] - 1) / w.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + ek - in[i]);
      int64_t small = total / 2, large = total - total / 2;
      w.padBegin[i] = autoPad == "SAME_UPPER" ? small : large;
      w.padEnd[i] = total - w.padBegin[i];
    }
  } else if (autoPad == "VALID") {
    if (explicitPads)
      fail(who, ": explicit pads cannot be combined with auto_pad VALID");
  } else if (autoPad != "NOTSET") {
    fail(who, ": auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '", autoPad, "'");
  }

  w.out.resize(k);
  for (size_t i = 0; i < k; ++i) {
    int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t span = in[i] + w.padBegin[i] + w.padEnd[i] - ek;
    if (span < 0)
      fail(who, ": padded input extent ", in[i] + w.padBegin[i] + w.padEnd[i],
           " along spatial axis ", i, " is smaller than the dilated kernel extent ", ek);
    int64_t s = w.strides[i];
    int64_t out = (ceilMode ? (span + s - 1) / s : span / s) + 1;
    // A last window starting in the end padding would see no input: drop it.
    if (ceilMode && (out - 1) * s >= in[i] + w.padBegin[i])
      --out;
    w.out[i] = out;
  }
  return w;
}

// Pooling has no value for a window that holds only padding (max of nothing, mean of nothing).
// Only windows that start before the input or at/after its end can be empty, so this checks
// those alone, each in O(1): huge declared pads must not make inference loop.
void requireNonEmptyWindows(const std::string &who, const Window &w) {
  for (size_t i = 0; i < w.rank; ++i) {
    const int64_t s = w.strides[i], d = w.dilations[i], pb = w.padBegin[i];
    auto empty = [&](int64_t o) {
      int64_t start = o * s - pb;
      if (start >= w.in[i])
        return true;
      if (start >= 0)
        return false;
      int64_t j = (-start + d - 1) / d; // first tap at or after input position 0
      return j >= w.kernel[i] || start + j * d >= w.in[i];
    };
    int64_t firstInside = (pb + s - 1) / s;         // first window starting at position >= 0
    int64_t firstPast = (w.in[i] + pb + s - 1) / s; // first window starting at position >= in
    int64_t bad = -1;
    for (int64_t o = 0; o < std::min(firstInside, w.out[i]) && bad < 0; ++o)
      if (empty(o))
        bad = o;
    if (bad < 0 && firstPast < w.out[i])
      bad = firstPast;
    if (bad >= 0)
      fail(who, ": the pooling window at output position ", bad, " of spatial axis ", i,
           " covers only padding (pads ", shapeStr(w.padBegin), " / ", shapeStr(w.padEnd),
           ", kernel ", shapeStr(w.kernel), ")");
  }
}

// For each output position (row-major over w.out) and kernel tap (row-major over w.kernel): the
// row-major input spatial offset the tap reads, or -1 where it falls in padding (or past the
// input in ceil mode). `padded` counts, per output, the taps inside the declared padded extent
// [-padBegin, in + padEnd): AveragePool's count_include_pad divisor.
struct Taps {
  int64_t outSize = 1, kSize = 1, inSize = 1;
  std::vector<int64_t> index;
  std::vector<int64_t> padded;
};

Taps buildTaps(const Window &w) {
  Taps t;
  t.outSize = numElements(w.out);
  t.kSize = numElements(w.kernel);
  t.inSize = numElements(w.in);
  std::vector<int64_t> inStrides = stridesOf(w.in);
  std::vector<std::vector<int64_t>> tapPos(t.kSize);
  for (int64_t j = 0; j < t.kSize; ++j)
    tapPos[j] = unravelIndex(j, w.kernel);
  t.index.assign(t.outSize * t.kSize, -1);
  t.padded.assign(t.outSize, 0);
  std::vector<int64_t> o(w.rank, 0);
  for (int64_t lin = 0; lin < t.outSize; ++lin) {
    for (int64_t j = 0; j < t.kSize; ++j) {
      bool valid = true, inPadded = true;
      int64_t off = 0;
      for (size_t i = 0; i < w.rank; ++i) {
        int64_t pos = o[i] * w.strides[i] - w.padBegin[i] + tapPos[j][i] * w.dilations[i];
        valid &= pos >= 0 && pos < w.in[i];
        inPadded &= pos < w.in[i] + w.padEnd[i];
        off += pos * inStrides[i];
      }
      if (valid)
        t.index[lin * t.kSize + j] = off;
      t.padded[lin] += inPadded;
    }
    for (int64_t d = (int64_t)w.rank - 1; d >= 0; --d) {
      if (++o[d] < w.out[d])
        break;
      o[d] = 0;
    }
  }
  return t;
}

Shape spatialOf(const Shape &s) { return Shape(s.begin() + 2, s.end()); }

void requireFloat(const InferContext &ctx, size_t i, const char *what) {
  DType t = ctx.dtype(i);
  ctx.require(isFloat(t), what, " must be a floating-point tensor, got ", dtypeName(t));
}

void requireImageRank(const InferContext &ctx, size_t minRank) {
  const Shape &x = ctx.shape(0);
  ctx.require(x.size() >= minRank, "X must be [N, C, D1, ...] with rank >= ", minRank, ", got ",
              shapeStr(x));
}

// ---- Conv ----

Window convWindow(const AttrReader &a, const std::string &who, const Shape &x, const Shape &wt) {
  Shape kernel = spatialOf(wt);
  if (a.has("kernel_shape") && a.ints("kernel_shape") != kernel)
    fail(who, ": kernel_shape ", shapeStr(a.ints("kernel_shape")),
         " does not match the weight's spatial shape ", shapeStr(kernel));
  return computeWindow(a, who, spatialOf(x), kernel, false);
}

std::vector<TensorType> inferConv(InferContext &ctx) {
  requireImageRank(ctx, 3);
  requireFloat(ctx, 0, "X");
  const Shape &x = ctx.shape(0), &wt = ctx.shape(1);
  DType t = ctx.dtype(0);
  ctx.require(ctx.dtype(1) == t, "W must have the dtype of X, got ", dtypeName(ctx.dtype(1)));
  ctx.require(wt.size() == x.size(), "W must have the rank of X ", shapeStr(x), ", got ",
              shapeStr(wt));
  int64_t group = ctx.i("group");
  ctx.require(group >= 1, "group must be positive, got ", group);
  int64_t m = wt[0];
  ctx.require(x[1] == wt[1] * group, "X has ", x[1], " channels but W ", shapeStr(wt),
              " with group ", group, " expects ", wt[1] * group);
  ctx.require(m % group == 0, "W's ", m, " output channels are not divisible by group ", group);
  if (ctx.hasOperand(2)) {
    ctx.require(ctx.dtype(2) == t, "B must have the dtype of X, got ", dtypeName(ctx.dtype(2)));
    ctx.require(ctx.shape(2) == Shape{m}, "B must be [", m, "], got ", shapeStr(ctx.shape(2)));
  }
  Window w = convWindow(ctx, ctx.op.describe(), x, wt);
  Shape y{x[0], m};
  y.insert(y.end(), w.out.begin(), w.out.end());
  return {{t, y}};
}

template <typename T> void convKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &wt = ctx.in(1);
  Window w = convWindow(ctx, ctx.op.describe(), x.shape(), wt.shape());
  Taps taps = buildTaps(w);
  const int64_t n = x.shape()[0], c = x.shape()[1], m = wt.shape()[0];
  const int64_t group = ctx.i("group"), cg = c / group, mg = m / group;
  const T *X = x.data<T>(), *W = wt.data<T>();
  const T *B = ctx.hasInput(2) ? ctx.in(2).data<T>() : nullptr;
  T *Y = ctx.out().data<T>();
  const int64_t kSize = taps.kSize;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < m; ++oc) {
      const int64_t g = oc / mg;
      T *y = Y + (b * m + oc) * taps.outSize;
      for (int64_t o = 0; o < taps.outSize; ++o) {
        const int64_t *tap = taps.index.data() + o * kSize;
        double acc = B ? (double)B[oc] : 0.0;
        for (int64_t ic = 0; ic < cg; ++ic) {
          const T *xc = X + (b * c + g * cg + ic) * taps.inSize;
          const T *wc = W + (oc * cg + ic) * kSize;
          for (int64_t j = 0; j < kSize; ++j)
            if (tap[j] >= 0)
              acc += (double)xc[tap[j]] * (double)wc[j];
        }
        y[o] = (T)acc;
      }
    }
}

// ---- MaxPool / AveragePool ----

Window poolWindow(const AttrReader &a, const std::string &who, const Shape &x) {
  return computeWindow(a, who, spatialOf(x), a.ints("kernel_shape"), a.i("ceil_mode") != 0);
}

std::vector<TensorType> inferPool(InferContext &ctx) {
  requireImageRank(ctx, 3);
  requireFloat(ctx, 0, "X");
  const Shape &x = ctx.shape(0);
  Window w = poolWindow(ctx, ctx.op.describe(), x);
  requireNonEmptyWindows(ctx.op.describe(), w);
  Shape y{x[0], x[1]};
  y.insert(y.end(), w.out.begin(), w.out.end());
  std::vector<TensorType> types{{ctx.dtype(0), y}};
  if (ctx.op.opType() == "MaxPool") {
    int64_t order = ctx.i("storage_order");
    ctx.require(order == 0 || order == 1,
                "storage_order must be 0 (row major) or 1 (column major), got ", order);
    types.push_back({DType::I64, y});
  }
  return types;
}

// Offset of a row-major spatial offset when the spatial axes are laid out column-major instead
// (MaxPool's storage_order = 1: the first spatial axis varies fastest).
int64_t columnMajorOffset(int64_t rowMajor, const Shape &in) {
  std::vector<int64_t> idx = unravelIndex(rowMajor, in);
  int64_t off = 0, stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    off += idx[i] * stride;
    stride *= in[i];
  }
  return off;
}

template <typename T> void maxPoolKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Window w = poolWindow(ctx, ctx.op.describe(), x.shape());
  Taps taps = buildTaps(w);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const bool wantIndices = ctx.outputs.size() > 1;
  const bool columnMajor = ctx.i("storage_order") == 1;
  const T *X = x.data<T>();
  T *Y = ctx.out(0).data<T>();
  int64_t *I = wantIndices ? ctx.out(1).data<int64_t>() : nullptr;
  for (int64_t p = 0; p < planes; ++p) {
    const T *xp = X + p * taps.inSize;
    for (int64_t o = 0; o < taps.outSize; ++o) {
      const int64_t *tap = taps.index.data() + o * taps.kSize;
      int64_t best = -1;
      for (int64_t j = 0; j < taps.kSize; ++j) {
        if (tap[j] < 0)
          continue;
        T v = xp[tap[j]];
        // NaN propagates (numpy, PyTorch); among equal maxima the first tap wins.
        if (best < 0 || v > xp[best] || (std::isnan(v) && !std::isnan(xp[best])))
          best = tap[j];
      }
      // Inference rejected windows made only of padding, so best >= 0.
      Y[p * taps.outSize + o] = xp[best];
      if (I)
        I[p * taps.outSize + o] =
            p * taps.inSize + (columnMajor ? columnMajorOffset(best, w.in) : best);
    }
  }
}

template <typename T> void averagePoolKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Window w = poolWindow(ctx, ctx.op.describe(), x.shape());
  Taps taps = buildTaps(w);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const bool includePad = ctx.i("count_include_pad") != 0;
  const T *X = x.data<T>();
  T *Y = ctx.out().data<T>();
  for (int64_t p = 0; p < planes; ++p) {
    const T *xp = X + p * taps.inSize;
    for (int64_t o = 0; o < taps.outSize; ++o) {
      const int64_t *tap = taps.index.data() + o * taps.kSize;
      double sum = 0;
      int64_t count = 0;
      for (int64_t j = 0; j < taps.kSize; ++j)
        if (tap[j] >= 0) {
          sum += (double)xp[tap[j]];
          ++count;
        }
      // count_include_pad counts declared padding, not the overhang ceil_mode adds.
      Y[p * taps.outSize + o] = (T)(sum / (double)(includePad ? taps.padded[o] : count));
    }
  }
}

// ---- GlobalAveragePool ----

std::vector<TensorType> inferGlobalAveragePool(InferContext &ctx) {
  requireImageRank(ctx, 2);
  requireFloat(ctx, 0, "X");
  Shape y = ctx.shape(0);
  for (size_t i = 2; i < y.size(); ++i)
    y[i] = 1;
  return {{ctx.dtype(0), y}};
}

template <typename T> void globalAveragePoolKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const int64_t size = numElements(spatialOf(x.shape()));
  const T *X = x.data<T>();
  T *Y = ctx.out().data<T>();
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i)
      sum += (double)X[p * size + i];
    Y[p] = (T)(sum / (double)size); // an empty plane gives NaN, as numpy's mean does
  }
}

// Wraps f(ctx, T{}) into a kernel that dispatches on X's floating dtype.
template <typename F> KernelFn floatKernel(F f) {
  return [f](KernelContext &ctx) {
    dispatchFloat(ctx, ctx.in(0).dtype(), [&](auto t) { f(ctx, t); });
  };
}

AttrSpec optionalInts(const char *name) { return {name, AttrKind::Ints, std::nullopt, true}; }

} // namespace

void registerConvPoolOps(OpRegistry &r) {
  const AttrSpec autoPad{"auto_pad", AttrKind::String, Attribute("NOTSET")};

  OpSchema conv;
  conv.name = "Conv";
  conv.minInputs = 2;
  conv.maxInputs = 3;
  conv.attrs = {autoPad,
                optionalInts("dilations"),
                {"group", AttrKind::Int, Attribute(1)},
                optionalInts("kernel_shape"),
                optionalInts("pads"),
                optionalInts("strides")};
  conv.infer = inferConv;
  conv.kernel = floatKernel([](KernelContext &c, auto t) { convKernel<decltype(t)>(c); });
  r.add(std::move(conv));

  OpSchema maxPool;
  maxPool.name = "MaxPool";
  maxPool.maxOutputs = 2;
  maxPool.attrs = {autoPad,
                   {"ceil_mode", AttrKind::Int, Attribute(0)},
                   optionalInts("dilations"),
                   {"kernel_shape", AttrKind::Ints, std::nullopt},
                   optionalInts("pads"),
                   {"storage_order", AttrKind::Int, Attribute(0)},
                   optionalInts("strides")};
  maxPool.infer = inferPool;
  maxPool.kernel = floatKernel([](KernelContext &c, auto t) { maxPoolKernel<decltype(t)>(c); });
  r.add(std::move(maxPool));

  OpSchema avgPool;
  avgPool.name = "AveragePool";
  avgPool.attrs = {autoPad,
                   {"ceil_mode", AttrKind::Int, Attribute(0)},
                   {"count_include_pad", AttrKind::Int, Attribute(0)},
                   {"kernel_shape", AttrKind::Ints, std::nullopt},
                   optionalInts("pads"),
                   optionalInts("strides")};
  avgPool.infer = inferPool;
  avgPool.kernel = floatKernel([](KernelContext &c, auto t) { averagePoolKernel<decltype(t)>(c); });
  r.add(std::move(avgPool));

  OpSchema gap;
  gap.name = "GlobalAveragePool";
  gap.infer = inferGlobalAveragePool;
  gap.kernel =
      floatKernel([](KernelContext &c, auto t) { globalAveragePoolKernel<decltype(t)>(c); });
  r.add(std::move(gap));
}

} // namespace adjoint
