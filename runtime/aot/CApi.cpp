// The C API of AOT libraries (adjoint_aot.h) over Session: every call catches everything, so an
// error becomes -1 and a message, never an exception crossing into C.
#include "AotCheckpoint.h"
#include "adjoint_aot.h"
#include "adjoint_runtime.h"

#include <cstring>
#include <memory>

using namespace adjoint::aot;

struct adjoint_session {
  explicit adjoint_session(const ModelInfo &m) : session(m) {}
  Session session;
  int64_t steps = 0;
};

namespace {

thread_local std::string gError;

template <typename F> int guarded(F &&f) {
  try {
    f();
    return 0;
  } catch (const std::exception &e) {
    gError = e.what();
  } catch (...) {
    gError = "unknown error";
  }
  return -1;
}

const ModelInfo *model() {
  try {
    return &linkedModel();
  } catch (const std::exception &e) {
    gError = e.what();
    return nullptr;
  }
}

void need(bool ok, const std::string &msg) {
  if (!ok)
    throw std::runtime_error(msg);
}

int64_t product(const std::vector<int64_t> &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

const TensorInfo *paramInfo(int64_t i) {
  const ModelInfo *m = model();
  return m && i >= 0 && i < (int64_t)m->params.size() ? &m->params[(size_t)i] : nullptr;
}

const TensorInfo *paramNamed(const char *name) {
  need(name != nullptr, "no parameter name given");
  for (const TensorInfo &t : linkedModel().params)
    if (t.name == name)
      return &t;
  throw std::runtime_error(std::string("the model has no parameter '") + name + "'");
}

} // namespace

extern "C" {

const char *adjoint_last_error(void) { return gError.c_str(); }

int64_t adjoint_batch_size(void) {
  const ModelInfo *m = model();
  return m ? m->batch() : -1;
}

int64_t adjoint_train_batch_sizes(int64_t *out, int64_t cap) {
  const ModelInfo *m = model();
  int64_t n = 0;
  if (m)
    for (const StepInfo &s : m->steps)
      if (s.kind == StepKind::Train) {
        if (out && n < cap)
          out[n] = s.batch;
        ++n;
      }
  return n;
}

int64_t adjoint_example_size(void) {
  const ModelInfo *m = model();
  return m ? product(m->exampleShape) : -1;
}
int32_t adjoint_input_dtype(void) {
  const ModelInfo *m = model();
  return m ? m->inputDType : 0;
}
int64_t adjoint_target_size(void) {
  const ModelInfo *m = model();
  return m ? product(m->targetShape) : -1;
}
int32_t adjoint_target_dtype(void) {
  const ModelInfo *m = model();
  return m ? m->targetDType : 0;
}
int64_t adjoint_prediction_size(void) {
  const ModelInfo *m = model();
  if (!m)
    return -1;
  const StepInfo *s = m->step(StepKind::Eval, m->batch());
  const TensorInfo &p = s->slots[(size_t)(s->firstOutput + s->predOutput)].info;
  return p.numel() / m->batch();
}

int64_t adjoint_num_params(void) {
  const ModelInfo *m = model();
  return m ? (int64_t)m->params.size() : -1;
}
const char *adjoint_param_name(int64_t i) {
  const TensorInfo *t = paramInfo(i);
  return t ? t->name.c_str() : nullptr;
}
int32_t adjoint_param_dtype(int64_t i) {
  const TensorInfo *t = paramInfo(i);
  return t ? t->dtype : 0;
}
int64_t adjoint_param_numel(int64_t i) {
  const TensorInfo *t = paramInfo(i);
  return t ? t->numel() : -1;
}

adjoint_session *adjoint_session_new(void) {
  adjoint_session *s = nullptr;
  guarded([&] { s = new adjoint_session(linkedModel()); });
  return s;
}

adjoint_session *adjoint_session_from_checkpoint(const char *path) {
  std::unique_ptr<adjoint_session> s;
  int rc = guarded([&] {
    need(path != nullptr, "no checkpoint path given");
    s = std::make_unique<adjoint_session>(linkedModel());
    auto meta = readCheckpoint(path, s->session);
    s->steps = std::stoll(meta.count("step") ? meta["step"] : "0");
  });
  return rc == 0 ? s.release() : nullptr;
}

void adjoint_session_free(adjoint_session *s) { delete s; }

void adjoint_set_threads(int32_t n) { adj_set_num_threads(n); }

int adjoint_train_step(adjoint_session *s, const void *x, const void *y, int64_t n, double lr,
                       double *loss) {
  return guarded([&] {
    need(s && x && y, "adjoint_train_step: a session, x and y are required");
    need(lr > 0 && lr < 1e300, "adjoint_train_step: lr must be positive and finite");
    StepResult r = s->session.train(x, y, n, lr, s->steps + 1, dropoutSeed(0, s->steps + 1));
    s->steps++;
    if (loss)
      *loss = r.loss;
  });
}

int adjoint_eval_step(adjoint_session *s, const void *x, const void *y, int64_t n, double *loss,
                      int64_t *correct, void *pred) {
  return guarded([&] {
    need(s && x && y, "adjoint_eval_step: a session, x and y are required");
    need(n >= 1, "adjoint_eval_step: n must be at least 1");
    const ModelInfo &m = s->session.model();
    size_t xRow = (size_t)product(m.exampleShape) * dtypeBytes(m.inputDType);
    size_t yRow = (size_t)product(m.targetShape) * dtypeBytes(m.targetDType);
    double lossSum = 0, hits = 0;
    size_t predAt = 0;
    for (int64_t i = 0; i < n;) {
      int64_t chunk = std::min<int64_t>(n - i, m.batch());
      if (!m.step(StepKind::Eval, chunk))
        chunk = 1;
      StepResult r = s->session.eval(static_cast<const char *>(x) + (size_t)i * xRow,
                                     static_cast<const char *>(y) + (size_t)i * yRow, chunk);
      lossSum += r.loss * (double)chunk;
      hits += r.correct;
      if (pred) {
        std::memcpy(static_cast<char *>(pred) + predAt, r.pred, r.predInfo.byteSize());
        predAt += r.predInfo.byteSize();
      }
      i += chunk;
    }
    if (loss)
      *loss = lossSum / (double)n;
    if (correct)
      *correct = (int64_t)hits;
  });
}

int64_t adjoint_session_steps(const adjoint_session *s) { return s ? s->steps : -1; }

int adjoint_get_param(const adjoint_session *s, const char *name, void *out, size_t bytes) {
  return guarded([&] {
    need(s && out, "adjoint_get_param: a session and an output buffer are required");
    const TensorInfo *t = paramNamed(name);
    need(bytes == t->byteSize(), "adjoint_get_param: '" + t->name + "' is " + t->describe() +
                                     " (" + std::to_string(t->byteSize()) + " bytes), not " +
                                     std::to_string(bytes) + " bytes");
    const Buffer &b = const_cast<adjoint_session *>(s)->session.param(t->name);
    std::memcpy(out, b.data(), bytes);
  });
}

int adjoint_set_param(adjoint_session *s, const char *name, const void *in, size_t bytes) {
  return guarded([&] {
    need(s && in, "adjoint_set_param: a session and an input buffer are required");
    const TensorInfo *t = paramNamed(name);
    need(bytes == t->byteSize(), "adjoint_set_param: '" + t->name + "' is " + t->describe() +
                                     " (" + std::to_string(t->byteSize()) + " bytes), not " +
                                     std::to_string(bytes) + " bytes");
    std::memcpy(s->session.param(t->name).data(), in, bytes);
  });
}

int adjoint_save_checkpoint(adjoint_session *s, const char *path) {
  return guarded([&] {
    need(s && path, "adjoint_save_checkpoint: a session and a path are required");
    writeCheckpoint(path, s->session, {{"step", std::to_string(s->steps)}});
  });
}

int adjoint_export_onnx(const adjoint_session *s, const char *path) {
  return guarded([&] {
    need(s && path, "adjoint_export_onnx: a session and a path are required");
    s->session.exportOnnx(path);
  });
}

} // extern "C"
