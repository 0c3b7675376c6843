// Gradient rules of the normalization and probability ops (Ops/Norm.cpp), built from ordinary
// ops: each is a handful of elementwise ops and one or two reductions, which fusion groups as
// well as a dedicated backward kernel would run them, so no backward op of their own.
//
// Choices (PyTorch's, where it has one):
// - BatchNormalization, training_mode=1: the running_mean/running_var results carry no gradient
//   (they are statistics buffers, as in PyTorch) and input_mean/input_var get none; X, scale and B
//   get theirs through the batch mean and (biased) variance, recomputed here because the forward
//   op does not return them.
// - LayerNormalization: the Mean and InvStdDev results, when requested, do carry their gradient
//   to X (PyTorch never exposes them, so nothing to disagree with). The backward math runs in
//   the wider of X's type and the stash type, so an f64 model keeps f64 gradients even with the
//   default stash_type=1.
// - Dropout: the ratio and training_mode operands get no gradient (the mask is piecewise constant
//   in the ratio; PyTorch treats p as a plain number).
#include "Ops/GradContext.h"

namespace adjoint {

namespace {

int64_t onnxFloatCode(DType t) { return t == DType::F64 ? 11 : 1; }

Value *castTo(GradContext &g, Value *v, DType t) {
  if (v->dtype() == t)
    return v;
  return g.build("Cast", {v}, {{"to", Attribute(onnxFloatCode(t))}});
}

const Tensor *constantOf(const Value *v) {
  const Op *d = v ? v->definingOp() : nullptr;
  if (!d || d->opType() != "Constant" || !d->domain().empty())
    return nullptr;
  const Attribute *a = d->attr("value");
  return a && a->kind() == AttrKind::Tensor ? &a->tensor() : nullptr;
}

int64_t normAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

// Sum or mean over `axes` with the reduced dimensions kept; the identity over no axes (ONNX
// reduces everything when given none, which is not what a normalization over nothing means).
Value *sumKept(GradContext &g, Value *v, const std::vector<int64_t> &axes) {
  if (axes.empty())
    return v;
  return g.build("ReduceSum", {v, g.ints(axes)}, {{"keepdims", Attribute(1)}});
}

Value *meanKept(GradContext &g, Value *v, const std::vector<int64_t> &axes) {
  if (axes.empty())
    return v;
  return g.build("ReduceMean", {v}, {{"axes", Attribute(axes)}, {"keepdims", Attribute(1)}});
}

Value *rsqrt(GradContext &g, Value *v) { return g.build("Reciprocal", {g.build("Sqrt", {v})}); }

// ---- Softmax / LogSoftmax

std::vector<Value *> softmaxGrad(GradContext &g, bool log) {
  int64_t axis = normAxis(g.attrs().i("axis"), g.x(0)->type().rank());
  Value *dy = g.dy(), *y = g.y();
  if (log) { // dx = dy - softmax(x) * sum(dy)
    Value *s = sumKept(g, dy, {axis});
    return {g.sub(dy, g.mul(g.build("Exp", {y}), s))};
  }
  // dx = y * dy - y * sum(y * dy)
  Value *ydy = g.mul(y, dy);
  return {g.sub(ydy, g.mul(y, sumKept(g, ydy, {axis})))};
}

// ---- BatchNormalization

struct ChannelView {
  std::vector<int64_t> axes; // every axis but the channel axis 1
  Shape keptShape;           // [1, C, 1, ...]: a per-channel vector broadcast against X
  int64_t count = 1;         // elements per channel
};

ChannelView channelView(const Shape &xs) {
  ChannelView v;
  v.keptShape.assign(xs.size(), 1);
  v.keptShape[1] = xs[1];
  for (int64_t d = 0; d < (int64_t)xs.size(); ++d)
    if (d != 1) {
      v.axes.push_back(d);
      v.count *= xs[(size_t)d];
    }
  return v;
}

std::vector<Value *> batchNormGrad(GradContext &g) {
  Value *x = g.x(0), *dy = g.dy(0);
  std::vector<Value *> grads(5, nullptr);
  if (!dy) // only the running statistics received a gradient: they carry none
    return grads;
  DType t = x->dtype();
  ChannelView cv = channelView(x->shape());
  Shape channels{x->shape()[1]};
  Value *eps = g.scalar(g.attrs().f("epsilon"), t);
  Value *scale = castTo(g, g.x(1), t);
  auto perChannel = [&](Value *kept, size_t operand) {
    return castTo(g, g.reshape(kept, channels), g.x(operand)->dtype());
  };
  if (g.attrs().i("training_mode") != 0) {
    Value *sumDy = sumKept(g, dy, cv.axes); // [1, C, 1, ...]
    Value *xc = g.sub(x, meanKept(g, x, cv.axes));
    Value *inv = rsqrt(g, g.add(meanKept(g, g.mul(xc, xc), cv.axes), eps));
    Value *xhat = g.mul(xc, inv);
    Value *sumDyXhat = sumKept(g, g.mul(dy, xhat), cv.axes);
    if (g.needs(0)) { // dx = scale * inv * (dy - (sum(dy) + xhat * sum(dy * xhat)) / count)
      Value *k = g.mul(g.reshape(scale, cv.keptShape), inv);
      Value *centered = g.div(g.add(sumDy, g.mul(xhat, sumDyXhat)),
                              g.scalar((double)cv.count, t));
      grads[0] = g.mul(k, g.sub(dy, centered));
    }
    if (g.needs(1))
      grads[1] = perChannel(sumDyXhat, 1);
    if (g.needs(2))
      grads[2] = perChannel(sumDy, 2);
    return grads;
  }

  // Inference: y = scale * (x - mean) * inv + B with inv = 1 / sqrt(var + eps), per channel.
  Value *inv = rsqrt(g, g.add(castTo(g, g.x(4), t), eps)); // [C]
  Value *scaleInv = g.mul(scale, inv);
  if (g.needs(0))
    grads[0] = g.mul(dy, g.reshape(scaleInv, cv.keptShape));
  Value *sumDy = g.needs(2) || g.needs(3) ? sumKept(g, dy, cv.axes) : nullptr;
  if (g.needs(2))
    grads[2] = perChannel(sumDy, 2);
  if (g.needs(3)) // d/dmean = -sum(dy) * scale * inv
    grads[3] = castTo(g, g.neg(g.mul(g.reshape(sumDy, channels), scaleInv)), g.x(3)->dtype());
  if (g.needs(1) || g.needs(4)) {
    Value *mean = g.reshape(castTo(g, g.x(3), t), cv.keptShape);
    Value *s = g.reshape(sumKept(g, g.mul(dy, g.sub(x, mean)), cv.axes), channels);
    if (g.needs(1))
      grads[1] = castTo(g, g.mul(s, inv), g.x(1)->dtype());
    if (g.needs(4)) { // d/dvar = -scale * s * inv^3 / 2
      Value *d = g.mul(g.mul(scaleInv, s), g.mul(inv, inv));
      grads[4] = castTo(g, g.mul(d, g.scalar(-0.5, t)), g.x(4)->dtype());
    }
  }
  return grads;
}

// ---- LayerNormalization

std::vector<Value *> layerNormGrad(GradContext &g) {
  Value *x = g.x(0);
  DType t = x->dtype();
  int64_t rank = x->type().rank(), axis = normAxis(g.attrs().i("axis"), rank);
  DType stash = g.attrs().i("stash_type") == 11 ? DType::F64 : DType::F32;
  DType c = t == DType::F64 || stash == DType::F64 ? DType::F64 : DType::F32;
  std::vector<int64_t> axes;
  int64_t cols = 1;
  for (int64_t d = axis; d < rank; ++d) {
    axes.push_back(d);
    cols *= x->shape()[(size_t)d];
  }

  // The forward statistics: the op's own results when it returned them, else recomputed.
  Value *xs = castTo(g, x, c);
  Value *mean = g.op.numResults() > 1 ? castTo(g, g.y(1), c) : meanKept(g, xs, axes);
  Value *xc = g.sub(xs, mean);
  Value *invStd = g.op.numResults() > 2
                      ? castTo(g, g.y(2), c)
                      : rsqrt(g, g.add(meanKept(g, g.mul(xc, xc), axes),
                                       g.scalar(g.attrs().f("epsilon"), c)));
  Value *n = g.mul(xc, invStd);

  std::vector<Value *> grads(3, nullptr);
  Value *dy = g.dy(0);
  if (dy && g.needs(1))
    grads[1] = g.sumToShape(g.mul(dy, castTo(g, n, t)), g.x(1)->shape());
  if (dy && g.x(2) && g.needs(2))
    grads[2] = g.sumToShape(dy, g.x(2)->shape());
  if (!g.needs(0))
    return grads;

  Value *dx = nullptr;
  auto accumulate = [&](Value *v) { dx = dx ? g.add(dx, v) : v; };
  if (dy) { // dx = invStd * (dn - mean(dn) - n * mean(dn * n)) with dn = dy * scale
    Value *dn = castTo(g, g.mul(dy, g.x(1)), c);
    Value *centered = g.add(meanKept(g, dn, axes), g.mul(n, meanKept(g, g.mul(dn, n), axes)));
    accumulate(g.mul(invStd, g.sub(dn, centered)));
  }
  Value *scol = g.scalar((double)cols, c);
  if (Value *dMean = g.dy(1)) // mean = sum(x) / cols
    accumulate(g.div(castTo(g, dMean, c), scol));
  if (Value *dInvStd = g.dy(2)) // d invStd / dx = -invStd^2 * n / cols
    accumulate(g.mul(g.div(g.mul(castTo(g, dInvStd, c), g.mul(invStd, invStd)), g.neg(scol)), n));
  if (dx && dx->shape() != x->shape())
    dx = g.build("Expand", {dx, g.ints(x->shape())});
  if (dx)
    grads[0] = castTo(g, dx, t);
  return grads;
}

// ---- Dropout

// dx = dy * mask * scale, with the mask of the same draw: the forward op's own mask result, or an
// identical Dropout (same seed, ratio and training operands: the kernel is deterministic given
// its seed) that returns it.
std::vector<Value *> dropoutGrad(GradContext &g) {
  Value *x = g.x(0), *ratio = g.x(1), *training = g.x(2);
  DType t = x->dtype();
  std::vector<Value *> grads(g.numOperands(), nullptr);
  if (!g.dy()) // the mask is bool: it never carries a gradient
    return grads;
  const Tensor *trainingC = constantOf(training);
  const Tensor *ratioC = constantOf(ratio);
  bool identity = !training || (trainingC && trainingC->getInt(0) == 0) ||
                  (ratioC && ratioC->getDouble(0) == 0);
  if (identity) {
    grads[0] = g.dy();
    return grads;
  }
  Value *mask = g.op.numResults() > 1
                    ? g.y(1)
                    : g.buildMulti("Dropout", g.op.operands(), g.op.attrs(), 2)->result(1);
  // The kernel scales kept elements by 1/(1-ratio) computed in X's type, and by 1 outside
  // training: 1/(1 - ratio * training) covers both.
  Value *scale;
  if (trainingC && (ratioC || !ratio)) {
    double r = ratioC ? ratioC->getDouble(0) : 0.5;
    scale = g.scalar(t == DType::F32 ? double(1.0f / (1.0f - float(r))) : 1.0 / (1.0 - r), t);
  } else {
    Value *r = ratio ? g.reshape(castTo(g, ratio, t), {}) : g.scalar(0.5, t);
    Value *on = g.reshape(g.build("Cast", {training}, {{"to", Attribute(onnxFloatCode(t))}}), {});
    scale = g.build("Reciprocal", {g.sub(g.scalar(1.0, t), g.mul(r, on))});
  }
  grads[0] = g.build("Where", {mask, g.mul(g.dy(), scale), g.scalar(0.0, t)});
  return grads;
}

} // namespace

void registerNormGrads(OpRegistry &r) {
  r.setGrad("", "Softmax", [](GradContext &g) { return softmaxGrad(g, false); });
  r.setGrad("", "LogSoftmax", [](GradContext &g) { return softmaxGrad(g, true); });
  r.setGrad("", "BatchNormalization", batchNormGrad);
  r.setGrad("", "LayerNormalization", layerNormGrad);
  r.setGrad("", "Dropout", dropoutGrad);
}

} // namespace adjoint
