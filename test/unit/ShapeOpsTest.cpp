// Reshape Flatten Squeeze Unsqueeze Expand Shape Identity Constant: result shapes, values for
// every dtype, and the errors a bad model must produce.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <limits>
#include <numeric>

using namespace adjoint;

namespace {

Value *ints(Function &f, std::vector<int64_t> v) {
  return buildConstant(f, Tensor::fromVector<int64_t>({(int64_t)v.size()}, v));
}

template <typename T> Tensor iota(Shape s, T first = T(0)) {
  std::vector<T> v((size_t)numElements(s));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<T>(first + static_cast<T>(i));
  return Tensor::fromVector<T>(std::move(s), v);
}

// Runs a function with one input "x" and one output.
Tensor run(Function &f, const Tensor &x) { return interpret(f, {{"x", x}})[0]; }

template <typename T> void expectValues(const Tensor &t, const Shape &s, const std::vector<T> &v) {
  ASSERT_EQ(t.dtype(), dtypeOf<T>());
  ASSERT_EQ(t.shape(), s);
  ASSERT_EQ((size_t)t.numel(), v.size());
  for (size_t i = 0; i < v.size(); ++i)
    EXPECT_EQ(t.data<T>()[i], v[i]) << "at " << i;
}

// Builds op and expects an Error that names the op and contains `what`.
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

// The shape a one-op function with input x:[in] and a constant operand infers.
Shape inferredShape(const std::string &type, Shape in, std::vector<int64_t> operand,
                    AttrMap attrs = {}) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, std::move(in)});
  return buildOp(f, type, {x, ints(f, std::move(operand))}, std::move(attrs))->result()->shape();
}

} // namespace

// ---- Reshape ----------------------------------------------------------------------------------

TEST(Reshape, ShapesFollowOnnxRules) {
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {4, 2, 3}), (Shape{4, 2, 3}));
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {2, -1, 2}), (Shape{2, 6, 2}));
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {-1, 2, 3, 4}), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {2, 0, 4, 1}), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {2, 0, 1, -1}), (Shape{2, 3, 1, 4}));
  EXPECT_EQ(inferredShape("Reshape", {2, 3, 4}, {24}), (Shape{24}));
  EXPECT_EQ(inferredShape("Reshape", {1}, {}), (Shape{}));
  // allowzero=1 keeps a literal 0; allowzero=0 copies the input dimension instead.
  EXPECT_EQ(inferredShape("Reshape", {0, 3, 4}, {3, 4, 0}, {{"allowzero", 1}}), (Shape{3, 4, 0}));
  EXPECT_EQ(inferredShape("Reshape", {4, 3, 4}, {3, 4, 0}), (Shape{3, 4, 4}));
}

TEST(Reshape, KeepsElementOrderForEveryDType) {
  Function f("t");
  Value *x = f.addInput("x", {DType::I64, {2, 3, 4}});
  f.addOutput("y", buildOp(f, "Reshape", {x, ints(f, {4, -1})})->result());
  std::vector<int64_t> want(24);
  std::iota(want.begin(), want.end(), 0);
  expectValues<int64_t>(run(f, iota<int64_t>({2, 3, 4})), {4, 6}, want);

  for (DType t : {DType::F32, DType::F64, DType::I32, DType::Bool}) {
    Function g("t");
    Value *y = g.addInput("x", {t, {2, 2}});
    g.addOutput("y", buildOp(g, "Reshape", {y, ints(g, {4})})->result());
    Tensor in = Tensor::fromVector<double>({2, 2}, {1, 0, 3, 4}).cast(t);
    Tensor out = run(g, in);
    EXPECT_EQ(out.dtype(), t);
    EXPECT_TRUE(out.identical(in.reshaped({4})));
  }
}

TEST(Reshape, InvalidShapesAreErrors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {2, 3, 4}});
  expectBuildError(f, "Reshape", {x, ints(f, {-1, -1, 2})}, {}, "more than one -1");
  expectBuildError(f, "Reshape", {x, ints(f, {5, 5})}, {}, "cannot reshape");
  expectBuildError(f, "Reshape", {x, ints(f, {5, -1})}, {}, "cannot reshape");
  expectBuildError(f, "Reshape", {x, ints(f, {2, -2, 12})}, {}, "invalid dimension");
  expectBuildError(f, "Reshape", {x, ints(f, {2, 3, 4, 0})}, {}, "copies dimension 3");
  expectBuildError(f, "Reshape", {x, ints(f, {0, -1})}, {{"allowzero", 1}}, "both 0 and -1");
  expectBuildError(f, "Reshape", {x, ints(f, {24})}, {{"allowzero", 2}}, "allowzero");
  Value *i32 = buildConstant(f, Tensor::fromVector<int32_t>({1}, {24}));
  expectBuildError(f, "Reshape", {x, i32}, {}, "int64");
  Value *s = f.addInput("s", {DType::I64, {1}});
  expectBuildError(f, "Reshape", {x, s}, {}, "shapes are static");
  expectBuildError(f, "Reshape", {x}, {}, "operands");
}

// ---- Flatten ----------------------------------------------------------------------------------

TEST(Flatten, EveryAxisIncludingNegativeAndRank) {
  Shape in{2, 3, 4, 5};
  std::vector<std::pair<int64_t, Shape>> cases = {
      {0, {1, 120}},  {1, {2, 60}},   {2, {6, 20}},   {3, {24, 5}},  {4, {120, 1}},
      {-1, {24, 5}}, {-2, {6, 20}}, {-3, {2, 60}}, {-4, {1, 120}}};
  for (auto &[axis, want] : cases) {
    Function f("t");
    Value *x = f.addInput("x", {DType::F64, in});
    Op *op = buildOp(f, "Flatten", {x}, {{"axis", axis}});
    EXPECT_EQ(op->result()->shape(), want) << "axis " << axis;
    f.addOutput("y", op->result());
    Tensor out = run(f, iota<double>(in));
    EXPECT_TRUE(out.identical(iota<double>(want)));
  }
  Function f("t");
  Value *x = f.addInput("x", {DType::Bool, {5, 4, 3, 2}});
  EXPECT_EQ(buildOp(f, "Flatten", {x})->result()->shape(), (Shape{5, 24})); // default axis 1
  expectBuildError(f, "Flatten", {x}, {{"axis", 5}}, "out of range");
  expectBuildError(f, "Flatten", {x}, {{"axis", -5}}, "out of range");
}

// ---- Squeeze / Unsqueeze ----------------------------------------------------------------------

TEST(Squeeze, AxesOperandOrAllUnitDims) {
  EXPECT_EQ(inferredShape("Squeeze", {1, 3, 4, 5}, {0}), (Shape{3, 4, 5}));
  EXPECT_EQ(inferredShape("Squeeze", {1, 3, 1, 5}, {-2}), (Shape{1, 3, 5}));
  EXPECT_EQ(inferredShape("Squeeze", {1, 3, 1, 5}, {2, 0}), (Shape{3, 5}));
  EXPECT_EQ(inferredShape("Squeeze", {1, 3, 1, 5}, {}), (Shape{1, 3, 1, 5}));
  Function f("t");
  Value *x = f.addInput("x", {DType::I32, {1, 3, 1, 2}});
  Op *op = buildOp(f, "Squeeze", {x});
  EXPECT_EQ(op->result()->shape(), (Shape{3, 2}));
  f.addOutput("y", op->result());
  expectValues<int32_t>(run(f, iota<int32_t>({1, 3, 1, 2}, 7)), {3, 2}, {7, 8, 9, 10, 11, 12});
  // An absent optional operand (nullptr) also squeezes every unit dimension.
  EXPECT_EQ(buildOp(f, "Squeeze", {x, nullptr})->result()->shape(), (Shape{3, 2}));
}

TEST(Squeeze, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {1, 3, 1}});
  expectBuildError(f, "Squeeze", {x, ints(f, {1})}, {}, "cannot squeeze axis 1");
  expectBuildError(f, "Squeeze", {x, ints(f, {3})}, {}, "out of range");
  expectBuildError(f, "Squeeze", {x, ints(f, {0, -3})}, {}, "repeated");
  Value *a = f.addInput("a", {DType::I64, {1}});
  expectBuildError(f, "Squeeze", {x, a}, {}, "shapes are static");
}

TEST(Unsqueeze, AxesCountInTheOutputRank) {
  Shape in{3, 4, 5};
  EXPECT_EQ(inferredShape("Unsqueeze", in, {0}), (Shape{1, 3, 4, 5}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {1}), (Shape{3, 1, 4, 5}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {2}), (Shape{3, 4, 1, 5}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {3}), (Shape{3, 4, 5, 1}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {-1}), (Shape{3, 4, 5, 1}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {1, 4}), (Shape{3, 1, 4, 5, 1}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {2, 4, 5}), (Shape{3, 4, 1, 5, 1, 1}));
  EXPECT_EQ(inferredShape("Unsqueeze", in, {5, 4, 2}), (Shape{3, 4, 1, 5, 1, 1}));
  EXPECT_EQ(inferredShape("Unsqueeze", {1, 3, 1, 5}, {-2}), (Shape{1, 3, 1, 1, 5}));
  EXPECT_EQ(inferredShape("Unsqueeze", {}, {0}), (Shape{1}));

  Function f("t");
  Value *x = f.addInput("x", {DType::Bool, {2}});
  f.addOutput("y", buildOp(f, "Unsqueeze", {x, ints(f, {0, -1})})->result());
  expectValues<bool>(run(f, Tensor::fromVector<bool>({2}, {true, false})), {1, 2, 1},
                     {true, false});
}

TEST(Unsqueeze, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {3, 4}});
  expectBuildError(f, "Unsqueeze", {x, ints(f, {1, 1})}, {}, "repeated");
  expectBuildError(f, "Unsqueeze", {x, ints(f, {0, -4})}, {}, "repeated");
  expectBuildError(f, "Unsqueeze", {x, ints(f, {3})}, {}, "out of range");
  expectBuildError(f, "Unsqueeze", {x, ints(f, {-4})}, {}, "out of range");
  expectBuildError(f, "Unsqueeze", {x}, {}, "operands");
  Value *a = f.addInput("a", {DType::I64, {1}});
  expectBuildError(f, "Unsqueeze", {x, a}, {}, "shapes are static");
}

// ---- Expand -----------------------------------------------------------------------------------

TEST(Expand, BroadcastsBothWays) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {3, 1}});
  Op *op = buildOp(f, "Expand", {x, ints(f, {2, 1, 6})});
  f.addOutput("y", op->result());
  std::vector<float> want;
  for (int rep = 0; rep < 2; ++rep)
    for (float v : {1.f, 2.f, 3.f})
      want.insert(want.end(), 6, v);
  expectValues<float>(run(f, iota<float>({3, 1}, 1.f)), {2, 3, 6}, want);

  // The requested shape may be shorter or hold 1 where the input is larger.
  EXPECT_EQ(inferredShape("Expand", {3, 1}, {3, 4}), (Shape{3, 4}));
  EXPECT_EQ(inferredShape("Expand", {2, 3}, {1}), (Shape{2, 3}));
  EXPECT_EQ(inferredShape("Expand", {2, 1}, {1, 3}), (Shape{2, 3}));
  EXPECT_EQ(inferredShape("Expand", {1}, {0}), (Shape{0}));
  EXPECT_EQ(inferredShape("Expand", {}, {2, 2}), (Shape{2, 2}));
}

TEST(Expand, IntegerAndBoolData) {
  Function f("t");
  Value *x = f.addInput("x", {DType::Bool, {1, 2}});
  f.addOutput("y", buildOp(f, "Expand", {x, ints(f, {2, 1})})->result());
  expectValues<bool>(run(f, Tensor::fromVector<bool>({1, 2}, {true, false})), {2, 2},
                     {true, false, true, false});
  Function g("t");
  Value *y = g.addInput("x", {DType::I64, {2, 1}});
  g.addOutput("y", buildOp(g, "Expand", {y, ints(g, {2, 3})})->result());
  expectValues<int64_t>(run(g, iota<int64_t>({2, 1}, 5)), {2, 3}, {5, 5, 5, 6, 6, 6});
}

TEST(Expand, Errors) {
  Function f("t");
  Value *x = f.addInput("x", {DType::F32, {2, 3}});
  expectBuildError(f, "Expand", {x, ints(f, {4, 3, 4})}, {}, "cannot expand");
  expectBuildError(f, "Expand", {x, ints(f, {-1, 3})}, {}, "negative");
  Value *s = f.addInput("s", {DType::I64, {2}});
  expectBuildError(f, "Expand", {x, s}, {}, "shapes are static");
}

// ---- Shape ------------------------------------------------------------------------------------

TEST(Shape, StartEndAreClamped) {
  Shape in{3, 4, 5};
  std::vector<std::pair<AttrMap, std::vector<int64_t>>> cases = {
      {{}, {3, 4, 5}},
      {{{"start", 1}}, {4, 5}},
      {{{"end", 1}}, {3}},
      {{{"start", -1}}, {5}},
      {{{"end", -1}}, {3, 4}},
      {{{"start", 1}, {"end", -1}}, {4}},
      {{{"start", 1}, {"end", 2}}, {4}},
      {{{"start", -10}}, {3, 4, 5}},
      {{{"end", 10}}, {3, 4, 5}},
      {{{"start", 2}, {"end", 1}}, {}},
  };
  for (auto &[attrs, want] : cases) {
    Function f("t");
    Value *x = f.addInput("x", {DType::F64, in});
    Op *op = buildOp(f, "Shape", {x}, attrs);
    f.addOutput("y", op->result());
    expectValues<int64_t>(run(f, Tensor(DType::F64, in)), {(int64_t)want.size()}, want);
  }
}

TEST(Shape, FoldsWithoutReadingData) {
  Function f("t");
  Value *x = f.addInput("x", {DType::Bool, {2, 7}});
  Op *op = buildOp(f, "Shape", {x});
  std::optional<std::vector<Tensor>> folded = tryFold(*op);
  ASSERT_TRUE(folded.has_value());
  expectValues<int64_t>((*folded)[0], {2}, {2, 7});
  Tensor placeholder = Tensor::placeholder(DType::F32, {4, 0, 2});
  Function g("t");
  Value *y = g.addInput("x", {DType::F32, {4, 0, 2}});
  Op *op2 = buildOp(g, "Shape", {y}, {{"start", 1}});
  expectValues<int64_t>(evaluateOp(*op2, {&placeholder})[0], {2}, {0, 2});
}

// ---- Identity / Constant ----------------------------------------------------------------------

TEST(Identity, PassesEveryDTypeThrough) {
  for (DType t : {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool}) {
    Function f("t");
    Value *x = f.addInput("x", {t, {1, 1, 2, 2}});
    Op *op = buildOp(f, "Identity", {x});
    EXPECT_EQ(op->result()->type(), x->type());
    f.addOutput("y", op->result());
    Tensor in = Tensor::fromVector<double>({1, 1, 2, 2}, {1, 2, 0, 4}).cast(t);
    EXPECT_TRUE(run(f, in).identical(in));
  }
}

TEST(Constant, ProducesItsValue) {
  Function f("t");
  Tensor v = Tensor::fromVector<float>({2, 2}, {0.5f, -1.f, 2.f, 3.25f});
  Op *op = buildOp(f, "Constant", {}, {{"value", v}});
  EXPECT_EQ(op->result()->type(), (TensorType{DType::F32, {2, 2}}));
  f.addOutput("y", op->result());
  EXPECT_TRUE(interpret(f, {})[0].identical(v));

  Function g("t");
  Tensor b = Tensor::fromVector<bool>({}, {true});
  g.addOutput("y", buildOp(g, "Constant", {}, {{"value", b}})->result());
  EXPECT_TRUE(interpret(g, {})[0].identical(b));
}

TEST(Constant, Errors) {
  Function f("t");
  expectBuildError(f, "Constant", {}, {}, "missing required attribute 'value'");
  expectBuildError(f, "Constant", {}, {{"value", 1.0}}, "value");
  expectBuildError(f, "Constant", {}, {{"value_float", 1.0}}, "unknown attribute");
  Value *x = f.addInput("x", {DType::F32, {1}});
  expectBuildError(f, "Constant", {x}, {{"value", Tensor(DType::F32, {1})}}, "operands");
}
