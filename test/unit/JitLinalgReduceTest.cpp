// The JIT against the interpreter for MatMul and Gemm (BLAS for floats, generated loops for
// integers) and for ReduceSum, ReduceMean and ReduceMax (both loop orders, empty reductions,
// threads). Matrix operands are non-negative, so f32 sums do not cancel and BLAS's f32
// accumulation stays within 1e-5 of the interpreter's double accumulation.
#include "JitTestSupport.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

void checkMatMul(DType t, const Shape &a, const Shape &b, std::mt19937 &rng) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("a", {t, a});
  Value *y = f->addInput("b", {t, b});
  f->addOutput("y", buildOp(*f, "MatMul", {x, y})->result());
  expectJitMatches(*f, {{"a", uniformTensor(t, a, rng, 0, isFloat(t) ? 1 : 20)},
                        {"b", uniformTensor(t, b, rng, 0, isFloat(t) ? 1 : 20)}},
                   describe("MatMul", {{t, a}, {t, b}}));
}

} // namespace

TEST(JitLinalg, MatMulShapes) {
  std::mt19937 rng(11);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{7, 17}, {17, 33}}, {{1, 1}, {1, 1}},       {{64, 784}, {784, 10}}, {{1000}, {1000, 7}},
      {{7, 33}, {33}},     {{33}, {33}},           {{2, 3, 4, 5}, {5, 6}}, {{3, 1, 4, 5}, {2, 5, 6}},
      {{5}, {2, 5, 3}},    {{2, 4, 5}, {5}},       {{4, 0}, {0, 3}},       {{0, 4}, {4, 3}}};
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64})
    for (const auto &[a, b] : shapes)
      checkMatMul(t, a, b, rng);
}

TEST(JitLinalg, GemmVariants) {
  std::mt19937 rng(12);
  const int64_t M = 17, N = 33, K = 7;
  const std::vector<Shape> cShapes = {{}, {1}, {N}, {M, 1}, {1, N}, {M, N}};
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64})
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int withC = 0; withC <= (int)cShapes.size(); ++withC)
          for (auto [alpha, beta] : std::vector<std::pair<double, double>>{{1, 1}, {0.5, 2}, {2, 0}}) {
            Module m;
            Function *f = m.addFunction("f");
            Shape as = ta ? Shape{K, M} : Shape{M, K}, bs = tb ? Shape{N, K} : Shape{K, N};
            std::map<std::string, Tensor> in{{"a", uniformTensor(t, as, rng, 0, isFloat(t) ? 1 : 9)},
                                             {"b", uniformTensor(t, bs, rng, 0, isFloat(t) ? 1 : 9)}};
            std::vector<Value *> ops = {f->addInput("a", {t, as}), f->addInput("b", {t, bs})};
            std::string what = "Gemm " + std::string(dtypeName(t)) + " transA " + std::to_string(ta) +
                               " transB " + std::to_string(tb) + " alpha " + std::to_string(alpha) +
                               " beta " + std::to_string(beta);
            if (withC < (int)cShapes.size()) {
              ops.push_back(f->addInput("c", {t, cShapes[withC]}));
              in["c"] = uniformTensor(t, cShapes[withC], rng, 0, isFloat(t) ? 1 : 9);
              what += " C " + shapeStr(cShapes[withC]);
            }
            AttrMap attrs{{"transA", Attribute(int64_t{ta})}, {"transB", Attribute(int64_t{tb})},
                          {"alpha", Attribute(alpha)}, {"beta", Attribute(beta)}};
            f->addOutput("y", buildOp(*f, "Gemm", ops, attrs)->result());
            expectJitMatches(*f, in, what);
          }
}

namespace {

void checkReduce(const std::string &op, DType t, const Shape &s, const std::vector<int64_t> &axes,
                 int64_t keepdims, std::mt19937 &rng, bool noop = false) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {t, s});
  AttrMap attrs{{"keepdims", Attribute(keepdims)}};
  std::vector<Value *> operands{x};
  if (op == "ReduceSum") {
    if (!axes.empty() || noop)
      operands.push_back(buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes)));
    if (noop)
      attrs["noop_with_empty_axes"] = Attribute(int64_t{1});
  } else if (!axes.empty()) {
    attrs["axes"] = Attribute(axes);
  }
  f->addOutput("y", buildOp(*f, op, operands, attrs)->result());
  std::string what = op + " " + TensorType{t, s}.str() + " axes " + shapeStr(axes) +
                     " keepdims " + std::to_string(keepdims);
  // NaNs and infinities only in some runs, so that the finite sums are compared too.
  bool specials = rng() % 2;
  expectJitMatches(*f, {{"x", randomTensor(t, s, rng, specials, /*huge=*/false)}}, what,
                   Tolerance{1e-5, 1e-11});
}

} // namespace

TEST(JitReduce, AxesAndLoopOrders) {
  std::mt19937 rng(13);
  const std::vector<std::pair<Shape, std::vector<std::vector<int64_t>>>> cases = {
      {{7}, {{}, {0}, {-1}}},
      {{1000}, {{0}}},
      {{17, 33}, {{0}, {1}, {0, 1}, {-2}}},
      {{4, 5, 6}, {{1}, {0, 2}, {2}, {0}, {0, 1}, {1, 2}}},
      {{2, 3, 4, 5}, {{1, 3}, {0, 2}, {3}, {0}}},
      {{3, 1, 7}, {{1}, {0, 1}, {2}}},
      {{1}, {{0}}},
      {{}, {{}}},
  };
  for (const char *op : {"ReduceSum", "ReduceMean", "ReduceMax"})
    for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64})
      for (const auto &[shape, axesList] : cases)
        for (const auto &axes : axesList)
          for (int64_t keep : {0, 1})
            checkReduce(op, t, shape, axes, keep, rng);
}

TEST(JitReduce, EmptyAndNoop) {
  std::mt19937 rng(14);
  for (const char *op : {"ReduceSum", "ReduceMean", "ReduceMax"})
    for (DType t : {DType::F32, DType::F64}) {
      checkReduce(op, t, {0, 3}, {0}, 1, rng);
      checkReduce(op, t, {3, 0}, {1}, 0, rng);
      checkReduce(op, t, {0, 3}, {1}, 0, rng);
    }
  checkReduce("ReduceSum", DType::F32, {4, 5}, {}, 1, rng, /*noop=*/true);
  checkReduce("ReduceSum", DType::I64, {0, 3}, {0}, 1, rng);
  checkReduce("ReduceMax", DType::I32, {3, 0}, {1}, 1, rng);
}

TEST(JitReduce, LargeAndThreaded) {
  std::mt19937 rng(15);
  for (int threads : {1, 2, 5}) {
    setJitThreads(threads);
    for (const char *op : {"ReduceSum", "ReduceMean", "ReduceMax"}) {
      checkReduce(op, DType::F32, {512, 1031}, {1}, 0, rng);
      checkReduce(op, DType::F32, {1031, 512}, {0}, 1, rng);
      checkReduce(op, DType::F32, {64, 33, 129}, {0, 2}, 0, rng);
      checkReduce(op, DType::F64, {300000}, {0}, 0, rng);
      checkReduce(op, DType::I64, {257, 1000}, {0}, 0, rng);
    }
  }
  setJitThreads(0);
}
