#include "AotData.h"
#include "data/Synthetic.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace adjoint::aot {

namespace {

data::ElemType elemTypeOf(int32_t code) {
  switch (code) {
  case kDouble: return data::ElemType::F64;
  case kInt64: return data::ElemType::I64;
  case kInt32: return data::ElemType::I32;
  case kBool: return data::ElemType::Bool;
  default: return data::ElemType::F32;
  }
}

bool isFloat(int32_t code) { return code == kFloat || code == kDouble; }

int64_t product(const std::vector<int64_t> &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

std::string exampleStr(const data::Array &a) {
  data::Array e;
  e.type = a.type;
  e.shape.assign(a.shape.begin() + 1, a.shape.end());
  return e.describe();
}

void checkSplit(const data::Split &s, const std::string &which, const ModelInfo &m,
                const std::string &dataName) {
  auto fail = [](const std::string &msg) { throw std::runtime_error(msg); };
  int64_t want = product(m.exampleShape);
  TensorInfo ex{m.dataInput(), m.inputDType, m.exampleShape};
  if (s.x.rowSize() != want)
    fail(dataName + ": " + which + " examples are " + exampleStr(s.x) + " (" +
         std::to_string(s.x.rowSize()) + " elements), but the model input '" + m.dataInput() +
         "' takes " + ex.describe() + " per example (" + std::to_string(want) + " elements)");
  int64_t wantY = product(m.targetShape);
  TensorInfo target{"target", m.targetDType, m.targetShape};
  if (s.y.rowSize() != wantY)
    fail(dataName + ": " + which + " labels are " + exampleStr(s.y) + " per example, but the " +
         m.lossKind() + " loss takes a target of " + target.describe() + " per example");
  if (!isFloat(m.inputDType))
    for (int64_t i = 0; i < s.x.numel(); ++i)
      if (s.x.at(i) != std::floor(s.x.at(i)))
        fail(dataName + ": " + which + " example element " + std::to_string(i) +
             " is not an integer, but the model's input is " + dtypeName(m.inputDType));
  bool ce = m.lossKind() == "cross-entropy", bce = m.lossKind() == "bce-with-logits";
  for (int64_t i = 0; i < s.y.numel(); ++i) {
    double v = s.y.at(i);
    std::ostringstream os;
    os << dataName << ": " << which;
    if (ce && !(v == std::floor(v) && v >= 0 && v < (double)m.classes)) {
      os << " label " << v << " (example " << i / std::max<int64_t>(wantY, 1)
         << ") is not a class of the model: its output has " << m.classes << " classes (0.."
         << m.classes - 1 << ")";
      fail(os.str());
    }
    if (bce && !(v >= 0 && v <= 1)) {
      os << " target " << v << " is outside [0, 1], which bce-with-logits needs";
      fail(os.str());
    }
    if (!ce && !bce && !std::isfinite(v)) {
      os << " target " << i << " is not finite";
      fail(os.str());
    }
  }
}

} // namespace

FittedData loadAndFit(const std::string &spec, const std::string &normalize, uint64_t seed,
                      const ModelInfo &m) {
  FittedData f;
  std::string lossKind = m.lossKind();
  data::DataSpec ds = data::parseDataSpec(spec);
  if (ds.kind == data::DataSpec::Kind::Synthetic) {
    data::SyntheticShape shape;
    shape.example = m.exampleShape;
    shape.integerInput = !isFloat(m.inputDType);
    shape.target = lossKind == "cross-entropy"     ? data::SyntheticShape::Target::Classes
                   : lossKind == "bce-with-logits" ? data::SyntheticShape::Target::Binary
                                                   : data::SyntheticShape::Target::Real;
    shape.classes = m.classes;
    shape.targetShape = m.targetShape;
    if (ds.classes != 0 && lossKind == "cross-entropy" && ds.classes > m.classes)
      throw std::runtime_error("--data synthetic: classes=" + std::to_string(ds.classes) +
                               " but the model has " + std::to_string(m.classes));
    f.dataset = data::makeSynthetic(ds, shape, seed);
  } else {
    f.dataset = data::loadDataset(ds);
  }
  checkSplit(f.dataset.train, "training", m, f.dataset.name);
  if (f.dataset.test)
    checkSplit(*f.dataset.test, "test", m, f.dataset.name);

  f.format.xType = elemTypeOf(m.inputDType);
  f.format.xShape = m.exampleShape;
  f.format.yType = elemTypeOf(m.targetDType);
  f.format.yShape = m.targetShape;
  f.format.norm = data::makeNormalization(normalize, f.dataset.train.x, !isFloat(m.inputDType));

  std::ostringstream os;
  os << f.dataset.name << ": " << f.dataset.train.size() << " training";
  if (f.dataset.test)
    os << ", " << f.dataset.test->size() << " test";
  else
    os << " (no test set)";
  os << " examples of " << exampleStr(f.dataset.train.x) << "; normalize "
     << f.format.norm.describe();
  f.description = os.str();
  return f;
}

} // namespace adjoint::aot
