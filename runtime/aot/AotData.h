#pragma once
// Loads the --data dataset for the compiled model and checks that it fits, as adjoint-train's
// DataFit does (the same normalisation, synthetic data and messages): example size against the
// model's input, labels against the loss's target and the number of classes.
#include "AotModel.h"
#include "data/BatchLoader.h"
#include "data/Dataset.h"

#include <string>

namespace adjoint::aot {

struct FittedData {
  data::Dataset dataset;
  data::BatchFormat format;
  std::string description;
};

FittedData loadAndFit(const std::string &spec, const std::string &normalize, uint64_t seed,
                      const ModelInfo &m);

} // namespace adjoint::aot
