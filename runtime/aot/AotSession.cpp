#include "AotSession.h"
#include "OnnxSplice.h"
#include "adjoint_runtime.h"
#include "data/Shuffle.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace adjoint::aot {

Buffer::Buffer(size_t bytes) : n_(bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  p_.reset(static_cast<uint8_t *>(std::aligned_alloc(64, rounded)));
  if (!p_)
    throw std::runtime_error("cannot allocate " + std::to_string(rounded) + " bytes");
  std::memset(p_.get(), 0, rounded);
}

void Buffer::Free::operator()(uint8_t *p) const { std::free(p); }

int64_t dropoutSeed(uint64_t seed, int64_t step) { return data::dropoutStepSeed(seed, step); }

double scalarAt(int32_t dtype, const void *p, int64_t i) {
  switch (dtype) {
  case kFloat: return static_cast<const float *>(p)[i];
  case kDouble: return static_cast<const double *>(p)[i];
  case kInt64: return (double)static_cast<const int64_t *>(p)[i];
  case kInt32: return static_cast<const int32_t *>(p)[i];
  case kBool: return static_cast<const uint8_t *>(p)[i] ? 1 : 0;
  default: return NAN;
  }
}

void setScalar(int32_t dtype, void *p, int64_t i, double v) {
  switch (dtype) {
  case kFloat: static_cast<float *>(p)[i] = (float)v; break;
  case kDouble: static_cast<double *>(p)[i] = v; break;
  case kInt64: static_cast<int64_t *>(p)[i] = (int64_t)v; break;
  case kInt32: static_cast<int32_t *>(p)[i] = (int32_t)v; break;
  case kBool: static_cast<uint8_t *>(p)[i] = v != 0; break;
  default: break;
  }
}

void countCorrect(const std::string &lossKind, const TensorInfo &pred, const void *predData,
                  int32_t targetDType, const void *target, double &correct, int64_t &count) {
  correct = 0;
  count = 0;
  if (lossKind == "bce-with-logits") {
    for (int64_t i = 0; i < pred.numel(); ++i)
      correct += (scalarAt(pred.dtype, predData, i) > 0) ==
                 (scalarAt(targetDType, target, i) > 0.5);
    count = pred.numel();
    return;
  }
  if (lossKind != "cross-entropy" || pred.shape.size() < 2)
    return;
  int64_t n = pred.shape[0], classes = pred.shape[1];
  int64_t inner = classes ? pred.numel() / (n * classes) : 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t s = 0; s < inner; ++s) {
      int64_t best = 0;
      double bestV = -INFINITY;
      for (int64_t k = 0; k < classes; ++k) {
        double v = scalarAt(pred.dtype, predData, (b * classes + k) * inner + s);
        if (v > bestV) {
          bestV = v;
          best = k;
        }
      }
      correct += best == (int64_t)scalarAt(targetDType, target, b * inner + s);
      ++count;
    }
}

Session::Session(const ModelInfo &m) : m_(m) {
  for (size_t i = 0; i < m.params.size(); ++i) {
    Buffer b(m.params[i].byteSize());
    std::memcpy(b.data(), m.paramBytes[i].data(), b.size());
    params_.emplace(m.params[i].name, std::move(b));
  }
  for (const TensorInfo &t : m.state)
    state_.emplace(t.name, Buffer(t.byteSize()));
}

Buffer &Session::find(std::map<std::string, Buffer> &m, const std::string &name, const char *what) {
  auto it = m.find(name);
  if (it == m.end())
    throw std::runtime_error(std::string("the model has no ") + what + " '" + name + "'");
  return it->second;
}

Buffer &Session::param(const std::string &name) {
  Buffer &b = hostParam(name);
  if (executor_) {
    executor_->pullState();
    executor_->hostStateChanged();
  }
  return b;
}

const Buffer &Session::currentParam(const std::string &name) {
  Buffer &b = hostParam(name);
  if (executor_)
    executor_->pullState();
  return b;
}

const Buffer &Session::currentState(const std::string &name) {
  Buffer &b = hostState(name);
  if (executor_)
    executor_->pullState();
  return b;
}

Buffer &Session::state(const std::string &name) {
  Buffer &b = hostState(name);
  if (executor_) {
    executor_->pullState();
    executor_->hostStateChanged();
  }
  return b;
}

const StepInfo &Session::find(StepKind kind, int64_t n) const {
  if (const StepInfo *s = m_.step(kind, n))
    return *s;
  std::string have;
  for (const StepInfo &s : m_.steps)
    if (s.kind == kind)
      have += (have.empty() ? "" : ", ") + std::to_string(s.batch);
  throw std::runtime_error(std::string("no ") + (kind == StepKind::Train ? "training" : "evaluation") +
                           " step was compiled for a batch of " + std::to_string(n) +
                           " (compiled: " + have + "; adjoint-compile --tail-batch=" +
                           std::to_string(n) + " adds one)");
}

StepResult Session::train(const void *x, const void *y, int64_t n, double lr, int64_t step,
                          int64_t dropoutSeed) {
  const StepInfo &s = find(StepKind::Train, n);
  if (executor_)
    return executor_->run(s, x, y, lr, step, dropoutSeed);
  return run(s, x, y, lr, step, dropoutSeed);
}

StepResult Session::eval(const void *x, const void *y, int64_t n) {
  const StepInfo &s = find(StepKind::Eval, n);
  if (executor_)
    return executor_->run(s, x, y, 0, 0, 0);
  return run(s, x, y, 0, 0, 0);
}

StepResult Session::run(const StepInfo &s, const void *x, const void *y, double lr,
                        int64_t step, int64_t dropoutSeed) {
  Scratch &sc = scratch_[&s];
  if (sc.outputs.empty()) {
    for (size_t i = (size_t)s.firstOutput; i < (size_t)s.workspaceSlot; ++i)
      sc.outputs.emplace_back(s.slots[i].inPlaceOf >= 0 ? 0 : s.slots[i].info.byteSize());
    sc.workspace = Buffer((size_t)s.workspaceBytes);
  }
  std::vector<void *> buf(s.slots.size(), nullptr);
  std::vector<Buffer *> owner(s.slots.size(), nullptr); // the state buffer behind an argument
  Buffer lrBuf(8), stepBuf(8), seedBuf(8);
  for (size_t i = 0; i < (size_t)s.firstOutput; ++i) {
    const Slot &slot = s.slots[i];
    const std::string &name = slot.info.name;
    if (slot.kind == SlotKind::Param) {
      owner[i] = &param(name);
    } else if (name == m_.dataInput()) {
      buf[i] = const_cast<void *>(x);
    } else if (name == "target") {
      buf[i] = const_cast<void *>(y);
    } else if (name == "lr") {
      setScalar(slot.info.dtype, lrBuf.data(), 0, lr);
      buf[i] = lrBuf.data();
    } else if (name == "step") {
      setScalar(slot.info.dtype, stepBuf.data(), 0, (double)step);
      buf[i] = stepBuf.data();
    } else if (name == "dropout_seed") {
      std::memcpy(seedBuf.data(), &dropoutSeed, 8); // int64, exact beyond 2^53
      buf[i] = seedBuf.data();
    } else {
      owner[i] = &state(name);
    }
    if (owner[i])
      buf[i] = owner[i]->data();
  }
  // An update computed in place of its own state entry stays there; any other argument a
  // result is written over is copied first, so only the state the step updates changes.
  std::vector<Buffer> copies;
  copies.reserve(s.slots.size());
  for (size_t i = (size_t)s.firstOutput; i < (size_t)s.workspaceSlot; ++i) {
    const Slot &out = s.slots[i];
    if (out.inPlaceOf < 0) {
      buf[i] = sc.outputs[i - (size_t)s.firstOutput].data();
      continue;
    }
    const Slot &arg = s.slots[(size_t)out.inPlaceOf];
    if (out.info.name == "new." + arg.info.name && owner[(size_t)out.inPlaceOf])
      continue;
    copies.emplace_back(arg.info.byteSize());
    std::memcpy(copies.back().data(), buf[(size_t)out.inPlaceOf], arg.info.byteSize());
    buf[(size_t)out.inPlaceOf] = copies.back().data();
  }
  buf[(size_t)s.workspaceSlot] = sc.workspace.data();
  if (!s.entry)
    throw std::runtime_error("this step was compiled for the GPU (--target=cuda) and has no CPU code");
  s.entry(buf.data());

  adj_error err;
  if (adj_take_error(&err)) {
    std::string msg = err.site >= 0 && (size_t)err.site < s.messages.size()
                          ? s.messages[(size_t)err.site]
                          : "unknown error";
    for (int i = 0; i < 3; ++i)
      for (size_t at; (at = msg.find(std::string("{").append(std::to_string(i)).append("}"))) != std::string::npos;)
        msg.replace(at, 3, std::to_string(err.values[i]));
    throw std::runtime_error(msg);
  }

  auto result = [&](size_t i) -> void * {
    const Slot &out = s.slots[i];
    return out.inPlaceOf >= 0 ? buf[(size_t)out.inPlaceOf] : buf[i];
  };
  StepResult r;
  size_t lossSlot = (size_t)(s.firstOutput + s.lossOutput);
  r.loss = scalarAt(s.slots[lossSlot].info.dtype, result(lossSlot), 0);
  size_t predSlot = (size_t)(s.firstOutput + s.predOutput);
  r.predInfo = s.slots[predSlot].info;
  r.pred = static_cast<const uint8_t *>(result(predSlot));
  countCorrect(m_.lossKind(), r.predInfo, r.pred, m_.targetDType, y, r.correct, r.predictions);

  for (size_t i = (size_t)s.firstOutput; i < (size_t)s.workspaceSlot; ++i) {
    const Slot &out = s.slots[i];
    if (out.info.name.rfind("new.", 0) != 0)
      continue;
    std::string name = out.info.name.substr(4);
    Buffer &dst = params_.count(name) ? params_.at(name) : state(name);
    void *src = result(i);
    if (src != dst.data())
      std::memcpy(dst.data(), src, dst.size());
  }
  return r;
}

void Session::exportOnnx(const std::string &path) const {
  if (executor_)
    executor_->pullState();
  std::map<std::string, SpliceTensor> tensors;
  for (const TensorInfo &t : m_.params) {
    const Buffer &b = params_.at(t.name);
    tensors[t.name] = SpliceTensor{t.dtype, t.shape, b.data(), b.size()};
  }
  writeFileAtomically(path, spliceInitializers(m_.onnx, tensors, m_.get("model")));
}

} // namespace adjoint::aot
