#include "Process.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace adjoint::bench {

Memory readMemory() {
  Memory m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    long long kib = 0;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kib) == 1)
      m.peakKiB = kib;
    else if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kib) == 1)
      m.currentKiB = kib;
  }
  return m;
}

bool resetPeakMemory() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

} // namespace adjoint::bench
