#include "data/Dataset.h"
#include "data/Csv.h"
#include "data/DataError.h"
#include "data/FileBytes.h"
#include "data/Idx.h"
#include "data/Npy.h"

#include <charconv>
#include <cstring>
#include <sys/stat.h>

namespace adjoint::data {

const char *const kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

namespace {

const char *kForms = "fashion-mnist[=DIR], idx=DIR, x=PATH,y=PATH[,test_x=PATH,test_y=PATH], "
                     "csv=PATH[,test_csv=PATH][,label=COL] or synthetic; each with optional "
                     "train=N,test=N";

int64_t parseCount(const std::string &key, const std::string &v, bool allowNegative = false) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  dataCheck(ec == std::errc() && p == v.data() + v.size() && (allowNegative || n >= 0),
            "--data: ", key, "= expects ", allowNegative ? "an integer" : "a non-negative integer",
            ", got '", v, "'");
  return n;
}

bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// "train-images-idx3-ubyte" or its .gz, whichever is there.
std::string idxFile(const std::string &dir, const std::string &stem, const std::string &what) {
  for (const char *suffix : {"", ".gz"}) {
    std::string p = dir + "/" + stem + suffix;
    if (exists(p))
      return p;
  }
  std::string hint = what == "fashion-mnist" && dir == kFashionMnistDir
                         ? " (install the Debian package dataset-fashion-mnist; scripts/setup.sh "
                           "does)"
                         : "";
  dataFail("--data ", what, ": ", dir, "/", stem, "[.gz] not found", hint);
}

void checkPair(const Split &s, const std::string &what) {
  dataCheck(s.x.shape.size() >= 1, what, ": the examples must have an example axis, got ",
            s.x.describe());
  dataCheck(s.y.shape.size() >= 1, what, ": the labels must have an example axis, got ",
            s.y.describe());
  dataCheck(s.x.rows() == s.y.rows(), what, ": ", s.x.rows(), " examples (", s.x.describe(),
            ") but ", s.y.rows(), " labels (", s.y.describe(), ")");
  dataCheck(s.x.rows() > 0, what, ": no examples");
}

Split limit(Split s, int64_t n) {
  if (n >= 0) {
    s.x = firstRows(s.x, n);
    s.y = firstRows(s.y, n);
  }
  return s;
}

} // namespace

Array readArrayFile(const std::string &path) {
  std::vector<uint8_t> bytes = readFileBytes(path);
  if (bytes.size() >= 6 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0)
    return parseNpy(bytes, path);
  if (bytes.size() >= 4 && bytes[0] == 0 && bytes[1] == 0)
    return parseIdx(bytes, path);
  dataFail(path, ": neither a .npy nor an IDX file");
}

DataSpec parseDataSpec(const std::string &text) {
  DataSpec s;
  s.text = text;
  dataCheck(!text.empty(), "--data is empty; expected ", kForms);
  bool kindSet = false;
  auto setKind = [&](DataSpec::Kind k, const std::string &name) {
    dataCheck(!kindSet || s.kind == k, "--data '", text, "' mixes two kinds of dataset");
    kindSet = true;
    s.kind = k;
    if (s.name.empty())
      s.name = name;
  };
  size_t b = 0;
  while (b <= text.size()) {
    size_t e = text.find(',', b);
    if (e == std::string::npos)
      e = text.size();
    std::string item = text.substr(b, e - b);
    b = e + 1;
    dataCheck(!item.empty(), "--data '", text, "' has an empty item");
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    dataCheck(eq == std::string::npos || !value.empty(), "--data: ", key, "= needs a value");
    if (key == "fashion-mnist") {
      setKind(DataSpec::Kind::Idx, "fashion-mnist");
      s.dir = value.empty() ? kFashionMnistDir : value;
    } else if (key == "idx" && !value.empty()) {
      setKind(DataSpec::Kind::Idx, value);
      s.dir = value;
    } else if (key == "synthetic" && value.empty()) {
      setKind(DataSpec::Kind::Synthetic, "synthetic");
    } else if (key == "x" || key == "y" || key == "test_x" || key == "test_y") {
      dataCheck(!value.empty(), "--data: ", key, "= needs a path");
      setKind(DataSpec::Kind::Files, "");
      (key == "x" ? s.x : key == "y" ? s.y : key == "test_x" ? s.testX : s.testY) = value;
    } else if ((key == "csv" || key == "test_csv") && !value.empty()) {
      setKind(DataSpec::Kind::Csv, "");
      (key == "csv" ? s.csv : s.testCsv) = value;
    } else if (key == "label" && !value.empty()) {
      s.labelColumn = parseCount(key, value, /*allowNegative=*/true);
    } else if ((key == "train" || key == "test") && !value.empty()) {
      (key == "train" ? s.train : s.test) = parseCount(key, value);
    } else if ((key == "classes" || key == "vocab") && !value.empty()) {
      (key == "classes" ? s.classes : s.vocab) = parseCount(key, value);
    } else {
      dataFail("--data: unknown item '", item, "' in '", text, "'; expected ", kForms);
    }
    if (e == text.size())
      break;
  }
  dataCheck(kindSet, "--data '", text, "' names no dataset; expected ", kForms);
  if (s.kind == DataSpec::Kind::Files) {
    dataCheck(!s.x.empty() && !s.y.empty(), "--data: x=PATH and y=PATH are both required");
    dataCheck(s.testX.empty() == s.testY.empty(),
              "--data: test_x and test_y must be given together");
    s.name = s.x + "," + s.y;
  } else if (s.kind == DataSpec::Kind::Csv) {
    dataCheck(!s.csv.empty(), "--data: test_csv needs csv=PATH for the training set");
    s.name = s.csv;
  }
  dataCheck(s.kind == DataSpec::Kind::Csv || s.labelColumn == 0,
            "--data: label= applies to csv= data only");
  dataCheck(s.kind == DataSpec::Kind::Synthetic || (s.classes == 0 && s.vocab == 0),
            "--data: classes= and vocab= apply to synthetic data only");
  return s;
}

Dataset loadDataset(const DataSpec &spec) {
  Dataset d;
  d.name = spec.name;
  switch (spec.kind) {
  case DataSpec::Kind::Idx: {
    dataCheck(exists(spec.dir), "--data ", spec.name, ": folder ", spec.dir, " not found",
              spec.dir == kFashionMnistDir
                  ? " (install the Debian package dataset-fashion-mnist; scripts/setup.sh does)"
                  : "");
    Split train{readIdx(idxFile(spec.dir, "train-images-idx3-ubyte", spec.name)),
                readIdx(idxFile(spec.dir, "train-labels-idx1-ubyte", spec.name))};
    Split test{readIdx(idxFile(spec.dir, "t10k-images-idx3-ubyte", spec.name)),
               readIdx(idxFile(spec.dir, "t10k-labels-idx1-ubyte", spec.name))};
    checkPair(train, spec.dir + " (train)");
    checkPair(test, spec.dir + " (t10k)");
    d.train = std::move(train);
    d.test = std::move(test);
    break;
  }
  case DataSpec::Kind::Files: {
    Split train{readArrayFile(spec.x), readArrayFile(spec.y)};
    checkPair(train, spec.x + " and " + spec.y);
    d.train = std::move(train);
    if (!spec.testX.empty()) {
      Split test{readArrayFile(spec.testX), readArrayFile(spec.testY)};
      checkPair(test, spec.testX + " and " + spec.testY);
      d.test = std::move(test);
    }
    break;
  }
  case DataSpec::Kind::Csv:
    d.train = readCsv(spec.csv, spec.labelColumn);
    if (!spec.testCsv.empty())
      d.test = readCsv(spec.testCsv, spec.labelColumn);
    break;
  case DataSpec::Kind::Synthetic:
    dataFail("internal error: synthetic data is made by makeSynthetic");
  }
  d.train = limit(std::move(d.train), spec.train);
  dataCheck(d.train.size() > 0, "--data ", spec.name, ": train=0 leaves no training examples");
  if (d.test) {
    d.test = limit(std::move(*d.test), spec.test);
    if (d.test->size() == 0)
      d.test.reset();
  }
  return d;
}

} // namespace adjoint::data
