#pragma once
// Accuracy of a batch's predictions: for cross-entropy the arg-max over axis 1 of the logits
// [N, C, ...] against the class target [N, ...]; for bce-with-logits the sign of each logit
// against a 0/1 target. Other losses have no accuracy (count 0).
#include "IR/Tensor.h"

#include <string>

namespace adjoint::train {

struct Correct {
  double correct = 0;
  int64_t count = 0;
};

Correct countCorrect(const std::string &lossKind, const Tensor &pred, const Tensor &target);

bool hasAccuracy(const std::string &lossKind);

} // namespace adjoint::train
