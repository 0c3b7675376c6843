#pragma once
// --log=PATH: one JSON object per line, flushed as it is written, so an interrupted run keeps
// every line before the interruption:
//   {"type":"train","step":12,"epoch":0.0128,"loss":1.234,"accuracy":0.61,"lr":0.001,
//    "examples_per_s":1530,"seconds":0.83}
//   {"type":"test","step":938,"epoch":1,"loss":0.441,"accuracy":0.8441,"examples":10000}
// (accuracy is null for losses without one). A resumed run first drops the lines after the
// checkpoint's step (rewriting the file atomically), then appends.
#include "TrainState.h"

#include <fstream>
#include <string>

namespace adjoint::train {

class MetricsLog {
public:
  MetricsLog() = default;
  // Opens path; with keepThroughStep >= 0, keeps the existing lines up to that step.
  void open(const std::string &path, int64_t keepThroughStep);
  bool isOpen() const { return out_.is_open(); }
  void train(const Point &p, double examplesPerSecond, double seconds);
  void test(const Point &p, int64_t examples);

private:
  std::ofstream out_;
  std::string path_;
};

std::string jsonNumber(double v); // shortest round-trip form; null when not finite

} // namespace adjoint::train
