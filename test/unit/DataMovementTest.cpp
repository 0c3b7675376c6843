// Transpose Concat Slice Split Gather: values against numpy (pasted as literals) or independent
// index loops, every dtype, and the errors a bad model must produce.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

using namespace adjoint;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Value *ints(Function &f, std::vector<int64_t> v) {
  return buildConstant(f, Tensor::fromVector<int64_t>({(int64_t)v.size()}, v));
}

template <typename T> Tensor iota(Shape s, T first = T(0)) {
  std::vector<T> v((size_t)numElements(s));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<T>(first + static_cast<T>(i));
  return Tensor::fromVector<T>(std::move(s), v);
}

template <typename T> void expectValues(const Tensor &t, const Shape &s, const std::vector<T> &v) {
  ASSERT_EQ(t.dtype(), dtypeOf<T>());
  ASSERT_EQ(t.shape(), s);
  ASSERT_EQ((size_t)t.numel(), v.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(t.data<T>()[i], v[i]) << "at " << i;
}

void expectBuildError(Function &f, const std::string &type, std::vector<Value *> operands,
                      AttrMap attrs, const std::string &what, size_t results = 1) {
  try {
    buildOp(f, type, std::move(operands), std::move(attrs), results);
    ADD_FAILURE() << type << " built without error; expected '" << what << "'";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(type), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

// Slices x = arange(24).reshape(2,3,4) (int64) with constant operands; steps/axes may be empty
// to leave them absent.
Tensor slice24(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes,
               std::vector<int64_t> steps) {
  Function f("t");
  Value *x = f.addInput("x", {DType::I64, {2, 3, 4}});
  std::vector<Value *> ops{x, ints(f, starts), ints(f, ends)};
  ops.push_back(axes.empty() ? nullptr : ints(f, axes));
  ops.push_back(steps.empty() ? nullptr : ints(f, steps));
  while (!ops.back())
    ops.pop_back();
  f.addOutput("y", buildOp(f, "Slice", ops)->result());
  return interpret(f, {{"x", iota<int64_t>({2, 3, 4})}})[0];
}

} // namespace

// ---- Transpose --------------------------------------------------------------------------------

TEST(Transpose, DefaultReversesAxes) {
  Function f("t");
  Value *x = f.addInput("x", {DType::I64, {2, 3, 4}});
  f.addOutput("y", buildOp(f, "Transpose", {x})->result());
  expectValues<int64_t>(interpret(f, {{"x", iota<int64_t>({2, 3, 4})}})[0], {4, 3, 2},
                        {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21,
                         2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23});
}

TEST(Transpose, AllPermutationsMatchIndexLoops) {
  std::vector<int64_t> perm{0, 1, 2};
  Shape in{2, 3, 4};
  do {
    Function f("t");
    Value *x = f.addInput("x", {DType::F64, in});
    Op *op = buildOp(f, "Transpose", {x}, {{"perm", perm}});
    f.addOutput("y", op->result());
    Tensor out = interpret(f, {{"x", iota<double>(in)}})[0];
    Shape want{in[perm[0]], in[perm[1]], in[perm[2]]};
    ASSERT_EQ(out.shape(), want);
    int64_t o = 0, idx[3];
    for (idx[0] = 0; idx[0] < want[0]; ++idx[0])
      for (idx[1] = 0; idx[1] < want[1]; ++idx[1])
        for (idx[2] = 0; idx[2] < want[2]; ++idx[2]) {
          int64_t src[3];
          for (int d = 0; d < 3; ++d)
            src[perm[d]] = idx[d];
          EXPECT_EQ(out.data<double>()[o++], (double)(src[0] * 12 + src[1] * 4 + src[2]));
        }
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(Transpose, BoolScalarAndEmpty) {
  Function f("t");
  Value *b = f.addInput("b", {DType::Bool, {1, 2}});
  Value *s = f.addInput("s", {DType::F32, {}});
  Value *e = f.addInput("e", {DType::I32, {0, 3}});
  f.addOutput("b", buildOp(f, "Transpose", {b})->result());
  f.addOutput("s", buildOp(f, "Transpose", {s})->result());
  f.addOutput("e", buildOp(f, "Transpose", {e}, {{"perm", std::vector<int64_t>{1, 0}}})->result());
  auto r = interpret(f, {{"b", Tensor::fromVector<bool>({1, 2}, {true, false})},
                         {"s", Tensor::scalar(2.5f)},
                         {"e", Tensor(DType::I32, {0, 3})}});
  expectValues<bool>(r[0], {2, 1}, {true, false});
  expectValues<float>(r[1], {}, {2.5f});
  expectValues<int32_t>(r[2], {3, 0}, {});
}

TEST(Transpose, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {2, 3, 4}});
  using P = std::vector<int64_t>;
  expectBuildError(f, "Transpose", {x}, {{"perm", P{0, 1}}}, "rank 3");
  expectBuildError(f, "Transpose", {x}, {{"perm", P{0, 1, 1}}}, "not a permutation");
  expectBuildError(f, "Transpose", {x}, {{"perm", P{0, 1, 3}}}, "not a permutation");
  expectBuildError(f, "Transpose", {x}, {{"perm", P{0, 1, -1}}}, "not a permutation");
}

// ---- Concat -----------------------------------------------------------------------------------

TEST(Concat, EveryAxisAndNegative) {
  Tensor a = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::fromVector<float>({2, 2}, {5, 6, 7, 8});
  std::vector<std::tuple<int64_t, Shape, std::vector<float>>> cases = {
      {0, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}},
      {1, {2, 4}, {1, 2, 5, 6, 3, 4, 7, 8}},
      {-1, {2, 4}, {1, 2, 5, 6, 3, 4, 7, 8}},
      {-2, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}},
  };
  for (auto &[axis, shape, want] : cases) {
    Function f("t");
    Value *x = f.addInput("a", {DType::F32, {2, 2}});
    Value *y = f.addInput("b", {DType::F32, {2, 2}});
    f.addOutput("y", buildOp(f, "Concat", {x, y}, {{"axis", axis}})->result());
    expectValues<float>(interpret(f, {{"a", a}, {"b", b}})[0], shape, want);
  }
}

TEST(Concat, ThreeInputsWithAnEmptyOne) {
  Function f("t");
  Value *a = f.addInput("a", {DType::I64, {2, 1}});
  Value *e = f.addInput("e", {DType::I64, {2, 0}});
  Value *b = f.addInput("b", {DType::I64, {2, 2}});
  Op *op = buildOp(f, "Concat", {a, e, b}, {{"axis", 1}});
  f.addOutput("y", op->result());
  auto r = interpret(f, {{"a", iota<int64_t>({2, 1}, 10)},
                         {"e", Tensor(DType::I64, {2, 0})},
                         {"b", iota<int64_t>({2, 2}, 20)}});
  expectValues<int64_t>(r[0], {2, 3}, {10, 20, 21, 11, 22, 23});

  Function g("t");
  Value *x = g.addInput("x", {DType::Bool, {1}});
  Value *y = g.addInput("y", {DType::Bool, {2}});
  g.addOutput("z", buildOp(g, "Concat", {x, y}, {{"axis", 0}})->result());
  auto s = interpret(g, {{"x", Tensor::fromVector<bool>({1}, {true})},
                         {"y", Tensor::fromVector<bool>({2}, {false, true})}});
  expectValues<bool>(s[0], {3}, {true, false, true});
}

TEST(Concat, Errors) {
  Function f("t");
  Value *a = f.addInput("a", {DType::F32, {2, 3}});
  Value *b = f.addInput("b", {DType::F32, {3, 3}});
  Value *c = f.addInput("c", {DType::F64, {2, 3}});
  Value *d = f.addInput("d", {DType::F32, {2, 3, 1}});
  expectBuildError(f, "Concat", {a, b}, {{"axis", 1}}, "does not match");
  expectBuildError(f, "Concat", {a, d}, {{"axis", 0}}, "does not match");
  expectBuildError(f, "Concat", {a, c}, {{"axis", 0}}, "dtype");
  expectBuildError(f, "Concat", {a, a}, {{"axis", 2}}, "out of range");
  expectBuildError(f, "Concat", {a, a}, {}, "missing required attribute 'axis'");
  expectBuildError(f, "Concat", {}, {{"axis", 0}}, "operands");
}

// ---- Slice ------------------------------------------------------------------------------------

TEST(Slice, ForwardWithClamping) {
  // x[0:1, 1:3]
  expectValues<int64_t>(slice24({0, 1}, {1, 3}, {0, 1}, {1, 1}), {1, 2, 4},
                        {4, 5, 6, 7, 8, 9, 10, 11});
  // x[:, 0:-1] with default steps
  expectValues<int64_t>(slice24({0}, {-1}, {1}, {}), {2, 2, 4},
                        {0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 18, 19});
  // Default axes: x[:, :, 3:4]
  expectValues<int64_t>(slice24({0, 0, 3}, {20, 10, 4}, {}, {}), {2, 3, 1},
                        {3, 7, 11, 15, 19, 23});
  // Negative axes
  expectValues<int64_t>(slice24({3}, {kMax}, {-1}, {}), {2, 3, 1}, {3, 7, 11, 15, 19, 23});
  // Start past the end gives an empty slice; an end past the end is clamped.
  expectValues<int64_t>(slice24({1000}, {1000}, {1}, {1}), {2, 0, 4}, {});
  expectValues<int64_t>(slice24({1}, {1000}, {0}, {1}), {1, 3, 4},
                        {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  // x[:, :, 0:4:3]
  expectValues<int64_t>(slice24({0}, {4}, {2}, {3}), {2, 3, 2},
                        {0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23});
}

TEST(Slice, BackwardWithClamping) {
  // numpy x[1::-1, 3:0:-2] with INT64_MIN as "to the front".
  expectValues<int64_t>(slice24({1, 3}, {kMin, 0}, {0, 1}, {-1, -2}), {2, 1, 4},
                        {20, 21, 22, 23, 8, 9, 10, 11});
  // numpy x[:, ::-1, 1:4]
  expectValues<int64_t>(slice24({-1, 1}, {kMin, kMax}, {1, 2}, {-1, 1}), {2, 3, 3},
                        {9, 10, 11, 5, 6, 7, 1, 2, 3, 21, 22, 23, 17, 18, 19, 13, 14, 15});
  // A step of INT64_MIN from INT64_MAX takes the last element only.
  expectValues<int64_t>(slice24({kMax}, {kMin}, {1}, {kMin}), {2, 1, 4},
                        {8, 9, 10, 11, 20, 21, 22, 23});
  // ONNX clamps a backward start to [0, dim-1] (numpy would give an empty slice here).
  expectValues<int64_t>(slice24({-10}, {-20}, {1}, {-1}), {2, 1, 4},
                        {0, 1, 2, 3, 12, 13, 14, 15});
  // Backward with an end at or after the start is empty.
  expectValues<int64_t>(slice24({0}, {2}, {2}, {-1}), {2, 3, 0}, {});
}

TEST(Slice, Int32IndicesAndFloatData) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {5}});
  auto i32 = [&](std::vector<int32_t> v) {
    return buildConstant(f, Tensor::fromVector<int32_t>({(int64_t)v.size()}, v));
  };
  Op *op = buildOp(f, "Slice",
                   {x, i32({std::numeric_limits<int32_t>::max()}),
                    i32({std::numeric_limits<int32_t>::min()}), i32({0}), i32({-2})});
  f.addOutput("y", op->result());
  expectValues<float>(interpret(f, {{"x", iota<float>({5}, 1.f)}})[0], {3}, {5.f, 3.f, 1.f});
}

TEST(Slice, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {4, 5}});
  expectBuildError(f, "Slice", {x, ints(f, {0}), ints(f, {1}), ints(f, {0}), ints(f, {0})}, {},
                   "steps must not be 0");
  expectBuildError(f, "Slice", {x, ints(f, {0, 0}), ints(f, {1, 1}), ints(f, {0, -2})}, {},
                   "repeat");
  expectBuildError(f, "Slice", {x, ints(f, {0}), ints(f, {1}), ints(f, {2})}, {},
                   "out of range");
  expectBuildError(f, "Slice", {x, ints(f, {0, 0}), ints(f, {1})}, {}, "same length");
  Value *fl = buildConstant(f, Tensor::fromVector<float>({1}, {0.f}));
  expectBuildError(f, "Slice", {x, fl, ints(f, {1})}, {}, "int32 or int64");
  Value *i32 = buildConstant(f, Tensor::fromVector<int32_t>({1}, {1}));
  expectBuildError(f, "Slice", {x, ints(f, {0}), i32}, {}, "dtype");
  Value *s = f.addInput("s", {DType::I64, {1}});
  expectBuildError(f, "Slice", {x, s, ints(f, {1})}, {}, "shapes are static");
  expectBuildError(f, "Slice", {x, ints(f, {0})}, {}, "operands");
}

// ---- Split ------------------------------------------------------------------------------------

TEST(Split, EqualAndVariableParts) {
  Tensor in = iota<float>({6}, 1.f);
  {
    Function f("t");
    Value *x = f.addInput("x", {DType::F32, {6}});
    Op *op = buildOp(f, "Split", {x}, {}, 3); // default axis 0
    for (size_t i = 0; i < 3; ++i)
      f.addOutput(std::string(1, char('a' + i)), op->result(i));
    auto r = interpret(f, {{"x", in}});
    expectValues<float>(r[0], {2}, {1, 2});
    expectValues<float>(r[1], {2}, {3, 4});
    expectValues<float>(r[2], {2}, {5, 6});
  }
  {
    Function f("t");
    Value *x = f.addInput("x", {DType::F32, {6}});
    Op *op = buildOp(f, "Split", {x, ints(f, {2, 4})}, {{"axis", 0}}, 2);
    f.addOutput("a", op->result(0));
    f.addOutput("b", op->result(1));
    auto r = interpret(f, {{"x", in}});
    expectValues<float>(r[0], {2}, {1, 2});
    expectValues<float>(r[1], {4}, {3, 4, 5, 6});
  }
}

TEST(Split, TwoDimensionalAndNegativeAxis) {
  Tensor in = iota<int64_t>({2, 6}, 1);
  for (int64_t axis : {1, -1}) {
    Function f("t");
    Value *x = f.addInput("x", {DType::I64, {2, 6}});
    Op *op = buildOp(f, "Split", {x, ints(f, {2, 0, 4})}, {{"axis", axis}}, 3);
    for (size_t i = 0; i < 3; ++i)
      f.addOutput(std::string(1, char('a' + i)), op->result(i));
    auto r = interpret(f, {{"x", in}});
    expectValues<int64_t>(r[0], {2, 2}, {1, 2, 7, 8});
    expectValues<int64_t>(r[1], {2, 0}, {});
    expectValues<int64_t>(r[2], {2, 4}, {3, 4, 5, 6, 9, 10, 11, 12});
  }
  Function f("t");
  Value *x = f.addInput("x", {DType::Bool, {2, 2}});
  Op *op = buildOp(f, "Split", {x}, {{"axis", 0}}, 2);
  f.addOutput("a", op->result(0));
  f.addOutput("b", op->result(1));
  auto r = interpret(f, {{"x", Tensor::fromVector<bool>({2, 2}, {true, false, false, true})}});
  expectValues<bool>(r[0], {1, 2}, {true, false});
  expectValues<bool>(r[1], {1, 2}, {false, true});
}

TEST(Split, ZeroSizeSplits) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F64, {0}});
  Op *op = buildOp(f, "Split", {x, ints(f, {0, 0, 0})}, {}, 3);
  for (size_t i = 0; i < 3; ++i)
    f.addOutput(std::string(1, char('a' + i)), op->result(i));
  for (const Tensor &t : interpret(f, {{"x", Tensor(DType::F64, {0})}}))
    expectValues<double>(t, {0}, {});
}

TEST(Split, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {2, 5}});
  expectBuildError(f, "Split", {x}, {{"axis", 1}}, "equal parts", 2);
  expectBuildError(f, "Split", {x, ints(f, {2, 2})}, {{"axis", 1}}, "sums to 4", 2);
  expectBuildError(f, "Split", {x, ints(f, {2, 3})}, {{"axis", 1}}, "entries for 3", 3);
  expectBuildError(f, "Split", {x, ints(f, {6, -1})}, {{"axis", 1}}, "invalid size", 2);
  expectBuildError(f, "Split", {x}, {{"axis", 2}}, "out of range", 2);
  Value *s = f.addInput("s", {DType::I64, {2}});
  expectBuildError(f, "Split", {x, s}, {{"axis", 1}}, "shapes are static", 2);
}

// ---- Gather -----------------------------------------------------------------------------------

TEST(Gather, AxesAndIndexRanks) {
  Tensor data = iota<float>({3, 4});
  {
    Function f("t");
    Value *x = f.addInput("x", {DType::F32, {3, 4}});
    Value *i = buildConstant(f, Tensor::fromVector<int64_t>({2, 2}, {0, 2, 1, 0}));
    f.addOutput("y", buildOp(f, "Gather", {x, i})->result());
    expectValues<float>(interpret(f, {{"x", data}})[0], {2, 2, 4},
                        {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3});
  }
  for (int64_t axis : {1, -1}) {
    Function f("t");
    Value *x = f.addInput("x", {DType::F32, {3, 4}});
    Value *i = f.addInput("i", {DType::I32, {2, 2}});
    f.addOutput("y", buildOp(f, "Gather", {x, i}, {{"axis", axis}})->result());
    auto r = interpret(f, {{"x", data}, {"i", Tensor::fromVector<int32_t>({2, 2}, {0, -1, 1, 0})}});
    expectValues<float>(r[0], {3, 2, 2}, {0, 3, 1, 0, 4, 7, 5, 4, 8, 11, 9, 8});
  }
  {
    // A scalar index removes the axis.
    Function f("t");
    Value *x = f.addInput("x", {DType::F32, {3, 4}});
    Value *i = buildConstant(f, Tensor::scalar<int64_t>(2));
    f.addOutput("y", buildOp(f, "Gather", {x, i}, {{"axis", 1}})->result());
    expectValues<float>(interpret(f, {{"x", data}})[0], {3}, {2, 6, 10});
  }
}

TEST(Gather, NegativeIndicesAndOtherDTypes) {
  Function f("t");
  Value *x = f.addInput("x", {DType::I64, {10}});
  Value *i = buildConstant(f, Tensor::fromVector<int64_t>({3}, {0, -9, -10}));
  f.addOutput("y", buildOp(f, "Gather", {x, i})->result());
  expectValues<int64_t>(interpret(f, {{"x", iota<int64_t>({10})}})[0], {3}, {0, 1, 0});

  Function g("t");
  Value *b = g.addInput("x", {DType::Bool, {3}});
  Value *j = buildConstant(g, Tensor::fromVector<int32_t>({2}, {2, 2}));
  g.addOutput("y", buildOp(g, "Gather", {b, j})->result());
  expectValues<bool>(interpret(g, {{"x", Tensor::fromVector<bool>({3}, {false, false, true})}})[0],
                     {2}, {true, true});
}

TEST(Gather, OutOfRangeIndexIsAnErrorNamingTheOp) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {3}});
  Value *i = f.addInput("i", {DType::I64, {1}});
  Op *op = buildOp(f, "Gather", {x, i}, {}, 1, nullptr, "", "emb");
  f.addOutput("y", op->result());
  for (int64_t bad : {3, -4}) {
    try {
      interpret(f, {{"x", iota<float>({3})}, {"i", Tensor::fromVector<int64_t>({1}, {bad})}});
      ADD_FAILURE() << "index " << bad << " was accepted";
    } catch (const Error &e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("Gather 'emb'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
    }
  }
  // Constant indices are checked when the op is built.
  expectBuildError(f, "Gather", {x, ints(f, {5})}, {}, "index 5 is out of range");
  Value *fi = f.addInput("fi", {DType::F32, {1}});
  expectBuildError(f, "Gather", {x, fi}, {}, "int32 or int64");
  Value *s = f.addInput("s", {DType::F32, {}});
  expectBuildError(f, "Gather", {s, i}, {}, "out of range");
  expectBuildError(f, "Gather", {x, i}, {{"axis", 1}}, "out of range");
}
