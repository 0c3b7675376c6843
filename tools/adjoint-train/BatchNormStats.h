#pragma once
#include "IR/Graph.h"

#include <string>
#include <vector>

namespace adjoint::train {

// In a training step, BatchNormalization (training_mode = 1) must also produce its running
// statistics, or the trained model would be exported with its initial ones. Each such op whose
// running mean and variance are parameters is rebuilt with all three results, and the function
// gets outputs new.<mean> and new.<var> (the training loop feeds every new.X back as X). Returns
// those parameters' names: they are statistics, not trainable, so autodiff must freeze them.
std::vector<std::string> exposeBatchNormStatistics(Function &f);

} // namespace adjoint::train
