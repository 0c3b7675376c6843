// The JIT against the interpreter, op by op: every elementwise, logic and shape op the code
// generator lowers, in f32 and f64 (and the integer and bool types the op takes), over sizes that
// leave vector remainders (1, 7, 17, 33, 1000), broadcast shapes, and sizes large enough to be
// split across threads.
#include "JitTestSupport.h"

#include <iostream>
#include <set>

using namespace adjoint;
using namespace adjoint::testing;

namespace {

const std::vector<Shape> kSizes = {{}, {1}, {7}, {17}, {33}, {1000}, {3, 7, 33}};
const std::vector<DType> kFloats = {DType::F32, DType::F64};
const std::vector<DType> kNumeric = {DType::F32, DType::F64, DType::I32, DType::I64};

void checkUnary(const std::string &op, const std::vector<DType> &types, AttrMap attrs = {}) {
  std::mt19937 rng(1);
  for (DType t : types)
    for (const Shape &s : kSizes) {
      std::vector<TensorType> ts = {{t, s}};
      OneOp o(op, ts, attrs, rng);
      expectJitMatches(*o.f, o.inputs, describe(op, ts));
    }
}

// Pairs of shapes that broadcast: equal, trailing vector, scalar, both sides, size-1 dims.
const std::vector<std::pair<Shape, Shape>> kBroadcasts = {
    {{7}, {7}},          {{1000}, {1000}},   {{17, 33}, {33}},    {{33}, {17, 33}},
    {{}, {1000}},        {{1000}, {}},       {{33, 1}, {1, 17}},  {{4, 1, 5}, {3, 1}},
    {{2, 3, 4, 5}, {4, 1}}, {{1}, {7}},       {{64, 512}, {512}},  {{7, 1, 1}, {1, 17, 33}}};

void checkBinary(const std::string &op, const std::vector<DType> &types) {
  std::mt19937 rng(2);
  for (DType t : types)
    for (const auto &[a, b] : kBroadcasts) {
      std::vector<TensorType> ts = {{t, a}, {t, b}};
      OneOp o(op, ts, {}, rng);
      expectJitMatches(*o.f, o.inputs, describe(op, ts));
    }
}

} // namespace

TEST(JitElementwise, Arithmetic) {
  for (const char *op : {"Add", "Sub", "Mul", "Div"})
    checkBinary(op, kNumeric);
}

TEST(JitElementwise, IntegerDivisionByZeroAndMinusOne) {
  for (DType t : {DType::I32, DType::I64}) {
    Module m;
    Function *f = m.addFunction("f");
    Value *a = f->addInput("a", {t, {6}});
    Value *b = f->addInput("b", {t, {6}});
    f->addOutput("q", buildOp(*f, "Div", {a, b})->result());
    int64_t lo = t == DType::I32 ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int64_t>::min();
    Tensor ta(t, {6}), tb(t, {6});
    int64_t as[] = {7, -7, lo, lo, 5, 0}, bs[] = {0, 2, -1, 1, -1, 0};
    for (int i = 0; i < 6; ++i) {
      ta.setDouble(i, 0);
      if (t == DType::I32) {
        ta.data<int32_t>()[i] = (int32_t)as[i];
        tb.data<int32_t>()[i] = (int32_t)bs[i];
      } else {
        ta.data<int64_t>()[i] = as[i];
        tb.data<int64_t>()[i] = bs[i];
      }
    }
    expectJitMatches(*f, {{"a", ta}, {"b", tb}}, std::string("Div ") + std::string(dtypeName(t)));
  }
}

TEST(JitElementwise, Pow) {
  std::mt19937 rng(3);
  for (DType base : kNumeric)
    for (DType exp : kNumeric)
      for (const auto &[a, b] : std::vector<std::pair<Shape, Shape>>{{{33}, {33}}, {{17, 7}, {7}}, {{1000}, {}}}) {
        std::vector<TensorType> ts = {{base, a}, {exp, b}};
        Module m;
        Function *f = m.addFunction("f");
        Value *x = f->addInput("x", ts[0]);
        Value *y = f->addInput("y", ts[1]);
        f->addOutput("z", buildOp(*f, "Pow", {x, y})->result());
        // Small exponents keep integer powers in range; negative ones take the double path.
        expectJitMatches(*f, {{"x", uniformTensor(base, a, rng, -6, 6)}, {"y", uniformTensor(exp, b, rng, -3, 4)}},
                         describe("Pow", ts));
      }
}

TEST(JitElementwise, UnaryMath) {
  for (const char *op : {"Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Sigmoid"})
    checkUnary(op, kFloats);
  for (const char *op : {"Neg", "Abs", "Relu", "Erf"})
    checkUnary(op, kNumeric);
}

TEST(JitElementwise, Activations) {
  checkUnary("LeakyRelu", kFloats);
  checkUnary("LeakyRelu", kFloats, {{"alpha", Attribute(0.3)}});
  checkUnary("Elu", kFloats);
  checkUnary("Elu", kFloats, {{"alpha", Attribute(0.5)}});
}

TEST(JitElementwise, Clip) {
  std::mt19937 rng(4);
  for (DType t : kNumeric)
    for (int bounds = 0; bounds < 4; ++bounds)
      for (const Shape &s : kSizes) {
        Module m;
        Function *f = m.addFunction("f");
        Value *x = f->addInput("x", {t, s});
        std::map<std::string, Tensor> in{{"x", randomTensor(t, s, rng)}};
        Value *lo = nullptr, *hi = nullptr;
        if (bounds & 1) {
          lo = f->addInput("lo", {t, {}});
          in["lo"] = uniformTensor(t, {}, rng, -2, 0);
        }
        if (bounds & 2) {
          hi = f->addInput("hi", {t, {1}});
          in["hi"] = uniformTensor(t, {1}, rng, 0, 2);
        }
        f->addOutput("y", buildOp(*f, "Clip", {x, lo, hi})->result());
        expectJitMatches(*f, in, "Clip " + TensorType{t, s}.str() + " bounds " + std::to_string(bounds));
      }
}

TEST(JitLogic, Comparisons) {
  checkBinary("Less", kNumeric);
  checkBinary("Greater", kNumeric);
  checkBinary("Equal", {DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool});
}

TEST(JitLogic, WhereAndNot) {
  checkUnary("Not", {DType::Bool});
  std::mt19937 rng(5);
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool})
    for (const auto &shapes : std::vector<std::vector<Shape>>{
             {{33}, {33}, {33}}, {{17, 1}, {33}, {17, 33}}, {{}, {7}, {1}}, {{1000}, {1000}, {}}}) {
      std::vector<TensorType> ts = {{DType::Bool, shapes[0]}, {t, shapes[1]}, {t, shapes[2]}};
      OneOp o("Where", ts, {}, rng);
      expectJitMatches(*o.f, o.inputs, describe("Where", ts));
    }
}

TEST(JitLogic, CastEveryPair) {
  std::mt19937 rng(6);
  const std::pair<DType, int64_t> codes[] = {{DType::F32, 1}, {DType::F64, 11}, {DType::I64, 7},
                                             {DType::I32, 6}, {DType::Bool, 9}};
  for (auto [from, unused] : codes)
    for (auto [to, code] : codes)
      for (const Shape &s : {Shape{17}, Shape{1000}}) {
        std::vector<TensorType> ts = {{from, s}};
        OneOp o("Cast", ts, {{"to", Attribute(code)}}, rng);
        // Large magnitudes exercise the out-of-range conversions.
        if (isFloat(from))
          for (int64_t i = 0; i < o.inputs["x0"].numel(); i += 5)
            o.inputs["x0"].setDouble(i, (i % 2 ? 1 : -1) * std::ldexp(1.0, (int)(i % 70)));
        expectJitMatches(*o.f, o.inputs, describe("Cast to " + std::string(dtypeName(to)), ts));
      }
}

TEST(JitShape, ExpandAndAliases) {
  std::mt19937 rng(7);
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {3, 1, 5}});
  Value *e = buildOp(*f, "Expand", {x, buildConstant(*f, Tensor::fromVector<int64_t>({4}, {2, 3, 4, 5}))})->result();
  Value *r = buildOp(*f, "Reshape", {e, buildConstant(*f, Tensor::fromVector<int64_t>({2}, {6, 20}))})->result();
  Value *fl = buildOp(*f, "Flatten", {e}, {{"axis", Attribute(int64_t{3})}})->result();
  Value *u = buildOp(*f, "Unsqueeze", {r, buildConstant(*f, Tensor::fromVector<int64_t>({1}, {0}))})->result();
  Value *sq = buildOp(*f, "Squeeze", {u})->result();
  Value *id = buildOp(*f, "Identity", {sq})->result();
  Value *sg = buildOp(*f, "StopGradient", {id}, {}, 1, nullptr, "adjoint")->result();
  Value *sh = buildOp(*f, "Shape", {e})->result();
  Value *neg = buildOp(*f, "Neg", {sg})->result();
  f->addOutput("expanded", e);
  f->addOutput("flat", fl);
  f->addOutput("neg", neg);
  f->addOutput("alias", sg);
  f->addOutput("alias_again", sg); // the same value twice: the second is a copy
  f->addOutput("input", x);        // an argument: copied
  f->addOutput("shape", sh);       // known at compile time: constant data
  for (bool plan : {true, false}) {
    JitOptions opts;
    opts.lowering.memoryPlan = plan;
    expectJitMatches(*f, {{"x", randomTensor(DType::F32, {3, 1, 5}, rng)}},
                     plan ? "with memory plan" : "without memory plan", {}, opts);
  }
}

TEST(JitShape, ConstantsAsData) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F64, {4, 3}});
  Value *c = buildConstant(*f, Tensor::fromVector<double>({3}, {1.5, -2.0, 0.25}));
  Value *s = buildConstant(*f, Tensor::scalar<double>(3.0));
  Value *y = buildOp(*f, "Mul", {buildOp(*f, "Add", {x, c})->result(), s})->result();
  f->addOutput("y", y);
  f->addOutput("c", c);
  std::mt19937 rng(8);
  expectJitMatches(*f, {{"x", randomTensor(DType::F64, {4, 3}, rng)}}, "constants");
}

TEST(JitThreads, LargeLoopsSplitTheSameWay) {
  std::mt19937 rng(9);
  for (int threads : {1, 2, 3, 8}) {
    setJitThreads(threads);
    for (const auto &[a, b] : std::vector<std::pair<Shape, Shape>>{
             {{1 << 18}, {1 << 18}}, {{257, 1031}, {1031}}, {{3, 100003}, {3, 1}}}) {
      std::vector<TensorType> ts = {{DType::F32, a}, {DType::F32, b}};
      OneOp o("Mul", ts, {}, rng);
      expectJitMatches(*o.f, o.inputs, describe("Mul", ts) + " threads " + std::to_string(threads));
      OneOp s("Sigmoid", {ts[0]}, {}, rng);
      expectJitMatches(*s.f, s.inputs, describe("Sigmoid", ts) + " threads " + std::to_string(threads));
    }
  }
  setJitThreads(0);
  EXPECT_GE(jitThreads(), 1);
}

TEST(JitErrors, InputsAreCheckedAsTheInterpreterDoes) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {2}});
  Value *w = f->addParam("w", {DType::F32, {2}}, Tensor::fromVector<float>({2}, {2.f, -3.f}));
  f->addOutput("y", buildOp(*f, "Mul", {x, w})->result());
  auto c = compileFunction(*f);
  auto message = [&](const std::map<std::string, Tensor> &in) -> std::string {
    try {
      c->run(in);
    } catch (const Error &e) {
      return e.what();
    }
    return "";
  };
  Tensor two = Tensor::fromVector<float>({2}, {1.f, 1.f});
  EXPECT_NE(message({}).find("input 'x'"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor::fromVector<float>({3}, {1, 1, 1})}}).find("f32[3]"), std::string::npos);
  EXPECT_NE(message({{"x", two}, {"nope", two}}).find("no input named 'nope'"), std::string::npos);
  // A parameter given as an input overrides its data.
  auto out = c->run({{"x", two}, {"w", Tensor::fromVector<float>({2}, {5.f, 6.f})}});
  EXPECT_EQ(out[0].data<float>()[1], 6.f);
}

TEST(JitErrors, UnloweredOpsAreListedByName) {
  Module m;
  Function *f = m.addFunction("f");
  // Every registered op with a kernel is lowered, so the ops here are ones the lowering registry
  // does not know, created directly (createOp skips the op registry's inference).
  const char *domain = "test.unlowered";
  Value *x = f->addInput("x", {DType::F32, {4}});
  Value *g = f->addInput("g", {DType::F32, {4}});
  Op *first = f->createOp("Frobnicate", {x, g}, {{DType::F32, {4}}});
  first->setDomain(domain);
  first->setName("opt1");
  Op *second = f->createOp("Twiddle", {first->result(), g}, {{DType::F32, {4}}});
  second->setDomain(domain);
  f->addOutput("y", buildOp(*f, "Neg", {second->result()})->result());
  try {
    compileFunction(*f);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("2 ops are not supported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test.unlowered.Frobnicate 'opt1'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test.unlowered.Twiddle"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("Neg"), std::string::npos) << msg;
  }
  EXPECT_EQ(unloweredOps(*f).size(), 2u);
}

TEST(JitCoverage, ListsTheOpsNotLoweredYet) {
  std::set<std::string> lowered;
  for (const std::string &n : loweredOpNames())
    lowered.insert(n);
  std::vector<std::string> missing;
  for (const OpSchema &s : OpRegistry::instance().all()) {
    std::string name = s.domain.empty() ? s.name : s.domain + "." + s.name;
    if (!lowered.count(name))
      missing.push_back(name);
  }
  std::string list;
  for (const std::string &m : missing)
    list += " " + m;
  std::cout << "lowered: " << lowered.size() << " ops; not lowered yet (" << missing.size()
            << "):" << list << "\n";
  // Every elementwise op, and the ops the MLP's training step needs, are lowered.
  for (const char *op : {"Add", "Sub", "Mul", "Div", "Pow", "Neg", "Abs", "Exp", "Log", "Sqrt",
                         "Reciprocal", "Erf", "Tanh", "Sigmoid", "Relu", "LeakyRelu", "Elu",
                         "Clip", "Where", "Equal", "Less", "Greater", "Not", "Cast", "Identity",
                         "Expand", "MatMul", "Gemm", "ReduceSum", "ReduceMean", "ReduceMax",
                         "SoftmaxCrossEntropyLoss", "adjoint.SoftmaxCrossEntropyGrad"})
    EXPECT_TRUE(lowered.count(op)) << op;
}
