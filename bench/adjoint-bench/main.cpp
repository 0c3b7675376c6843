// adjoint-bench: times one model's compiled training step (or forward pass) the way a training
// loop runs it, or the machine's large-sgemm peak, and prints one JSON line for bench/run.
//
//   adjoint-bench train|infer MODEL.onnx --batch=N --threads=T [--warmup=W] [--rounds=R]
//                 [--steps=K] [--gemm-stats]
//   adjoint-bench sgemm-peak --threads=T [--size=N] [--repeat=K]
//
// Times are per step, from a steady clock around each call; `rounds` groups of `steps` steps
// follow `warmup` untimed ones, and the spread is that of the rounds' medians. Memory is the
// process's resident set (VmHWM): `peak_rss_kib` over the whole run (import, compilation, LLVM,
// the loop), `loop_peak_rss_kib` from just before the first timed step to the end. The step
// count is fixed, so `loss_bits` (the last step's loss, bit pattern) is comparable between runs.
#include "Process.h"
#include "Step.h"
#include "Support/Error.h"
#include "adjoint_runtime.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

using namespace adjoint;
using namespace adjoint::bench;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string mode, model;
  StepOptions step;
  int64_t threads = 1, warmup = 3, rounds = 5, steps = 10, size = 2048, repeat = 5;
  bool gemmStats = false;
};

int64_t number(const std::string &flag, const std::string &v) {
  char *end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  check(!v.empty() && *end == 0 && n >= 0, "adjoint-bench: ", flag, " expects a number, got '",
        v, "'");
  return n;
}

Args parse(int argc, char **argv) {
  check(argc >= 2, "usage: adjoint-bench train|infer MODEL --batch=N --threads=T ... | "
                   "adjoint-bench sgemm-peak --threads=T");
  Args a;
  a.mode = argv[1];
  check(a.mode == "train" || a.mode == "infer" || a.mode == "sgemm-peak",
        "adjoint-bench: unknown mode '", a.mode, "' (train, infer, sgemm-peak)");
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    size_t eq = s.find('=');
    std::string flag = s.substr(0, eq), v = eq == std::string::npos ? "" : s.substr(eq + 1);
    if (flag == "--batch")
      a.step.batch = number(flag, v);
    else if (flag == "--threads")
      a.threads = number(flag, v);
    else if (flag == "--warmup")
      a.warmup = number(flag, v);
    else if (flag == "--rounds")
      a.rounds = std::max<int64_t>(1, number(flag, v));
    else if (flag == "--steps")
      a.steps = std::max<int64_t>(1, number(flag, v));
    else if (flag == "--size")
      a.size = number(flag, v);
    else if (flag == "--repeat")
      a.repeat = std::max<int64_t>(1, number(flag, v));
    else if (flag == "--gemm-stats" && eq == std::string::npos)
      a.gemmStats = true;
    else if (s.rfind("--", 0) != 0 && a.model.empty() && a.mode != "sgemm-peak")
      a.model = s;
    else
      fail("adjoint-bench: unknown argument '", s, "'");
  }
  check(a.mode == "sgemm-peak" || !a.model.empty(), "adjoint-bench: no model given");
  a.step.model = a.model;
  a.step.train = a.mode == "train";
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// CPU time of the calling thread: on a loaded machine it tracks the work a 1-thread step does
// better than the wall clock (which also counts the time other processes held the core).
double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}


void sgemmPeak(const Args &a) {
  // OpenBLAS's own threads here (the runtime keeps BLAS single-threaded and splits products
  // itself): the peak of the library as shipped.
  openblas_set_num_threads((int)a.threads);
  int n = (int)a.size;
  std::vector<float> x((size_t)n * n, 0.5f), y((size_t)n * n, 0.25f), z((size_t)n * n);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, x.data(), n, y.data(), n,
              0.0f, z.data(), n);
  std::vector<double> gflops;
  for (int64_t r = 0; r < a.repeat; ++r) {
    auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, x.data(), n, y.data(),
                n, 0.0f, z.data(), n);
    gflops.push_back(2.0 * n * (double)n * n / (msSince(t0) * 1e6));
  }
  std::printf("{\"mode\":\"sgemm-peak\",\"threads\":%lld,\"size\":%d,\"gflops\":%.2f,"
              "\"gflops_max\":%.2f}\n",
              (long long)a.threads, n, median(gflops),
              *std::max_element(gflops.begin(), gflops.end()));
}

void timeStep(const Args &a) {
  double cpu0 = threadCpuMs();
  BenchStep step(a.step);
  double compileCpuS = (threadCpuMs() - cpu0) * 1e-3;
  Memory afterCompile = readMemory();
  for (int64_t i = 0; i < a.warmup; ++i)
    step.run();
  bool reset = resetPeakMemory();
  std::vector<double> all, roundMedians, cpu;
  for (int64_t r = 0; r < a.rounds; ++r) {
    std::vector<double> times;
    for (int64_t i = 0; i < a.steps; ++i) {
      double c0 = threadCpuMs();
      auto t0 = Clock::now();
      step.run();
      times.push_back(msSince(t0));
      cpu.push_back(threadCpuMs() - c0);
    }
    roundMedians.push_back(median(times));
    all.insert(all.end(), times.begin(), times.end());
  }
  Memory loop = readMemory();
  double med = median(all);
  auto [lo, hi] = std::minmax_element(roundMedians.begin(), roundMedians.end());
  double loss = step.loss();
  uint64_t bits = 0;
  if (a.step.train)
    std::memcpy(&bits, &loss, sizeof bits);

  std::string gemm = "null";
  if (a.gemmStats) {
    int64_t k = std::max<int64_t>(a.steps, 3);
    adj_gemm_profile(1);
    auto t0 = Clock::now();
    for (int64_t i = 0; i < k; ++i)
      step.run();
    double stepMs = msSince(t0) / (double)k;
    int64_t calls = 0;
    double seconds = 0, flops = 0;
    adj_gemm_stats(&calls, &seconds, &flops);
    adj_gemm_profile(0);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"calls\":%.1f,\"gflop\":%.4f,\"ms\":%.4f,\"gflops\":%.2f,\"step_ms\":%.4f}",
                  (double)calls / (double)k, flops / (double)k * 1e-9, seconds * 1e3 / (double)k,
                  seconds > 0 ? flops / seconds * 1e-9 : 0.0, stepMs);
    gemm = buf;
  }
  Memory end = readMemory();
  const CompileStats &js = step.jitStats();
  std::printf("{\"mode\":\"%s\",\"batch\":%lld,\"threads\":%lld,\"compile_s\":%.4f,"
              "\"compile_cpu_s\":%.4f,\"cpu_ms\":%.4f,\"jit_s\":%.4f,\"lower_s\":%.4f,\"optimize_s\":%.4f,\"codegen_s\":%.4f,"
              "\"op_functions\":%lld,\"median_ms\":%.4f,\"min_ms\":%.4f,"
              "\"spread_pct\":%.2f,\"steps\":%lld,\"peak_rss_kib\":%lld,"
              "\"compile_rss_kib\":%lld,\"loop_peak_rss_kib\":%lld,\"peak_reset\":%s,"
              "\"workspace_bytes\":%lld,\"in_place_updates\":%lld,\"swapped_updates\":%lld,"
              "\"loss\":%.9g,\"loss_bits\":\"%016llx\",\"gemm\":%s}\n",
              a.mode.c_str(), (long long)a.step.batch, (long long)a.threads,
              step.compileSeconds(), compileCpuS, median(cpu), js.totalSeconds(), js.lowerSeconds, js.optimizeSeconds,
              js.codegenSeconds, (long long)js.opFunctions, med,
              *std::min_element(all.begin(), all.end()), 100.0 * (*hi - *lo) / med,
              (long long)all.size(), (long long)end.peakKiB, (long long)afterCompile.peakKiB,
              (long long)(reset ? loop.peakKiB : -1), reset ? "true" : "false",
              (long long)step.workspaceBytes(), (long long)step.inPlaceUpdates(),
              (long long)step.swappedUpdates(), loss, (unsigned long long)bits, gemm.c_str());
}

} // namespace

int main(int argc, char **argv) {
  try {
    Args a = parse(argc, argv);
    setJitThreads((int)a.threads);
    if (a.mode == "sgemm-peak")
      sgemmPeak(a);
    else
      timeStep(a);
    return 0;
  } catch (const Error &e) {
    std::fprintf(stderr, "adjoint-bench: %s\n", e.what());
    return 1;
  }
}
