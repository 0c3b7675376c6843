// Normalization and probability ops: BatchNormalization (opset 15), LayerNormalization (17),
// Softmax and LogSoftmax (13), Dropout (13). Kernels follow the ONNX node-test reference code
// (onnx/backend/test/case/node/{batchnorm,layernormalization,softmax,logsoftmax,dropout}.py),
// accumulating in double.
#include "DropoutSeed.h"
#include "Ops/KernelUtil.h"

#include <cmath>
#include <random>

namespace adjoint {

namespace {

const double kEpsilon = 1e-5f; // ONNX's default is the f32 nearest 1e-5, as an import reads it

void requireFloat(const InferContext &ctx, size_t i, const char *what) {
  ctx.require(isFloat(ctx.dtype(i)), what, " must be a floating-point tensor, got ",
              ctx.type(i).str());
}

// An input viewed as [outer, n, inner] around one axis.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisView viewAround(const Shape &s, int64_t axis) {
  AxisView v;
  for (int64_t d = 0; d < (int64_t)s.size(); ++d)
    (d < axis ? v.outer : d == axis ? v.n : v.inner) *= s[d];
  return v;
}

// ---- Softmax / LogSoftmax: numerically stable, x - max(x) before exp, as the reference.

template <typename T> void softmax(const Tensor &in, Tensor &out, int64_t axis, bool log) {
  AxisView v = viewAround(in.shape(), axis);
  const T *x = in.data<T>();
  T *y = out.data<T>();
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      int64_t base = o * v.n * v.inner + i;
      double mx = -INFINITY;
      for (int64_t k = 0; k < v.n; ++k)
        mx = std::max(mx, (double)x[base + k * v.inner]);
      double sum = 0;
      for (int64_t k = 0; k < v.n; ++k)
        sum += std::exp((double)x[base + k * v.inner] - mx);
      for (int64_t k = 0; k < v.n; ++k) {
        double d = (double)x[base + k * v.inner] - mx;
        y[base + k * v.inner] = static_cast<T>(log ? d - std::log(sum) : std::exp(d) / sum);
      }
    }
}

OpSchema softmaxSchema(const std::string &name, bool log) {
  OpSchema s;
  s.name = name;
  s.attrs = {{"axis", AttrKind::Int, Attribute(int64_t{-1})}};
  s.infer = [](InferContext &ctx) {
    requireFloat(ctx, 0, "input");
    int64_t rank = (int64_t)ctx.shape(0).size(), axis = ctx.i("axis");
    ctx.require(axis >= -rank && axis < rank, "axis ", axis, " is out of range for input of rank ",
                rank);
    return std::vector<TensorType>{ctx.type(0)};
  };
  s.kernel = [log](KernelContext &ctx) {
    const Tensor &x = ctx.in(0);
    int64_t axis = ctx.i("axis");
    axis = axis < 0 ? axis + x.rank() : axis;
    dispatchFloat(ctx, x.dtype(), [&](auto z) {
      softmax<decltype(z)>(x, ctx.out(), axis, log);
    });
  };
  return s;
}

// ---- BatchNormalization (opset 15). Training mode normalizes with the batch statistics
// (biased variance) and updates the running statistics as the reference does:
//   running = input * momentum + batch * (1 - momentum), with the batch variance biased too.

std::vector<double> asDoubles(const Tensor &t) {
  std::vector<double> v((size_t)t.numel());
  for (int64_t i = 0; i < t.numel(); ++i)
    v[i] = t.getDouble(i);
  return v;
}

template <typename T> void batchNorm(KernelContext &ctx) {
  const Tensor &X = ctx.in(0);
  const Shape &xs = X.shape();
  int64_t C = xs[1], N = xs[0], spatial = 1;
  for (size_t d = 2; d < xs.size(); ++d)
    spatial *= xs[d];
  std::vector<double> scale = asDoubles(ctx.in(1)), bias = asDoubles(ctx.in(2)),
                      mean = asDoubles(ctx.in(3)), var = asDoubles(ctx.in(4));
  double eps = ctx.f("epsilon"), momentum = ctx.f("momentum");
  bool training = ctx.i("training_mode") != 0;
  const T *x = X.data<T>();
  T *y = ctx.out(0).data<T>();
  auto at = [&](int64_t n, int64_t c, int64_t s) { return (n * C + c) * spatial + s; };
  for (int64_t c = 0; c < C; ++c) {
    double m = mean[c], v = var[c];
    if (training) {
      double count = (double)(N * spatial), sum = 0, sq = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < spatial; ++s)
          sum += x[at(n, c, s)];
      m = sum / count;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < spatial; ++s)
          sq += (x[at(n, c, s)] - m) * (x[at(n, c, s)] - m);
      v = sq / count;
      if (ctx.outputs.size() > 1)
        ctx.out(1).setDouble(c, mean[c] * momentum + m * (1 - momentum));
      if (ctx.outputs.size() > 2)
        ctx.out(2).setDouble(c, var[c] * momentum + v * (1 - momentum));
    }
    double denom = std::sqrt(v + eps);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < spatial; ++s) {
        int64_t i = at(n, c, s);
        y[i] = static_cast<T>(scale[c] * (x[i] - m) / denom + bias[c]);
      }
  }
}

OpSchema batchNormSchema() {
  OpSchema s;
  s.name = "BatchNormalization";
  s.minInputs = s.maxInputs = 5;
  s.maxOutputs = 3;
  s.attrs = {{"epsilon", AttrKind::Float, Attribute(kEpsilon)},
             {"momentum", AttrKind::Float, Attribute(double{0.9f})},
             {"training_mode", AttrKind::Int, Attribute(int64_t{0})}};
  s.infer = [](InferContext &ctx) {
    static const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (size_t i = 0; i < 5; ++i)
      requireFloat(ctx, i, names[i]);
    const Shape &xs = ctx.shape(0);
    ctx.require(xs.size() >= 2, "X must have rank >= 2 (N x C x ...), got ", ctx.type(0).str());
    for (size_t i = 1; i < 5; ++i)
      ctx.require(ctx.shape(i) == Shape{xs[1]}, names[i], " must have shape [", xs[1],
                  "] (the channel count of X), got ", ctx.type(i).str());
    ctx.require(ctx.dtype(1) == ctx.dtype(2), "scale and B must have one dtype, got ",
                dtypeName(ctx.dtype(1)), " and ", dtypeName(ctx.dtype(2)));
    ctx.require(ctx.dtype(3) == ctx.dtype(4), "input_mean and input_var must have one dtype, got ",
                dtypeName(ctx.dtype(3)), " and ", dtypeName(ctx.dtype(4)));
    int64_t training = ctx.i("training_mode");
    ctx.require(training == 0 || training == 1, "training_mode must be 0 or 1, got ", training);
    ctx.require(training == 1 || ctx.numResults == 1,
                "running_mean and running_var outputs exist only with training_mode=1");
    TensorType stat{ctx.dtype(3), {xs[1]}};
    return std::vector<TensorType>{ctx.type(0), stat, stat};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchFloat(ctx, ctx.in(0).dtype(), [&](auto z) { batchNorm<decltype(z)>(ctx); });
  };
  return s;
}

// ---- LayerNormalization (opset 17). Stage one (mean, inverse standard deviation, normalized
// value) runs in the stash type and stage two (scale and bias) in X's type, as the ONNX function
// body does. ONNX allows only stash_type=1 (f32); we also accept 11 (f64) so that f64 models and
// gradient checks can keep full precision.

std::optional<DType> stashDType(int64_t code) {
  if (code == 1)
    return DType::F32;
  if (code == 11)
    return DType::F64;
  return std::nullopt;
}

int64_t layerNormAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

template <typename T, typename S> void layerNorm(KernelContext &ctx) {
  const Tensor &X = ctx.in(0);
  const Shape &xs = X.shape();
  int64_t axis = layerNormAxis(ctx.i("axis"), X.rank());
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < X.rank(); ++d)
    (d < axis ? rows : cols) *= xs[d];
  S eps = static_cast<S>(ctx.f("epsilon"));
  const T *x = X.data<T>();
  std::vector<S> normalized((size_t)X.numel());
  for (int64_t r = 0; r < rows; ++r) {
    const T *row = x + r * cols;
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c)
      sum += static_cast<S>(row[c]);
    S mean = static_cast<S>(sum / (double)cols);
    double sq = 0;
    for (int64_t c = 0; c < cols; ++c) {
      S d = static_cast<S>(row[c]) - mean;
      sq += d * d;
    }
    S var = static_cast<S>(sq / (double)cols);
    S invStd = S(1) / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c)
      normalized[r * cols + c] = (static_cast<S>(row[c]) - mean) * invStd;
    if (ctx.outputs.size() > 1)
      ctx.out(1).data<S>()[r] = mean;
    if (ctx.outputs.size() > 2)
      ctx.out(2).data<S>()[r] = invStd;
  }
  const Tensor &scale = ctx.in(1);
  Tensor zero(X.dtype(), {});
  const Tensor &bias = ctx.hasInput(2) ? ctx.in(2) : zero;
  const T *w = scale.data<T>(), *b = bias.data<T>();
  T *y = ctx.out(0).data<T>();
  forEachBroadcast<2>(xs, {&scale.shape(), &bias.shape()},
                      [&](int64_t i, const std::array<int64_t, 2> &ix) {
                        y[i] = static_cast<T>(normalized[i]) * w[ix[0]] + b[ix[1]];
                      });
}

OpSchema layerNormSchema() {
  OpSchema s;
  s.name = "LayerNormalization";
  s.minInputs = 2;
  s.maxInputs = 3;
  s.maxOutputs = 3;
  s.attrs = {{"axis", AttrKind::Int, Attribute(int64_t{-1})},
             {"epsilon", AttrKind::Float, Attribute(kEpsilon)},
             {"stash_type", AttrKind::Int, Attribute(int64_t{1})}};
  s.infer = [](InferContext &ctx) {
    requireFloat(ctx, 0, "X");
    const Shape &xs = ctx.shape(0);
    int64_t rank = (int64_t)xs.size(), axis = ctx.i("axis");
    ctx.require(axis >= -rank && axis <= rank, "axis ", axis, " is out of range [", -rank, ", ",
                rank, "] for X of rank ", rank);
    axis = layerNormAxis(axis, rank);
    int64_t code = ctx.i("stash_type");
    std::optional<DType> stash = stashDType(code);
    ctx.require(stash.has_value(), "unsupported stash_type ", code,
                " (1 = float, 11 = double are supported)");
    static const char *names[] = {"X", "Scale", "B"};
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.hasOperand(i))
        continue;
      ctx.require(ctx.dtype(i) == ctx.dtype(0), names[i], " must have X's dtype ",
                  dtypeName(ctx.dtype(0)), ", got ", ctx.type(i).str());
      bool ok = ctx.shape(i).size() <= xs.size();
      for (size_t k = 0; ok && k < ctx.shape(i).size(); ++k) {
        int64_t d = ctx.shape(i)[ctx.shape(i).size() - 1 - k];
        ok = d == 1 || d == xs[xs.size() - 1 - k];
      }
      ctx.require(ok, names[i], " of shape ", shapeStr(ctx.shape(i)),
                  " does not broadcast to X's shape ", shapeStr(xs));
    }
    Shape statShape = xs;
    for (int64_t d = axis; d < rank; ++d)
      statShape[d] = 1;
    TensorType stat{*stash, statShape};
    return std::vector<TensorType>{ctx.type(0), stat, stat};
  };
  s.kernel = [](KernelContext &ctx) {
    DType stash = *stashDType(ctx.i("stash_type"));
    dispatchFloat(ctx, ctx.in(0).dtype(), [&](auto zt) {
      using T = decltype(zt);
      dispatchFloat(ctx, stash, [&](auto zs) { layerNorm<T, decltype(zs)>(ctx); });
    });
  };
  return s;
}

// ---- Dropout (opset 13). Outside training mode (or with ratio 0) it is the identity with an
// all-true mask. In training mode the mask is drawn exactly as the ONNX reference does with
// numpy: np.random.seed(seed); keep = np.random.uniform(0, 1, shape) >= ratio. That is MT19937
// seeded by init_genrand(seed mod 2^32) (std::mt19937), one 53-bit double per element in
// row-major order built from two 32-bit draws (numpy's random_sample), so a mask is reproducible
// from (seed, shape) alone and matches the ONNX test data. A missing `seed` means 0. Kept
// elements are scaled by 1/(1-ratio) computed in X's type.
//
// An adjoint extension: an optional fourth operand, an int64 scalar mixed into the seed at run
// time (runtime/DropoutSeed.h), so that a compiled training step draws a new mask each step. The
// ONNX exporter refuses it; only adjoint-train's step builder adds it.

double numpyUniform(std::mt19937 &g) {
  uint32_t a = g() >> 5, b = g() >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

template <typename T> void dropout(KernelContext &ctx) {
  const Tensor &X = ctx.in(0);
  const T *x = X.data<T>();
  T *y = ctx.out(0).data<T>();
  bool *mask = ctx.outputs.size() > 1 ? ctx.out(1).data<bool>() : nullptr;
  double ratio = ctx.hasInput(1) ? ctx.in(1).getDouble(0) : 0.5;
  bool training = ctx.hasInput(2) && ctx.in(2).getInt(0) != 0;
  if (!training || ratio == 0) {
    std::copy(x, x + X.numel(), y);
    if (mask)
      std::fill(mask, mask + X.numel(), true);
    return;
  }
  if (!(ratio >= 0 && ratio < 1))
    ctx.error("ratio must be in [0, 1) in training mode, got ", ratio);
  int64_t seed = ctx.has("seed") ? ctx.i("seed") : 0;
  std::mt19937 gen(ctx.hasInput(3) ? adj_dropout_seed(seed, ctx.in(3).getInt(0))
                                   : static_cast<uint32_t>(seed));
  T scale = T(1) / (T(1) - static_cast<T>(ratio));
  for (int64_t i = 0; i < X.numel(); ++i) {
    bool keep = numpyUniform(gen) >= ratio;
    y[i] = keep ? x[i] * scale : T(0);
    if (mask)
      mask[i] = keep;
  }
}

OpSchema dropoutSchema() {
  OpSchema s;
  s.name = "Dropout";
  s.maxInputs = 4;
  s.maxOutputs = 2;
  s.foldable = false;
  s.elementwise = true; // y[i] and mask[i] depend on x[i] only (the draw is per index)
  s.attrs = {{"seed", AttrKind::Int, std::nullopt, /*optional=*/true}};
  s.infer = [](InferContext &ctx) {
    requireFloat(ctx, 0, "data");
    if (ctx.hasOperand(1)) {
      requireFloat(ctx, 1, "ratio");
      ctx.require(numElements(ctx.shape(1)) == 1, "ratio must be a scalar, got ",
                  ctx.type(1).str());
      if (const Tensor *r = ctx.constant(1)) {
        double v = r->getDouble(0);
        ctx.require(v >= 0 && v < 1, "ratio must be in [0, 1), got ", v);
      }
    }
    if (ctx.hasOperand(2))
      ctx.require(ctx.dtype(2) == DType::Bool && numElements(ctx.shape(2)) == 1,
                  "training_mode must be a bool scalar, got ", ctx.type(2).str());
    if (ctx.hasOperand(3))
      ctx.require(ctx.dtype(3) == DType::I64 && numElements(ctx.shape(3)) == 1,
                  "the seed operand (an adjoint extension) must be an int64 scalar, got ",
                  ctx.type(3).str());
    return std::vector<TensorType>{ctx.type(0), {DType::Bool, ctx.shape(0)}};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchFloat(ctx, ctx.in(0).dtype(), [&](auto z) { dropout<decltype(z)>(ctx); });
  };
  return s;
}

} // namespace

void registerNormOps(OpRegistry &r) {
  r.add(batchNormSchema());
  r.add(layerNormSchema());
  r.add(softmaxSchema("Softmax", false));
  r.add(softmaxSchema("LogSoftmax", true));
  r.add(dropoutSchema());
}

} // namespace adjoint
