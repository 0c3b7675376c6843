// Dedicated backward ops of Conv and pooling, in domain "adjoint" (their gradient rules are in
// Ops/ConvPoolGrad.cpp). Each takes its forward op's attributes and walks the same windows
// (Ops/ConvPoolWindow.h), scattering into the input what the forward gathered from it:
//
//   ConvGradData(dY, W) {input_shape}   -> dX   (the forward's X shape is not recoverable from
//                                               dY: floor division loses it, hence the attribute)
//   ConvGradFilter(X, dY) {kernel_shape} -> dW  (kernel_shape required: W's spatial shape)
//   MaxPoolGrad(dY, X)                  -> dX   (each output's gradient goes to the element the
//                                               forward picked: ONNX Indices, ties to the first)
//   AveragePoolGrad(dY) {input_shape}   -> dX   (each output's gradient spread over its window
//                                               with the forward's divisor)
//
// They are not differentiable themselves. Kernels accumulate in double, like the forward ones.
#include "Ops/ConvPoolWindow.h"
#include "Ops/KernelUtil.h"

#include <algorithm>

namespace adjoint {

namespace {

using namespace convpool;

void requireFloat(const InferContext &ctx, size_t i, const char *what) {
  DType t = ctx.dtype(i);
  ctx.require(isFloat(t), what, " must be a floating-point tensor, got ", dtypeName(t));
}

void requireSameDType(const InferContext &ctx, size_t i, const char *what, const char *as) {
  ctx.require(ctx.dtype(i) == ctx.dtype(0), what, " must have the dtype of ", as, ", got ",
              dtypeName(ctx.dtype(i)));
}

// An [N, C, D1, ..., Dk] shape with k >= 1 and no negative dimension.
void requireImageShape(const InferContext &ctx, const Shape &s, const char *what) {
  ctx.require(s.size() >= 3, what, " must be [N, C, D1, ...] with rank >= 3, got ", shapeStr(s));
  for (int64_t d : s)
    ctx.require(d >= 0, what, " has a negative dimension: ", shapeStr(s));
}

// dY must be exactly the forward's result shape: [N, channels] + the window's output.
void requireGradShape(const InferContext &ctx, const Shape &dy, int64_t n, int64_t channels,
                      const Window &w) {
  Shape want{n, channels};
  want.insert(want.end(), w.out.begin(), w.out.end());
  ctx.require(dy == want, "dY must have the forward result's shape ", shapeStr(want), ", got ",
              shapeStr(dy));
}

template <typename F> KernelFn floatKernel(F f) {
  return [f](KernelContext &ctx) {
    dispatchFloat(ctx, ctx.in(0).dtype(), [&](auto t) { f(ctx, t); });
  };
}

template <typename T> void storePlane(const std::vector<double> &acc, T *dst) {
  for (size_t i = 0; i < acc.size(); ++i)
    dst[i] = (T)acc[i];
}

// ---- ConvGradData ----

std::vector<TensorType> inferConvGradData(InferContext &ctx) {
  requireFloat(ctx, 0, "dY");
  requireSameDType(ctx, 1, "W", "dY");
  const Shape &dy = ctx.shape(0), &wt = ctx.shape(1);
  Shape x = ctx.ints("input_shape");
  requireImageShape(ctx, x, "input_shape");
  ctx.require(wt.size() == x.size() && dy.size() == x.size(), "dY ", shapeStr(dy), " and W ",
              shapeStr(wt), " must have the rank of input_shape ", shapeStr(x));
  int64_t group = ctx.i("group");
  ctx.require(group >= 1, "group must be positive, got ", group);
  ctx.require(x[1] == wt[1] * group, "input_shape has ", x[1], " channels but W ", shapeStr(wt),
              " with group ", group, " expects ", wt[1] * group);
  ctx.require(wt[0] % group == 0, "W's ", wt[0], " output channels are not divisible by group ",
              group);
  requireGradShape(ctx, dy, x[0], wt[0], convWindow(ctx, ctx.op.describe(), x, wt));
  return {{ctx.dtype(0), x}};
}

template <typename T> void convGradDataKernel(KernelContext &ctx) {
  const Tensor &dyT = ctx.in(0), &wt = ctx.in(1);
  Shape xs = ctx.ints("input_shape");
  Taps taps = buildTaps(convWindow(ctx, ctx.op.describe(), xs, wt.shape()));
  const int64_t n = xs[0], c = xs[1], m = wt.shape()[0];
  const int64_t group = ctx.i("group"), cg = c / group, mg = m / group;
  const int64_t kSize = taps.kSize;
  const T *DY = dyT.data<T>(), *W = wt.data<T>();
  T *DX = ctx.out().data<T>();
  std::vector<double> acc(taps.inSize);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t g = ch / cg, ic = ch % cg;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oc = g * mg; oc < (g + 1) * mg; ++oc) {
        const T *dy = DY + (b * m + oc) * taps.outSize;
        const T *wc = W + (oc * cg + ic) * kSize;
        for (int64_t o = 0; o < taps.outSize; ++o) {
          const int64_t *tap = taps.index.data() + o * kSize;
          const double d = (double)dy[o];
          for (int64_t j = 0; j < kSize; ++j)
            if (tap[j] >= 0)
              acc[tap[j]] += d * (double)wc[j];
        }
      }
      storePlane(acc, DX + (b * c + ch) * taps.inSize);
    }
}

// ---- ConvGradFilter ----

Shape filterShape(const InferContext &ctx, const Shape &x, const Shape &dy, int64_t group) {
  Shape w{dy[1], x[1] / group};
  Shape k = ctx.ints("kernel_shape");
  w.insert(w.end(), k.begin(), k.end());
  return w;
}

std::vector<TensorType> inferConvGradFilter(InferContext &ctx) {
  requireFloat(ctx, 0, "X");
  requireSameDType(ctx, 1, "dY", "X");
  const Shape &x = ctx.shape(0), &dy = ctx.shape(1);
  requireImageShape(ctx, x, "X");
  ctx.require(dy.size() == x.size(), "dY ", shapeStr(dy), " must have the rank of X ", shapeStr(x));
  Shape k = ctx.ints("kernel_shape");
  ctx.require(k.size() + 2 == x.size(), "kernel_shape ", shapeStr(k), " must have ", x.size() - 2,
              " values for X ", shapeStr(x));
  int64_t group = ctx.i("group");
  ctx.require(group >= 1, "group must be positive, got ", group);
  ctx.require(x[1] % group == 0, "X's ", x[1], " channels are not divisible by group ", group);
  ctx.require(dy[1] % group == 0, "dY's ", dy[1], " channels are not divisible by group ", group);
  Shape w = filterShape(ctx, x, dy, group);
  requireGradShape(ctx, dy, x[0], dy[1], convWindow(ctx, ctx.op.describe(), x, w));
  return {{ctx.dtype(0), w}};
}

template <typename T> void convGradFilterKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &dyT = ctx.in(1);
  const int64_t group = ctx.i("group");
  Tensor &dw = ctx.out();
  Taps taps = buildTaps(convWindow(ctx, ctx.op.describe(), x.shape(), dw.shape()));
  const int64_t n = x.shape()[0], c = x.shape()[1], m = dyT.shape()[1];
  const int64_t cg = c / group, mg = m / group, kSize = taps.kSize;
  const T *X = x.data<T>(), *DY = dyT.data<T>();
  T *DW = dw.data<T>();
  std::vector<double> acc(kSize);
  for (int64_t oc = 0; oc < m; ++oc) {
    const int64_t g = oc / mg;
    for (int64_t ic = 0; ic < cg; ++ic) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t b = 0; b < n; ++b) {
        const T *xc = X + (b * c + g * cg + ic) * taps.inSize;
        const T *dy = DY + (b * m + oc) * taps.outSize;
        for (int64_t o = 0; o < taps.outSize; ++o) {
          const int64_t *tap = taps.index.data() + o * kSize;
          const double d = (double)dy[o];
          for (int64_t j = 0; j < kSize; ++j)
            if (tap[j] >= 0)
              acc[j] += d * (double)xc[tap[j]];
        }
      }
      storePlane(acc, DW + (oc * cg + ic) * kSize);
    }
  }
}

// ---- MaxPoolGrad ----

std::vector<TensorType> inferMaxPoolGrad(InferContext &ctx) {
  requireFloat(ctx, 0, "dY");
  requireSameDType(ctx, 1, "X", "dY");
  const Shape &x = ctx.shape(1);
  requireImageShape(ctx, x, "X");
  Window w = poolWindow(ctx, ctx.op.describe(), x);
  requireNonEmptyWindows(ctx.op.describe(), w);
  requireGradShape(ctx, ctx.shape(0), x[0], x[1], w);
  return {ctx.type(1)};
}

template <typename T> void maxPoolGradKernel(KernelContext &ctx) {
  const Tensor &dyT = ctx.in(0), &x = ctx.in(1);
  Taps taps = buildTaps(poolWindow(ctx, ctx.op.describe(), x.shape()));
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const T *DY = dyT.data<T>(), *X = x.data<T>();
  T *DX = ctx.out().data<T>();
  std::vector<double> acc(taps.inSize);
  for (int64_t p = 0; p < planes; ++p) {
    const T *xp = X + p * taps.inSize;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t o = 0; o < taps.outSize; ++o) {
      int64_t best = windowArgmax(xp, taps.index.data() + o * taps.kSize, taps.kSize);
      if (best >= 0) // inference rejected windows of padding alone; this guards the indexing
        acc[best] += (double)DY[p * taps.outSize + o];
    }
    storePlane(acc, DX + p * taps.inSize);
  }
}

// ---- AveragePoolGrad ----

std::vector<TensorType> inferAveragePoolGrad(InferContext &ctx) {
  requireFloat(ctx, 0, "dY");
  Shape x = ctx.ints("input_shape");
  requireImageShape(ctx, x, "input_shape");
  Window w = poolWindow(ctx, ctx.op.describe(), x);
  requireNonEmptyWindows(ctx.op.describe(), w);
  requireGradShape(ctx, ctx.shape(0), x[0], x[1], w);
  return {{ctx.dtype(0), x}};
}

template <typename T> void averagePoolGradKernel(KernelContext &ctx) {
  const Tensor &dyT = ctx.in(0);
  Shape xs = ctx.ints("input_shape");
  Taps taps = buildTaps(poolWindow(ctx, ctx.op.describe(), xs));
  const int64_t planes = xs[0] * xs[1];
  const bool includePad = ctx.i("count_include_pad") != 0;
  const T *DY = dyT.data<T>();
  T *DX = ctx.out().data<T>();
  std::vector<double> acc(taps.inSize);
  for (int64_t p = 0; p < planes; ++p) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t o = 0; o < taps.outSize; ++o) {
      const int64_t *tap = taps.index.data() + o * taps.kSize;
      int64_t count = 0;
      for (int64_t j = 0; j < taps.kSize; ++j)
        count += tap[j] >= 0;
      // The forward's divisor: declared padding counts with count_include_pad, the overhang
      // ceil_mode adds never does.
      const double d =
          (double)DY[p * taps.outSize + o] / (double)(includePad ? taps.padded[o] : count);
      for (int64_t j = 0; j < taps.kSize; ++j)
        if (tap[j] >= 0)
          acc[tap[j]] += d;
    }
    storePlane(acc, DX + p * taps.inSize);
  }
}

AttrSpec optionalInts(const char *name) { return {name, AttrKind::Ints, std::nullopt, true}; }
AttrSpec requiredInts(const char *name) { return {name, AttrKind::Ints, std::nullopt}; }

OpSchema backwardSchema(const char *name, int inputs, std::vector<AttrSpec> attrs, InferFn infer,
                        KernelFn kernel) {
  OpSchema s;
  s.name = name;
  s.domain = "adjoint";
  s.minInputs = s.maxInputs = inputs;
  s.attrs = std::move(attrs);
  s.infer = std::move(infer);
  s.kernel = std::move(kernel);
  return s;
}

} // namespace

void registerConvPoolBackwardOps(OpRegistry &r) {
  const AttrSpec autoPad{"auto_pad", AttrKind::String, Attribute("NOTSET")};
  const AttrSpec group{"group", AttrKind::Int, Attribute(1)};
  const AttrSpec ceilMode{"ceil_mode", AttrKind::Int, Attribute(0)};

  r.add(backwardSchema(
      "ConvGradData", 2,
      {autoPad, optionalInts("dilations"), group, requiredInts("input_shape"),
       optionalInts("kernel_shape"), optionalInts("pads"), optionalInts("strides")},
      inferConvGradData,
      floatKernel([](KernelContext &c, auto t) { convGradDataKernel<decltype(t)>(c); })));

  r.add(backwardSchema("ConvGradFilter", 2,
                       {autoPad, optionalInts("dilations"), group, requiredInts("kernel_shape"),
                        optionalInts("pads"), optionalInts("strides")},
                       inferConvGradFilter, floatKernel([](KernelContext &c, auto t) {
                         convGradFilterKernel<decltype(t)>(c);
                       })));

  r.add(backwardSchema("MaxPoolGrad", 2,
                       {autoPad, ceilMode, optionalInts("dilations"), requiredInts("kernel_shape"),
                        optionalInts("pads"), optionalInts("strides")},
                       inferMaxPoolGrad, floatKernel([](KernelContext &c, auto t) {
                         maxPoolGradKernel<decltype(t)>(c);
                       })));

  r.add(backwardSchema("AveragePoolGrad", 1,
                       {autoPad,
                        ceilMode,
                        {"count_include_pad", AttrKind::Int, Attribute(0)},
                        requiredInts("input_shape"),
                        requiredInts("kernel_shape"),
                        optionalInts("pads"),
                        optionalInts("strides")},
                       inferAveragePoolGrad, floatKernel([](KernelContext &c, auto t) {
                         averagePoolGradKernel<decltype(t)>(c);
                       })));
}

} // namespace adjoint
