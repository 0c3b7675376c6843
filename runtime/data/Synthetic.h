#pragma once
// `--data synthetic`: seeded random examples shaped like the model's input and target, for smoke
// tests and benchmarks. They are learnable, so a working training loop shows a falling loss:
//   classes    each class has a random centroid; an example is its class's centroid plus unit
//              Gaussian noise (integer inputs: tokens in [0, vocab), the label their sum modulo
//              the number of classes)
//   real       the target is a fixed random signed sum of input elements (a linear function)
//   binary     that sum's sign, as 0 or 1 (for bce-with-logits)
#include "data/Dataset.h"

namespace adjoint::data {

struct SyntheticShape {
  std::vector<int64_t> example; // one example's input shape
  bool integerInput = false;    // i64/i32 model input: token ids
  int64_t vocab = 16;           // integer inputs: ids in [0, vocab)
  enum class Target { Classes, Real, Binary } target = Target::Classes;
  int64_t classes = 0;              // Classes
  std::vector<int64_t> targetShape; // one example's target shape ([] for one label)
};

// spec.train / spec.test give the sizes (default 1024 and 256); spec.classes / spec.vocab
// override the model-derived values.
Dataset makeSynthetic(const DataSpec &spec, SyntheticShape shape, uint64_t seed);

} // namespace adjoint::data
