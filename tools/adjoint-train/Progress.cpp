#include "Progress.h"

#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace adjoint::train {

std::string formatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7)
    return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string formatRate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 100 ? "%.0f" : "%.1f", v);
  return buf;
}

Progress::Progress(std::ostream &out, Mode mode, int64_t printEvery)
    : out_(out), mode_(mode), printEvery_(printEvery > 0 ? printEvery : 1) {}

Progress::Mode Progress::modeFor(const std::string &flag) {
  if (flag == "bar")
    return Mode::Bar;
  if (flag == "lines")
    return Mode::Lines;
  if (flag == "none")
    return Mode::None;
  return isatty(STDOUT_FILENO) ? Mode::Bar : Mode::Lines;
}

std::string Progress::barLine(const ProgressInfo &p) const {
  constexpr int width = 24;
  double frac = p.batches ? (double)p.batch / (double)p.batches : 0;
  int filled = (int)std::floor(frac * width);
  std::string bar(width, ' ');
  for (int i = 0; i < filled && i < width; ++i)
    bar[i] = '=';
  if (filled < width && p.batch > 0)
    bar[filled] = '>';
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "epoch %lld/%lld [%s] %lld/%lld  loss %.4f",
                        (long long)p.epoch, (long long)p.epochs, bar.c_str(), (long long)p.batch,
                        (long long)p.batches, p.loss);
  std::string s(buf, (size_t)std::max(n, 0));
  if (p.accuracy >= 0) {
    std::snprintf(buf, sizeof buf, "  acc %.1f%%", 100 * p.accuracy);
    s += buf;
  }
  s += "  " + formatRate(p.examplesPerSecond) + " ex/s  ETA " + formatDuration(p.etaSeconds);
  return s;
}

void Progress::update(const ProgressInfo &p, bool force) {
  if (mode_ == Mode::None)
    return;
  if (mode_ == Mode::Bar) {
    auto now = std::chrono::steady_clock::now();
    if (!force && barShown_ && now - lastDraw_ < std::chrono::milliseconds(100))
      return;
    lastDraw_ = now;
    out_ << "\r" << barLine(p) << "\x1b[K" << std::flush;
    barShown_ = true;
    return;
  }
  if (!force && p.batch % printEvery_ != 0 && p.batch != p.batches)
    return;
  char buf[256];
  std::snprintf(buf, sizeof buf, "epoch %lld/%lld  step %lld/%lld  loss %.4f", (long long)p.epoch,
                (long long)p.epochs, (long long)p.batch, (long long)p.batches, p.loss);
  std::string s = buf;
  if (p.accuracy >= 0) {
    std::snprintf(buf, sizeof buf, "  acc %.1f%%", 100 * p.accuracy);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "  lr %.3g", p.lr);
  s += buf;
  s += "  " + formatRate(p.examplesPerSecond) + " ex/s  ETA " + formatDuration(p.etaSeconds);
  out_ << s << "\n" << std::flush;
}

void Progress::finishBar() {
  if (barShown_)
    out_ << "\r\x1b[K" << std::flush;
  barShown_ = false;
}

void Progress::message(const std::string &line) {
  finishBar();
  out_ << line << "\n" << std::flush; // summaries print in every mode; none hides only steps
}

} // namespace adjoint::train
