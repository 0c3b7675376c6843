#pragma once
// A compiled step of a model with its buffers, run the way a training loop runs it: parameters,
// optimizer state and the batch stay in place between calls, new.X outputs land in X's buffer
// (in place where the memory plan put them there, else by swapping the two buffers), and only
// the step number changes between calls.
#include "CodeGen/Jit.h"
#include "IR/Graph.h"

#include <memory>
#include <string>
#include <vector>

namespace adjoint::bench {

struct StepOptions {
  std::string model;
  int64_t batch = 1;
  bool train = true;        // training step (loss, backward, Adam) or forward only
  int64_t classes = 10;     // target labels are drawn from [0, classes)
  int64_t intRange = 10;    // integer data inputs (token ids) from [0, intRange)
};

class BenchStep {
public:
  explicit BenchStep(const StepOptions &opts);
  ~BenchStep();
  void run(); // one step
  double compileSeconds() const { return compileSeconds_; }
  const CompileStats &jitStats() const { return compiled_->stats(); }
  int64_t workspaceBytes() const { return compiled_->layout().workspaceBytes; }
  int64_t inPlaceUpdates() const { return inPlace_; }
  int64_t swappedUpdates() const { return (int64_t)swaps_.size(); }
  double loss() const; // the first output as a number (the loss of a training step)

private:
  std::unique_ptr<Module> module_;
  std::unique_ptr<CompiledFunction> compiled_;
  std::vector<void *> buffers_;
  std::vector<std::unique_ptr<uint8_t, void (*)(void *)>> owned_;
  std::vector<std::pair<size_t, size_t>> swaps_; // output slot, argument slot
  int64_t *stepNumber_ = nullptr;
  int64_t inPlace_ = 0;
  double compileSeconds_ = 0;
};

} // namespace adjoint::bench
