#include "data/Csv.h"
#include "data/DataError.h"
#include "data/FileBytes.h"

#include <charconv>
#include <cmath>

namespace adjoint::data {

namespace {

// Parses one line into `out`; returns the 1-based column of the first bad field, or 0.
size_t parseLine(const std::string &text, size_t b, size_t e, std::vector<double> &out) {
  out.clear();
  size_t col = 1;
  while (true) {
    size_t comma = text.find(',', b);
    size_t fe = comma == std::string::npos || comma > e ? e : comma;
    size_t s = b, t = fe;
    while (s < t && (text[s] == ' ' || text[s] == '\t'))
      ++s;
    while (t > s && (text[t - 1] == ' ' || text[t - 1] == '\t' || text[t - 1] == '\r'))
      --t;
    if (s < t && text[s] == '+')
      ++s;
    double v = 0;
    auto [p, ec] = std::from_chars(text.data() + s, text.data() + t, v);
    if (s == t || ec != std::errc() || p != text.data() + t)
      return col;
    out.push_back(v);
    if (fe == e)
      return 0;
    b = fe + 1;
    ++col;
  }
}

} // namespace

Split parseCsv(const std::string &text, int64_t labelColumn, const std::string &what) {
  std::vector<double> values, row;
  size_t cols = 0, rows = 0, lineNo = 0;
  bool first = true;
  for (size_t b = 0; b < text.size();) {
    size_t e = text.find('\n', b);
    if (e == std::string::npos)
      e = text.size();
    ++lineNo;
    size_t s = b;
    while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r'))
      ++s;
    if (s < e) {
      size_t bad = parseLine(text, b, e, row);
      if (bad && first) {
        first = false; // a header line
        b = e + 1;
        continue;
      }
      dataCheck(!bad, what, ":", lineNo, ": column ", bad, " is not a number");
      if (!cols)
        cols = row.size();
      dataCheck(row.size() == cols, what, ":", lineNo, ": ", row.size(),
                " columns, but the first row has ", cols);
      for (double v : row)
        dataCheck(std::isfinite(v), what, ":", lineNo, ": a value is not finite");
      values.insert(values.end(), row.begin(), row.end());
      ++rows;
      first = false;
    }
    b = e + 1;
  }
  dataCheck(rows > 0, what, ": no data rows");
  dataCheck(cols >= 2, what, ": needs at least two columns (features and a label), has ", cols);
  int64_t lc = labelColumn < 0 ? (int64_t)cols + labelColumn : labelColumn;
  dataCheck(lc >= 0 && lc < (int64_t)cols, what, ": label column ", labelColumn,
            " is out of range for ", cols, " columns");
  Split s;
  s.x = Array(ElemType::F32, {(int64_t)rows, (int64_t)cols - 1});
  s.y = Array(ElemType::F64, {(int64_t)rows});
  float *x = reinterpret_cast<float *>(s.x.bytes.data());
  double *y = reinterpret_cast<double *>(s.y.bytes.data());
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      double v = values[r * cols + c];
      if ((int64_t)c == lc)
        y[r] = v;
      else
        *x++ = (float)v;
    }
  return s;
}

Split readCsv(const std::string &path, int64_t labelColumn) {
  std::vector<uint8_t> bytes = readFileBytes(path);
  return parseCsv(std::string(bytes.begin(), bytes.end()), labelColumn, path);
}

} // namespace adjoint::data
