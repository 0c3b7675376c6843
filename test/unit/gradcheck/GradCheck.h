#pragma once
// Gradient checks: every gradient rule against central finite differences, in float64, on the
// interpreter. A case builds a small function whose trainable parameters are random f64
// tensors; the harness reduces the case's output to a scalar with random weights, runs the
// autodiff pass, and compares each grad.<param> element with (L(p+h) - L(p-h)) / 2h.
#include "IR/Graph.h"

#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace adjoint::gradcheck {

class CaseBuilder {
public:
  explicit CaseBuilder(Function &f, uint32_t seed) : f(f), rng(seed) {}
  Function &f;
  std::mt19937 rng;

  // A trainable f64 parameter with uniform random data in [lo, hi).
  Value *param(const Shape &s, double lo = -1.0, double hi = 1.0);
  // Like param, but every element at least `gap` away from each of `kinks` (where the op is not
  // differentiable: 0 for Relu/Abs, the bounds of Clip, ...).
  Value *paramAvoiding(const Shape &s, std::vector<double> kinks, double gap = 0.05,
                       double lo = -1.0, double hi = 1.0);
  // A non-trainable f64 constant with random data.
  Value *constant(const Shape &s, double lo = -1.0, double hi = 1.0);
  Value *constant(Tensor t);
  Value *ints(const std::vector<int64_t> &v);            // i64[n] constant
  Value *scalarInt(int64_t v);                            // i64[] constant
  Value *op(const std::string &type, std::vector<Value *> operands, AttrMap attrs = {},
            const std::string &domain = "");
  // For multi-result ops: all results.
  std::vector<Value *> ops(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                           size_t numResults, const std::string &domain = "");

private:
  int counter_ = 0;
};

struct Case {
  std::string op;      // op type this case checks (the coverage test counts them)
  std::string variant; // what is special about it
  std::function<Value *(CaseBuilder &)> build;
  double rtol = 1e-5, atol = 1e-6;
  std::string domain = "";
};

std::vector<Case> &registry();
// gtest prints a parameter with this instead of its bytes.
inline void PrintTo(const Case &c, std::ostream *os) { *os << c.op << " (" << c.variant << ")"; }
struct Registrar {
  explicit Registrar(Case c) { registry().push_back(std::move(c)); }
};

// Registers cases at static-initialization time:
//   GRAD_CASES(Elementwise) { return {{"Add", "broadcast", [](CaseBuilder &b) { ... }}, ...}; }
#define GRAD_CASES(FAMILY)                                                                        \
  static std::vector<::adjoint::gradcheck::Case> gradCases##FAMILY();                            \
  static const bool gradCasesRegistered##FAMILY = [] {                                            \
    for (auto &c : gradCases##FAMILY())                                                           \
      ::adjoint::gradcheck::registry().push_back(c);                                              \
    return true;                                                                                  \
  }();                                                                                            \
  static std::vector<::adjoint::gradcheck::Case> gradCases##FAMILY()

} // namespace adjoint::gradcheck
