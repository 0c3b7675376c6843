#include "data/Normalize.h"
#include "data/DataError.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace adjoint::data {

namespace {

double autoScale(const Array &x) {
  if (x.type == ElemType::U8)
    return 1.0 / 255;
  if (x.type == ElemType::U16)
    return 1.0 / 65535;
  return 1.0;
}

bool parseDouble(const std::string &s, double &v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(v);
}

} // namespace

std::string Normalization::describe() const {
  if (identity())
    return "none";
  std::ostringstream os;
  os.precision(4);
  std::string x = "x";
  if (scale != 1) {
    double inv = 1 / scale;
    std::ostringstream s;
    s << "x/" << (std::abs(inv - std::round(inv)) < 1e-9 ? std::round(inv) : inv);
    x = s.str();
  }
  if (mean == 0 && std == 1)
    return x;
  os << "(" << x << " - " << mean << ") / " << std;
  return os.str();
}

Normalization makeNormalization(const std::string &spec, const Array &trainX, bool integerInput) {
  Normalization n;
  if (integerInput) {
    dataCheck(spec == "auto" || spec == "none", "--normalize=", spec,
              " does not apply: the model's input is an integer tensor");
    return n;
  }
  if (spec == "none")
    return n;
  n.scale = autoScale(trainX);
  if (spec == "auto")
    return n;
  if (spec == "standard") {
    double sum = 0, sq = 0;
    int64_t count = trainX.numel();
    dataCheck(count > 0, "--normalize=standard: the training set is empty");
    for (int64_t i = 0; i < count; ++i)
      sum += trainX.at(i) * n.scale;
    n.mean = sum / (double)count;
    for (int64_t i = 0; i < count; ++i) {
      double d = trainX.at(i) * n.scale - n.mean;
      sq += d * d;
    }
    n.std = std::sqrt(sq / (double)count);
    dataCheck(n.std > 0, "--normalize=standard: every training input element has the same value");
    return n;
  }
  size_t comma = spec.find(',');
  double mean = 0, std = 0;
  dataCheck(comma != std::string::npos && parseDouble(spec.substr(0, comma), mean) &&
                parseDouble(spec.substr(comma + 1), std),
            "--normalize expects auto, none, standard or MEAN,STD; got '", spec, "'");
  dataCheck(std > 0, "--normalize=", spec, ": STD must be positive");
  n.mean = mean;
  n.std = std;
  return n;
}

} // namespace adjoint::data
