// Gradient rules of the Linalg family (Ops/Linalg.cpp). For Y = A B: dA = dY B^T, dB = A^T dY.
// Transposes are folded into Gemm's transA/transB wherever the product is a plain matrix
// product, so no Transpose copy is made there; batched products use MatMul + Transpose.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {

Value *gemm(GradContext &g, Value *a, Value *b, bool ta, bool tb, double alpha = 1.0) {
  AttrMap attrs;
  if (ta)
    attrs["transA"] = Attribute(1);
  if (tb)
    attrs["transB"] = Attribute(1);
  if (alpha != 1.0)
    attrs["alpha"] = Attribute(alpha);
  return g.build("Gemm", {a, b}, std::move(attrs));
}

// Swaps the last two axes (rank >= 2).
Value *transposeLast2(GradContext &g, Value *v) {
  int64_t rank = v->type().rank();
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < rank; ++i)
    perm.push_back(i);
  std::swap(perm[rank - 2], perm[rank - 1]);
  return g.build("Transpose", {v}, {{"perm", Attribute(perm)}});
}

Shape concat(Shape a, const Shape &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// MatMul with numpy semantics: a 1-D A is [1,k] and a 1-D B is [k,1] (the unit dim dropped from
// Y), batch dims broadcast. Each gradient is summed back over the batch dims its operand was
// broadcast along and reshaped to the operand's own shape.
std::vector<Value *> matMulGrad(GradContext &g) {
  Value *A = g.x(0), *B = g.x(1), *dy = g.dy();
  const Shape &a = A->shape(), &b = B->shape();
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  const int64_t m = a2[a2.size() - 2], k = a2.back(), n = b2.back();
  const Shape aBatch(a2.begin(), a2.end() - 2), bBatch(b2.begin(), b2.end() - 2);
  Value *dA = nullptr, *dB = nullptr;

  if (bBatch.empty()) {
    // B is one matrix: A's batch dims fold into its rows (a free reshape of contiguous data),
    // so both gradients are single Gemms and dB needs no sum over the batch.
    const int64_t rows = numElements(aBatch) * m;
    Value *dyF = g.reshape(dy, {rows, n});
    if (g.needs(0))
      dA = g.reshape(gemm(g, dyF, g.reshape(B, b2), false, true), a);
    if (g.needs(1))
      dB = g.reshape(gemm(g, g.reshape(A, {rows, k}), dyF, true, false), b);
    return {dA, dB};
  }

  Shape batch = broadcastShapes(aBatch, bBatch);
  Value *dy2 = g.reshape(dy, concat(batch, {m, n}));
  if (g.needs(0)) {
    Value *prod = g.build("MatMul", {dy2, transposeLast2(g, B)});
    dA = g.reshape(g.sumToShape(prod, a2), a);
  }
  if (g.needs(1)) {
    // A 1-D A's transpose [k,1] is a reshape, not a copy.
    Value *aT = a.size() == 1 ? g.reshape(A, {k, 1}) : transposeLast2(g, A);
    dB = g.sumToShape(g.build("MatMul", {aT, dy2}), b);
  }
  return {dA, dB};
}

// Y = alpha op(A) op(B) + beta C with op(X) = X or X^T.
std::vector<Value *> gemmGrad(GradContext &g) {
  AttrReader at = g.attrs();
  const bool ta = at.i("transA") != 0, tb = at.i("transB") != 0;
  const double alpha = at.f("alpha"), beta = at.f("beta");
  Value *A = g.x(0), *B = g.x(1), *dy = g.dy();
  std::vector<Value *> grads(g.numOperands(), nullptr);
  // d op(A) = alpha dY op(B)^T; when transA, dA is its transpose alpha op(B) dY^T.
  if (g.needs(0))
    grads[0] = ta ? gemm(g, B, dy, tb, true, alpha) : gemm(g, dy, B, false, !tb, alpha);
  // d op(B) = alpha op(A)^T dY; when transB, dB is its transpose alpha dY^T op(A).
  if (g.needs(1))
    grads[1] = tb ? gemm(g, dy, A, true, ta, alpha) : gemm(g, A, dy, !ta, false, alpha);
  if (g.needs(2)) {
    Value *dc = beta == 1.0 ? dy : g.mul(dy, g.scalar(beta, dy->dtype()));
    grads[2] = g.sumToShape(dc, g.x(2)->shape());
  }
  return grads;
}

} // namespace

void registerLinalgGrads(OpRegistry &r) {
  r.setGrad("", "MatMul", matMulGrad);
  r.setGrad("", "Gemm", gemmGrad);
}

} // namespace adjoint
