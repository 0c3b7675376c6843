#include "DataFit.h"
#include "Support/Error.h"
#include "data/Synthetic.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace adjoint::train {

namespace {

data::ElemType elemTypeOf(DType t) {
  switch (t) {
  case DType::F32: return data::ElemType::F32;
  case DType::F64: return data::ElemType::F64;
  case DType::I64: return data::ElemType::I64;
  case DType::I32: return data::ElemType::I32;
  case DType::Bool: return data::ElemType::Bool;
  }
  return data::ElemType::F32;
}

std::string exampleStr(const data::Array &a) {
  data::Array e;
  e.type = a.type;
  e.shape.assign(a.shape.begin() + 1, a.shape.end());
  return e.describe();
}

void checkSplit(const data::Split &s, const std::string &which, const FittedData &f,
                const StepBuilder &b, const std::string &lossKind, const std::string &dataName) {
  int64_t want = numElements(b.exampleShape());
  Shape full{-1};
  std::string model = "model input '" + b.dataInput() + "' takes " +
                      std::string(dtypeName(b.inputDType())) + shapeStr(b.exampleShape()) +
                      " per example";
  check(s.x.rowSize() == want, dataName, ": ", which, " examples are ", exampleStr(s.x), " (",
        s.x.rowSize(), " elements), but the ", model, " (", want, " elements)");
  Shape targetEx(f.targetType.shape.begin() + 1, f.targetType.shape.end());
  int64_t wantY = numElements(targetEx);
  check(s.y.rowSize() == wantY, dataName, ": ", which, " labels are ", exampleStr(s.y),
        " per example, but the ", lossKind, " loss takes a target of ",
        f.targetType.str(), " (", wantY, " per example)");
  if (b.inputDType() != DType::F32 && b.inputDType() != DType::F64)
    for (int64_t i = 0; i < s.x.numel(); ++i) {
      double v = s.x.at(i);
      check(v == std::floor(v), dataName, ": ", which, " example element ", i, " is ", v,
            ", but the model's input is ", dtypeName(b.inputDType()));
    }
  bool ce = lossKind == "cross-entropy", bce = lossKind == "bce-with-logits";
  for (int64_t i = 0; i < s.y.numel(); ++i) {
    double v = s.y.at(i);
    if (ce)
      check(v == std::floor(v) && v >= 0 && v < (double)f.classes, dataName, ": ", which,
            " label ", v, " (example ", i / std::max<int64_t>(wantY, 1), ") is not a class of the",
            " model: its output has ", f.classes, " classes (0..", f.classes - 1, ")");
    else if (bce)
      check(v >= 0 && v <= 1, dataName, ": ", which, " target ", v, " (example ",
            i / std::max<int64_t>(wantY, 1), ") is outside [0, 1], which bce-with-logits needs");
    else
      check(std::isfinite(v), dataName, ": ", which, " target ", i, " is not finite");
  }
}

} // namespace

Tensor toTensor(const data::Array &a, DType dtype) {
  Shape shape(a.shape.begin(), a.shape.end());
  Tensor t(dtype, shape);
  check(a.type == elemTypeOf(dtype) && a.bytes.size() == t.byteSize(),
        "internal error: batch array ", a.describe(), " is not ", TensorType{dtype, shape}.str());
  if (!a.bytes.empty())
    std::memcpy(t.mutableBytes(), a.bytes.data(), a.bytes.size());
  return t;
}

FittedData loadAndFit(const std::string &spec, const std::string &normalize, uint64_t seed,
                      const StepBuilder &b, const Step &evalStep) {
  FittedData f;
  std::string lossKind = b.lossKind();
  const Value *target = evalStep.fn->findArg("target");
  check(target != nullptr, "internal error: the evaluation step has no target input");
  f.targetType = target->type();
  const TensorType &pred = evalStep.fn->outputs()[evalStep.predIndex].value->type();
  if (lossKind == "cross-entropy")
    f.classes = pred.shape[1];

  data::DataSpec ds = data::parseDataSpec(spec);
  if (ds.kind == data::DataSpec::Kind::Synthetic) {
    data::SyntheticShape shape;
    shape.example = b.exampleShape();
    shape.integerInput = !isFloat(b.inputDType());
    shape.target = lossKind == "cross-entropy"     ? data::SyntheticShape::Target::Classes
                   : lossKind == "bce-with-logits" ? data::SyntheticShape::Target::Binary
                                                   : data::SyntheticShape::Target::Real;
    shape.classes = f.classes;
    shape.targetShape.assign(f.targetType.shape.begin() + 1, f.targetType.shape.end());
    check(ds.classes == 0 || lossKind != "cross-entropy" || ds.classes <= f.classes,
          "--data synthetic: classes=", ds.classes, " but the model has ", f.classes);
    f.dataset = data::makeSynthetic(ds, shape, seed);
  } else {
    f.dataset = data::loadDataset(ds);
  }
  checkSplit(f.dataset.train, "training", f, b, lossKind, f.dataset.name);
  if (f.dataset.test)
    checkSplit(*f.dataset.test, "test", f, b, lossKind, f.dataset.name);

  f.format.xType = elemTypeOf(b.inputDType());
  f.format.xShape.assign(b.exampleShape().begin(), b.exampleShape().end());
  f.format.yType = elemTypeOf(f.targetType.dtype);
  f.format.yShape.assign(f.targetType.shape.begin() + 1, f.targetType.shape.end());
  f.format.norm =
      data::makeNormalization(normalize, f.dataset.train.x, !isFloat(b.inputDType()));

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

} // namespace adjoint::train
