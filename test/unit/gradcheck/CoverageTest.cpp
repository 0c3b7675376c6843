// The registry and the gradient checks stay in step: every op that can carry a gradient has a
// rule, every rule has at least one gradient check, and every op has an interpreter kernel.
#include "GradCheck.h"
#include "Ops/OpRegistry.h"

#include <gtest/gtest.h>

#include <set>

using namespace adjoint;

namespace {
// Ops whose results never carry a gradient: integer/bool results, or no operands.
const std::set<std::string> kNotDifferentiable = {"Shape", "Equal", "Less", "Greater", "Not",
                                                  "Constant", "StopGradient",
                                                  "SliceGrad", "GatherGrad",
                                                  "ConvGradData", "ConvGradFilter",
                                                  "MaxPoolGrad", "AveragePoolGrad",
                                                  "SoftmaxCrossEntropyGrad", "NegativeLogLikelihoodLossGrad",
                                                  // ai.onnx.preview.training (Gradient is expanded first)
                                                  "Adam", "Adagrad", "Momentum", "Gradient",
                                                  // fusion runs after autodiff
                                                  "Kernel"};
} // namespace

TEST(Coverage, EveryOpHasAKernel) {
  for (const OpSchema &s : OpRegistry::instance().all())
    EXPECT_TRUE((bool)s.kernel) << s.name << " has no interpreter kernel";
}

TEST(Coverage, EveryDifferentiableOpHasAGradientRule) {
  for (const OpSchema &s : OpRegistry::instance().all()) {
    if (!kNotDifferentiable.count(s.name)) {
      EXPECT_TRUE((bool)s.grad) << s.name << " has no gradient rule";
    }
  }
}

TEST(Coverage, EveryGradientRuleHasAGradCheck) {
  std::set<std::string> checked;
  for (const auto &c : gradcheck::registry())
    checked.insert(c.domain + "." + c.op);
  for (const OpSchema &s : OpRegistry::instance().all()) {
    if (s.grad) {
      EXPECT_TRUE(checked.count(s.domain + "." + s.name)) << s.name << " has no gradient check";
    }
  }
}
