#include "Metrics.h"

#include <cmath>

namespace adjoint::train {

bool hasAccuracy(const std::string &lossKind) {
  return lossKind == "cross-entropy" || lossKind == "bce-with-logits";
}

Correct countCorrect(const std::string &lossKind, const Tensor &pred, const Tensor &target) {
  Correct c;
  if (lossKind == "bce-with-logits") {
    for (int64_t i = 0; i < pred.numel(); ++i)
      c.correct += (pred.getDouble(i) > 0) == (target.getDouble(i) > 0.5);
    c.count = pred.numel();
    return c;
  }
  if (lossKind != "cross-entropy" || pred.rank() < 2)
    return c;
  int64_t n = pred.shape()[0], classes = pred.shape()[1];
  int64_t inner = classes ? pred.numel() / (n * classes) : 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t s = 0; s < inner; ++s) {
      int64_t best = 0;
      double bestV = -INFINITY;
      for (int64_t k = 0; k < classes; ++k) {
        double v = pred.getDouble((b * classes + k) * inner + s);
        if (v > bestV) { // the first maximum wins, as numpy's argmax
          bestV = v;
          best = k;
        }
      }
      c.correct += best == target.getInt(b * inner + s);
      ++c.count;
    }
  return c;
}

} // namespace adjoint::train
