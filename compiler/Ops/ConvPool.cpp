// Conv, MaxPool, AveragePool and GlobalAveragePool over N-d spatial inputs laid out
// [N, C, D1, ..., Dk].
//
// Every windowed op shares one geometry (Ops/ConvPoolWindow.h, also used by the backward ops in
// Ops/ConvPoolBackward.cpp): the kernels walk its tap table, which keeps all the index
// arithmetic in one place for every op.
#include "Ops/ConvPoolWindow.h"
#include "Ops/KernelUtil.h"

namespace adjoint {

namespace {

using namespace convpool;

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
      int64_t best = windowArgmax(xp, tap, taps.kSize);
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
