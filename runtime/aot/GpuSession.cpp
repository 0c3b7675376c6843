#include "GpuSession.h"
#include "cuda/EmulatedProgram.h"
#include "cuda/PlanFile.h"

#ifdef ADJOINT_HAVE_CUDA
#include "cuda/CudaRuntime.h"
#endif

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

namespace adjoint::aot {

namespace {

// One plan loaded on a device.
class Program {
public:
  virtual ~Program() = default;
  virtual void upload(int slot, const void *src, int64_t bytes) = 0;
  virtual void download(int slot, void *dst, int64_t bytes) = 0;
  virtual void run() = 0;
  virtual void copySlot(int dst, int src, int64_t bytes) = 0;
  // From a slot of another program of the same kind, device to device.
  virtual void copyFrom(int dst, Program &src, int srcSlot, int64_t bytes) = 0;
};

// EmulatedProgram and CudaProgram have the same interface: one adapter serves both. A session's
// programs are all of one kind, so copyFrom's source is too.
template <typename P> class ProgramOf : public Program {
public:
  template <typename... Args> explicit ProgramOf(Args &&...args) : p_(std::forward<Args>(args)...) {}
  void upload(int slot, const void *src, int64_t bytes) override { p_.upload(slot, src, bytes); }
  void download(int slot, void *dst, int64_t bytes) override { p_.download(slot, dst, bytes); }
  void run() override { p_.run(); }
  void copySlot(int dst, int src, int64_t bytes) override { p_.copySlot(dst, src, bytes); }
  void copyFrom(int dst, Program &src, int srcSlot, int64_t bytes) override {
    p_.copyFrom(dst, static_cast<ProgramOf &>(src).p_, srcSlot, bytes);
  }

private:
  P p_;
};

using Emulated = ProgramOf<gpu::EmulatedProgram>;
#ifdef ADJOINT_HAVE_CUDA
using Cuda = ProgramOf<gpu::CudaProgram>;
#endif

std::string stepName(const StepInfo &s) {
  return std::string(s.kind == StepKind::Train ? "train" : "eval") + " b" + std::to_string(s.batch);
}

struct DeviceStep {
  const StepInfo *info = nullptr;
  std::unique_ptr<Program> program;
  int64_t version = -1; // the state version its parameter and state slots hold
  std::vector<int> stateSlots;  // arguments that are parameters or optimizer state
  std::vector<int> refreshSlots; // state the step overwrites in place without updating it
  std::vector<std::pair<int, int>> feedback; // new.X outputs not over X: (output, X)
  std::map<std::string, int> slotOf;         // state name -> its argument slot
  std::vector<Buffer> outputs; // host copies of the loss and prediction
};

class GpuExecutor : public StepExecutor {
public:
  GpuExecutor(Session &s, const std::string &device, const EmulatedKernels &emu) : session_(s) {
    const ModelInfo &m = s.model();
    if (device == "cuda") {
#ifdef ADJOINT_HAVE_CUDA
      std::string why;
      if (!gpu::cudaAvailable(&why))
        throw std::runtime_error("cannot train on the GPU: " + why +
                                 " (--device=emulator runs the same plans on this CPU)");
      describe_ = gpu::cudaDeviceName() + " (" + gpu::cudaDeviceArch() + ")";
#else
      throw std::runtime_error("this trainer was linked without the CUDA runtime (adjoint-compile was "
                               "built without the CUDA toolkit); only --device=emulator works");
#endif
    } else {
      if (emu.count != m.steps.size())
        throw std::runtime_error("the emulated kernels linked in are for " + std::to_string(emu.count) +
                                 " steps, the model description has " + std::to_string(m.steps.size()));
      describe_ = "host emulator (the GPU plans with their kernels compiled for this CPU)";
    }
    for (size_t i = 0; i < m.steps.size(); ++i) {
      const StepInfo &info = m.steps[i];
      DeviceStep d;
      d.info = &info;
      std::string what = "the plan of step " + stepName(info);
      if (info.plan.empty())
        throw std::runtime_error(what + " is missing (a CPU step in a GPU trainer)");
      gpu::Plan plan = gpu::parsePlan(info.plan, what);
      if (plan.slots.size() != info.slots.size())
        throw std::runtime_error(what + " has " + std::to_string(plan.slots.size()) + " slots, its layout " +
                                 std::to_string(info.slots.size()));
      try {
        if (device == "cuda") {
#ifdef ADJOINT_HAVE_CUDA
          d.program = std::make_unique<Cuda>(std::move(plan));
#endif
        } else {
          auto *table = static_cast<const gpu::HostKernel *>(emu.kernels[i]);
          std::vector<gpu::HostKernel> kernels(table, table + plan.steps.size());
          d.program = std::make_unique<Emulated>(std::move(plan), std::move(kernels),
                                                 static_cast<int64_t *>(emu.errors[i]));
        }
      } catch (const std::exception &e) {
        throw std::runtime_error("loading " + what + " on " + describe_ + ": " + e.what());
      }
      layout(d);
      steps_.emplace(&info, std::move(d));
    }
  }

  StepResult run(const StepInfo &s, const void *x, const void *y, double lr, int64_t step,
                 int64_t dropoutSeed) override {
    DeviceStep &d = steps_.at(&s);
    const ModelInfo &m = session_.model();
    if (d.version != latest_) {
      handOver(d);
      d.version = latest_;
    } else {
      for (int i : d.refreshSlots)
        upload(d, i, host(s.slots[(size_t)i]).data());
    }
    uint64_t scalar = 0;
    for (size_t i = 0; i < (size_t)s.firstOutput; ++i) {
      const Slot &slot = s.slots[i];
      const std::string &name = slot.info.name;
      if (slot.kind == SlotKind::Param)
        continue;
      if (name == m.dataInput()) {
        upload(d, (int)i, x);
      } else if (name == "target") {
        upload(d, (int)i, y);
      } else if (name == "lr" || name == "step") {
        setScalar(slot.info.dtype, &scalar, 0, name == "lr" ? lr : (double)step);
        upload(d, (int)i, &scalar);
      } else if (name == "dropout_seed") {
        std::memcpy(&scalar, &dropoutSeed, 8);
        upload(d, (int)i, &scalar);
      }
    }
    d.program->run();

    StepResult r;
    size_t lossSlot = (size_t)(s.firstOutput + s.lossOutput), predSlot = (size_t)(s.firstOutput + s.predOutput);
    if (d.outputs.empty()) {
      d.outputs.emplace_back(s.slots[lossSlot].info.byteSize());
      d.outputs.emplace_back(s.slots[predSlot].info.byteSize());
    }
    d.program->download((int)lossSlot, d.outputs[0].data(), (int64_t)d.outputs[0].size());
    d.program->download((int)predSlot, d.outputs[1].data(), (int64_t)d.outputs[1].size());
    r.loss = scalarAt(s.slots[lossSlot].info.dtype, d.outputs[0].data(), 0);
    r.predInfo = s.slots[predSlot].info;
    r.pred = d.outputs[1].data();
    countCorrect(m.lossKind(), r.predInfo, r.pred, m.targetDType, y, r.correct, r.predictions);
    if (s.kind == StepKind::Train) {
      for (const auto &[out, arg] : d.feedback)
        d.program->copySlot(arg, out, (int64_t)s.slots[(size_t)arg].info.byteSize());
      d.version = ++latest_;
      owner_ = &d;
    }
    return r;
  }

  // The newest state into d's buffers: device to device from the step that trained last when it
  // holds it (every program lives on the one device), else from the host copy.
  void handOver(DeviceStep &d) {
    const StepInfo &s = *d.info;
    if (owner_ && owner_ != &d && owner_->version == latest_) {
      for (int i : d.stateSlots) {
        auto it = owner_->slotOf.find(s.slots[(size_t)i].info.name);
        if (it == owner_->slotOf.end())
          throw std::runtime_error("internal error: step " + stepName(s) + " reads '" + s.slots[(size_t)i].info.name +
                                   "', which step " + stepName(*owner_->info) + " does not hold");
        const std::vector<int> &stale = owner_->refreshSlots; // never updated: the host copy is current
        if (std::find(stale.begin(), stale.end(), it->second) != stale.end())
          upload(d, i, host(s.slots[(size_t)i]).data());
        else
          d.program->copyFrom(i, *owner_->program, it->second, (int64_t)s.slots[(size_t)i].info.byteSize());
      }
      return;
    }
    pullState();
    for (int i : d.stateSlots)
      upload(d, i, host(s.slots[(size_t)i]).data());
  }

  void pullState() override {
    if (hostVersion_ == latest_ || !owner_)
      return;
    const std::vector<int> &overwritten = owner_->refreshSlots; // not state there: the host's is
    for (int i : owner_->stateSlots) {
      if (std::find(overwritten.begin(), overwritten.end(), i) != overwritten.end())
        continue;
      Buffer &b = host(owner_->info->slots[(size_t)i]);
      owner_->program->download(i, b.data(), (int64_t)b.size());
    }
    hostVersion_ = latest_;
  }

  void hostStateChanged() override {
    hostVersion_ = ++latest_;
    owner_ = nullptr;
  }

  std::string describe() const override { return describe_; }

private:
  Buffer &host(const Slot &slot) {
    return slot.kind == SlotKind::Param ? session_.hostParam(slot.info.name) : session_.hostState(slot.info.name);
  }
  void upload(DeviceStep &d, int slot, const void *src) {
    d.program->upload(slot, src, (int64_t)d.info->slots[(size_t)slot].info.byteSize());
  }

  // Which arguments hold state, which outputs are fed back into them, and which state the
  // memory plan overwrites with another output (refreshed from the host before each run).
  void layout(DeviceStep &d) {
    const StepInfo &s = *d.info;
    const ModelInfo &m = session_.model();
    std::map<std::string, int> args;
    for (size_t i = 0; i < (size_t)s.firstOutput; ++i) {
      const Slot &slot = s.slots[i];
      bool state = slot.kind == SlotKind::Param || session_.hasState(slot.info.name);
      if (state) {
        d.stateSlots.push_back((int)i);
        args[slot.info.name] = (int)i;
        d.slotOf[slot.info.name] = (int)i;
      } else if (slot.info.name != m.dataInput() && slot.info.name != "target" && slot.info.name != "lr" &&
                 slot.info.name != "step" && slot.info.name != "dropout_seed") {
        throw std::runtime_error("step " + stepName(s) + " has an input '" + slot.info.name +
                                 "' that is neither data nor state");
      }
    }
    std::set<int> updated, overwritten;
    for (size_t i = (size_t)s.firstOutput; i < (size_t)s.workspaceSlot; ++i) {
      const Slot &out = s.slots[i];
      if (out.info.name.rfind("new.", 0) == 0) {
        auto it = args.find(out.info.name.substr(4));
        // Only training steps own the state; an evaluation step that updated some would need the
        // rest handed back too (StepBuilder's evaluation steps update none).
        if (it != args.end() && s.kind != StepKind::Train)
          throw std::runtime_error("step " + stepName(s) + " updates '" + it->first +
                                   "': an evaluation step that changes state is not supported on the GPU");
        if (it != args.end()) {
          updated.insert(it->second);
          if (out.inPlaceOf != it->second)
            d.feedback.push_back({(int)i, it->second});
          continue;
        }
      }
      if (out.inPlaceOf >= 0 && args.count(s.slots[(size_t)out.inPlaceOf].info.name))
        overwritten.insert(out.inPlaceOf);
    }
    for (int i : overwritten)
      if (!updated.count(i))
        d.refreshSlots.push_back(i);
  }

  Session &session_;
  std::string describe_;
  std::map<const StepInfo *, DeviceStep> steps_;
  DeviceStep *owner_ = nullptr; // the step whose buffers hold the newest state (null: the host)
  int64_t latest_ = 0, hostVersion_ = 0;
};

} // namespace

std::unique_ptr<StepExecutor> makeGpuExecutor(Session &session, const std::string &device,
                                              const EmulatedKernels &emulated) {
  return std::make_unique<GpuExecutor>(session, device, emulated);
}

} // namespace adjoint::aot
