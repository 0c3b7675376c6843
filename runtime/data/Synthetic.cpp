#include "data/Synthetic.h"
#include "data/DataError.h"
#include "data/Shuffle.h"

#include <cmath>

namespace adjoint::data {

namespace {

int64_t product(const std::vector<int64_t> &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

std::vector<int64_t> withRows(int64_t rows, const std::vector<int64_t> &shape) {
  std::vector<int64_t> s{rows};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}

struct Generator {
  SyntheticShape shape;
  int64_t inSize = 0, outSize = 0;
  std::vector<float> centroids;  // classes x inSize
  std::vector<int8_t> signs;     // inSize, for real/binary targets

  Split make(int64_t n, SplitMix64 &g) const {
    Split s;
    s.x = Array(shape.integerInput ? ElemType::I64 : ElemType::F32, withRows(n, shape.example));
    bool classes = shape.target == SyntheticShape::Target::Classes;
    s.y = Array(classes ? ElemType::I64 : ElemType::F32, withRows(n, shape.targetShape));
    for (int64_t r = 0; r < n; ++r) {
      int64_t label = classes ? (int64_t)g.below((uint64_t)shape.classes) : 0;
      int64_t tokenSum = 0;
      for (int64_t i = 0; i < inSize; ++i) {
        int64_t at = r * inSize + i;
        if (shape.integerInput) {
          int64_t t = (int64_t)g.below((uint64_t)shape.vocab);
          tokenSum += t;
          s.x.set(at, (double)t);
        } else {
          double c = classes ? centroids[(size_t)(label * inSize + i)] : 0.0;
          s.x.set(at, c + g.normal());
        }
      }
      for (int64_t j = 0; j < outSize; ++j) {
        int64_t at = r * outSize + j;
        if (classes) {
          // One label per example is learnable; extra label positions (dense targets) are noise.
          int64_t l = outSize == 1 ? (shape.integerInput ? tokenSum % shape.classes : label)
                                   : (int64_t)g.below((uint64_t)shape.classes);
          s.y.set(at, (double)l);
          continue;
        }
        double sum = 0;
        int64_t count = 0;
        for (int64_t i = j % std::max<int64_t>(inSize, 1); i < inSize; i += outSize, ++count)
          sum += signs[(size_t)i] * s.x.at(r * inSize + i);
        double v = count ? sum / std::sqrt((double)count) : 0.0;
        s.y.set(at, shape.target == SyntheticShape::Target::Real ? v : (v > 0 ? 1.0 : 0.0));
      }
    }
    return s;
  }
};

} // namespace

Dataset makeSynthetic(const DataSpec &spec, SyntheticShape shape, uint64_t seed) {
  if (spec.classes)
    shape.classes = spec.classes;
  if (spec.vocab)
    shape.vocab = spec.vocab;
  bool classes = shape.target == SyntheticShape::Target::Classes;
  dataCheck(!classes || shape.classes >= 1, "--data synthetic: the number of classes is unknown "
            "(give classes=K)");
  dataCheck(!shape.integerInput || shape.vocab >= 1, "--data synthetic: vocab must be positive");
  Generator gen;
  gen.shape = shape;
  gen.inSize = product(shape.example);
  gen.outSize = product(shape.targetShape);
  dataCheck(gen.inSize > 0, "--data synthetic: the model's input has no elements");
  int64_t trainN = spec.train >= 0 ? spec.train : 1024, testN = spec.test >= 0 ? spec.test : 256;
  dataCheck(trainN > 0, "--data synthetic: train=0 leaves no training examples");
  dataCheck(!classes || shape.integerInput ||
                shape.classes * gen.inSize <= (int64_t)1 << 28,
            "--data synthetic: ", shape.classes, " classes of ", gen.inSize,
            " elements are too many centroids");
  SplitMix64 params(streamSeed(seed, 1));
  if (classes && !shape.integerInput) {
    gen.centroids.resize((size_t)(shape.classes * gen.inSize));
    for (float &c : gen.centroids)
      c = (float)params.normal();
  } else if (!classes) {
    gen.signs.resize((size_t)gen.inSize);
    for (int8_t &s : gen.signs)
      s = params.below(2) ? 1 : -1;
  }
  Dataset d;
  d.name = "synthetic";
  SplitMix64 trainGen(streamSeed(seed, 2)), testGen(streamSeed(seed, 3));
  d.train = gen.make(trainN, trainGen);
  if (testN > 0)
    d.test = gen.make(testN, testGen);
  return d;
}

} // namespace adjoint::data
