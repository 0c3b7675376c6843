#include "StepBuilder.h"
#include "BatchNormStats.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"

namespace adjoint::train {

namespace {

void runPasses(Module &m, const std::vector<std::string> &names, PassContext &ctx) {
  std::vector<const PassInfo *> passes;
  for (const std::string &n : names) {
    const PassInfo *p = findPass(n);
    check(p != nullptr, "internal error: pass ", n, " is not registered");
    passes.push_back(p);
  }
  runPipeline(m, passes, ctx, {});
}

std::string predictionOutput(const std::string &lossSpec) {
  size_t colon = lossSpec.find(':');
  return colon == std::string::npos ? "" : lossSpec.substr(colon + 1);
}

} // namespace

StepBuilder::StepBuilder(const ModelFile &model, StepSpec spec)
    : model_(model), spec_(std::move(spec)) {
  const auto &ins = model.inputs();
  check(!ins.empty(), model.path(), ": the model has no inputs to feed data to");
  if (ins.size() > 1) {
    std::string names;
    for (const auto &in : ins)
      names += (names.empty() ? "" : ", ") + in.name;
    fail(model.path(), ": adjoint-train feeds one input, but the model has ", ins.size(), " (",
         names, ")");
  }
  const ModelInput &in = ins[0];
  check(in.typeKnown, model.path(), ": input '", in.name, "' has an unsupported element type");
  check(!in.dims.empty(), model.path(), ": input '", in.name,
        "' is a scalar; it needs a batch axis (its first dimension)");
  dataInput_ = in.name;
  inputDType_ = in.dtype;
  if (in.dims[0] > 0)
    fixedBatch_ = in.dims[0];
  else
    check(in.dimParams[0].empty() || !spec_.dims.count(in.dimParams[0]), "--dim ",
          in.dimParams[0], "=... binds the batch axis of input '", in.name,
          "'; use --batch instead");
  for (size_t i = 1; i < in.dims.size(); ++i) {
    int64_t d = in.dims[i];
    if (d < 0) {
      auto it = spec_.dims.find(in.dimParams[i]);
      check(!in.dimParams[i].empty() && it != spec_.dims.end(), model.path(), ": dimension ", i,
            " of input '", in.name, "' is symbolic",
            in.dimParams[i].empty() ? "" : " ('" + in.dimParams[i] + "')",
            ": bind it with --dim NAME=N");
      d = it->second;
    }
    exampleShape_.push_back(d);
  }
}

std::unique_ptr<Module> StepBuilder::importFor(int64_t batch) const {
  check(fixedBatch_ == 0 || batch == fixedBatch_, "internal error: batch ", batch,
        " for a model whose batch is fixed at ", fixedBatch_);
  ImportOptions opts;
  opts.dims = spec_.dims;
  Shape shape{batch};
  shape.insert(shape.end(), exampleShape_.begin(), exampleShape_.end());
  opts.inputShapes[dataInput_] = shape;
  return model_.import(opts);
}

void StepBuilder::finish(Step &s, const std::string &predName) {
  const auto &outs = s.fn->outputs();
  std::string pred = predName.empty() && outs.size() > 1 ? outs[1].name : predName;
  bool found = false;
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string &n = outs[i].name;
    if (n == "loss")
      s.lossIndex = i;
    else if (n == pred && !found)
      s.predIndex = i, found = true;
    else if (n.rfind("new.", 0) == 0)
      s.updates.emplace_back(i, n.substr(4));
  }
  check(found, "internal error: the step has no output '", pred, "'");
  s.compiled = compileStep(spec_.backend, *s.fn, spec_.backendOptions);
}

namespace {

// Each training-mode Dropout takes the step's seed as its run-time seed operand (an adjoint
// extension, runtime/DropoutSeed.h), so a compiled step draws a new mask every step. Its gradient
// rule copies the operands, so the backward pass reuses the same mask.
// Dropouts without a seed attribute (PyTorch exports none) get their ordinal as one, so that two
// of the same shape do not drop the same units.
void seedDropouts(Function &fn) {
  Value *seed = nullptr;
  int64_t ordinal = 0;
  for (const auto &op : fn.ops())
    if (op->domain().empty() && op->opType() == "Dropout") {
      if (!seed)
        seed = fn.addInput(kDropoutSeedInput, {DType::I64, {}});
      op->setOperand(3, seed);
      ++ordinal;
      if (!op->hasAttr("seed"))
        op->setAttr("seed", Attribute(ordinal));
    }
}

} // namespace

PassContext StepBuilder::differentiate(Module &m) const {
  PassContext ctx;
  ctx.options["attach-loss"] = spec_.loss;
  runPasses(m, {"train-mode", "attach-loss"}, ctx);
  seedDropouts(*m.main());
  std::string freeze = spec_.freeze;
  for (const std::string &p : exposeBatchNormStatistics(*m.main()))
    freeze += (freeze.empty() ? "" : ",") + p;
  ctx.options["freeze"] = freeze;
  ctx.options["loss"] = "loss";
  runPasses(m, {"autodiff"}, ctx);
  return ctx;
}

Step &StepBuilder::train(int64_t batch) {
  auto &slot = train_[batch];
  if (slot)
    return *slot;
  auto s = std::make_unique<Step>();
  s->batch = batch;
  s->module = importFor(batch);
  s->fn = s->module->main();
  PassContext ctx = differentiate(*s->module);
  ctx.options["optimizer"] = spec_.optimizer;
  for (const auto &[k, v] : spec_.optimizerOptions)
    ctx.options[k] = v;
  runPasses(*s->module, {"optimizer", "cse", "dce"}, ctx);
  finish(*s, predictionOutput(spec_.loss));
  slot = std::move(s);
  return *slot;
}

std::unique_ptr<Module> StepBuilder::gradients(int64_t batch) {
  auto m = importFor(batch);
  differentiate(*m);
  return m;
}

Step &StepBuilder::eval(int64_t batch) {
  auto &slot = eval_[batch];
  if (slot)
    return *slot;
  auto s = std::make_unique<Step>();
  s->batch = batch;
  s->module = importFor(batch);
  s->fn = s->module->main();
  PassContext ctx;
  ctx.options["attach-loss"] = spec_.loss;
  runPasses(*s->module, {"attach-loss", "cse", "dce"}, ctx);
  finish(*s, predictionOutput(spec_.loss));
  slot = std::move(s);
  return *slot;
}

} // namespace adjoint::train
