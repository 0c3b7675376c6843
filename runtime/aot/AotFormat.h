#pragma once
// The description adjoint-compile embeds in every AOT object (the global adj_aot_blob) and the
// runtime reads back: one byte string, little-endian, in this order:
//
//   "ADJAOT01"  u32 version
//   config      u32 n, n × (key, value) strings   (loss, optimizer, data_input, model, lr, ...)
//   data        input dtype, example shape, target dtype, target example shape, i64 classes
//   params      u32 n, n × (name, dtype, shape, bytes)     initial values, in the train step's order
//   state       u32 n, n × (name, dtype, shape)            optimizer state, zero at the start
//   steps       u32 n, n × step (below)
//   onnx        the original model file's bytes (for exporting the trained model)
//
//   step: u8 kind (0 train, 1 eval), i64 batch, u32 entry (index into adj_aot_entries;
//         kNoEntry for a GPU step), plan (string: empty for the CPU, else the step's gpu::Plan
//         serialized as runtime/cuda/PlanFile.h writes plan files), i64 workspace bytes,
//         i32 first output, i32 workspace slot, i32 loss output, i32 prediction output,
//         u32 n slots × (u8 kind, name, dtype, shape, i32 inPlaceOf), u32 n error messages × string
//
// config "device" is "cpu" or "cuda" (--target=cuda: every step has a plan and no entry).
// Version 2 added the plan.
//
// strings are u64 length + bytes; a shape is u32 rank + i64 dims; a dtype is the ONNX
// TensorProto code (1 float, 11 double, 7 int64, 6 int32, 9 bool). Header-only and free of
// compiler/ so both the writer (tools/adjoint-compile) and the reader (runtime/aot) share it.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace adjoint::aot {

constexpr char kBlobMagic[8] = {'A', 'D', 'J', 'A', 'O', 'T', '0', '1'};
constexpr uint32_t kBlobVersion = 2;
constexpr uint32_t kNoEntry = 0xffffffffu;

enum class StepKind : uint8_t { Train = 0, Eval = 1 };
enum class SlotKind : uint8_t { Input = 0, Param = 1, Output = 2, Workspace = 3 };

class BlobWriter {
public:
  template <typename T> void pod(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void str(const std::string &s) {
    pod<uint64_t>(s.size());
    out_ += s;
  }
  void bytes(const void *p, size_t n) {
    pod<uint64_t>(n);
    out_.append(static_cast<const char *>(p), n);
  }
  void shape(const std::vector<int64_t> &dims) {
    pod<uint32_t>((uint32_t)dims.size());
    for (int64_t d : dims)
      pod<int64_t>(d);
  }
  void raw(const void *p, size_t n) { out_.append(static_cast<const char *>(p), n); }
  const std::string &data() const { return out_; }

private:
  std::string out_;
};

// Throws std::runtime_error on a short or malformed blob (a mismatched runtime library).
class BlobReader {
public:
  BlobReader(const char *p, size_t n) : p_(p), n_(n) {}
  template <typename T> T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_ + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string str() {
    uint64_t n = pod<uint64_t>();
    need(n);
    std::string s(p_ + at_, (size_t)n);
    at_ += (size_t)n;
    return s;
  }
  std::vector<int64_t> shape() {
    uint32_t r = pod<uint32_t>();
    need((uint64_t)r * 8);
    std::vector<int64_t> dims(r);
    for (auto &d : dims)
      d = pod<int64_t>();
    return dims;
  }
  void expect(const void *magic, size_t n) {
    need(n);
    if (std::memcmp(p_ + at_, magic, n) != 0)
      throw std::runtime_error("the embedded model description has a wrong magic number");
    at_ += n;
  }
  bool done() const { return at_ == n_; }

private:
  void need(uint64_t k) const {
    if (k > n_ - at_)
      throw std::runtime_error("the embedded model description is truncated");
  }
  const char *p_;
  size_t n_, at_ = 0;
};

} // namespace adjoint::aot
