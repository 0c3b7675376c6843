#include "EmulatedProgram.h"
#include "FiberSwitch.h"
#include "adjoint_runtime.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace adjoint::gpu {

namespace {

// A block's threads as fibers (FiberSwitch.h) on the calling thread: each runs until it reaches a
// barrier or finishes, round-robin, so a barrier is one pass over the fibers (every kernel of the
// target reaches its barriers uniformly). Far cheaper than kEmulatedBlock OS threads on a small
// machine, and deterministic.
class FiberBlock {
public:
  FiberBlock() : ctx_(kEmulatedBlock), stacks_((size_t)kEmulatedBlock * kStack), done_(kEmulatedBlock) {}
  void launch(HostKernel fn, void **args) {
    fn_ = fn;
    args_ = args;
    fiberOnThisThread(main_);
    for (int i = 0; i < kEmulatedBlock; ++i) {
      fiberPrepare(ctx_[(size_t)i], stacks_.data() + (size_t)i * kStack, kStack, &FiberBlock::entry);
      done_[(size_t)i] = false;
    }
    for (int live = kEmulatedBlock; live > 0;) {
      live = 0;
      for (int i = 0; i < kEmulatedBlock; ++i) {
        if (done_[(size_t)i])
          continue;
        current_ = i;
        fiberSwitch(main_, ctx_[(size_t)i]);
        live += !done_[(size_t)i];
      }
    }
  }
  int tid() const { return current_; }
  void barrier() { fiberSwitch(ctx_[(size_t)current_], main_); }
  static FiberBlock *active;

private:
  static constexpr size_t kStack = 64 * 1024;
  // Runs the kernel, then leaves the fiber for good (a fiber's entry never returns).
  static void entry() {
    fiberEntered();
    FiberBlock *b = active;
    b->fn_(b->args_);
    b->done_[(size_t)b->current_] = true;
    fiberSwitch(b->ctx_[(size_t)b->current_], b->main_, /*last=*/true);
  }
  FiberContext main_;
  std::vector<FiberContext> ctx_;
  std::vector<char> stacks_;
  std::vector<char> done_;
  int current_ = 0;
  HostKernel fn_ = nullptr;
  void **args_ = nullptr;
};
FiberBlock *FiberBlock::active = nullptr;

// One block for all emulated launches of the process, one launch at a time.
void launchBlock(HostKernel fn, void **args) {
  static std::mutex m;
  static FiberBlock block;
  std::lock_guard<std::mutex> l(m);
  FiberBlock::active = &block;
  block.launch(fn, args);
}

int64_t roundUp(int64_t n) { return (std::max<int64_t>(n, 1) + 255) / 256 * 256; }

} // namespace

EmulatedProgram::EmulatedProgram(Plan plan, std::vector<HostKernel> kernels, int64_t *errorRecord)
    : plan_(std::move(plan)), kernels_(std::move(kernels)), error_(errorRecord) {
  if (kernels_.size() != plan_.steps.size() || !error_)
    throw std::runtime_error("the emulated kernels of @" + plan_.entry + " do not match its plan (" +
                             std::to_string(kernels_.size()) + " for " + std::to_string(plan_.steps.size()) +
                             " steps)");
  for (size_t i = 0; i < plan_.steps.size(); ++i)
    if (plan_.steps[i].kind == Step::Kind::Launch && !kernels_[i])
      throw std::runtime_error("no emulated kernel " + plan_.steps[i].launch.kernel + " for step " +
                               std::to_string(i) + " of @" + plan_.entry);
  offsets_.assign(plan_.slots.size(), 0);
  for (size_t i = 0; i < plan_.slots.size(); ++i) {
    const Slot &s = plan_.slots[i];
    if (s.bytes < 0 || s.inPlaceOf >= (int)plan_.slots.size())
      throw std::runtime_error("the plan of @" + plan_.entry + " has a malformed slot '" + s.name + "'");
    if (s.inPlaceOf < 0) {
      offsets_[i] = top_;
      top_ += roundUp(s.bytes);
    }
  }
  for (size_t i = 0; i < plan_.slots.size(); ++i)
    if (plan_.slots[i].inPlaceOf >= 0)
      offsets_[i] = offsets_[(size_t)plan_.slots[i].inPlaceOf];
  constOffset_ = top_;
  top_ += roundUp((int64_t)plan_.constants.size() + 1);
  arena_.assign((size_t)top_ + 256, 0);
  if (!plan_.constants.empty()) // data() of an empty vector may be null
    std::memcpy(base() + constOffset_, plan_.constants.data(), plan_.constants.size());
}

EmulatedProgram::~EmulatedProgram() = default;

uint8_t *EmulatedProgram::base() const {
  auto p = reinterpret_cast<uintptr_t>(arena_.data());
  return reinterpret_cast<uint8_t *>((p + 255) / 256 * 256);
}

uint8_t *EmulatedProgram::address(const BufferRef &r, int64_t bytes) const {
  int64_t start = 0, size = 0;
  if (r.slot == BufferRef::kConstants) {
    start = constOffset_;
    size = (int64_t)plan_.constants.size();
  } else if (r.slot >= 0 && r.slot < (int)plan_.slots.size()) {
    start = offsets_[(size_t)r.slot];
    size = plan_.slots[(size_t)r.slot].bytes;
  } else {
    throw std::runtime_error("the plan of @" + plan_.entry + " refers to slot " + std::to_string(r.slot) +
                             ", which it does not have");
  }
  if (r.offset < 0 || bytes < 0 || r.offset + bytes > std::max<int64_t>(size, 1) + 256)
    throw std::runtime_error("the plan of @" + plan_.entry + " addresses bytes " + std::to_string(r.offset) +
                             ".." + std::to_string(r.offset + bytes) + " of a slot of " + std::to_string(size));
  return base() + start + r.offset;
}

void EmulatedProgram::checkSlot(int slot, int64_t bytes, const char *what) const {
  if (slot < 0 || slot >= (int)plan_.slots.size() || bytes < 0 || bytes > plan_.slots[(size_t)slot].bytes)
    throw std::runtime_error(std::string("GPU emulator: ") + what + " of " + std::to_string(bytes) +
                             " bytes to slot " + std::to_string(slot) + " of @" + plan_.entry + " is out of range");
}

void EmulatedProgram::upload(int slot, const void *src, int64_t bytes) {
  checkSlot(slot, bytes, "upload");
  if (bytes > 0) // an empty tensor's data may be null
    std::memcpy(base() + offsets_[(size_t)slot], src, (size_t)bytes);
}

void EmulatedProgram::download(int slot, void *dst, int64_t bytes) const {
  checkSlot(slot, bytes, "download");
  if (bytes > 0)
    std::memcpy(dst, base() + offsets_[(size_t)slot], (size_t)bytes);
}

void EmulatedProgram::copySlot(int dst, int src, int64_t bytes) {
  checkSlot(dst, bytes, "copy");
  checkSlot(src, bytes, "copy");
  std::memmove(base() + offsets_[(size_t)dst], base() + offsets_[(size_t)src], (size_t)bytes);
}

void EmulatedProgram::copyFrom(int dst, const EmulatedProgram &src, int srcSlot, int64_t bytes) {
  checkSlot(dst, bytes, "copy");
  src.checkSlot(srcSlot, bytes, "copy");
  std::memmove(base() + offsets_[(size_t)dst], src.base() + src.offsets_[(size_t)srcSlot], (size_t)bytes);
}

void EmulatedProgram::run() {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<void *> args;
  for (size_t i = 0; i < plan_.steps.size(); ++i) {
    const Step &s = plan_.steps[i];
    switch (s.kind) {
    case Step::Kind::Launch:
      args.clear();
      for (const BufferRef &r : s.launch.args)
        args.push_back(address(r, 0));
      launchBlock(kernels_[i], args.data());
      break;
    case Step::Kind::Gemm: {
      const Gemm &g = s.gemm;
      const int64_t es = g.f64 ? 8 : 4;
      uint8_t *a0 = address(g.a, 0), *b0 = address(g.b, 0), *c0 = address(g.c, 0);
      for (int64_t b = 0; b < g.batch; ++b) {
        uint8_t *A = a0 + b * g.strideA * es, *B = b0 + b * g.strideB * es, *C = c0 + b * g.strideC * es;
        if (g.f64)
          adj_dgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, (const double *)A, g.lda, (const double *)B, g.ldb,
                    g.beta, (double *)C, g.ldc);
        else
          adj_sgemm(g.transA, g.transB, g.m, g.n, g.k, (float)g.alpha, (const float *)A, g.lda, (const float *)B,
                    g.ldb, (float)g.beta, (float *)C, g.ldc);
      }
      break;
    }
    case Step::Kind::Copy:
      std::memmove(address(s.copy.dst, s.copy.bytes), address(s.copy.src, s.copy.bytes), (size_t)s.copy.bytes);
      break;
    }
  }
  lastMs_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (error_[0] != 0) {
    int64_t record[4] = {error_[0], error_[1], error_[2], error_[3]};
    std::memset(error_, 0, 4 * sizeof(int64_t));
    throw std::runtime_error(formatKernelError(plan_, record));
  }
}

} // namespace adjoint::gpu

extern "C" int32_t adj_emu_tid() { return adjoint::gpu::FiberBlock::active->tid(); }
extern "C" void adj_emu_barrier() { adjoint::gpu::FiberBlock::active->barrier(); }
