#pragma once
// A top-level function compiled for the GPU and loaded on a device (docs/gpu.md): the CUDA
// runtime (runtime/cuda, when built with CUDA) or the host emulator (NvptxEmulator.cpp), which
// runs the same plan and the same kernels — compiled for the host, each launch one block of
// kBlock threads with real barriers — so GPU lowering is tested on machines without a GPU.
#include "CodeGen/NvptxLowering.h"
#include "IR/Tensor.h"

#include <map>
#include <set>
#include <memory>

namespace adjoint {

// One plan loaded on a device: slot contents in and out, and runs.
class GpuDevice {
public:
  virtual ~GpuDevice();
  virtual void upload(int slot, const void *src, int64_t bytes) = 0;
  virtual void download(int slot, void *dst, int64_t bytes) = 0;
  virtual void run() = 0;             // throws Error naming the kernel/op, or a reported error
  // Device-to-device copy between slots (after run(); a training step's state feedback).
  virtual void copySlot(int dst, int src, int64_t bytes) = 0;
  // From a slot of another plan on the same device (the training state moving between the steps
  // of two batch sizes). Throws Error when `src` is another kind of device.
  virtual void copyFrom(int dst, GpuDevice &src, int srcSlot, int64_t bytes) = 0;
  virtual double lastRunMs() const = 0;
  virtual std::string describe() const = 0; // "NVIDIA H200 (sm_90)", "host emulator"
};

enum class GpuBackend { Cuda, Emulator };

// Whether `backend` can run here; `why` says what is missing (no driver, no device, not built
// with CUDA).
bool gpuBackendAvailable(GpuBackend backend, std::string *why = nullptr);

class GpuFunction {
public:
  // Compiles fn for the backend and loads it. For CUDA the architecture is the device's own
  // unless opts.arch names another than the default. Throws Error when the backend is
  // unavailable or an op cannot be lowered.
  static std::unique_ptr<GpuFunction> compile(const Function &fn, GpuBackend backend,
                                              const GpuOptions &opts = {});
  ~GpuFunction();

  // As interpret(): every input by name, parameters take their own data unless named; all
  // arguments are uploaded, the step runs, every output is downloaded.
  std::vector<Tensor> run(const std::map<std::string, Tensor> &inputs);

  // run() for a training loop that feeds each new.<X> output back as input X: an input is
  // uploaded only when it is not the tensor this function last uploaded or returned for it (the
  // same buffer; Tensor copies on write, so the bytes are unchanged), and new.<X> outputs are
  // copied into X on the device after the step. So a loop that passes back what it got uploads
  // only its batch, and its parameters and optimizer state live on the device; the outputs are
  // still downloaded every step (the loop holds them on the host).
  std::vector<Tensor> runResident(const std::map<std::string, Tensor> &inputs);

  // Resident use (training): arguments stay on the device between steps; set() uploads one
  // (the batch each step, parameters once), step() runs, get() downloads an argument or output.
  // An output computed in place of an argument (new.<param>) is read from that argument, and the
  // next step sees the update there.
  void set(const std::string &name, const Tensor &t);
  // After each step(), output `output` is copied into input `input` on the device (new.<state>
  // outputs the memory plan did not place over their input); nothing when it was in place.
  void feedBack(const std::string &output, const std::string &input);
  // feedBack(new.X, X) for every new.X output whose X is an input (once; runResident does it).
  void feedBackUpdates();
  void step();
  Tensor get(const std::string &name);
  // Input `name` takes the current contents of `src`'s argument of the same name and type, on
  // the device (both functions on the same backend).
  void copyFrom(const std::string &name, GpuFunction &src);
  double lastStepMs() const { return device_->lastRunMs(); }
  double compileSeconds() const { return compileSeconds_; }
  const gpu::Plan &plan() const { return plan_; }
  const GpuDevice &device() const { return *device_; }

private:
  GpuFunction() = default;
  int slotOf(const std::string &name) const;
  void checkInputNames(const std::map<std::string, Tensor> &inputs) const;
  // The tensor for input `name`: the caller's, else a parameter's own data.
  const Tensor &argument(const std::string &name, const std::map<std::string, Tensor> &inputs) const;
  gpu::Plan plan_;
  std::unique_ptr<GpuDevice> device_;
  std::vector<TensorType> types_; // per slot (workspace: empty)
  std::map<std::string, int> slots_;
  std::map<std::string, Tensor> defaults_; // parameters' own data
  std::set<std::string> params_;
  std::vector<std::string> inputNames_, outputNames_;
  std::vector<std::pair<int, int>> feedback_; // (output slot, input slot)
  std::map<int, Tensor> onDevice_;            // input slot -> the tensor its bytes came from
  bool updatesFedBack_ = false;
  double compileSeconds_ = 0;
};

// The emulator's device (NvptxEmulator.cpp): fn lowered as for the GPU, its kernels compiled
// for the host; fills `plan`.
std::unique_ptr<GpuDevice> createEmulatedDevice(const Function &fn, const GpuOptions &opts, gpu::Plan &plan);

// adjoint-compile --target=cuda (NvptxEmulator.cpp): each step's plan with its PTX, and one host
// object holding every step's kernels compiled for this CPU as the emulator compiles them, for
// the trainer's --device=emulator. The object defines (step i = the i-th add()):
//   adj_aot_emu_count    u64, the number of steps
//   adj_aot_emu_kernels  per step, a pointer to its kernels' `void k(void **)`, one per plan
//                        step (null where the step is not a launch)
//   adj_aot_emu_errors   per step, a pointer to its kernels' error record (int64[4])
// and calls adj_emu_tid / adj_emu_barrier (runtime/cuda/EmulatedProgram.h) and libm.
class GpuAotBuilder {
public:
  explicit GpuAotBuilder(const GpuOptions &opts);
  ~GpuAotBuilder();
  // Throws Error listing the ops the GPU code generator cannot lower (compileForGpu's).
  gpu::Plan add(const Function &fn);
  std::string finishHostObject(); // the builder is spent afterwards

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace adjoint
