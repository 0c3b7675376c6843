// Gradient checks of the elementwise family.
#include "GradCheck.h"

namespace adjoint::gradcheck {

GRAD_CASES(Elementwise) {
  return {
      {"Add", "broadcast both ways",
       [](CaseBuilder &b) { return b.op("Add", {b.param({2, 1, 3}), b.param({4, 1})}); }},
      {"Sub", "scalar rhs", [](CaseBuilder &b) { return b.op("Sub", {b.param({2, 3}), b.param({})}); }},
      {"Mul", "same operand twice (fan-out)",
       [](CaseBuilder &b) {
         Value *x = b.param({5});
         return b.op("Mul", {x, x});
       }},
      {"Mul", "constant operand",
       [](CaseBuilder &b) { return b.op("Mul", {b.param({2, 3}), b.constant({3})}); }},
      {"Relu", "away from 0",
       [](CaseBuilder &b) { return b.op("Relu", {b.paramAvoiding({3, 4}, {0.0})}); }},
  };
}

} // namespace adjoint::gradcheck
