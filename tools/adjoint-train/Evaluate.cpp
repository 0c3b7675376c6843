#include "Evaluate.h"
#include "Metrics.h"

#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

namespace adjoint::train {

EvalResult evaluate(StepBuilder &builder, const FittedData &data,
                    const std::map<std::string, Tensor> &params, int64_t batch, int threads,
                    const std::atomic<bool> *stop) {
  EvalResult r;
  if (!data.dataset.test)
    return r;
  const data::Split &test = *data.dataset.test;
  std::vector<int64_t> order((size_t)test.size());
  std::iota(order.begin(), order.end(), 0);
  // A model with a fixed batch cannot take a smaller last batch: those examples are skipped.
  bool fixed = builder.fixedBatch() != 0;
  int64_t numBatches = fixed ? test.size() / batch : (test.size() + batch - 1) / batch;
  // Compile on this thread: the builder's cache is not shared between threads.
  for (int64_t i = 0; i < numBatches; ++i)
    builder.eval(std::min<int64_t>(batch, test.size() - i * batch));

  struct Result {
    double loss = 0;
    Correct correct;
    int64_t size = 0;
  };
  std::vector<Result> results((size_t)numBatches);
  std::atomic<int64_t> next{0};
  std::mutex errorMu;
  std::exception_ptr error;
  std::string lossKind = builder.lossKind();
  auto work = [&] {
    try {
      for (;;) {
        int64_t i = next++;
        if (i >= numBatches || (stop && *stop))
          return;
        data::Batch b = data::BatchLoader::assemble(test, data.format, order, batch, i);
        Step &step = builder.eval(b.size);
        std::map<std::string, Tensor> inputs = params;
        inputs[builder.dataInput()] = toTensor(b.x, builder.inputDType());
        Tensor target = toTensor(b.y, data.targetType.dtype);
        inputs["target"] = target;
        std::vector<Tensor> outs = step.compiled.run(inputs);
        Result &res = results[(size_t)i];
        res.loss = outs[step.lossIndex].getDouble(0);
        res.correct = countCorrect(lossKind, outs[step.predIndex], target);
        res.size = b.size;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMu);
      if (!error)
        error = std::current_exception();
      next = numBatches; // the others stop too
    }
  };
  int n = std::max(1, std::min<int>(threads, (int)numBatches));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t)
    pool.emplace_back(work);
  work();
  for (auto &t : pool)
    t.join();
  if (error)
    std::rethrow_exception(error);
  if (stop && *stop) {
    r.interrupted = true;
    return r;
  }
  double lossSum = 0, correct = 0;
  int64_t count = 0;
  for (const Result &res : results) {
    lossSum += res.loss * (double)res.size;
    r.examples += res.size;
    correct += res.correct.correct;
    count += res.correct.count;
  }
  r.loss = r.examples ? lossSum / (double)r.examples : NAN;
  r.accuracy = count ? correct / (double)count : NAN;
  return r;
}

} // namespace adjoint::train
