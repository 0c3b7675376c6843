// GpuFunction: a plan, a device, and tensors in and out by name (GpuFunction.h).
#include "CodeGen/GpuFunction.h"
#include "Support/Error.h"

#ifdef ADJOINT_HAVE_CUDA
#include "cuda/CudaRuntime.h"
#endif

#include <chrono>
#include <stdexcept>

namespace adjoint {

GpuDevice::~GpuDevice() = default;

namespace {

#ifdef ADJOINT_HAVE_CUDA
// The CUDA runtime's errors are std::runtime_error (it depends on nothing in compiler/).
template <typename F> auto rethrow(F &&f) {
  try {
    return f();
  } catch (const std::runtime_error &e) {
    fail(e.what());
  }
}

class CudaDevice : public GpuDevice {
public:
  explicit CudaDevice(gpu::Plan plan) : p_(rethrow([&] { return std::make_unique<gpu::CudaProgram>(std::move(plan)); })) {}
  void upload(int slot, const void *src, int64_t bytes) override { rethrow([&] { p_->upload(slot, src, bytes); }); }
  void download(int slot, void *dst, int64_t bytes) override { rethrow([&] { p_->download(slot, dst, bytes); }); }
  void run() override { rethrow([&] { p_->run(); }); }
  void copySlot(int dst, int src, int64_t bytes) override { rethrow([&] { p_->copySlot(dst, src, bytes); }); }
  void copyFrom(int dst, GpuDevice &src, int srcSlot, int64_t bytes) override {
    auto *other = dynamic_cast<CudaDevice *>(&src);
    check(other != nullptr, "internal error: a device-to-device copy between CUDA and another device");
    rethrow([&] { p_->copyFrom(dst, *other->p_, srcSlot, bytes); });
  }
  double lastRunMs() const override { return p_->lastRunMs(); }
  std::string describe() const override {
    return rethrow([] { return gpu::cudaDeviceName() + " (" + gpu::cudaDeviceArch() + ")"; });
  }

private:
  std::unique_ptr<gpu::CudaProgram> p_;
};
#endif

} // namespace

bool gpuBackendAvailable(GpuBackend backend, std::string *why) {
  if (backend == GpuBackend::Emulator)
    return true;
#ifdef ADJOINT_HAVE_CUDA
  return gpu::cudaAvailable(why);
#else
  if (why)
    *why = "this build has no CUDA runtime (configure with the CUDA toolkit, -DADJOINT_CUDA=ON)";
  return false;
#endif
}

std::unique_ptr<GpuFunction> GpuFunction::compile(const Function &fn, GpuBackend backend,
                                                  const GpuOptions &opts) {
  std::string why;
  if (!gpuBackendAvailable(backend, &why))
    fail("cannot run @", fn.name(), " on CUDA: ", why);
  std::unique_ptr<GpuFunction> f(new GpuFunction());
  auto t0 = std::chrono::steady_clock::now();
  if (backend == GpuBackend::Emulator) {
    f->device_ = createEmulatedDevice(fn, opts, f->plan_);
  } else {
#ifdef ADJOINT_HAVE_CUDA
    GpuOptions o = opts;
    // The device's own architecture unless one was asked for.
    if (o.arch.empty() || o.arch == NvptxTarget::kDefaultArch)
      o.arch = rethrow([] { return gpu::cudaDeviceArch(); });
    f->plan_ = compileForGpu(fn, o);
    f->device_ = std::make_unique<CudaDevice>(f->plan_);
#endif
  }
  f->compileSeconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int slot = 0;
  for (Value *v : fn.inputs()) {
    f->inputNames_.push_back(v->name());
    f->types_.push_back(v->type());
    f->slots_[v->name()] = slot++;
  }
  for (Value *v : fn.params()) {
    f->inputNames_.push_back(v->name());
    f->types_.push_back(v->type());
    f->slots_[v->name()] = slot++;
    f->params_.insert(v->name());
    if (!v->paramData().empty())
      f->defaults_[v->name()] = v->paramData();
  }
  for (const auto &o : fn.outputs()) {
    f->outputNames_.push_back(o.name);
    f->types_.push_back(o.value->type());
    f->slots_.emplace(o.name, slot++);
  }
  return f;
}

GpuFunction::~GpuFunction() = default;

int GpuFunction::slotOf(const std::string &name) const {
  auto it = slots_.find(name);
  if (it == slots_.end())
    fail("function @", plan_.entry, " has no input or output named '", name, "'");
  return it->second;
}

void GpuFunction::set(const std::string &name, const Tensor &t) {
  int s = slotOf(name);
  const TensorType &type = types_[(size_t)s];
  check(s < (int)inputNames_.size(), "'", name, "' is an output of @", plan_.entry, ", not an input");
  if (t.dtype() != type.dtype || t.shape() != type.shape)
    fail("input '", name, "' has type ", TensorType{t.dtype(), t.shape()}.str(),
         " but the function expects ", type.str());
  device_->upload(s, t.bytes(), (int64_t)t.byteSize());
}

void GpuFunction::feedBack(const std::string &output, const std::string &input) {
  int o = slotOf(output), i = slotOf(input);
  check(o >= (int)inputNames_.size() && i < (int)inputNames_.size(), "feedBack(", output, ", ", input,
        "): needs an output and an input of @", plan_.entry);
  check(types_[(size_t)o] == types_[(size_t)i], "feedBack(", output, ", ", input, "): the types differ");
  if (plan_.slots[(size_t)o].inPlaceOf != i)
    feedback_.push_back({o, i});
}

void GpuFunction::step() {
  device_->run();
  for (const auto &[o, i] : feedback_)
    device_->copySlot(i, o, plan_.slots[(size_t)o].bytes);
}

void GpuFunction::copyFrom(const std::string &name, GpuFunction &src) {
  int s = slotOf(name), from = src.slotOf(name);
  check(s < (int)inputNames_.size() && from < (int)src.inputNames_.size(), "copyFrom('", name,
        "'): needs an input of @", plan_.entry, " and of @", src.plan_.entry);
  check(types_[(size_t)s] == src.types_[(size_t)from], "copyFrom('", name, "'): the types differ (",
        types_[(size_t)s].str(), " and ", src.types_[(size_t)from].str(), ")");
  const TensorType &t = types_[(size_t)s];
  device_->copyFrom(s, *src.device_, from, numElements(t.shape) * (int64_t)dtypeSize(t.dtype));
  onDevice_.erase(s);
}

Tensor GpuFunction::get(const std::string &name) {
  int s = slotOf(name);
  const TensorType &type = types_[(size_t)s];
  Tensor t(type.dtype, type.shape);
  device_->download(s, t.mutableBytes(), (int64_t)t.byteSize());
  return t;
}

void GpuFunction::checkInputNames(const std::map<std::string, Tensor> &inputs) const {
  for (const auto &[name, t] : inputs) {
    (void)t;
    auto it = slots_.find(name);
    if (it == slots_.end() || it->second >= (int)inputNames_.size())
      fail("function @", plan_.entry, " has no input named '", name, "'");
  }
}

const Tensor &GpuFunction::argument(const std::string &name, const std::map<std::string, Tensor> &inputs) const {
  if (auto it = inputs.find(name); it != inputs.end())
    return it->second;
  auto d = defaults_.find(name);
  if (d == defaults_.end())
    fail("input '", name, "' of function @", plan_.entry, " was not given",
         params_.count(name) ? " (a parameter without data)" : "");
  return d->second;
}

void GpuFunction::feedBackUpdates() {
  if (updatesFedBack_)
    return;
  for (const std::string &o : outputNames_)
    if (o.rfind("new.", 0) == 0 && slots_.count(o.substr(4)) && slots_.at(o.substr(4)) < (int)inputNames_.size())
      feedBack(o, o.substr(4));
  updatesFedBack_ = true;
  onDevice_.clear();
}

std::vector<Tensor> GpuFunction::run(const std::map<std::string, Tensor> &inputs) {
  checkInputNames(inputs);
  for (const std::string &name : inputNames_)
    set(name, argument(name, inputs));
  step();
  onDevice_.clear(); // in-place updates changed the inputs' bytes
  std::vector<Tensor> outs;
  for (const std::string &name : outputNames_)
    outs.push_back(get(name));
  return outs;
}

std::vector<Tensor> GpuFunction::runResident(const std::map<std::string, Tensor> &inputs) {
  feedBackUpdates();
  checkInputNames(inputs);
  for (const std::string &name : inputNames_) {
    const Tensor &t = argument(name, inputs);
    int s = slots_.at(name);
    auto cached = onDevice_.find(s);
    if (cached != onDevice_.end() && cached->second.bytes() == t.bytes() && cached->second.dtype() == t.dtype() &&
        cached->second.shape() == t.shape())
      continue;
    set(name, t);
    onDevice_[s] = t;
  }
  step();
  std::vector<Tensor> outs;
  for (const std::string &name : outputNames_) {
    outs.push_back(get(name));
    if (name.rfind("new.", 0) == 0)
      if (auto in = slots_.find(name.substr(4)); in != slots_.end() && in->second < (int)inputNames_.size())
        onDevice_[in->second] = outs.back();
  }
  // Inputs updated in place by the step without a new.<X> output would be stale in the cache.
  for (size_t k = 0; k < outputNames_.size(); ++k) {
    int in = plan_.slots[(size_t)slots_.at(outputNames_[k])].inPlaceOf;
    if (in >= 0 && outputNames_[k] != "new." + inputNames_[(size_t)in])
      onDevice_.erase(in);
  }
  return outs;
}

} // namespace adjoint
