// adjoint.SliceGrad and adjoint.GatherGrad (Ops/ShapeBackward.cpp) against the gradient
// computed another way: the forward Slice/Gather run on a tensor of element positions says
// where each dy element must land, and an independent loop scatters (or scatter-adds) it there.
// The slice sweep covers every clamping case of the window both share (Ops/SliceWindow.h). Then the rules of Ops/ShapeGrad.cpp through the autodiff
// pass (the embedding gradient), and the errors a bad graph must produce.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <set>

using namespace adjoint;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// An index list as a constant of the given integer dtype.
Value *indexConst(Function &f, const std::vector<int64_t> &v, DType t = DType::I64) {
  Tensor c(t, {(int64_t)v.size()});
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::I64)
      c.data<int64_t>()[i] = v[i];
    else
      c.data<int32_t>()[i] = (int32_t)v[i];
  }
  return buildConstant(f, std::move(c));
}

Value *shapeConst(Function &f, const Shape &s) { return indexConst(f, s); }

Tensor positions(const Shape &s) {
  Tensor t(DType::I64, s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<int64_t>()[i] = i;
  return t;
}

Tensor randomTensor(DType t, const Shape &s, std::mt19937 &rng) {
  Tensor r(t, s);
  std::uniform_int_distribution<int> d(-9, 9);
  for (int64_t i = 0; i < r.numel(); ++i)
    r.setDouble(i, d(rng) + (isFloat(t) ? 0.25 : 0.0));
  return r;
}

void expectSame(const Tensor &got, const Tensor &want, const std::string &what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what << ": " << shapeStr(got.shape());
  for (int64_t i = 0; i < want.numel(); ++i)
    ASSERT_EQ(got.getDouble(i), want.getDouble(i)) << what << " at " << i;
}

struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps; // axes/steps empty: absent
  DType index = DType::I64;
  bool hasAxes, hasSteps;
  std::string str() const {
    return "starts " + shapeStr(starts) + " ends " + shapeStr(ends) +
           (hasAxes ? " axes " + shapeStr(axes) : "") + (hasSteps ? " steps " + shapeStr(steps) : "") +
           " " + std::string(dtypeName(index));
  }
};

std::vector<Value *> sliceOperands(Function &f, const SliceArgs &a) {
  std::vector<Value *> ops{indexConst(f, a.starts, a.index), indexConst(f, a.ends, a.index)};
  if (a.hasAxes || a.hasSteps)
    ops.push_back(a.hasAxes ? indexConst(f, a.axes, a.index) : nullptr);
  if (a.hasSteps)
    ops.push_back(indexConst(f, a.steps, a.index));
  return ops;
}

// Checks SliceGrad(dy) against dy scattered to the positions the forward Slice reads.
void checkSliceGrad(const Shape &shape, const SliceArgs &a, DType dt, std::mt19937 &rng) {
  Function fw("fw");
  Value *x = fw.addInput("x", {DType::I64, shape});
  std::vector<Value *> ops{x};
  for (Value *v : sliceOperands(fw, a))
    ops.push_back(v);
  fw.addOutput("y", buildOp(fw, "Slice", ops)->result());
  Tensor pos = interpret(fw, {{"x", positions(shape)}})[0];

  Tensor dy = randomTensor(dt, pos.shape(), rng);
  Tensor want(dt, shape);
  std::set<int64_t> seen;
  for (int64_t k = 0; k < pos.numel(); ++k) {
    int64_t p = pos.data<int64_t>()[k];
    ASSERT_TRUE(seen.insert(p).second) << a.str() << ": a slice read position " << p << " twice";
    want.setDouble(p, dy.getDouble(k));
  }

  Function bw("bw");
  std::vector<Value *> bops{bw.addInput("dy", {dt, dy.shape()}), shapeConst(bw, shape)};
  for (Value *v : sliceOperands(bw, a))
    bops.push_back(v);
  bw.addOutput("dx", buildOp(bw, "SliceGrad", bops, {}, 1, nullptr, "adjoint")->result());
  expectSame(interpret(bw, {{"dy", dy}})[0], want, a.str());
}

// Checks GatherGrad(dy) against dy scatter-added to the positions the forward Gather reads.
void checkGatherGrad(const Shape &shape, int64_t axis, const Tensor &idx, DType dt,
                     std::mt19937 &rng) {
  std::string what = "shape " + shapeStr(shape) + " axis " + std::to_string(axis) + " indices " +
                     TensorType{idx.dtype(), idx.shape()}.str();
  Function fw("fw");
  Value *x = fw.addInput("x", {DType::I64, shape});
  Value *ix = buildConstant(fw, idx);
  fw.addOutput("y", buildOp(fw, "Gather", {x, ix}, {{"axis", axis}})->result());
  Tensor pos = interpret(fw, {{"x", positions(shape)}})[0];

  Tensor dy = randomTensor(dt, pos.shape(), rng);
  Tensor want(dt, shape);
  for (int64_t k = 0; k < pos.numel(); ++k) {
    int64_t p = pos.data<int64_t>()[k];
    want.setDouble(p, want.getDouble(p) + dy.getDouble(k));
  }

  // Indices as a run-time input here, so the kernel (not inference) handles them.
  Function bw("bw");
  Value *d = bw.addInput("dy", {dt, dy.shape()});
  Value *i = bw.addInput("i", {idx.dtype(), idx.shape()});
  bw.addOutput("dx", buildOp(bw, "GatherGrad", {d, i, shapeConst(bw, shape)}, {{"axis", axis}}, 1,
                             nullptr, "adjoint")
                         ->result());
  expectSame(interpret(bw, {{"dy", dy}, {"i", idx}})[0], want, what);
}

void expectBuildError(Function &f, const std::string &type, std::vector<Value *> operands,
                      AttrMap attrs, const std::string &what) {
  try {
    buildOp(f, type, std::move(operands), std::move(attrs), 1, nullptr, "adjoint");
    ADD_FAILURE() << type << " built without error; expected '" << what << "'";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(type), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

// Runs autodiff on a function whose first output is the loss; returns its outputs.
std::vector<Tensor> differentiate(Function &f) {
  PassContext ctx;
  runAutodiff(f, ctx);
  return interpret(f, {});
}

bool hasOp(const Function &f, const std::string &domain, const std::string &type) {
  for (const auto &op : f.ops())
    if (op->domain() == domain && op->opType() == type)
      return true;
  return false;
}

} // namespace

// ---- SliceGrad --------------------------------------------------------------------------------

TEST(SliceGrad, EveryClampingCaseOnOneAxisMatchesTheForwardSlice) {
  std::mt19937 rng(7);
  const std::vector<int64_t> bounds{kMin, -100, -5, -4, -1, 0, 1, 2, 3, 4, 5, 100, kMax};
  const std::vector<int64_t> steps{1, 2, 3, 7, kMax, -1, -2, -3, kMin};
  Shape shape{2, 3, 4};
  int checked = 0;
  for (int64_t axis = -3; axis < 3; ++axis)
    for (int64_t s : bounds)
      for (int64_t e : bounds)
        for (int64_t st : steps) {
          checkSliceGrad(shape, {{s}, {e}, {axis}, {st}, DType::I64, true, true}, DType::F64, rng);
          ++checked;
          if (::testing::Test::HasFatalFailure())
            return;
        }
  EXPECT_EQ(checked, 6 * 13 * 13 * 9);
}

TEST(SliceGrad, SeveralAxesAbsentOperandsAndInt32) {
  std::mt19937 rng(8);
  Shape shape{3, 4, 5};
  std::vector<SliceArgs> cases = {
      {{1, 0}, {3, 3}, {}, {}, DType::I64, false, false},           // axes and steps absent
      {{0, 1, 4}, {2, 100, 0}, {}, {}, DType::I64, false, false},  // every axis, default axes
      {{1}, {-1}, {-2}, {}, DType::I64, true, false},              // steps absent
      {{0, 4}, {3, 0}, {}, {1, -2}, DType::I64, false, true},      // axes absent, steps given
      {{-1, 3, 0}, {kMin, kMin, 5}, {0, -2, 2}, {-1, -2, 2}, DType::I64, true, true},
      {{2, -1}, {0, -5}, {0, -1}, {-1, -2}, DType::I32, true, true},
      {{1}, {3}, {1}, {}, DType::I32, true, false},
      {{5}, {1}, {2}, {1}, DType::I32, true, true}, // empty
  };
  for (const auto &a : cases) {
    checkSliceGrad(shape, a, DType::F64, rng);
    checkSliceGrad(shape, a, DType::F32, rng);
  }
}

TEST(SliceGrad, MovesElementsOfEveryDType) {
  std::mt19937 rng(9);
  SliceArgs a{{-1}, {kMin}, {1}, {-2}, DType::I64, true, true};
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64})
    checkSliceGrad({2, 5}, a, t, rng);
}

TEST(SliceGrad, Errors) {
  Function f("t");
  Value *dy = f.addInput("dy", {DType::F32, {2, 2}});
  Value *shape = shapeConst(f, {4, 5});
  auto ix = [&](std::vector<int64_t> v) { return indexConst(f, v); };
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0}), ix({2}), ix({1})}, {},
                   "dy has shape [2,2] but the slice of [4,5] has shape [4,2]");
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0}), ix({2}), ix({0}), ix({0})}, {},
                   "steps must not be 0");
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0, 0}), ix({2})}, {}, "same length");
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0}), ix({2}), ix({2})}, {}, "out of range");
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0}), indexConst(f, {2}, DType::I32)}, {},
                   "dtype");
  Value *s = f.addInput("s", {DType::I64, {2}});
  expectBuildError(f, "SliceGrad", {dy, s, ix({0}), ix({2})}, {}, "shapes are static");
  expectBuildError(f, "SliceGrad", {dy, shapeConst(f, {-1, 2}), ix({0}), ix({2})}, {},
                   "negative dimension");
  expectBuildError(f, "SliceGrad", {dy, shape, ix({0})}, {}, "operands");
}

// ---- GatherGrad -------------------------------------------------------------------------------

TEST(GatherGrad, EveryAxisIndexRankAndDTypeMatchesTheForwardGather) {
  std::mt19937 rng(10);
  Shape shape{2, 3, 4};
  for (int64_t axis = -3; axis < 3; ++axis) {
    int64_t dim = shape[axis < 0 ? axis + 3 : axis];
    std::uniform_int_distribution<int64_t> pick(-dim, dim - 1);
    for (Shape ishape : {Shape{}, Shape{1}, Shape{5}, Shape{2, 3}})
      for (DType it : {DType::I64, DType::I32}) {
        Tensor idx(it, ishape);
        for (int64_t i = 0; i < idx.numel(); ++i)
          idx.setDouble(i, (double)pick(rng));
        for (DType dt : {DType::F64, DType::F32, DType::I64, DType::I32})
          checkGatherGrad(shape, axis, idx, dt, rng);
      }
  }
}

TEST(GatherGrad, RepeatedAndNegativeIndicesAccumulate) {
  // Rows 1 and -2 of a [3, 2] table are the same row: it receives all three slabs.
  Function f("t");
  Value *dy = f.addInput("dy", {DType::F64, {3, 2}});
  Value *i = buildConstant(f, Tensor::fromVector<int64_t>({3}, {1, -2, 1}));
  f.addOutput("dx", buildOp(f, "GatherGrad", {dy, i, shapeConst(f, {3, 2})}, {}, 1, nullptr,
                            "adjoint")
                        ->result());
  Tensor got =
      interpret(f, {{"dy", Tensor::fromVector<double>({3, 2}, {1, 2, 10, 20, 100, 200})}})[0];
  expectSame(got, Tensor::fromVector<double>({3, 2}, {0, 0, 111, 222, 0, 0}), "accumulate");
}

TEST(GatherGrad, Errors) {
  Function f("t");
  Value *dy = f.addInput("dy", {DType::F32, {2, 3}});
  Value *i = f.addInput("i", {DType::I64, {2}});
  Value *shape = shapeConst(f, {4, 3});
  expectBuildError(f, "GatherGrad", {dy, i, shapeConst(f, {4, 2})}, {},
                   "dy has shape [2,3] but gathering [2] indices from [4,2] along axis 0 gives "
                   "[2,2]");
  expectBuildError(f, "GatherGrad", {dy, buildConstant(f, Tensor::fromVector<int64_t>({2}, {0, 4})), shape},
                   {}, "index 4 is out of range for axis 0 of size 4");
  expectBuildError(f, "GatherGrad", {dy, i, shape}, {{"axis", 2}}, "out of range for rank 2");
  Value *fi = f.addInput("fi", {DType::F32, {2}});
  expectBuildError(f, "GatherGrad", {dy, fi, shape}, {}, "int32 or int64");
  Value *b = f.addInput("b", {DType::Bool, {2, 3}});
  expectBuildError(f, "GatherGrad", {b, i, shape}, {}, "numeric");
  expectBuildError(f, "GatherGrad", {dy, i, i}, {}, "shapes are static");

  // An index known only at run time is checked by the kernel, naming the op.
  Function g("t");
  Value *gdy = g.addInput("dy", {DType::F32, {2, 3}});
  Value *gi = g.addInput("i", {DType::I64, {2}});
  g.addOutput("dx", buildOp(g, "GatherGrad", {gdy, gi, shapeConst(g, {4, 3})}, {}, 1, nullptr,
                            "adjoint", "emb_grad")
                        ->result());
  try {
    interpret(g, {{"dy", Tensor(DType::F32, {2, 3})},
                  {"i", Tensor::fromVector<int64_t>({2}, {0, -5})}});
    ADD_FAILURE() << "out-of-range index ran";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("GatherGrad 'emb_grad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("index -5 is out of range"), std::string::npos) << msg;
  }
}

// ---- the rules, through the autodiff pass -----------------------------------------------------

TEST(ShapeGradRules, EmbeddingGradientCountsEachTokenId) {
  // loss = sum(Gather(table, ids)): row r of the gradient is (times r occurs in ids) everywhere.
  for (DType it : {DType::I64, DType::I32}) {
    Function f("emb");
    Shape tshape{6, 4};
    Value *table = f.addParam("table", {DType::F64, tshape}, Tensor(DType::F64, tshape));
    std::vector<int64_t> ids{3, 1, 3, 0, -3, 5, 1, 3, 3, 0};
    Tensor idt(it, {2, 5});
    for (size_t k = 0; k < ids.size(); ++k)
      idt.setDouble((int64_t)k, (double)ids[k]);
    Value *e = buildOp(f, "Gather", {table, buildConstant(f, idt)})->result();
    Value *loss = buildOp(f, "ReduceSum", {e, shapeConst(f, {0, 1, 2})}, {{"keepdims", 0}})->result();
    f.addOutput("loss", loss);
    std::vector<Tensor> out = differentiate(f);
    EXPECT_TRUE(hasOp(f, "adjoint", "GatherGrad"));
    ASSERT_EQ(out.size(), 2u);
    std::vector<double> counts{2, 2, 0, 5, 0, 1}; // -3 is row 3
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c = 0; c < 4; ++c)
        EXPECT_EQ(out[1].getDouble(r * 4 + c), counts[r]) << "row " << r << " col " << c;
  }
}

TEST(ShapeGradRules, SliceGradientIsZeroOutsideTheSlice) {
  Function f("s");
  Value *x = f.addParam("x", {DType::F64, {5}}, Tensor(DType::F64, {5}));
  // x[::-2] = x[4], x[2], x[0]
  Value *y = buildOp(f, "Slice",
                     {x, indexConst(f, {-1}, DType::I32), indexConst(f, {-100}, DType::I32),
                      nullptr, indexConst(f, {-2}, DType::I32)})
                 ->result();
  Value *w = buildConstant(f, Tensor::fromVector<double>({3}, {1, 2, 3}));
  Value *p = buildOp(f, "Mul", {y, w})->result();
  f.addOutput("loss", buildOp(f, "ReduceSum", {p, shapeConst(f, {0})}, {{"keepdims", 0}})->result());
  std::vector<Tensor> out = differentiate(f);
  EXPECT_TRUE(hasOp(f, "adjoint", "SliceGrad"));
  expectSame(out[1], Tensor::fromVector<double>({5}, {3, 0, 2, 0, 1}), "grad.x");
}
