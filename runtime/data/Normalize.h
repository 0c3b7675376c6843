#pragma once
// Input normalisation, applied to every element as batches are assembled:
//   v' = (v * scale - mean) / std
//
//   auto      integer sources become [0, 1] (uint8 / 255, uint16 / 65535, as torchvision's
//             ToTensor); float sources stay as they are; integer model inputs (token ids) are
//             never normalised
//   none      values as stored
//   standard  auto's scaling, then the training set's own mean and standard deviation (one
//             scalar each, over every element)
//   MEAN,STD  auto's scaling, then these (torchvision's Normalize((MEAN,), (STD,)))
#include "data/Array.h"

#include <string>

namespace adjoint::data {

struct Normalization {
  double scale = 1, mean = 0, std = 1;
  bool identity() const { return scale == 1 && mean == 0 && std == 1; }
  std::string describe() const; // "x/255", "(x/255 - 0.286) / 0.353", "none"
};

// `integerInput`: the model's input is an integer tensor (no normalisation is allowed then).
Normalization makeNormalization(const std::string &spec, const Array &trainX, bool integerInput);

} // namespace adjoint::data
