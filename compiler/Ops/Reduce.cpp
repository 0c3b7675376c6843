// ReduceSum, ReduceMean, ReduceMax (ONNX opset 13-17). ReduceSum takes its axes as an optional
// second operand (opset 13); ReduceMean and ReduceMax still take an `axes` attribute until opset
// 18. Shapes are static, so ReduceSum's axes operand must be a compile-time constant.
//
// Reducing over an empty set follows the ONNX reference: a sum is 0, a max is -inf (the lowest
// value for integers), a float mean is NaN (0/0); an integer mean over nothing is rejected.
#include "Ops/KernelUtil.h"

#include <cmath>
#include <limits>

namespace adjoint {

namespace {

// Which input dimensions a reduction folds, and the shape it produces.
struct ReducePlan {
  std::vector<bool> reduced; // per input dimension
  Shape outShape;            // honours keepdims
  bool noop = false;         // empty axes with noop_with_empty_axes: the input passes through
};

ReducePlan planReduce(const Op &op, const Shape &in, const std::vector<int64_t> &axes,
                      bool keepdims, bool noopWithEmptyAxes) {
  int64_t rank = (int64_t)in.size();
  ReducePlan p;
  if (axes.empty() && noopWithEmptyAxes) {
    p.noop = true;
    p.reduced.assign(rank, false);
    p.outShape = in;
    return p;
  }
  p.reduced.assign(rank, axes.empty());
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      fail(op.describe(), ": axis ", a, " is out of range for input of rank ", rank);
    int64_t n = a < 0 ? a + rank : a;
    if (p.reduced[n])
      fail(op.describe(), ": axis ", a, " is listed twice in axes");
    p.reduced[n] = true;
  }
  for (int64_t d = 0; d < rank; ++d) {
    if (!p.reduced[d])
      p.outShape.push_back(in[d]);
    else if (keepdims)
      p.outShape.push_back(1);
  }
  return p;
}

int64_t reducedCount(const ReducePlan &p, const Shape &in) {
  int64_t n = 1;
  for (size_t d = 0; d < in.size(); ++d)
    if (p.reduced[d])
      n *= in[d];
  return n;
}

// Calls f(outIndex, inIndex) for every input element.
template <typename F> void forEachReduced(const ReducePlan &p, const Shape &in, F &&f) {
  Shape kept = in;
  for (size_t d = 0; d < in.size(); ++d)
    if (p.reduced[d])
      kept[d] = 1;
  std::vector<int64_t> st = stridesOf(kept);
  for (size_t d = 0; d < in.size(); ++d)
    if (p.reduced[d])
      st[d] = 0;
  int64_t total = numElements(in);
  std::vector<int64_t> counter(in.size(), 0);
  int64_t o = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(o, i);
    for (int64_t d = (int64_t)in.size() - 1; d >= 0; --d) {
      if (++counter[d] < in[d]) {
        o += st[d];
        break;
      }
      o -= st[d] * (in[d] - 1);
      counter[d] = 0;
    }
  }
}

enum class ReduceKind { Sum, Mean, Max };

// Floats accumulate in double; integers wrap around (two's complement) rather than overflow.
template <typename T> struct Acc {
  using type = std::conditional_t<std::is_floating_point_v<T>, double, T>;
};

template <typename T> T wrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename T> bool isNaN(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

template <typename T>
void runReduce(ReduceKind kind, const ReducePlan &p, const Tensor &in, Tensor &out) {
  const T *x = in.data<T>();
  T *y = out.data<T>();
  if (p.noop) {
    std::copy(x, x + in.numel(), y);
    return;
  }
  using A = typename Acc<T>::type;
  A init{};
  if (kind == ReduceKind::Max)
    init = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                : static_cast<A>(std::numeric_limits<T>::lowest());
  std::vector<A> acc((size_t)out.numel(), init);
  forEachReduced(p, in.shape(), [&](int64_t o, int64_t i) {
    A v = static_cast<A>(x[i]);
    if (kind != ReduceKind::Max)
      acc[o] = wrapAdd(acc[o], v);
    else if (!isNaN(acc[o]) && (isNaN(v) || v > acc[o])) // NaN propagates, as np.maximum
      acc[o] = v;
  });
  A count = static_cast<A>(reducedCount(p, in.shape()));
  for (int64_t o = 0; o < out.numel(); ++o)
    y[o] = static_cast<T>(kind == ReduceKind::Mean ? acc[o] / count : acc[o]);
}

std::vector<int64_t> axesOperand(const Op &op, const Tensor &t) {
  if (t.dtype() != DType::I64 || t.rank() != 1)
    fail(op.describe(), ": axes must be a 1-D i64 tensor, got ",
         TensorType{t.dtype(), t.shape()}.str());
  return t.toInts();
}

// Axes of a reduction op: ReduceSum's operand 1, or the others' `axes` attribute.
template <typename Ctx> std::vector<int64_t> axesOf(const Ctx &ctx, const Tensor *axesOperand_) {
  if (axesOperand_)
    return axesOperand(ctx.op, *axesOperand_);
  if (ctx.op.opType() != "ReduceSum" && ctx.has("axes"))
    return ctx.ints("axes");
  return {};
}

template <typename Ctx> bool noopWithEmptyAxes(const Ctx &ctx) {
  return ctx.op.opType() == "ReduceSum" && ctx.i("noop_with_empty_axes") != 0;
}

OpSchema reduceSchema(const std::string &name, ReduceKind kind) {
  OpSchema s;
  s.name = name;
  s.attrs.push_back({"keepdims", AttrKind::Int, Attribute(int64_t{1})});
  if (kind == ReduceKind::Sum) {
    s.maxInputs = 2;
    s.attrs.push_back({"noop_with_empty_axes", AttrKind::Int, Attribute(int64_t{0})});
  } else {
    s.attrs.push_back({"axes", AttrKind::Ints, std::nullopt, /*optional=*/true});
  }
  s.infer = [kind](InferContext &ctx) {
    DType dt = ctx.dtype(0);
    ctx.require(dt != DType::Bool, "expects a numeric tensor, got ", dtypeName(dt));
    const Tensor *axesT = nullptr;
    if (ctx.hasOperand(1)) {
      ctx.require(ctx.dtype(1) == DType::I64 && ctx.shape(1).size() == 1,
                  "axes must be a 1-D i64 tensor, got ", ctx.type(1).str());
      axesT = &ctx.requireConstant(1, "axes");
    }
    int64_t keepdims = ctx.i("keepdims");
    ctx.require(keepdims == 0 || keepdims == 1, "keepdims must be 0 or 1, got ", keepdims);
    bool noop = noopWithEmptyAxes(ctx);
    ReducePlan p = planReduce(ctx.op, ctx.shape(0), axesOf(ctx, axesT), keepdims != 0, noop);
    if (kind == ReduceKind::Mean && !isFloat(dt) && !p.noop)
      ctx.require(reducedCount(p, ctx.shape(0)) > 0 || numElements(p.outShape) == 0,
                  "the mean of an empty set is undefined for ", dtypeName(dt), " tensors");
    return std::vector<TensorType>{{dt, p.outShape}};
  };
  s.kernel = [kind](KernelContext &ctx) {
    const Tensor &x = ctx.in(0);
    const Tensor *axesT = ctx.hasInput(1) ? &ctx.in(1) : nullptr;
    ReducePlan p = planReduce(ctx.op, x.shape(), axesOf(ctx, axesT), ctx.i("keepdims") != 0,
                              noopWithEmptyAxes(ctx));
    if (kind == ReduceKind::Mean && !isFloat(x.dtype()) && !p.noop && ctx.out().numel() > 0 &&
        reducedCount(p, x.shape()) == 0)
      ctx.error("the mean of an empty set is undefined for ", dtypeName(x.dtype()), " tensors");
    dispatchNumeric(ctx, x.dtype(), [&](auto z) {
      runReduce<decltype(z)>(kind, p, x, ctx.out());
    });
  };
  return s;
}

} // namespace

void registerReduceOps(OpRegistry &r) {
  r.add(reduceSchema("ReduceSum", ReduceKind::Sum));
  r.add(reduceSchema("ReduceMean", ReduceKind::Mean));
  r.add(reduceSchema("ReduceMax", ReduceKind::Max));
}

} // namespace adjoint
