#include "Plot.h"
#include "Frontend/TensorIO.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace adjoint::train {

std::vector<double> niceTicks(double lo, double hi, int target) {
  if (!(hi > lo))
    hi = lo + 1;
  double raw = (hi - lo) / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  // From integer multiples, so 0.6 is 6 * 0.1 rather than 0.1 added six times.
  for (int64_t i = (int64_t)std::ceil(lo / step - 1e-9); (double)i * step <= hi + step * 1e-9; ++i)
    ticks.push_back((double)i * step);
  return ticks;
}

namespace {

const char *kRaw = "#9ecae1", *kTrain = "#1f77b4", *kTest = "#e6550d";

std::string esc(const std::string &s) {
  std::string r;
  for (char c : s) {
    if (c == '&') r += "&amp;";
    else if (c == '<') r += "&lt;";
    else if (c == '>') r += "&gt;";
    else if (c == '"') r += "&quot;";
    else r += c;
  }
  return r;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tickLabel(double v, double step) {
  char buf[32];
  int decimals = step >= 1 ? 0 : (int)std::ceil(-std::log10(step) - 1e-9);
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  return buf;
}

struct Series {
  std::vector<double> x, y;
};

// Centered moving average over 2w+1 points. Near the start the window narrows symmetrically, so
// the curve starts at the first step's value (the initial loss); near the end it keeps its w
// points before i, so the last point is not one noisy step.
std::vector<double> smooth(const std::vector<double> &y, size_t w) {
  std::vector<double> prefix(y.size() + 1, 0.0), out(y.size());
  for (size_t i = 0; i < y.size(); ++i)
    prefix[i + 1] = prefix[i] + y[i];
  for (size_t i = 0; i < y.size(); ++i) {
    size_t left = std::min(w, i), right = std::min({w, i, y.size() - 1 - i});
    size_t a = i - left, b = i + right + 1;
    out[i] = (prefix[b] - prefix[a]) / (double)(b - a);
  }
  return out;
}

// At most `cap` evenly spaced points (the last kept), so long runs stay small files.
Series thin(const Series &s, size_t cap) {
  if (s.x.size() <= cap)
    return s;
  Series r;
  double stride = (double)s.x.size() / (double)cap;
  for (size_t k = 0; k < cap; ++k) {
    size_t i = (size_t)((double)k * stride);
    r.x.push_back(s.x[i]);
    r.y.push_back(s.y[i]);
  }
  r.x.push_back(s.x.back());
  r.y.push_back(s.y.back());
  return r;
}

struct Panel {
  double left, top, width, height;
  double x0, x1, y0, y1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

void polyline(std::ostringstream &os, const Panel &p, const Series &s, const char *color,
              double width, double opacity, const std::string &clip) {
  if (s.x.empty())
    return;
  os << "<polyline clip-path=\"url(#" << clip << ")\" fill=\"none\" stroke=\"" << color
     << "\" stroke-width=\"" << width << "\" stroke-opacity=\"" << opacity
     << "\" stroke-linejoin=\"round\" points=\"";
  for (size_t i = 0; i < s.x.size(); ++i)
    os << (i ? " " : "") << num(p.px(s.x[i])) << "," << num(p.py(s.y[i]));
  os << "\"/>\n";
}

void markers(std::ostringstream &os, const Panel &p, const Series &s, const char *color) {
  for (size_t i = 0; i < s.x.size(); ++i)
    os << "<circle cx=\"" << num(p.px(s.x[i])) << "\" cy=\"" << num(p.py(s.y[i]))
       << "\" r=\"3.5\" fill=\"white\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
}

void axes(std::ostringstream &os, const Panel &p, const std::vector<double> &xt,
          const std::vector<double> &yt, const std::string &xLabel, const std::string &yLabel,
          bool percent) {
  double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : yt) {
    double y = p.py(t);
    os << "<line x1=\"" << num(p.left) << "\" y1=\"" << num(y) << "\" x2=\""
       << num(p.left + p.width) << "\" y2=\"" << num(y)
       << "\" stroke=\"#e3e3e3\" stroke-width=\"1\"/>\n";
    os << "<text x=\"" << num(p.left - 8) << "\" y=\"" << num(y + 4)
       << "\" text-anchor=\"end\" class=\"tick\">"
       << tickLabel(percent ? 100 * t : t, percent ? 100 * ys : ys) << "</text>\n";
  }
  for (double t : xt) {
    double x = p.px(t);
    os << "<line x1=\"" << num(x) << "\" y1=\"" << num(p.top) << "\" x2=\"" << num(x)
       << "\" y2=\"" << num(p.top + p.height) << "\" stroke=\"#eeeeee\" stroke-width=\"1\"/>\n";
    os << "<line x1=\"" << num(x) << "\" y1=\"" << num(p.top + p.height) << "\" x2=\"" << num(x)
       << "\" y2=\"" << num(p.top + p.height + 5) << "\" stroke=\"#444\"/>\n";
    os << "<text x=\"" << num(x) << "\" y=\"" << num(p.top + p.height + 19)
       << "\" text-anchor=\"middle\" class=\"tick\">" << tickLabel(t, xs) << "</text>\n";
  }
  os << "<rect x=\"" << num(p.left) << "\" y=\"" << num(p.top) << "\" width=\"" << num(p.width)
     << "\" height=\"" << num(p.height) << "\" fill=\"none\" stroke=\"#444\"/>\n";
  os << "<text x=\"" << num(p.left + p.width / 2) << "\" y=\"" << num(p.top + p.height + 40)
     << "\" text-anchor=\"middle\" class=\"label\">" << esc(xLabel) << "</text>\n";
  double cy = p.top + p.height / 2;
  os << "<text transform=\"translate(" << num(p.left - 48) << "," << num(cy)
     << ") rotate(-90)\" text-anchor=\"middle\" class=\"label\">" << esc(yLabel) << "</text>\n";
}

void legend(std::ostringstream &os, const Panel &p,
            const std::vector<std::tuple<std::string, const char *, double, double, bool>> &items,
            bool bottom) {
  double w = 150, h = 10 + 18.0 * (double)items.size();
  double x = p.left + p.width - w - 10, y = bottom ? p.top + p.height - h - 10 : p.top + 10;
  os << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << w << "\" height=\""
     << num(h) << "\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#cccccc\" rx=\"3\"/>\n";
  for (size_t i = 0; i < items.size(); ++i) {
    auto [label, color, width, opacity, marker] = items[i];
    double ly = y + 14 + 18.0 * (double)i;
    os << "<line x1=\"" << num(x + 10) << "\" y1=\"" << num(ly) << "\" x2=\"" << num(x + 38)
       << "\" y2=\"" << num(ly) << "\" stroke=\"" << color << "\" stroke-width=\"" << width
       << "\" stroke-opacity=\"" << opacity << "\"/>\n";
    if (marker)
      os << "<circle cx=\"" << num(x + 24) << "\" cy=\"" << num(ly)
         << "\" r=\"3.5\" fill=\"white\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
    os << "<text x=\"" << num(x + 46) << "\" y=\"" << num(ly + 4) << "\" class=\"legend\">"
       << esc(label) << "</text>\n";
  }
}

Series finite(const std::vector<Point> &pts, bool byEpoch, bool accuracy) {
  Series s;
  for (const Point &p : pts) {
    double v = accuracy ? p.accuracy : p.loss;
    if (std::isfinite(v)) {
      s.x.push_back(byEpoch ? p.epoch : (double)p.step);
      s.y.push_back(v);
    }
  }
  return s;
}

} // namespace

std::string renderPlotSvg(const PlotData &d) {
  double lastEpoch = 0;
  for (const auto *v : {&d.train, &d.test})
    if (!v->empty())
      lastEpoch = std::max(lastEpoch, v->back().epoch);
  bool byEpoch = lastEpoch >= 1;
  std::string xLabel = byEpoch ? "epoch" : "step";

  bool acc = d.accuracy && !finite(d.train, byEpoch, true).x.empty();
  double W = acc ? 1000 : 620, H = 440;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
     << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"DejaVu Sans, Helvetica, Arial, "
     << "sans-serif\">\n<style>.tick{font-size:11px;fill:#333}.label{font-size:13px;fill:#222}"
     << ".legend{font-size:12px;fill:#222}.title{font-size:16px;font-weight:bold;fill:#111}"
     << ".sub{font-size:12px;fill:#555}.panel{font-size:13px;font-weight:bold;fill:#222}"
     << "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"24\" y=\"28\" class=\"title\">" << esc(d.title) << "</text>\n";
  os << "<text x=\"24\" y=\"48\" class=\"sub\">" << esc(d.subtitle) << "</text>\n";

  int panels = acc ? 2 : 1;
  double panelW = (W - 24) / panels;
  for (int k = 0; k < panels; ++k) {
    bool isAcc = k == 1;
    Series raw = finite(d.train, byEpoch, isAcc), test = finite(d.test, byEpoch, isAcc);
    Series sm = raw;
    sm.y = smooth(raw.y, raw.y.size() / 60);
    double xmax = 0;
    for (const Series *s : {&raw, &test})
      if (!s->x.empty())
        xmax = std::max(xmax, s->x.back());
    if (xmax <= 0)
      xmax = 1;
    std::vector<double> all = sm.y;
    all.insert(all.end(), test.y.begin(), test.y.end());
    // Outlying steps (the first few) may leave the frame; the smoothed curve decides the scale.
    std::vector<double> sorted = raw.y;
    std::sort(sorted.begin(), sorted.end());
    double hi = 1, lo = 0;
    if (!all.empty()) {
      hi = *std::max_element(all.begin(), all.end());
      lo = *std::min_element(all.begin(), all.end());
    }
    if (!sorted.empty()) { // all but the most extreme 1% of steps stay in the frame
      hi = std::max(hi, sorted[(size_t)(0.99 * (double)(sorted.size() - 1))]);
      lo = std::min(lo, sorted[(size_t)(0.01 * (double)(sorted.size() - 1))]);
    }
    Panel p;
    p.left = 24 + panelW * k + 64;
    p.top = 82;
    p.width = panelW - 64 - 30;
    p.height = H - p.top - 62;
    p.x0 = 0;
    std::vector<double> xt = niceTicks(0, xmax, 6);
    p.x1 = std::max(xmax, xt.back());
    std::vector<double> yt;
    if (isAcc) {
      double bottom = std::max(0.0, lo - 0.05 * (1 - lo));
      yt = niceTicks(bottom, 1.0, 6);
      p.y0 = std::min(yt.front(), bottom);
      p.y1 = 1.0;
    } else {
      yt = niceTicks(0, hi * 1.05 > 0 ? hi * 1.05 : 1, 6);
      p.y0 = 0;
      p.y1 = std::max(yt.back(), hi * 1.05);
    }
    if (p.y1 <= p.y0)
      p.y1 = p.y0 + 1;
    std::string clip = "plot" + std::to_string(k);
    os << "<clipPath id=\"" << clip << "\"><rect x=\"" << num(p.left) << "\" y=\"" << num(p.top)
       << "\" width=\"" << num(p.width) << "\" height=\"" << num(p.height)
       << "\"/></clipPath>\n";
    os << "<text x=\"" << num(p.left) << "\" y=\"" << num(p.top - 10) << "\" class=\"panel\">"
       << (isAcc ? "accuracy" : "loss") << "</text>\n";
    axes(os, p, xt, yt, xLabel, isAcc ? "accuracy (%)" : "loss", isAcc);
    polyline(os, p, thin(raw, 3000), kRaw, 1, 0.8, clip);
    polyline(os, p, thin(sm, 3000), kTrain, 2.2, 1, clip);
    polyline(os, p, test, kTest, 2, 1, clip);
    markers(os, p, test, kTest);
    std::vector<std::tuple<std::string, const char *, double, double, bool>> items = {
        {"train (per step)", kRaw, 2, 0.8, false},
        {"train (smoothed)", kTrain, 2.2, 1, false}};
    if (!test.x.empty())
      items.emplace_back("test", kTest, 2, 1, true);
    legend(os, p, items, isAcc);
  }
  os << "</svg>\n";
  return os.str();
}

void writePlot(const std::string &path, const PlotData &d) {
  writeFileAtomic(path, renderPlotSvg(d));
}

} // namespace adjoint::train
