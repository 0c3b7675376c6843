#include "AotModel.h"

#include <sstream>

namespace adjoint::aot {

size_t dtypeBytes(int32_t code) {
  switch (code) {
  case kFloat: case kInt32: return 4;
  case kInt64: case kDouble: return 8;
  case kBool: return 1;
  default: return 0;
  }
}

const char *dtypeName(int32_t code) {
  switch (code) {
  case kFloat: return "float32";
  case kDouble: return "float64";
  case kInt64: return "int64";
  case kInt32: return "int32";
  case kBool: return "bool";
  default: return "unknown";
  }
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string TensorInfo::describe() const {
  std::ostringstream os;
  os << dtypeName(dtype) << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    os << (i ? "," : "") << shape[i];
  os << "]";
  return os.str();
}

int StepInfo::findSlot(const std::string &name, SlotKind kind) const {
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i].kind == kind && slots[i].info.name == name)
      return (int)i;
  return -1;
}

std::string ModelInfo::get(const std::string &key, const std::string &dflt) const {
  auto it = config.find(key);
  return it == config.end() ? dflt : it->second;
}

const StepInfo *ModelInfo::step(StepKind kind, int64_t batch) const {
  for (const StepInfo &s : steps)
    if (s.kind == kind && s.batch == batch)
      return &s;
  return nullptr;
}

int64_t ModelInfo::batch() const { return std::stoll(config.at("batch")); }

namespace {

TensorInfo readInfo(BlobReader &r) {
  TensorInfo t;
  t.name = r.str();
  t.dtype = r.pod<int32_t>();
  t.shape = r.shape();
  if (!dtypeBytes(t.dtype))
    throw std::runtime_error("the embedded model description names an unknown dtype");
  return t;
}

} // namespace

ModelInfo parseModel(const char *blob, size_t size, void (*const *entries)(void **)) {
  BlobReader r(blob, size);
  r.expect(kBlobMagic, sizeof kBlobMagic);
  if (r.pod<uint32_t>() != kBlobVersion)
    throw std::runtime_error("the embedded model description has another version than this "
                             "runtime library (rebuild with the same adjoint-compile)");
  ModelInfo m;
  for (uint32_t n = r.pod<uint32_t>(); n--;) {
    std::string k = r.str();
    m.config[k] = r.str();
  }
  for (const char *key : {"data_input", "loss_kind", "batch", "optimizer"})
    if (!m.config.count(key))
      throw std::runtime_error(std::string("the embedded model description lacks '") + key + "'");
  m.inputDType = r.pod<int32_t>();
  m.exampleShape = r.shape();
  m.targetDType = r.pod<int32_t>();
  m.targetShape = r.shape();
  m.classes = r.pod<int64_t>();
  for (uint32_t n = r.pod<uint32_t>(); n--;) {
    m.params.push_back(readInfo(r));
    m.paramBytes.push_back(r.str());
    if (m.paramBytes.back().size() != m.params.back().byteSize())
      throw std::runtime_error("parameter '" + m.params.back().name + "' has the wrong size");
  }
  for (uint32_t n = r.pod<uint32_t>(); n--;)
    m.state.push_back(readInfo(r));
  for (uint32_t n = r.pod<uint32_t>(); n--;) {
    StepInfo s;
    s.kind = (StepKind)r.pod<uint8_t>();
    s.batch = r.pod<int64_t>();
    uint32_t entry = r.pod<uint32_t>();
    s.plan = r.str();
    if (entry != kNoEntry)
      s.entry = entries[entry];
    else if (s.plan.empty())
      throw std::runtime_error("the embedded model description has a step with neither code nor plan");
    s.workspaceBytes = r.pod<int64_t>();
    s.firstOutput = r.pod<int32_t>();
    s.workspaceSlot = r.pod<int32_t>();
    s.lossOutput = r.pod<int32_t>();
    s.predOutput = r.pod<int32_t>();
    for (uint32_t k = r.pod<uint32_t>(); k--;) {
      Slot slot;
      slot.kind = (SlotKind)r.pod<uint8_t>();
      slot.info = readInfo(r);
      slot.inPlaceOf = r.pod<int32_t>();
      s.slots.push_back(std::move(slot));
    }
    for (uint32_t k = r.pod<uint32_t>(); k--;)
      s.messages.push_back(r.str());
    if (s.workspaceSlot != (int32_t)s.slots.size() - 1 || s.firstOutput > s.workspaceSlot)
      throw std::runtime_error("the embedded model description has a malformed step layout");
    m.steps.push_back(std::move(s));
  }
  m.onnx = r.str();
  if (!r.done())
    throw std::runtime_error("the embedded model description has trailing bytes");
  return m;
}

} // namespace adjoint::aot
