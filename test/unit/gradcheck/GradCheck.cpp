#include "GradCheck.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

#include <cmath>

namespace adjoint::gradcheck {

std::vector<Case> &registry() {
  static std::vector<Case> cases;
  return cases;
}

static Tensor randomTensor(std::mt19937 &rng, const Shape &s, double lo, double hi) {
  Tensor t(DType::F64, s);
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<double>()[i] = d(rng);
  return t;
}

// GCC 12 warns (-Wrestrict, a known false positive) on "literal" + std::string at -O3.
static std::string paramName(int i) {
  std::string n = "p";
  n += std::to_string(i);
  return n;
}

Value *CaseBuilder::param(const Shape &s, double lo, double hi) {
  return f.addParam(paramName(counter_++), {DType::F64, s}, randomTensor(rng, s, lo, hi));
}

Value *CaseBuilder::paramAvoiding(const Shape &s, std::vector<double> kinks, double gap, double lo,
                                  double hi) {
  Tensor t = randomTensor(rng, s, lo, hi);
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    auto near = [&](double v) {
      for (double k : kinks)
        if (std::fabs(v - k) < gap)
          return true;
      return false;
    };
    while (near(t.data<double>()[i]))
      t.data<double>()[i] = d(rng);
  }
  return f.addParam(paramName(counter_++), {DType::F64, s}, std::move(t));
}

Value *CaseBuilder::constant(const Shape &s, double lo, double hi) {
  return buildConstant(f, randomTensor(rng, s, lo, hi));
}

Value *CaseBuilder::constant(Tensor t) { return buildConstant(f, std::move(t)); }

Value *CaseBuilder::ints(const std::vector<int64_t> &v) {
  return buildConstant(f, Tensor::fromVector<int64_t>({(int64_t)v.size()}, v));
}

Value *CaseBuilder::scalarInt(int64_t v) { return buildConstant(f, Tensor::scalar<int64_t>(v)); }

Value *CaseBuilder::op(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                       const std::string &domain) {
  return buildOp(f, type, std::move(operands), std::move(attrs), 1, nullptr, domain)->result();
}

std::vector<Value *> CaseBuilder::ops(const std::string &type, std::vector<Value *> operands,
                                      AttrMap attrs, size_t numResults, const std::string &domain) {
  Op *o = buildOp(f, type, std::move(operands), std::move(attrs), numResults, nullptr, domain);
  std::vector<Value *> r;
  for (size_t i = 0; i < numResults; ++i)
    r.push_back(o->result(i));
  return r;
}

namespace {
class GradCheck : public ::testing::TestWithParam<Case> {};

double lossAt(const Function &f, const std::map<std::string, Tensor> &over) {
  return interpret(f, over)[0].getDouble(0);
}
} // namespace

TEST_P(GradCheck, MatchesFiniteDifferences) {
  const Case &c = GetParam();
  Function f("gradcheck");
  CaseBuilder b(f, 1234);
  Value *out = c.build(b);
  ASSERT_EQ(out->dtype(), DType::F64) << "gradient checks run in f64";
  Value *w = b.constant(out->shape());
  Value *prod = b.op("Mul", {out, w});
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < out->type().rank(); ++i)
    axes.push_back(i);
  Value *loss = out->type().rank() == 0
                    ? prod
                    : b.op("ReduceSum", {prod, b.ints(axes)}, {{"keepdims", Attribute(0)}});
  f.addOutput("loss", loss);

  PassContext ctx;
  runAutodiff(f, ctx);
  verifyFunction(f);

  std::vector<Tensor> base = interpret(f, {});
  std::vector<Value *> params = f.params();
  ASSERT_EQ(base.size(), 1 + params.size());
  const double h = 1e-6;
  for (size_t k = 0; k < params.size(); ++k) {
    Value *p = params[k];
    const Tensor &analytic = base[1 + k];
    ASSERT_EQ(f.outputs()[1 + k].name, "grad." + p->name());
    Tensor data = p->paramData();
    for (int64_t i = 0; i < data.numel(); ++i) {
      Tensor plus = data, minus = data;
      plus.data<double>()[i] += h;
      minus.data<double>()[i] -= h;
      double numeric = (lossAt(f, {{p->name(), plus}}) - lossAt(f, {{p->name(), minus}})) / (2 * h);
      double a = analytic.getDouble(i);
      EXPECT_NEAR(a, numeric, c.atol + c.rtol * std::fabs(numeric))
          << c.op << " (" << c.variant << "): d loss / d " << p->name() << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::ValuesIn(registry()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           std::string n = info.param.op;
                           n += "_";
                           n += info.param.variant;
                           for (char &ch : n)
                             if (!std::isalnum((unsigned char)ch))
                               ch = '_';
                           n += "_";
                           n += std::to_string(info.index);
                           return n;
                         });

} // namespace adjoint::gradcheck
