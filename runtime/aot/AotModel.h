#pragma once
// The model an AOT binary was compiled from, as adjoint-compile described it (AotFormat.h): its
// parameters with their initial values, the optimizer state, and the compiled steps with the
// buffer layout of each (compiler/CodeGen/Lowering.h's contract). Read once from the symbols the
// generated object defines.
#include "AotFormat.h"

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

extern "C" {
// Defined by the object adjoint-compile writes.
extern const char adj_aot_blob[];
extern const uint64_t adj_aot_blob_size;
extern void (*const adj_aot_entries[])(void **);
}

namespace adjoint::aot {

// ONNX TensorProto codes.
enum : int32_t { kFloat = 1, kInt32 = 6, kInt64 = 7, kBool = 9, kDouble = 11 };
size_t dtypeBytes(int32_t code); // 0 for an unknown code
const char *dtypeName(int32_t code);

struct TensorInfo {
  std::string name;
  int32_t dtype = kFloat;
  std::vector<int64_t> shape;
  int64_t numel() const;
  size_t byteSize() const { return (size_t)numel() * dtypeBytes(dtype); }
  std::string describe() const; // "float32[64,784]"
};

struct Slot {
  SlotKind kind = SlotKind::Input;
  TensorInfo info;
  int32_t inPlaceOf = -1;
};

struct StepInfo {
  StepKind kind = StepKind::Train;
  int64_t batch = 0;
  void (*entry)(void **) = nullptr; // the CPU code; null for a GPU step
  std::string plan;                  // a GPU step's serialized gpu::Plan (PlanFile.h)
  int64_t workspaceBytes = 0;
  int32_t firstOutput = 0, workspaceSlot = 0, lossOutput = 0, predOutput = 1;
  std::vector<Slot> slots;
  std::vector<std::string> messages;
  int findSlot(const std::string &name, SlotKind kind) const; // -1 when absent
};

struct ModelInfo {
  std::map<std::string, std::string> config;
  int32_t inputDType = kFloat, targetDType = kInt64;
  std::vector<int64_t> exampleShape, targetShape; // one example's
  int64_t classes = 0;
  std::vector<TensorInfo> params, state;
  std::vector<std::string> paramBytes; // initial values, parallel to params
  std::vector<StepInfo> steps;
  std::string onnx;

  std::string get(const std::string &key, const std::string &dflt = "") const;
  // The step of this kind compiled for this batch size, or null.
  const StepInfo *step(StepKind kind, int64_t batch) const;
  int64_t batch() const; // the batch the model was compiled for
  const std::string &dataInput() const { return config.at("data_input"); }
  const std::string &lossKind() const { return config.at("loss_kind"); }
  bool gpu() const { return get("device") == "cuda"; }
};

// Parses a blob (throws std::runtime_error when malformed).
ModelInfo parseModel(const char *blob, size_t size, void (*const *entries)(void **));
// The model linked into this binary.
const ModelInfo &linkedModel();

} // namespace adjoint::aot
