#pragma once
// One training run's state inside an AOT binary: the parameters and optimizer state, and the
// compiled steps that update them. A step call fills the buffer table of the step's layout
// (compiler/CodeGen/Lowering.h) with the caller's batch and this session's buffers; updates that
// the memory plan put in place land straight in the state, the others are swapped in after.
#include "AotModel.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace adjoint::aot {

// 64-byte aligned bytes, zero-filled.
class Buffer {
public:
  Buffer() = default;
  explicit Buffer(size_t bytes);
  uint8_t *data() { return p_.get(); }
  const uint8_t *data() const { return p_.get(); }
  size_t size() const { return n_; }

private:
  struct Free {
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, Free> p_;
  size_t n_ = 0;
};

struct StepResult {
  double loss = 0;
  const uint8_t *pred = nullptr; // the prediction output, valid until the next call
  TensorInfo predInfo;
  double correct = 0; // cross-entropy: argmax hits; bce-with-logits: sign hits
  int64_t predictions = 0;
};

class Session;

// Where a session's steps run when not on this CPU (GpuSession.h: a GPU, or its emulator). The
// executor keeps the parameters and optimizer state on its device; the session's host buffers
// are brought up to date before anyone reads them (pullState) and are taken as the newest after
// anyone may have written them (hostStateChanged).
class StepExecutor {
public:
  virtual ~StepExecutor() = default;
  virtual StepResult run(const StepInfo &s, const void *x, const void *y, double lr, int64_t step,
                         int64_t dropoutSeed) = 0;
  virtual void pullState() = 0;
  virtual void hostStateChanged() = 0;
  virtual std::string describe() const = 0; // "NVIDIA H200 (sm_90)"
};

class Session {
public:
  explicit Session(const ModelInfo &m); // the embedded initial parameters, zero state
  const ModelInfo &model() const { return m_; }

  // One optimizer step on n examples (x in the model's input dtype, y in the target's); `step`
  // is the 1-based step number the optimizer sees, `dropoutSeed` seeds the step's Dropout masks
  // (the `dropout_seed` input of a model with Dropout; see dropoutSeed()). Throws
  // std::runtime_error when no step was compiled for n, or when the data is bad (a label out of
  // range).
  StepResult train(const void *x, const void *y, int64_t n, double lr, int64_t step,
                   int64_t dropoutSeed);
  StepResult eval(const void *x, const void *y, int64_t n);

  // Parameters and optimizer state by name (the train step's order in model().params/state).
  // With an executor they are downloaded first and uploaded again before the next step.
  Buffer &param(const std::string &name);
  Buffer &state(const std::string &name);
  // For reading only (checkpoints): downloaded when the device is newer, not uploaded again.
  const Buffer &currentParam(const std::string &name);
  const Buffer &currentState(const std::string &name);
  // The host buffers as they are, for executors.
  Buffer &hostParam(const std::string &name) { return find(params_, name, "parameter"); }
  Buffer &hostState(const std::string &name) { return find(state_, name, "optimizer state"); }

  // Runs the steps through `e` from now on (the host buffers hold the state at this point).
  void setExecutor(std::unique_ptr<StepExecutor> e) { executor_ = std::move(e); }
  const StepExecutor *executor() const { return executor_.get(); }
  bool hasState(const std::string &name) const { return state_.count(name) != 0; }

  // Writes the model the binary was compiled from with the current parameters as its
  // initializers (atomically).
  void exportOnnx(const std::string &path) const;

private:
  struct Scratch {
    std::vector<Buffer> outputs;
    Buffer workspace;
  };
  StepResult run(const StepInfo &s, const void *x, const void *y, double lr, int64_t step,
                 int64_t dropoutSeed);
  const StepInfo &find(StepKind kind, int64_t n) const;
  static Buffer &find(std::map<std::string, Buffer> &m, const std::string &name, const char *what);

  const ModelInfo &m_;
  std::map<std::string, Buffer> params_, state_;
  std::map<const StepInfo *, Scratch> scratch_;
  std::unique_ptr<StepExecutor> executor_;
};

// Accuracy counts as adjoint-train's (tools/adjoint-train/Metrics.cpp): the first maximum over
// axis 1 for cross-entropy, the logit's sign for bce-with-logits.
void countCorrect(const std::string &lossKind, const TensorInfo &pred, const void *predData,
                  int32_t targetDType, const void *target, double &correct, int64_t &count);

// adjoint-train's Dropout seed of a step (data::dropoutStepSeed): a new mask each step,
// reproducible from (seed, step), so a resumed run draws what an uninterrupted one would.
int64_t dropoutSeed(uint64_t seed, int64_t step);

double scalarAt(int32_t dtype, const void *p, int64_t i);
void setScalar(int32_t dtype, void *p, int64_t i, double v);

} // namespace adjoint::aot
