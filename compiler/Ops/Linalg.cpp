// MatMul and Gemm. Accumulation happens in double for float types (so an f32 result is the
// correctly rounded sum, within a few ulps of any BLAS ordering) and in wrapping unsigned
// arithmetic for integers (numpy wraps on overflow; signed overflow would be undefined here).
#include "Ops/KernelUtil.h"

#include <algorithm>
#include <limits>

namespace adjoint {

namespace {

template <typename T> using Acc = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <typename T> Acc<T> widen(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return (double)v;
  else
    return (uint64_t)(int64_t)v;
}

bool isMatMulDType(DType t) { return t != DType::Bool; }

// Scaled integer Gemm goes through double; out-of-range values saturate rather than invoke
// undefined behaviour.
template <typename T> T saturate(double v) {
  if (!(v == v))
    return T{};
  if (v <= (double)std::numeric_limits<T>::lowest())
    return std::numeric_limits<T>::lowest();
  if (v >= (double)std::numeric_limits<T>::max())
    return std::numeric_limits<T>::max();
  return (T)v;
}

// numpy matmul: a 1-D operand gains a unit dim (prepended for A, appended for B) that the
// result then drops; the leading (batch) dims broadcast.
struct MatMulDims {
  Shape batch; // broadcast batch shape
  Shape aBatch, bBatch;
  int64_t m = 1, k = 1, n = 1;
  Shape result;
};

MatMulDims matMulDims(const std::string &who, const Shape &a, const Shape &b) {
  if (a.empty() || b.empty())
    fail(who, ": operands must have rank >= 1, got ", shapeStr(a), " and ", shapeStr(b));
  MatMulDims d;
  Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  d.m = a2[a2.size() - 2];
  d.k = a2.back();
  d.n = b2.back();
  if (b2[b2.size() - 2] != d.k)
    fail(who, ": inner dimensions differ: ", shapeStr(a), " x ", shapeStr(b));
  d.aBatch.assign(a2.begin(), a2.end() - 2);
  d.bBatch.assign(b2.begin(), b2.end() - 2);
  try {
    d.batch = broadcastShapes(d.aBatch, d.bBatch);
  } catch (const Error &) {
    fail(who, ": batch dimensions do not broadcast: ", shapeStr(a), " x ", shapeStr(b));
  }
  d.result = d.batch;
  if (a.size() > 1)
    d.result.push_back(d.m);
  if (b.size() > 1)
    d.result.push_back(d.n);
  return d;
}

std::vector<TensorType> inferMatMul(InferContext &ctx) {
  DType t = ctx.dtype(0);
  ctx.require(isMatMulDType(t), "expects a numeric operand, got ", dtypeName(t));
  ctx.require(ctx.dtype(1) == t, "operands must have the same dtype, got ", dtypeName(t), " and ",
              dtypeName(ctx.dtype(1)));
  return {{t, matMulDims(ctx.op.describe(), ctx.shape(0), ctx.shape(1)).result}};
}

template <typename T> void matMulKernel(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  MatMulDims d = matMulDims(ctx.op.describe(), a.shape(), b.shape());
  const T *pa = a.data<T>();
  const T *pb = b.data<T>();
  T *py = ctx.out().data<T>();
  const int64_t m = d.m, k = d.k, n = d.n;
  Shape aMat = d.aBatch, bMat = d.bBatch;
  std::vector<Acc<T>> row(n);
  // Treat each matrix as one element of its batch tensor so forEachBroadcast walks batches.
  forEachBroadcast<2>(d.batch, {&aMat, &bMat}, [&](int64_t o, const std::array<int64_t, 2> &ix) {
    const T *A = pa + ix[0] * m * k;
    const T *B = pb + ix[1] * k * n;
    T *Y = py + o * m * n;
    // i-p-j order walks B by rows; each output row accumulates in `row`.
    for (int64_t i = 0; i < m; ++i) {
      std::fill(row.begin(), row.end(), Acc<T>{});
      for (int64_t p = 0; p < k; ++p) {
        Acc<T> aip = widen(A[i * k + p]);
        for (int64_t j = 0; j < n; ++j)
          row[j] += aip * widen(B[p * n + j]);
      }
      for (int64_t j = 0; j < n; ++j)
        Y[i * n + j] = (T)row[j];
    }
  });
}

// Gemm's C broadcasts one way only: to [M,N], never the reverse.
bool broadcastsTo(const Shape &c, const Shape &to) {
  if (c.size() > to.size())
    return false;
  size_t off = to.size() - c.size();
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i] != 1 && c[i] != to[off + i])
      return false;
  return true;
}

std::vector<TensorType> inferGemm(InferContext &ctx) {
  DType t = ctx.dtype(0);
  ctx.require(isMatMulDType(t), "expects a numeric operand, got ", dtypeName(t));
  const Shape &a = ctx.shape(0), &b = ctx.shape(1);
  ctx.require(a.size() == 2 && b.size() == 2, "A and B must be 2-D, got ", shapeStr(a), " and ",
              shapeStr(b));
  ctx.require(ctx.dtype(1) == t, "A and B must have the same dtype, got ", dtypeName(t), " and ",
              dtypeName(ctx.dtype(1)));
  bool ta = ctx.i("transA") != 0, tb = ctx.i("transB") != 0;
  int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
  int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  ctx.require(k == kb, "inner dimensions differ: A ", shapeStr(a), (ta ? " (transposed)" : ""),
              ", B ", shapeStr(b), (tb ? " (transposed)" : ""));
  Shape y{m, n};
  if (ctx.hasOperand(2)) {
    ctx.require(ctx.dtype(2) == t, "C must have the dtype of A, got ", dtypeName(ctx.dtype(2)));
    ctx.require(broadcastsTo(ctx.shape(2), y), "C ", shapeStr(ctx.shape(2)),
                " does not broadcast to ", shapeStr(y));
  }
  return {{t, y}};
}

template <typename T> void gemmKernel(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  bool ta = ctx.i("transA") != 0, tb = ctx.i("transB") != 0;
  double alpha = ctx.f("alpha"), beta = ctx.f("beta");
  Tensor &y = ctx.out();
  const int64_t m = y.shape()[0], n = y.shape()[1];
  const int64_t k = ta ? a.shape()[0] : a.shape()[1];
  const T *A = a.data<T>(), *B = b.data<T>();
  T *Y = y.data<T>();
  // (i, p) of op(A) and (p, j) of op(B) as offsets into the stored matrices.
  auto aAt = [&](int64_t i, int64_t p) { return ta ? A[p * m + i] : A[i * k + p]; };
  auto bAt = [&](int64_t p, int64_t j) { return tb ? B[j * k + p] : B[p * n + j]; };
  std::vector<int64_t> cStrides;
  const T *C = nullptr;
  if (ctx.hasInput(2)) {
    cStrides = broadcastStrides(ctx.in(2).shape(), y.shape());
    C = ctx.in(2).data<T>();
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      Acc<T> s{};
      for (int64_t p = 0; p < k; ++p)
        s += widen(aAt(i, p)) * widen(bAt(p, j));
      T c = C ? C[i * cStrides[0] + j * cStrides[1]] : T{};
      if constexpr (std::is_floating_point_v<T>) {
        Y[i * n + j] = (T)(alpha * s + (C ? beta * (double)c : 0.0));
      } else if (alpha == 1.0 && beta == 1.0) {
        // Exact integer result in the common case; scaled ints go through double below.
        Y[i * n + j] = (T)(s + widen(c));
      } else {
        Y[i * n + j] = saturate<T>(alpha * (double)(T)s + beta * (double)c);
      }
    }
}

} // namespace

void registerLinalgOps(OpRegistry &r) {
  OpSchema mm;
  mm.name = "MatMul";
  mm.minInputs = mm.maxInputs = 2;
  mm.infer = inferMatMul;
  mm.kernel = [](KernelContext &ctx) {
    dispatchNumeric(ctx, ctx.in(0).dtype(), [&](auto t) { matMulKernel<decltype(t)>(ctx); });
  };
  r.add(std::move(mm));

  OpSchema gemm;
  gemm.name = "Gemm";
  gemm.minInputs = 2;
  gemm.maxInputs = 3;
  gemm.attrs = {{"alpha", AttrKind::Float, Attribute(1.0)},
                {"beta", AttrKind::Float, Attribute(1.0)},
                {"transA", AttrKind::Int, Attribute(0)},
                {"transB", AttrKind::Int, Attribute(0)}};
  gemm.infer = inferGemm;
  gemm.kernel = [](KernelContext &ctx) {
    dispatchNumeric(ctx, ctx.in(0).dtype(), [&](auto t) { gemmKernel<decltype(t)>(ctx); });
  };
  r.add(std::move(gemm));
}

} // namespace adjoint
