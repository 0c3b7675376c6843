// adjoint-gpu-replay: runs GPU check bundles (compiler/CodeGen/GpuBundle.h) on a machine that
// has a CUDA driver and a C++ compiler but not the compiler's dependencies (LLVM, ONNX): the
// plans were compiled elsewhere; this needs only runtime/cuda. bench/gpu-check --replay builds
// it with one g++ command:
//   g++ -O2 -std=c++20 -Iruntime -I$CUDA/include bench/gpu/replay.cpp runtime/cuda/CudaRuntime.cpp
//       runtime/cuda/PlanFile.cpp -ldl -o adjoint-gpu-replay
// Usage: adjoint-gpu-replay [--steps N] BUNDLE_DIR...
//   check: outputs against the interpreter's (the bundle's tolerances), one line per bundle;
//   curve: the training steps against the CPU JIT's loss curve (1e-3 relative for 20 steps,
//          2e-2 after);
//   time:  median step time (batch upload + step) over N steps, one JSON line.
// Exit status 1 when any check or curve fails.
#include "cuda/CudaRuntime.h"
#include "cuda/PlanFile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace adjoint::gpu;

namespace {

struct Blob {
  int slot = -1;
  std::string dtype;
  int64_t numel = 0;
  std::vector<char> bytes;
};

int64_t dsize(const std::string &d) {
  if (d == "f32" || d == "i32")
    return 4;
  if (d == "f64" || d == "i64")
    return 8;
  if (d == "bool")
    return 1;
  throw std::runtime_error("unknown dtype " + d);
}

double element(const Blob &b, int64_t i) {
  const char *p = b.bytes.data() + i * dsize(b.dtype);
  if (b.dtype == "f32") {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  if (b.dtype == "f64") {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  if (b.dtype == "i64") {
    int64_t v;
    std::memcpy(&v, p, 8);
    return (double)v;
  }
  if (b.dtype == "i32") {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  return p[0] != 0;
}

struct Bundle {
  std::string dir, kind;
  std::map<std::string, std::string> info;
  double f32 = 1e-4, f64 = 1e-9, ofMax = 1e-5;
  std::vector<Blob> inputs, expect;
  std::vector<std::pair<int, int>> feedback;
  std::map<int, std::vector<Blob>> batches;
  int64_t steps = 0;
  int stepSlot = -1, lossSlot = -1;
  std::vector<double> curve;
};

Blob readBlob(const std::string &dir, std::istringstream &line) {
  Blob b;
  std::string file;
  line >> b.slot >> b.dtype >> b.numel >> file;
  b.bytes.assign((size_t)(b.numel * dsize(b.dtype)), 0);
  if (file == "zero")
    return b;
  std::ifstream f(dir + "/" + file, std::ios::binary);
  f.read(b.bytes.data(), (std::streamsize)b.bytes.size());
  if (!f)
    throw std::runtime_error(dir + "/" + file + ": short or missing");
  return b;
}

Bundle readBundle(const std::string &dir) {
  std::ifstream m(dir + "/manifest.txt");
  if (!m)
    throw std::runtime_error(dir + ": no manifest.txt");
  Bundle b;
  b.dir = dir;
  for (std::string text; std::getline(m, text);) {
    std::istringstream line(text);
    std::string key;
    line >> key;
    if (key == "kind")
      line >> b.kind;
    else if (key == "info") {
      std::string k, v;
      line >> k;
      std::getline(line, v);
      b.info[k] = v.empty() ? v : v.substr(1);
    } else if (key == "tolerance")
      line >> b.f32 >> b.f64 >> b.ofMax;
    else if (key == "input")
      b.inputs.push_back(readBlob(dir, line));
    else if (key == "expect")
      b.expect.push_back(readBlob(dir, line));
    else if (key == "feedback") {
      int o, i;
      line >> o >> i;
      b.feedback.push_back({o, i});
    } else if (key == "batch") {
      int k;
      line >> k;
      b.batches[k].push_back(readBlob(dir, line));
    } else if (key == "steps")
      line >> b.steps;
    else if (key == "stepslot")
      line >> b.stepSlot;
    else if (key == "loss")
      line >> b.lossSlot;
    else if (key == "curve")
      for (double v; line >> v;)
        b.curve.push_back(v);
  }
  return b;
}

// "" when equal within tolerance (NaN equals NaN), else the first difference.
std::string compare(const Bundle &b, const Blob &want, const std::vector<char> &got) {
  Blob g = want;
  g.bytes = got;
  double maxAbs = 0;
  bool isFloat = want.dtype == "f32" || want.dtype == "f64";
  for (int64_t i = 0; isFloat && i < want.numel; ++i)
    if (std::isfinite(element(want, i)))
      maxAbs = std::max(maxAbs, std::fabs(element(want, i)));
  double rtol = want.dtype == "f32" ? b.f32 : b.f64;
  for (int64_t i = 0; i < want.numel; ++i) {
    double a = element(want, i), c = element(g, i);
    bool same = (std::isnan(a) && std::isnan(c)) || a == c ||
                (isFloat && (std::fabs(a - c) <= rtol * std::max(std::fabs(a), std::fabs(c)) ||
                             std::fabs(a - c) <= b.ofMax * maxAbs));
    if (!same) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "slot %d element %lld: got %.9g, expected %.9g", want.slot, (long long)i, c, a);
      return buf;
    }
  }
  return "";
}

void uploadAll(CudaProgram &p, const std::vector<Blob> &blobs) {
  for (const Blob &x : blobs)
    p.upload(x.slot, x.bytes.data(), (int64_t)x.bytes.size());
}

double loss(CudaProgram &p, const Bundle &b) {
  const Slot &s = p.plan().slots[(size_t)b.lossSlot];
  std::vector<char> out((size_t)s.bytes);
  p.download(b.lossSlot, out.data(), s.bytes);
  if (s.bytes == 8) {
    double v;
    std::memcpy(&v, out.data(), 8);
    return v;
  }
  float v;
  std::memcpy(&v, out.data(), 4);
  return v;
}

void step(CudaProgram &p, const Bundle &b, int64_t s) {
  if (!b.batches.empty())
    uploadAll(p, b.batches.at((int)(s % (int64_t)b.batches.size())));
  int64_t count = s + 1;
  if (b.stepSlot >= 0)
    p.upload(b.stepSlot, &count, 8);
  p.run();
  for (const auto &[o, i] : b.feedback)
    p.copySlot(i, o, p.plan().slots[(size_t)o].bytes);
}

bool runBundle(const Bundle &b, int64_t timeSteps) {
  CudaProgram p(readPlanFile(b.dir + "/plan.adjplan"));
  uploadAll(p, b.inputs);
  if (b.kind == "check") {
    p.run();
    for (const Blob &want : b.expect) {
      std::vector<char> got(want.bytes.size());
      p.download(want.slot, got.data(), (int64_t)got.size());
      std::string d = compare(b, want, got);
      if (!d.empty()) {
        std::printf("FAIL %s: %s\n", b.dir.c_str(), d.c_str());
        return false;
      }
    }
    std::printf("ok   %s (%zu outputs, %.3f ms)\n", b.dir.c_str(), b.expect.size(), p.lastRunMs());
    return true;
  }
  if (b.kind == "curve") {
    double first = 0, last = 0;
    for (int64_t s = 0; s < b.steps && s < (int64_t)b.curve.size(); ++s) {
      step(p, b, s);
      double l = loss(p, b), want = b.curve[(size_t)s];
      double tol = (s < 20 ? 1e-3 : 2e-2) * std::max(1.0, std::fabs(want));
      if (!(std::fabs(l - want) <= tol)) {
        std::printf("FAIL %s: step %lld loss %.6f, CPU JIT %.6f\n", b.dir.c_str(), (long long)s + 1, l, want);
        return false;
      }
      if (s == 0)
        first = l;
      last = l;
    }
    std::printf("ok   %s: %lld steps, loss %.4f -> %.4f (CPU JIT %.4f -> %.4f)\n", b.dir.c_str(), (long long)b.steps,
                first, last, b.curve.front(), b.curve[(size_t)b.steps - 1]);
    return true;
  }
  // time
  using Clock = std::chrono::steady_clock;
  std::vector<double> wall, device;
  for (int64_t s = 0; s < 10 + timeSteps; ++s) {
    auto t0 = Clock::now();
    step(p, b, s);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (s >= 10) {
      wall.push_back(ms);
      device.push_back(p.lastRunMs());
    }
  }
  std::sort(wall.begin(), wall.end());
  std::sort(device.begin(), device.end());
  int launches = 0, gemms = 0;
  for (const Step &s : p.plan().steps)
    launches += s.kind == Step::Kind::Launch, gemms += s.kind == Step::Kind::Gemm;
  std::printf("{\"model\": \"%s\", \"batch\": %s, \"device\": \"%s\", \"step_ms\": %.4f, \"device_ms\": %.4f, "
              "\"cpu_jit_ms\": %s, \"compile_s\": %s, \"kernels\": %d, \"gemms\": %d, \"final_loss\": %.5f}\n",
              b.info.count("model") ? b.info.at("model").c_str() : "?",
              b.info.count("batch") ? b.info.at("batch").c_str() : "0", cudaDeviceName().c_str(), wall[wall.size() / 2],
              device[device.size() / 2], b.info.count("cpu_jit_ms") ? b.info.at("cpu_jit_ms").c_str() : "0",
              b.info.count("compile_s") ? b.info.at("compile_s").c_str() : "0", launches, gemms, loss(p, b));
  return true;
}

} // namespace

int main(int argc, char **argv) {
  int64_t steps = 100;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::stoll(argv[++i]);
    else
      dirs.push_back(a);
  }
  std::string why;
  if (!cudaAvailable(&why)) {
    std::printf("SKIPPED: no CUDA device here (%s)\n", why.c_str());
    return 77;
  }
  int failed = 0, passed = 0;
  for (const std::string &d : dirs) {
    try {
      Bundle b = readBundle(d);
      (runBundle(b, steps) ? passed : failed)++;
    } catch (const std::exception &e) {
      std::printf("FAIL %s: %s\n", d.c_str(), e.what());
      ++failed;
    }
  }
  if (dirs.size() > 1)
    std::printf("%d passed, %d failed on %s (%s)\n", passed, failed, cudaDeviceName().c_str(), cudaDeviceArch().c_str());
  return failed ? 1 : 0;
}
