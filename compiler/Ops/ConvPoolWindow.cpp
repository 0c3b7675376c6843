// The window geometry of Conv and pooling (Ops/ConvPoolWindow.h).
#include "Ops/ConvPoolWindow.h"
#include "Ops/KernelUtil.h"

#include <algorithm>

namespace adjoint::convpool {

namespace {
std::vector<int64_t> intsOr(const AttrReader &a, const char *name, std::vector<int64_t> dflt) {
  return a.has(name) ? a.ints(name) : std::move(dflt);
}
} // namespace

Window computeWindow(const AttrReader &a, const std::string &who, const Shape &in, Shape kernel,
                     bool ceilMode) {
  Window w;
  w.rank = in.size();
  w.in = in;
  w.kernel = std::move(kernel);
  const size_t k = w.rank;
  w.strides = intsOr(a, "strides", Shape(k, 1));
  // AveragePool has no dilations before opset 19; its schema lacks the attribute.
  w.dilations = Shape(k, 1);
  if (a.has("dilations"))
    w.dilations = a.ints("dilations");
  if (w.kernel.size() != k)
    fail(who, ": kernel_shape has ", w.kernel.size(), " values for ", k, " spatial axes");
  if (w.strides.size() != k)
    fail(who, ": strides has ", w.strides.size(), " values for ", k, " spatial axes");
  if (w.dilations.size() != k)
    fail(who, ": dilations has ", w.dilations.size(), " values for ", k, " spatial axes");
  for (size_t i = 0; i < k; ++i) {
    if (w.kernel[i] < 1)
      fail(who, ": kernel size must be positive, got ", shapeStr(w.kernel));
    if (w.strides[i] < 1)
      fail(who, ": strides must be positive, got ", shapeStr(w.strides));
    if (w.dilations[i] < 1)
      fail(who, ": dilations must be positive, got ", shapeStr(w.dilations));
  }

  std::string autoPad = a.s("auto_pad");
  std::vector<int64_t> pads = intsOr(a, "pads", Shape(2 * k, 0));
  if (pads.size() != 2 * k)
    fail(who, ": pads has ", pads.size(), " values, expected ", 2 * k);
  for (int64_t p : pads)
    if (p < 0)
      fail(who, ": pads must be non-negative, got ", shapeStr(pads));
  bool explicitPads = false;
  for (int64_t p : pads)
    explicitPads |= p != 0;

  w.padBegin.assign(pads.begin(), pads.begin() + k);
  w.padEnd.assign(pads.begin() + k, pads.end());
  if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    if (explicitPads)
      fail(who, ": explicit pads cannot be combined with auto_pad ", autoPad);
    for (size_t i = 0; i < k; ++i) {
      int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1;
      int64_t out = (in[i] + w.strides[i] - 1) / w.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + ek - in[i]);
      int64_t small = total / 2, large = total - total / 2;
      w.padBegin[i] = autoPad == "SAME_UPPER" ? small : large;
      w.padEnd[i] = total - w.padBegin[i];
    }
  } else if (autoPad == "VALID") {
    if (explicitPads)
      fail(who, ": explicit pads cannot be combined with auto_pad VALID");
  } else if (autoPad != "NOTSET") {
    fail(who, ": auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '", autoPad, "'");
  }

  w.out.resize(k);
  for (size_t i = 0; i < k; ++i) {
    int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t span = in[i] + w.padBegin[i] + w.padEnd[i] - ek;
    if (span < 0)
      fail(who, ": padded input extent ", in[i] + w.padBegin[i] + w.padEnd[i],
           " along spatial axis ", i, " is smaller than the dilated kernel extent ", ek);
    int64_t s = w.strides[i];
    int64_t out = (ceilMode ? (span + s - 1) / s : span / s) + 1;
    // A last window starting in the end padding would see no input: drop it.
    if (ceilMode && (out - 1) * s >= in[i] + w.padBegin[i])
      --out;
    w.out[i] = out;
  }
  return w;
}

// Pooling has no value for a window that holds only padding (max of nothing, mean of nothing).
// Only windows that start before the input or at/after its end can be empty, so this checks
// those alone, each in O(1): huge declared pads must not make inference loop.
void requireNonEmptyWindows(const std::string &who, const Window &w) {
  for (size_t i = 0; i < w.rank; ++i) {
    const int64_t s = w.strides[i], d = w.dilations[i], pb = w.padBegin[i];
    auto empty = [&](int64_t o) {
      int64_t start = o * s - pb;
      if (start >= w.in[i])
        return true;
      if (start >= 0)
        return false;
      int64_t j = (-start + d - 1) / d; // first tap at or after input position 0
      return j >= w.kernel[i] || start + j * d >= w.in[i];
    };
    int64_t firstInside = (pb + s - 1) / s;         // first window starting at position >= 0
    int64_t firstPast = (w.in[i] + pb + s - 1) / s; // first window starting at position >= in
    int64_t bad = -1;
    for (int64_t o = 0; o < std::min(firstInside, w.out[i]) && bad < 0; ++o)
      if (empty(o))
        bad = o;
    if (bad < 0 && firstPast < w.out[i])
      bad = firstPast;
    if (bad >= 0)
      fail(who, ": the pooling window at output position ", bad, " of spatial axis ", i,
           " covers only padding (pads ", shapeStr(w.padBegin), " / ", shapeStr(w.padEnd),
           ", kernel ", shapeStr(w.kernel), ")");
  }
}

Taps buildTaps(const Window &w) {
  Taps t;
  t.outSize = numElements(w.out);
  t.kSize = numElements(w.kernel);
  t.inSize = numElements(w.in);
  std::vector<int64_t> inStrides = stridesOf(w.in);
  std::vector<std::vector<int64_t>> tapPos(t.kSize);
  for (int64_t j = 0; j < t.kSize; ++j)
    tapPos[j] = unravelIndex(j, w.kernel);
  t.index.assign(t.outSize * t.kSize, -1);
  t.padded.assign(t.outSize, 0);
  std::vector<int64_t> o(w.rank, 0);
  for (int64_t lin = 0; lin < t.outSize; ++lin) {
    for (int64_t j = 0; j < t.kSize; ++j) {
      bool valid = true, inPadded = true;
      int64_t off = 0;
      for (size_t i = 0; i < w.rank; ++i) {
        int64_t pos = o[i] * w.strides[i] - w.padBegin[i] + tapPos[j][i] * w.dilations[i];
        valid &= pos >= 0 && pos < w.in[i];
        inPadded &= pos < w.in[i] + w.padEnd[i];
        off += pos * inStrides[i];
      }
      if (valid)
        t.index[lin * t.kSize + j] = off;
      t.padded[lin] += inPadded;
    }
    for (int64_t d = (int64_t)w.rank - 1; d >= 0; --d) {
      if (++o[d] < w.out[d])
        break;
      o[d] = 0;
    }
  }
  return t;
}

Window convWindow(const AttrReader &a, const std::string &who, const Shape &x, const Shape &wt) {
  Shape kernel = spatialOf(wt);
  if (a.has("kernel_shape") && a.ints("kernel_shape") != kernel)
    fail(who, ": kernel_shape ", shapeStr(a.ints("kernel_shape")),
         " does not match the weight's spatial shape ", shapeStr(kernel));
  return computeWindow(a, who, spatialOf(x), kernel, false);
}

Window poolWindow(const AttrReader &a, const std::string &who, const Shape &x) {
  return computeWindow(a, who, spatialOf(x), a.ints("kernel_shape"), a.i("ceil_mode") != 0);
}

int64_t columnMajorOffset(int64_t rowMajor, const Shape &in) {
  std::vector<int64_t> idx = unravelIndex(rowMajor, in);
  int64_t off = 0, stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    off += idx[i] * stride;
    stride *= in[i];
  }
  return off;
}

} // namespace adjoint::convpool
