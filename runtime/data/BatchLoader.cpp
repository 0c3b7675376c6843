#include "data/BatchLoader.h"
#include "data/DataError.h"

#include <cstring>

namespace adjoint::data {

namespace {

std::vector<int64_t> withRows(int64_t rows, const std::vector<int64_t> &shape) {
  std::vector<int64_t> s{rows};
  s.insert(s.end(), shape.begin(), shape.end());
  return s;
}

// Copies row `from` of src into row `to` of dst, converting types (and normalising).
void copyRow(const Array &src, int64_t from, Array &dst, int64_t to, const Normalization *norm) {
  int64_t n = src.rowSize();
  if (!norm && src.type == dst.type) {
    size_t bytes = (size_t)n * elemSize(src.type);
    std::memcpy(dst.bytes.data() + (size_t)to * bytes, src.bytes.data() + (size_t)from * bytes,
                bytes);
    return;
  }
  if (norm && src.type == ElemType::U8 && dst.type == ElemType::F32) { // the common image case
    const uint8_t *s = src.bytes.data() + from * n;
    float *d = reinterpret_cast<float *>(dst.bytes.data()) + to * n;
    float table[256];
    for (int v = 0; v < 256; ++v)
      table[v] = (float)(((double)v * norm->scale - norm->mean) / norm->std);
    for (int64_t i = 0; i < n; ++i)
      d[i] = table[s[i]];
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    double v = src.at(from * n + i);
    if (norm)
      v = (v * norm->scale - norm->mean) / norm->std;
    dst.set(to * n + i, v);
  }
}

} // namespace

BatchLoader::BatchLoader(const Split &split, BatchFormat format, std::vector<int64_t> order,
                         int64_t batchSize, int64_t firstBatch, bool dropLast, size_t depth)
    : split_(split), format_(std::move(format)), order_(std::move(order)), batchSize_(batchSize),
      firstBatch_(firstBatch), depth_(depth ? depth : 1) {
  dataCheck(batchSize_ > 0, "batch size must be positive, got ", batchSize_);
  int64_t n = (int64_t)order_.size();
  numBatches_ = dropLast ? n / batchSize_ : (n + batchSize_ - 1) / batchSize_;
  dataCheck(firstBatch_ >= 0 && firstBatch_ <= numBatches_, "batch ", firstBatch_,
            " is past the end of the data (", numBatches_, " batches)");
  for (int64_t i : order_)
    dataCheck(i >= 0 && i < split_.size(), "example index ", i, " is out of range");
  thread_ = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Batch BatchLoader::assemble(const Split &split, const BatchFormat &format,
                            const std::vector<int64_t> &order, int64_t batchSize, int64_t index) {
  int64_t begin = index * batchSize;
  int64_t size = std::min<int64_t>(batchSize, (int64_t)order.size() - begin);
  Batch b;
  b.index = index;
  b.size = size;
  b.x = Array(format.xType, withRows(size, format.xShape));
  b.y = Array(format.yType, withRows(size, format.yShape));
  dataCheck(b.x.rowSize() == split.x.rowSize() && b.y.rowSize() == split.y.rowSize(),
            "internal error: batch format does not match the data");
  const Normalization *norm = format.norm.identity() ? nullptr : &format.norm;
  for (int64_t r = 0; r < size; ++r) {
    int64_t e = order[(size_t)(begin + r)];
    copyRow(split.x, e, b.x, r, norm);
    copyRow(split.y, e, b.y, r, nullptr);
  }
  return b;
}

void BatchLoader::produce() {
  try {
    for (int64_t i = firstBatch_; i < numBatches_; ++i) {
      Batch b = assemble(split_, format_, order_, batchSize_, i);
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_.size() < depth_; });
      if (stop_)
        return;
      ready_.push_back(std::move(b));
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  cv_.notify_all();
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    Batch b = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return b;
  }
  if (error_)
    std::rethrow_exception(error_);
  return std::nullopt;
}

} // namespace adjoint::data
