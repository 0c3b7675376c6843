// MatMul and Gemm: numpy semantics (1-D promotion, batch broadcast), Gemm attributes and C's
// one-way broadcast, every dtype, and the inference errors. Expected values are hand-computed or
// were generated once with numpy from the same seq() inputs.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

using namespace adjoint;

namespace {

// Appending instead of `"x" + to_string(i)` sidesteps GCC 12's -Wrestrict false positive.
std::string argName(const char *prefix, size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

// ((i * mul) % mod - mod / 2) * scale: small exact values, easy to reproduce in numpy.
template <typename T> Tensor seq(Shape s, int mul = 7, int mod = 11, double scale = 0.25) {
  Tensor t(dtypeOf<T>(), s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<T>()[i] = (T)(((i * mul) % mod - mod / 2) * scale);
  return t;
}

Tensor run(const std::string &op, std::vector<Tensor> ins, AttrMap attrs = {},
           std::vector<bool> present = {}) {
  Function f("t");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!present.empty() && !present[i]) {
      operands.push_back(nullptr);
      continue;
    }
    std::string name = argName("x", i);
    operands.push_back(f.addInput(name, {ins[i].dtype(), ins[i].shape()}));
    feeds[name] = ins[i];
  }
  Op *o = buildOp(f, op, operands, attrs);
  f.addOutput("y", o->result());
  return interpret(f, feeds).at(0);
}

void expectValues(const Tensor &t, const Shape &shape, const std::vector<double> &want,
                  double tol = 1e-6) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.getDouble(i), want[i], tol) << "element " << i;
}

// Builds op on inputs of the given types and expects an Error mentioning the op and `what`.
void expectInferError(const std::string &op, std::vector<TensorType> types, AttrMap attrs,
                      const std::string &what) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i)
    operands.push_back(f.addInput(argName("x", i), types[i]));
  try {
    buildOp(f, op, operands, attrs);
    ADD_FAILURE() << op << ": expected an error containing '" << what << "'";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(op), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

} // namespace

TEST(MatMul, TwoByTwo) {
  Tensor a = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::fromVector<float>({3, 2}, {7, 8, 9, 10, 11, 12});
  expectValues(run("MatMul", {a, b}), {2, 2}, {58, 64, 139, 154});
}

TEST(MatMul, OneDimensionalOperandsArePromotedAndDropped) {
  Tensor v = Tensor::fromVector<float>({3}, {1, 2, 3});
  Tensor m = Tensor::fromVector<float>({3, 2}, {1, 0, 0, 1, 1, 1});
  expectValues(run("MatMul", {v, v}), {}, {14});
  expectValues(run("MatMul", {v, m}), {2}, {4, 5});
  Tensor mt = Tensor::fromVector<float>({2, 3}, {1, 0, 1, 0, 1, 1});
  expectValues(run("MatMul", {mt, v}), {2}, {4, 5});
  // A vector against a batch of matrices: [3] x [2,3,2] -> [2,2].
  Tensor batch = Tensor::fromVector<float>({2, 3, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 0, 0});
  expectValues(run("MatMul", {v, batch}), {2, 2}, {4, 5, 2, 4});
}

TEST(MatMul, BatchDimensionsBroadcast) {
  // numpy.matmul(seq([2,1,2,3]), seq([3,3,2], 5, 7, 0.5))
  Tensor a = seq<float>({2, 1, 2, 3});
  Tensor b = seq<float>({3, 3, 2}, 5, 7, 0.5);
  expectValues(run("MatMul", {a, b}), {2, 3, 2, 2},
               {1.125, -2,  -3, 0.625, 1.625, 1.125, 0.375, -3, -1.375, 1.625, 0.25, 0.375,
                -3,    0.5, -3, 0.375, 0.5,   -3,    0.625, -3, 0.5,    0.5,   0.75, 0.625});
}

TEST(MatMul, IntegerAndDoubleTypes) {
  Tensor a = Tensor::fromVector<int64_t>({2, 2}, {1, -2, 3, 4});
  Tensor b = Tensor::fromVector<int64_t>({2, 2}, {5, 6, 7, -8});
  Tensor y = run("MatMul", {a, b});
  EXPECT_EQ(y.dtype(), DType::I64);
  expectValues(y, {2, 2}, {-9, 22, 43, -14});
  Tensor y32 = run("MatMul", {a.cast(DType::I32), b.cast(DType::I32)});
  EXPECT_EQ(y32.dtype(), DType::I32);
  expectValues(y32, {2, 2}, {-9, 22, 43, -14});
  Tensor yd = run("MatMul", {a.cast(DType::F64), b.cast(DType::F64)});
  EXPECT_EQ(yd.dtype(), DType::F64);
  expectValues(yd, {2, 2}, {-9, 22, 43, -14});
}

TEST(MatMul, EmptyInnerDimensionGivesZeros) {
  Tensor a(DType::F32, {2, 0}), b(DType::F32, {0, 3});
  expectValues(run("MatMul", {a, b}), {2, 3}, {0, 0, 0, 0, 0, 0});
  Tensor e(DType::F32, {0, 3}), m = seq<float>({3, 2});
  EXPECT_EQ(run("MatMul", {e, m}).shape(), (Shape{0, 2}));
}

TEST(MatMul, InferenceErrors) {
  expectInferError("MatMul", {{DType::F32, {2, 3}}, {DType::F32, {4, 2}}}, {}, "inner");
  expectInferError("MatMul", {{DType::F32, {}}, {DType::F32, {3}}}, {}, "rank");
  expectInferError("MatMul", {{DType::F32, {2, 3}}, {DType::F64, {3, 2}}}, {}, "dtype");
  expectInferError("MatMul", {{DType::Bool, {2, 2}}, {DType::Bool, {2, 2}}}, {}, "numeric");
  expectInferError("MatMul", {{DType::F32, {2, 2, 3}}, {DType::F32, {3, 3, 2}}}, {}, "batch");
}

TEST(Gemm, PlainProductWithoutC) {
  Tensor a = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::fromVector<float>({3, 2}, {7, 8, 9, 10, 11, 12});
  expectValues(run("Gemm", {a, b}), {2, 2}, {58, 64, 139, 154});
}

TEST(Gemm, AllAttributesWithVectorBias) {
  // 0.5 * seq([3,2]).T @ seq([4,3],5,7,.5).T - 1.25 * seq([4],3,5,1), from numpy.
  Tensor a = seq<float>({3, 2}), b = seq<float>({4, 3}, 5, 7, 0.5), c = seq<float>({4}, 3, 5, 1.0);
  AttrMap attrs{{"alpha", Attribute(0.5)},
                {"beta", Attribute(-1.25)},
                {"transA", Attribute(1)},
                {"transB", Attribute(1)}};
  std::vector<double> want{3.1875, -0.9375, 2.0625, -2.0625, 2.75, -0.75, -0.1875, -3.6875};
  expectValues(run("Gemm", {a, b, c}, attrs), {2, 4}, want);
  expectValues(run("Gemm", {a.cast(DType::F64), b.cast(DType::F64), c.cast(DType::F64)}, attrs),
               {2, 4}, want);
}

TEST(Gemm, CBroadcastsOneWay) {
  Tensor a = Tensor::fromVector<float>({2, 2}, {1, 0, 0, 1});
  Tensor b = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
  expectValues(run("Gemm", {a, b, Tensor::scalar<float>(10)}), {2, 2}, {11, 12, 13, 14});
  expectValues(run("Gemm", {a, b, Tensor::fromVector<float>({1}, {10})}), {2, 2}, {11, 12, 13, 14});
  expectValues(run("Gemm", {a, b, Tensor::fromVector<float>({2, 1}, {10, 20})}), {2, 2},
               {11, 12, 23, 24});
  expectValues(run("Gemm", {a, b, Tensor::fromVector<float>({1, 2}, {10, 20})}), {2, 2},
               {11, 22, 13, 24});
  // An absent optional C (nullptr operand) is the same as no C.
  expectValues(run("Gemm", {a, b, Tensor()}, {}, {true, true, false}), {2, 2}, {1, 2, 3, 4});
}

TEST(Gemm, Integers) {
  Tensor a = Tensor::fromVector<int64_t>({1, 2}, {2, 3});
  Tensor b = Tensor::fromVector<int64_t>({2, 1}, {4, 5});
  Tensor c = Tensor::fromVector<int64_t>({1}, {-1});
  expectValues(run("Gemm", {a, b, c}), {1, 1}, {22});
  expectValues(run("Gemm", {a.cast(DType::I32), b.cast(DType::I32), c.cast(DType::I32)},
                   {{"alpha", Attribute(2.0)}, {"beta", Attribute(3.0)}}),
               {1, 1}, {43});
}

TEST(Gemm, InferenceErrors) {
  expectInferError("Gemm", {{DType::F32, {2, 3, 1}}, {DType::F32, {3, 2}}}, {}, "2-D");
  expectInferError("Gemm", {{DType::F32, {2, 3}}, {DType::F32, {2, 2}}}, {}, "inner");
  expectInferError("Gemm", {{DType::F32, {3, 2}}, {DType::F32, {3, 2}}}, {{"transA", Attribute(0)}},
                   "inner");
  expectInferError("Gemm", {{DType::F32, {2, 3}}, {DType::F32, {3, 4}}, {DType::F32, {4, 2}}}, {},
                   "broadcast");
  expectInferError("Gemm", {{DType::F32, {2, 3}}, {DType::F32, {3, 4}}, {DType::F32, {1, 2, 4}}},
                   {}, "broadcast");
  expectInferError("Gemm", {{DType::F32, {2, 3}}, {DType::F32, {3, 4}}, {DType::F64, {4}}}, {},
                   "dtype");
  expectInferError("Gemm", {{DType::F32, {2, 3}}, {DType::F32, {3, 4}}},
                   {{"alpha", Attribute(int64_t{1})}}, "alpha");
}
