#pragma once
// Loads the --data dataset for a model and checks, before any training, that it fits: example
// size against the model's input, label shape and range against the loss's target and the
// number of classes. Converts batches to tensors of the step's types.
#include "StepBuilder.h"
#include "data/BatchLoader.h"
#include "data/Dataset.h"

#include <string>

namespace adjoint::train {

struct FittedData {
  data::Dataset dataset;
  data::BatchFormat format;
  TensorType targetType; // the step's target input, batch axis included
  int64_t classes = 0;   // cross-entropy: the logits' axis-1 size
  std::string description; // "fashion-mnist: 60000 train, 10000 test examples of uint8[28,28]"
};

// `evalStep` is the evaluation step at some batch size (it shows the target and logits types).
FittedData loadAndFit(const std::string &spec, const std::string &normalize, uint64_t seed,
                      const StepBuilder &builder, const Step &evalStep);

Tensor toTensor(const data::Array &a, DType dtype);

} // namespace adjoint::train
