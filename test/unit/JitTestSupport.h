#pragma once
// What the Jit*Test suites share: random tensors with awkward values, functions of one op built
// through the registry, and the check that the JIT's outputs equal the interpreter's (1e-5
// relative for f32, 1e-12 for f64, exact for integers and bools, NaN equal to NaN).
#include "CodeGen/Jit.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Transforms/PassManager.h"

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

namespace adjoint::testing {

// Values in [-3, 3] for floats, [-50, 50] for integers; with `specials`, some elements are NaN,
// infinities, signed zeros, the integer extremes, and (with `huge`) +-1e30, which sums cancel
// differently in another order.
inline Tensor randomTensor(DType t, const Shape &shape, std::mt19937 &rng, bool specials = true,
                           bool huge = true) {
  Tensor r(t, shape);
  std::uniform_real_distribution<double> real(-3, 3);
  std::uniform_int_distribution<int64_t> integer(-50, 50);
  std::uniform_int_distribution<int> pick(0, 15);
  const double fs[] = {std::nan(""), INFINITY, -INFINITY, 0.0, -0.0, 1e30, -1e30};
  const int nfs = huge ? 7 : 5;
  for (int64_t i = 0; i < r.numel(); ++i) {
    bool special = specials && pick(rng) == 0;
    switch (t) {
    case DType::F32:
      r.data<float>()[i] = (float)(special ? fs[rng() % nfs] : real(rng));
      break;
    case DType::F64:
      r.data<double>()[i] = special ? fs[rng() % nfs] : real(rng);
      break;
    case DType::I64: {
      const int64_t is[] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                            0, -1};
      r.data<int64_t>()[i] = special ? is[rng() % 4] : integer(rng);
      break;
    }
    case DType::I32: {
      const int32_t is[] = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(),
                            0, -1};
      r.data<int32_t>()[i] = special ? is[rng() % 4] : (int32_t)integer(rng);
      break;
    }
    case DType::Bool:
      r.data<bool>()[i] = rng() % 2;
      break;
    }
  }
  return r;
}

// Uniform in [lo, hi): for ops whose operands need a range (matrix products, logs).
inline Tensor uniformTensor(DType t, const Shape &shape, std::mt19937 &rng, double lo, double hi) {
  Tensor r(t, shape);
  std::uniform_real_distribution<double> real(lo, hi);
  for (int64_t i = 0; i < r.numel(); ++i)
    r.setDouble(i, isFloat(t) ? real(rng) : std::floor(real(rng)));
  return r;
}

struct Tolerance {
  double f32 = 1e-5, f64 = 1e-12;
  // Also accepted: an absolute error up to this fraction of the tensor's largest magnitude (for
  // BLAS sums whose terms cancel, as gradients' do).
  double ofMax = 0;
};

// "" when equal within tolerance, else where and how they differ.
inline std::string difference(const Tensor &want, const Tensor &got, Tolerance tol = {}) {
  std::ostringstream os;
  if (want.dtype() != got.dtype() || want.shape() != got.shape()) {
    os << "type " << TensorType{got.dtype(), got.shape()}.str() << ", expected "
       << TensorType{want.dtype(), want.shape()}.str();
    return os.str();
  }
  double maxAbs = 0;
  for (int64_t i = 0; isFloat(want.dtype()) && i < want.numel(); ++i)
    if (std::isfinite(want.getDouble(i)))
      maxAbs = std::max(maxAbs, std::fabs(want.getDouble(i)));
  for (int64_t i = 0; i < want.numel(); ++i) {
    bool same;
    if (isFloat(want.dtype())) {
      double a = want.getDouble(i), b = got.getDouble(i);
      double rtol = want.dtype() == DType::F32 ? tol.f32 : tol.f64;
      same = (std::isnan(a) && std::isnan(b)) || a == b ||
             std::fabs(a - b) <= rtol * std::max(std::fabs(a), std::fabs(b)) ||
             std::fabs(a - b) <= tol.ofMax * maxAbs;
    } else {
      same = want.getInt(i) == got.getInt(i);
    }
    if (!same) {
      os.precision(17);
      os << "element " << i << ": got " << got.getDouble(i) << ", expected " << want.getDouble(i);
      if (!isFloat(want.dtype()))
        os << " (" << got.getInt(i) << " vs " << want.getInt(i) << ")";
      return os.str();
    }
  }
  return "";
}

// Compiles fn, runs it and the interpreter on `inputs`, and expects equal outputs.
inline void expectJitMatches(const Function &fn, const std::map<std::string, Tensor> &inputs,
                             const std::string &what, Tolerance tol = {},
                             const JitOptions &opts = {}) {
  std::vector<Tensor> want = interpret(fn, inputs);
  std::unique_ptr<CompiledFunction> c;
  try {
    c = compileFunction(fn, opts);
  } catch (const Error &e) {
    ADD_FAILURE() << what << ": " << e.what();
    return;
  }
  std::vector<Tensor> got = c->run(inputs);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string d = difference(want[i], got[i], tol);
    EXPECT_EQ(d, "") << what << ", output " << i;
  }
}

// A module holding @f with one op applied to fresh inputs of the given types.
struct OneOp {
  std::unique_ptr<Module> module = std::make_unique<Module>();
  Function *f = module->addFunction("f");
  std::map<std::string, Tensor> inputs;

  OneOp(const std::string &type, const std::vector<TensorType> &operandTypes, AttrMap attrs,
        std::mt19937 &rng, bool specials = true, const std::string &domain = "") {
    std::vector<Value *> operands;
    for (size_t i = 0; i < operandTypes.size(); ++i) {
      std::string name = std::string("x").append(std::to_string(i));
      operands.push_back(f->addInput(name, operandTypes[i]));
      inputs[name] = randomTensor(operandTypes[i].dtype, operandTypes[i].shape, rng, specials);
    }
    Op *op = buildOp(*f, type, operands, std::move(attrs), 1, nullptr, domain);
    f->addOutput("y", op->result());
  }
};

inline std::string describe(const std::string &op, const std::vector<TensorType> &types) {
  std::string s = op + "(";
  for (size_t i = 0; i < types.size(); ++i) {
    if (i)
      s += ", ";
    s += types[i].str();
  }
  s += ")";
  return s;
}

// Runs `pass` (a registered pass name, e.g. "fuse") over the module.
inline void runPass(Module &m, const std::string &pass) {
  PassContext ctx;
  const PassInfo *p = findPass(pass);
  ASSERT_NE(p, nullptr) << pass;
  runPipeline(m, {p}, ctx, {});
}

} // namespace adjoint::testing
