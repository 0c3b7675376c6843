#include "IR/Shape.h"
#include "Support/Error.h"

#include <limits>

namespace adjoint {

int64_t numElements(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s) {
    check(d >= 0, "negative dimension in shape ", shapeStr(s));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      fail("element count of shape ", shapeStr(s), " overflows");
    n *= d;
  }
  return n;
}

std::string shapeStr(const Shape &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i)
      r += ",";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

std::vector<int64_t> stridesOf(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t i = (int64_t)s.size() - 2; i >= 0; --i)
    st[i] = st[i + 1] * s[i + 1];
  return st;
}

Shape broadcastShapes(const Shape &a, const Shape &b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1)
      out[i] = da;
    else if (da == 1)
      out[i] = db;
    else
      fail("shapes ", shapeStr(a), " and ", shapeStr(b), " cannot be broadcast together");
  }
  return out;
}

int64_t normalizeAxis(int64_t axis, int64_t rank, const char *what) {
  if (axis < -rank || axis >= rank)
    fail(what, " axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

} // namespace adjoint
