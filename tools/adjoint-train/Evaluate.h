#pragma once
// The test-set evaluation: the evaluation step over every test batch, in order. With the
// interpreter, batches run on several threads (the step function only reads its graph); results
// are summed in batch order, so the numbers do not depend on the thread count.
#include "DataFit.h"
#include "StepBuilder.h"

#include <atomic>
#include <cmath>
#include <map>

namespace adjoint::train {

struct EvalResult {
  double loss = NAN, accuracy = NAN;
  int64_t examples = 0;
  bool interrupted = false;
};

EvalResult evaluate(StepBuilder &builder, const FittedData &data,
                    const std::map<std::string, Tensor> &params, int64_t batch, int threads,
                    const std::atomic<bool> *stop);

} // namespace adjoint::train
