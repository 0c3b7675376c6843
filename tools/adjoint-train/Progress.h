#pragma once
// What a person watching the run sees: on a terminal, one progress line redrawn in place (epoch,
// bar, step, loss, accuracy, examples/s, ETA); otherwise plain lines every few steps, so a log
// file stays readable. Other messages clear the bar first.
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace adjoint::train {

struct ProgressInfo {
  int64_t epoch = 0, epochs = 0;           // 1-based current epoch, total
  int64_t batch = 0, batches = 0;          // batches of this epoch done, in it
  int64_t step = 0, steps = 0;             // steps done, in the run
  double loss = 0;                         // running mean over the epoch
  double accuracy = -1;                    // running, in [0,1]; < 0: none
  double lr = 0;
  double examplesPerSecond = 0;
  double etaSeconds = -1;                  // < 0: unknown
};

class Progress {
public:
  enum class Mode { Bar, Lines, None };
  Progress(std::ostream &out, Mode mode, int64_t printEvery);

  // Mode for --progress=auto|bar|lines|none (auto: a bar when stdout is a terminal).
  static Mode modeFor(const std::string &flag);

  void update(const ProgressInfo &p, bool force = false);
  void message(const std::string &line); // a line of its own (a newline is added)
  void finishBar();                      // ends the bar's line
  void setPrintEvery(int64_t n) { printEvery_ = n; }

private:
  std::string barLine(const ProgressInfo &p) const;
  std::ostream &out_;
  Mode mode_;
  int64_t printEvery_;
  bool barShown_ = false;
  std::chrono::steady_clock::time_point lastDraw_{};
};

std::string formatDuration(double seconds); // "1:05", "1:02:03"
std::string formatRate(double perSecond);   // "1534", "12.5"

} // namespace adjoint::train
