#include "MetricsLog.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace adjoint::train {

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[32];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

namespace {

// The "step" value of a log line, or -1.
int64_t stepOf(const std::string &line) {
  size_t k = line.find("\"step\":");
  if (k == std::string::npos)
    return -1;
  return std::strtoll(line.c_str() + k + 7, nullptr, 10);
}

} // namespace

void MetricsLog::open(const std::string &path, int64_t keepThroughStep) {
  path_ = path;
  if (keepThroughStep >= 0) {
    std::ifstream in(path);
    std::string kept, line;
    while (std::getline(in, line))
      if (!line.empty() && stepOf(line) >= 0 && stepOf(line) <= keepThroughStep)
        kept += line + "\n";
    writeFileAtomic(path, kept);
    out_.open(path, std::ios::app);
  } else {
    writeFileAtomic(path, "");
    out_.open(path, std::ios::app);
  }
  check(out_.is_open(), path, ": cannot open the metrics log for writing");
}

void MetricsLog::train(const Point &p, double examplesPerSecond, double seconds) {
  if (!out_.is_open())
    return;
  out_ << "{\"type\":\"train\",\"step\":" << p.step << ",\"epoch\":" << jsonNumber(p.epoch)
       << ",\"loss\":" << jsonNumber(p.loss) << ",\"accuracy\":" << jsonNumber(p.accuracy)
       << ",\"lr\":" << jsonNumber(p.lr) << ",\"examples_per_s\":"
       << jsonNumber(std::round(examplesPerSecond * 10) / 10)
       << ",\"seconds\":" << jsonNumber(std::round(seconds * 1000) / 1000) << "}\n";
  out_.flush();
}

void MetricsLog::test(const Point &p, int64_t examples) {
  if (!out_.is_open())
    return;
  out_ << "{\"type\":\"test\",\"step\":" << p.step << ",\"epoch\":" << jsonNumber(p.epoch)
       << ",\"loss\":" << jsonNumber(p.loss) << ",\"accuracy\":" << jsonNumber(p.accuracy)
       << ",\"examples\":" << examples << "}\n";
  out_.flush();
}

} // namespace adjoint::train
