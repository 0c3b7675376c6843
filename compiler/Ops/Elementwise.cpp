// Unary and binary elementwise math and activations (ONNX opset 17). Each op is one lambda over
// scalars; the loops, dtype dispatch and broadcasting live in the add* helpers below and in
// Ops/ElementwiseKernel.h. Kernels follow the numpy reference of the ONNX node tests, including
// numpy's wrapping integer arithmetic, so no input can reach undefined behaviour.
#include "Ops/ElementwiseKernel.h"

#include <cmath>
#include <functional>
#include <limits>

namespace adjoint {
namespace {

// Calls run(T{}) for the operand dtype, instantiating only the types in `Types`.
template <TypeSet Types, typename Run>
void dispatchTypes(const KernelContext &ctx, DType t, Run &&run) {
  if constexpr (Types == TypeSet::Float)
    dispatchFloat(ctx, t, run);
  else
    dispatchNumeric(ctx, t, run);
}

// y = f(x), same type and shape. `make(ctx)` returns the scalar function (a generic lambda), so
// ops with attributes read them once per call, not once per element.
template <TypeSet Types, typename Make>
void addUnaryWith(OpRegistry &r, const char *name, std::vector<AttrSpec> attrs, Make make) {
  OpSchema s;
  s.name = name;
  s.attrs = std::move(attrs);
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, Types, "input");
    return {ctx.type(0)};
  };
  s.kernel = [make](KernelContext &ctx) {
    auto f = make(ctx);
    dispatchTypes<Types>(ctx, ctx.in(0).dtype(), [&](auto z) {
      using T = decltype(z);
      mapUnary<T, T>(ctx.in(0), ctx.out(), [&](T x) { return f(x); });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

template <TypeSet Types, typename F> void addUnary(OpRegistry &r, const char *name, F f) {
  addUnaryWith<Types>(r, name, {}, [f](const KernelContext &) { return f; });
}

// z = f(a, b) over operands of one type, numpy-broadcast; the result has their type.
template <TypeSet Types, typename Make>
void addBinaryWith(OpRegistry &r, const char *name, Make make) {
  OpSchema s;
  s.name = name;
  s.minInputs = s.maxInputs = 2;
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, Types, "A");
    requireSameDType(ctx, 0, 1);
    return {{ctx.dtype(0), inferBroadcast(ctx, {0, 1})}};
  };
  s.kernel = [make](KernelContext &ctx) {
    auto f = make(ctx);
    dispatchTypes<Types>(ctx, ctx.in(0).dtype(), [&](auto z) {
      using T = decltype(z);
      mapBinary<T, T, T>(ctx.in(0), ctx.in(1), ctx.out(), [&](T a, T b) { return f(a, b); });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

template <TypeSet Types, typename F> void addBinary(OpRegistry &r, const char *name, F f) {
  addBinaryWith<Types>(r, name, [f](const KernelContext &) { return f; });
}

// ---- Scalar semantics that need more than an expression ----------------------------------

// Integer division truncates toward zero as C (and ONNX Runtime) do. Division by zero gives 0
// as numpy does, and INT_MIN / -1 wraps, where C++ would trap.
template <typename T> T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0)
      return 0;
    if (b == -1)
      return wrapInt(T{0}, a, std::minus<>{});
  }
  return a / b;
}

template <typename T> T negate(T x) { return wrapInt(T{0}, x, std::minus<>{}); }
template <typename T> T absolute(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::fabs(x);
  else
    return x < 0 ? negate(x) : x;
}

// Integer base to a non-negative integer power: exact, wrapping on overflow as numpy does.
template <typename T> T integerPower(T base, uint64_t n) {
  using U = std::make_unsigned_t<T>;
  U result = 1, b = static_cast<U>(base);
  for (; n; n >>= 1) {
    if (n & 1)
      result *= b;
    b *= b;
  }
  return static_cast<T>(result);
}

// Pow's result has the base's type. Integer bases with non-negative integer exponents are exact;
// every other integer case goes through double (as ONNX Runtime does), truncating toward zero.
template <typename T, typename E> T power(T x, E y) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  } else {
    if constexpr (std::is_integral_v<E>)
      if (y >= 0)
        return integerPower(x, static_cast<uint64_t>(y));
    return convertElement<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
  }
}

// numpy's maximum/minimum: NaN in either operand propagates.
template <typename T> bool eitherNaN(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(a) || std::isnan(b);
  else
    return false;
}
template <typename T> T npMaximum(T a, T b) {
  return eitherNaN(a, b) ? std::numeric_limits<T>::quiet_NaN() : (a < b ? b : a);
}
template <typename T> T npMinimum(T a, T b) {
  return eitherNaN(a, b) ? std::numeric_limits<T>::quiet_NaN() : (b < a ? b : a);
}

// ---- Ops with their own inference ---------------------------------------------------------

void addPow(OpRegistry &r) {
  OpSchema s;
  s.name = "Pow";
  s.minInputs = s.maxInputs = 2;
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, TypeSet::Numeric, "X");
    requireTypeSet(ctx, 1, TypeSet::Numeric, "Y");
    return {{ctx.dtype(0), inferBroadcast(ctx, {0, 1})}};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchNumeric(ctx, ctx.in(0).dtype(), [&](auto zx) {
      using T = decltype(zx);
      dispatchNumeric(ctx, ctx.in(1).dtype(), [&](auto zy) {
        using E = decltype(zy);
        mapBinary<T, E, T>(ctx.in(0), ctx.in(1), ctx.out(), power<T, E>);
      });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

// Clip (opset 11+): min and max are optional scalar operands of the input's type; an absent one
// is no bound. y = min(max(x, min), max), so min > max gives max everywhere, as numpy.clip does.
void addClip(OpRegistry &r) {
  OpSchema s;
  s.name = "Clip";
  s.minInputs = 1;
  s.maxInputs = 3;
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, TypeSet::Numeric, "input");
    for (size_t i = 1; i < ctx.numOperands(); ++i) {
      if (!ctx.hasOperand(i))
        continue;
      const char *what = i == 1 ? "min" : "max";
      requireSameDType(ctx, 0, i);
      // ONNX asks for a scalar; some exporters write a one-element vector, which means the same.
      const Shape &sh = ctx.shape(i);
      ctx.require(sh.empty() || (sh.size() == 1 && sh[0] == 1), what,
                  " must be a scalar, got shape ", shapeStr(sh));
    }
    return {ctx.type(0)};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchNumeric(ctx, ctx.in(0).dtype(), [&](auto z) {
      using T = decltype(z);
      bool hasLo = ctx.hasInput(1), hasHi = ctx.hasInput(2);
      T lo = hasLo ? ctx.in(1).data<T>()[0] : T{};
      T hi = hasHi ? ctx.in(2).data<T>()[0] : T{};
      mapUnary<T, T>(ctx.in(0), ctx.out(), [&](T x) {
        T v = hasLo ? npMaximum(x, lo) : x;
        return hasHi ? npMinimum(v, hi) : v;
      });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

} // namespace

void registerElementwiseOps(OpRegistry &r) {
  constexpr TypeSet Num = TypeSet::Numeric, Flt = TypeSet::Float;
  addBinary<Num>(r, "Add", [](auto a, auto b) { return wrapInt(a, b, std::plus<>{}); });
  addBinary<Num>(r, "Sub", [](auto a, auto b) { return wrapInt(a, b, std::minus<>{}); });
  addBinary<Num>(r, "Mul", [](auto a, auto b) { return wrapInt(a, b, std::multiplies<>{}); });
  addBinary<Num>(r, "Div", [](auto a, auto b) { return divide(a, b); });
  addPow(r);

  addUnary<Num>(r, "Neg", [](auto x) { return negate(x); });
  addUnary<Num>(r, "Abs", [](auto x) { return absolute(x); });
  addUnary<Flt>(r, "Exp", [](auto x) { return std::exp(x); });
  addUnary<Flt>(r, "Log", [](auto x) { return std::log(x); });
  addUnary<Flt>(r, "Sqrt", [](auto x) { return std::sqrt(x); });
  addUnary<Flt>(r, "Reciprocal", [](auto x) { return decltype(x)(1) / x; });
  // Erf takes integers too (ONNX "all numeric"); their result truncates like a cast.
  addUnary<Num>(r, "Erf", [](auto x) { return std::erf(static_cast<double>(x)); });
  addUnary<Flt>(r, "Tanh", [](auto x) { return std::tanh(x); });
  // The two branches avoid exp overflow; both equal 1 / (1 + exp(-x)).
  addUnary<Flt>(r, "Sigmoid", [](auto x) {
    using T = decltype(x);
    return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
  });
  // `x < 0 ? 0 : x` keeps NaN, as the reference np.clip(x, 0, inf) does.
  addUnary<Num>(r, "Relu", [](auto x) { return x < 0 ? decltype(x){0} : x; });

  addUnaryWith<Flt>(r, "LeakyRelu", {AttrSpec{"alpha", AttrKind::Float, Attribute(0.01)}},
                    [](const KernelContext &ctx) {
                      double alpha = ctx.f("alpha");
                      return [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * x : x; };
                    });
  addUnaryWith<Flt>(
      r, "Elu", {AttrSpec{"alpha", AttrKind::Float, Attribute(1.0)}}, [](const KernelContext &ctx) {
        double alpha = ctx.f("alpha");
        return [alpha](auto x) { return x < 0 ? decltype(x)(alpha) * std::expm1(x) : x; };
      });
  addClip(r);
}

} // namespace adjoint
