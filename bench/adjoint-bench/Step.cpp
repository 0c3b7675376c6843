#include "Step.h"
#include "BatchNormStats.h"
#include "Frontend/OnnxImporter.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>

namespace adjoint::bench {

namespace {

void runPasses(Module &m, const std::vector<std::string> &names, PassContext &ctx) {
  std::vector<const PassInfo *> passes;
  for (const std::string &n : names) {
    const PassInfo *p = findPass(n);
    check(p != nullptr, "internal error: pass ", n, " is not registered");
    passes.push_back(p);
  }
  runPipeline(m, passes, ctx, {});
}

// adjoint-train's training step (tools/adjoint-train/StepBuilder.cpp), Adam at lr 1e-3, then the
// JIT's fusion.
void buildTrainingStep(Module &m) {
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy";
  runPasses(m, {"train-mode", "attach-loss"}, ctx);
  std::string freeze;
  for (const std::string &p : train::exposeBatchNormStatistics(*m.main()))
    freeze += (freeze.empty() ? "" : ",") + p;
  ctx.options["freeze"] = freeze;
  ctx.options["loss"] = "loss";
  runPasses(m, {"autodiff"}, ctx);
  ctx.options["optimizer"] = "adam";
  runPasses(m, {"optimizer", "cse", "dce", "fuse"}, ctx);
}

void buildForward(Module &m) {
  PassContext ctx;
  runPasses(m, {"cse", "dce", "fuse"}, ctx);
}

void fillInput(uint8_t *bytes, const TensorType &t, const std::string &name,
               const StepOptions &o, std::mt19937_64 &rng) {
  int64_t n = 1;
  for (int64_t d : t.shape)
    n *= d;
  int64_t range = name == "target" ? o.classes : o.intRange;
  switch (t.dtype) {
  case DType::F32:
    for (int64_t i = 0; i < n; ++i)
      reinterpret_cast<float *>(bytes)[i] = (float)(rng() >> 40) / (float)(1 << 24);
    break;
  case DType::F64:
    for (int64_t i = 0; i < n; ++i)
      reinterpret_cast<double *>(bytes)[i] = (double)(rng() >> 11) / (double)(1ull << 53);
    break;
  case DType::I64:
    for (int64_t i = 0; i < n; ++i)
      reinterpret_cast<int64_t *>(bytes)[i] = (int64_t)(rng() % (uint64_t)range);
    break;
  case DType::I32:
    for (int64_t i = 0; i < n; ++i)
      reinterpret_cast<int32_t *>(bytes)[i] = (int32_t)(rng() % (uint64_t)range);
    break;
  default:
    fail("adjoint-bench: input '", name, "' has type ", t.str(), ", which it cannot fill");
  }
}

} // namespace

BenchStep::BenchStep(const StepOptions &o) {
  auto t0 = std::chrono::steady_clock::now();
  ImportOptions io;
  io.dims["batch"] = o.batch;
  module_ = importOnnxFile(o.model, io);
  Function &fn = *module_->main();
  if (o.train)
    buildTrainingStep(*module_);
  else
    buildForward(*module_);
  compiled_ = compileFunction(fn);
  compileSeconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const BufferLayout &l = compiled_->layout();
  buffers_.assign(l.slots.size(), nullptr);
  std::mt19937_64 rng(42);
  auto allocate = [&](size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    auto *p = static_cast<uint8_t *>(std::aligned_alloc(64, bytes ? bytes : 64));
    check(p != nullptr, "adjoint-bench: out of memory (", bytes, " bytes)");
    std::memset(p, 0, bytes);
    owned_.emplace_back(p, std::free);
    return p;
  };
  for (size_t i = 0; i < l.slots.size(); ++i) {
    const BufferSlot &s = l.slots[i];
    size_t bytes = dtypeSize(s.type.dtype);
    for (int64_t d : s.type.shape)
      bytes *= (size_t)d;
    switch (s.kind) {
    case BufferSlot::Kind::Input: {
      uint8_t *p = allocate(bytes);
      if (s.name == "lr") {
        check(s.type.dtype == DType::F32, "adjoint-bench: lr is ", s.type.str());
        *reinterpret_cast<float *>(p) = 1e-3f;
      } else if (s.name == "step") {
        stepNumber_ = reinterpret_cast<int64_t *>(p);
      } else if (s.name.rfind("adam.", 0) != 0) {
        fillInput(p, s.type, s.name, o, rng); // the batch; optimizer state starts at zero
      }
      buffers_[i] = p;
      break;
    }
    case BufferSlot::Kind::Param: {
      uint8_t *p = allocate(bytes);
      const Value *v = fn.findArg(s.name);
      check(v && v->paramData().byteSize() == bytes, "adjoint-bench: parameter '", s.name,
            "' has no data of its type");
      std::memcpy(p, v->paramData().bytes(), bytes);
      buffers_[i] = p;
      break;
    }
    case BufferSlot::Kind::Output:
      if (s.inPlaceOf >= 0) {
        ++inPlace_;
        break;
      }
      buffers_[i] = allocate(bytes);
      if (s.name.rfind("new.", 0) == 0) {
        std::string arg = s.name.substr(4);
        for (size_t j = 0; j < (size_t)l.firstOutput; ++j)
          if (l.slots[j].name == arg)
            swaps_.emplace_back(i, j);
      }
      break;
    case BufferSlot::Kind::Workspace:
      buffers_[i] = allocate((size_t)l.workspaceBytes);
      break;
    }
  }
  if (stepNumber_)
    *stepNumber_ = 0;
}

BenchStep::~BenchStep() = default;

void BenchStep::run() {
  if (stepNumber_)
    ++*stepNumber_;
  compiled_->call(buffers_.data());
  for (auto [out, arg] : swaps_)
    std::swap(buffers_[out], buffers_[arg]);
}

double BenchStep::loss() const {
  const BufferLayout &l = compiled_->layout();
  const BufferSlot &s = l.slots[(size_t)l.firstOutput];
  const void *p = s.inPlaceOf >= 0 ? buffers_[(size_t)s.inPlaceOf] : buffers_[(size_t)l.firstOutput];
  if (s.type.dtype == DType::F64)
    return *static_cast<const double *>(p);
  return *static_cast<const float *>(p);
}

} // namespace adjoint::bench
