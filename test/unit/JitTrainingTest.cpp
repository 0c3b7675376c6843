// The JIT against the interpreter for the ONNX training-domain optimizers Adam, Adagrad and
// Momentum (standard and nesterov): f32 and f64 tensors (with an f32 or f64 learning rate),
// several tensors of different shapes in one op, T = 0 and T > 0, every attribute, omitted
// trailing results, special values, and tensors large enough to run on the thread pool.
#include "JitTestSupport.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

const char *const kTraining = "ai.onnx.preview.training";

int groupsOf(const std::string &op) { return op == "Adam" ? 4 : 3; }

struct Case {
  std::string op;
  AttrMap attrs;
  std::string what;
};

// op(R, T, X..., G..., state...) over tensors of the given shapes, all of type t.
void check(const Case &c, DType t, DType rType, int64_t step, const std::vector<Shape> &shapes,
           std::mt19937 &rng, int numResults = -1) {
  Module m;
  Function *f = m.addFunction("f");
  std::map<std::string, Tensor> in;
  std::vector<Value *> operands = {f->addInput("r", {rType, {}}), f->addInput("t", {DType::I64, {}})};
  Tensor r(rType, {});
  r.setDouble(0, 0.1);
  Tensor tt(DType::I64, {});
  tt.data<int64_t>()[0] = step;
  in["r"] = r;
  in["t"] = tt;
  int groups = groupsOf(c.op);
  for (int g = 0; g < groups; ++g)
    for (size_t k = 0; k < shapes.size(); ++k) {
      std::string name = std::string("in").append(std::to_string(g)).append("_").append(std::to_string(k));
      operands.push_back(f->addInput(name, {t, shapes[k]}));
      // States (H for Adagrad and Adam) are sums of squares: non-negative, with some specials.
      in[name] = g >= 2 ? uniformTensor(t, shapes[k], rng, 0, 2) : randomTensor(t, shapes[k], rng);
    }
  size_t all = (groups - 1) * shapes.size();
  size_t n = numResults < 0 ? all : (size_t)numResults;
  Op *op = buildOp(*f, c.op, operands, c.attrs, n, nullptr, kTraining);
  for (size_t j = 0; j < n; ++j)
    f->addOutput(std::string("y").append(std::to_string(j)), op->result(j));
  std::ostringstream what;
  what << c.op << " " << c.what << " " << dtypeName(t) << " R " << dtypeName(rType) << " T " << step
       << " tensors " << shapes.size() << " results " << n;
  expectJitMatches(*f, in, what.str());
}

std::vector<Case> cases() {
  auto f = [](double v) { return Attribute(v); };
  return {
      {"Adagrad", {}, "defaults"},
      {"Adagrad",
       {{"decay_factor", f(0.1)}, {"epsilon", f(1e-3)}, {"norm_coefficient", f(0.01)}},
       "all attributes"},
      {"Momentum",
       {{"alpha", f(0.9)}, {"beta", f(0.5)}, {"mode", Attribute(std::string("standard"))},
        {"norm_coefficient", f(0.02)}},
       "standard"},
      {"Momentum",
       {{"alpha", f(0.8)}, {"beta", f(0.7)}, {"mode", Attribute(std::string("nesterov"))},
        {"norm_coefficient", f(0.0)}},
       "nesterov"},
      {"Momentum",
       {{"alpha", f(0.5)}, {"beta", f(0.25)}, {"mode", Attribute(std::string("nesterov"))},
        {"norm_coefficient", f(0.1)}},
       "nesterov with norm"},
      {"Adam", {}, "defaults"},
      {"Adam",
       {{"alpha", f(0.8)}, {"beta", f(0.95)}, {"epsilon", f(1e-4)}, {"norm_coefficient", f(0.01)},
        {"norm_coefficient_post", f(0.02)}},
       "all attributes"},
  };
}

} // namespace

TEST(JitTraining, MatchesTheInterpreter) {
  std::mt19937 rng(31);
  const std::vector<std::vector<Shape>> shapeSets = {{{}}, {{7}}, {{3, 5}, {}, {33}},
                                                     {{2, 17}, {1031}}};
  for (const Case &c : cases())
    for (DType t : {DType::F32, DType::F64})
      for (DType rType : {DType::F32, DType::F64})
        for (int64_t step : {0, 1, 7})
          for (const auto &shapes : shapeSets)
            check(c, t, rType, step, shapes, rng);
}

TEST(JitTraining, OmittedTrailingResults) {
  std::mt19937 rng(32);
  for (const Case &c : cases())
    for (DType t : {DType::F32, DType::F64})
      for (int results : {1, 3})
        check(c, t, t, 3, {{5}, {4, 3}}, rng, results);
}

TEST(JitTraining, LargeAndThreaded) {
  std::mt19937 rng(33);
  for (int threads : {1, 2}) {
    setJitThreads(threads);
    for (const Case &c : cases())
      for (DType t : {DType::F32, DType::F64})
        check(c, t, DType::F32, 2, {{300001}, {65}}, rng);
  }
  setJitThreads(0);
}
