#pragma once
// Assembles batches on a background thread, a few ahead of the consumer, so the training step is
// never waiting for data: gathers the examples of the given order, converts them to the model's
// element types and shapes, and normalises the inputs.
#include "data/Dataset.h"
#include "data/Normalize.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace adjoint::data {

// What the model wants of one example.
struct BatchFormat {
  ElemType xType = ElemType::F32;
  std::vector<int64_t> xShape; // one example's input shape (element count = the data's)
  ElemType yType = ElemType::I64;
  std::vector<int64_t> yShape; // one example's target shape
  Normalization norm;
};

struct Batch {
  int64_t index = 0; // batch number within the order (0-based)
  int64_t size = 0;  // examples; the last batch may be smaller
  Array x, y;        // [size, xShape...], [size, yShape...]
};

class BatchLoader {
public:
  // Batches of `batchSize` examples of split in `order`, from batch number `firstBatch` on. A
  // last partial batch is produced unless dropLast. `depth` batches are prepared ahead.
  BatchLoader(const Split &split, BatchFormat format, std::vector<int64_t> order,
              int64_t batchSize, int64_t firstBatch = 0, bool dropLast = false, size_t depth = 4);
  ~BatchLoader();
  BatchLoader(const BatchLoader &) = delete;
  BatchLoader &operator=(const BatchLoader &) = delete;

  // The next batch, or nullopt at the end; rethrows the producer's error.
  std::optional<Batch> next();
  int64_t numBatches() const { return numBatches_; }

  // Builds batch `index` on the calling thread (what the producer runs).
  static Batch assemble(const Split &split, const BatchFormat &format,
                        const std::vector<int64_t> &order, int64_t batchSize, int64_t index);

private:
  void produce();

  const Split &split_;
  BatchFormat format_;
  std::vector<int64_t> order_;
  int64_t batchSize_, firstBatch_, numBatches_;
  size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

} // namespace adjoint::data
