#pragma once
// Shared pieces of the elementwise families (Ops/Elementwise.cpp, Ops/Logic.cpp): one loop for
// every unary map and one for every broadcasting binary/ternary map, so that each op is a lambda;
// dtype checks and broadcast inference with messages that name the op; and the numpy-compatible
// scalar conversions and wrapping integer arithmetic that keep the kernels free of undefined
// behaviour on any input.
#include "IR/Convert.h"
#include "Ops/KernelUtil.h"

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>

namespace adjoint {

// ---- Inference helpers --------------------------------------------------------------------

// Element types an operand may have. There are no unsigned or small types in the IR, so ONNX's
// "all numeric" and "signed numeric" sets are the same here.
enum class TypeSet { Float, Numeric, NumericOrBool, Bool };

inline bool inTypeSet(DType t, TypeSet s) {
  switch (s) {
  case TypeSet::Float: return isFloat(t);
  case TypeSet::Numeric: return t != DType::Bool;
  case TypeSet::NumericOrBool: return true;
  case TypeSet::Bool: return t == DType::Bool;
  }
  return false;
}

inline const char *typeSetName(TypeSet s) {
  switch (s) {
  case TypeSet::Float: return "f32 or f64";
  case TypeSet::Numeric: return "numeric (f32, f64, i32, i64)";
  case TypeSet::NumericOrBool: return "f32, f64, i32, i64 or bool";
  case TypeSet::Bool: return "bool";
  }
  return "?";
}

inline void requireTypeSet(const InferContext &ctx, size_t i, TypeSet s, const char *what) {
  DType t = ctx.dtype(i);
  ctx.require(inTypeSet(t, s), what, " (operand ", i, ") must be ", typeSetName(s), ", got ",
              dtypeName(t));
}

inline void requireSameDType(const InferContext &ctx, size_t i, size_t j) {
  ctx.require(ctx.dtype(i) == ctx.dtype(j), "operands ", i, " and ", j,
              " must have the same element type, got ", dtypeName(ctx.dtype(i)), " and ",
              dtypeName(ctx.dtype(j)));
}

// Multidirectional broadcast of the given operands' shapes; the error names the op.
inline Shape inferBroadcast(const InferContext &ctx, std::initializer_list<size_t> operands) {
  Shape out;
  bool first = true;
  for (size_t i : operands) {
    if (first) {
      out = ctx.shape(i);
      first = false;
      continue;
    }
    try {
      out = broadcastShapes(out, ctx.shape(i));
    } catch (const Error &e) {
      ctx.error("operand shapes do not broadcast: ", e.what());
    }
  }
  return out;
}

// ---- Kernel loops -------------------------------------------------------------------------

// out[i] = f(x[i]), converting f's result to the output element type.
template <typename In, typename Out, typename F>
void mapUnary(const Tensor &x, Tensor &out, F &&f) {
  const In *px = x.data<In>();
  Out *po = out.data<Out>();
  for (int64_t i = 0, n = out.numel(); i < n; ++i)
    po[i] = static_cast<Out>(f(px[i]));
}

// out = f(a, b) with numpy broadcasting of a and b to out's shape.
template <typename A, typename B, typename Out, typename F>
void mapBinary(const Tensor &a, const Tensor &b, Tensor &out, F &&f) {
  const A *pa = a.data<A>();
  const B *pb = b.data<B>();
  Out *po = out.data<Out>();
  forEachBroadcast<2>(out.shape(), {&a.shape(), &b.shape()},
                      [&](int64_t o, const std::array<int64_t, 2> &ix) {
                        po[o] = static_cast<Out>(f(pa[ix[0]], pb[ix[1]]));
                      });
}

// out = f(a, b, c) with numpy broadcasting of all three to out's shape.
template <typename A, typename B, typename C, typename Out, typename F>
void mapTernary(const Tensor &a, const Tensor &b, const Tensor &c, Tensor &out, F &&f) {
  const A *pa = a.data<A>();
  const B *pb = b.data<B>();
  const C *pc = c.data<C>();
  Out *po = out.data<Out>();
  forEachBroadcast<3>(out.shape(), {&a.shape(), &b.shape(), &c.shape()},
                      [&](int64_t o, const std::array<int64_t, 3> &ix) {
                        po[o] = static_cast<Out>(f(pa[ix[0]], pb[ix[1]], pc[ix[2]]));
                      });
}

// ---- Scalar semantics ---------------------------------------------------------------------

// Two's-complement wrapping for integer arithmetic (numpy's behaviour; signed overflow is
// undefined in C++). Floats pass through.
template <typename T, typename F> T wrapInt(T a, T b, F op) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(op(static_cast<U>(a), static_cast<U>(b)));
  } else {
    return op(a, b);
  }
}


} // namespace adjoint
