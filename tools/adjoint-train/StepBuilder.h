#pragma once
// Compiles the training step and the evaluation step of a model for a batch size, and caches
// them: a smaller last batch gets a step compiled for its own shape (DESIGN.md, "Shapes").
//
//   training step    import, train-mode, attach-loss, running statistics as outputs, autodiff,
//                    optimizer, cse, dce. Inputs: the data input, `target`, `lr`, `step`,
//                    `dropout_seed` (with Dropout), the optimizer state, the parameters
//                    (overridden by name); outputs: loss, the
//                    model's outputs, new.<param>, new.<state>.
//   evaluation step  import, attach-loss, cse, dce (inference form: BatchNormalization uses its
//                    running statistics, Dropout passes through).
#include "Backend.h"
#include "ModelFile.h"
#include "Transforms/Pass.h"

#include <map>
#include <memory>
#include <string>

namespace adjoint::train {

// The training step's int64 scalar input that seeds its Dropout masks (present when the model
// has Dropout): the loop passes a value derived from (--seed, step), so each step draws a new
// mask and a resumed run draws the masks an uninterrupted one would.
inline constexpr const char *kDropoutSeedInput = "dropout_seed";

struct StepSpec {
  std::string loss = "cross-entropy"; // KIND[:OUTPUT], as --attach-loss
  std::string optimizer = "adam";
  std::map<std::string, std::string> optimizerOptions; // the optimizer pass's options
  std::string freeze;                                  // comma-separated parameters
  std::map<std::string, int64_t> dims;                 // other symbolic dimensions
  std::string backend;
  BackendOptions backendOptions;
};

struct Step {
  int64_t batch = 0;
  std::unique_ptr<Module> module;
  Function *fn = nullptr;
  CompiledStep compiled; // compiled.run runs the step
  size_t lossIndex = 0, predIndex = 1;
  // Output index → the state entry (parameter or optimizer state) it replaces (new.X → X).
  std::vector<std::pair<size_t, std::string>> updates;
};

class StepBuilder {
public:
  StepBuilder(const ModelFile &model, StepSpec spec);

  const StepSpec &spec() const { return spec_; }
  const std::string &dataInput() const { return dataInput_; }
  DType inputDType() const { return inputDType_; }
  // One example's input shape (the data input without its batch axis).
  const Shape &exampleShape() const { return exampleShape_; }
  // The batch size the model fixes (its input's first dimension is not symbolic), or 0.
  int64_t fixedBatch() const { return fixedBatch_; }
  std::string lossKind() const { return spec_.loss.substr(0, spec_.loss.find(':')); }

  Step &train(int64_t batch);
  Step &eval(int64_t batch);
  // The training step without the optimizer: outputs loss, the model's outputs and grad.<param>
  // (for --check-numerics to name the first non-finite gradient). Not cached.
  std::unique_ptr<Module> gradients(int64_t batch);

private:
  std::unique_ptr<Module> importFor(int64_t batch) const;
  void finish(Step &s, const std::string &predName);
  // train-mode, attach-loss, the running statistics, autodiff; returns the PassContext used.
  PassContext differentiate(Module &m) const;

  const ModelFile &model_;
  StepSpec spec_;
  std::string dataInput_;
  DType inputDType_ = DType::F32;
  Shape exampleShape_;
  int64_t fixedBatch_ = 0;
  std::map<int64_t, std::unique_ptr<Step>> train_, eval_;
};

} // namespace adjoint::train
