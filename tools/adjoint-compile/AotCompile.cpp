#include "AotCompile.h"
#include "AotFormat.h"
#include "CodeGen/GpuFunction.h"
#include "cuda/PlanFile.h"
#include "Frontend/TensorIO.h"
#include "StepBuilder.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace adjoint::compile {

namespace {

using aot::BlobWriter;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "cannot read '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fuse(Function &fn) {
  PassContext ctx;
  const PassInfo *p = findPass("fuse");
  check(p != nullptr, "internal error: pass fuse is not registered");
  runPipeline(*fn.module(), {p}, ctx, {});
}

// The inputs the loop feeds every step (StepBuilder.h); the others are optimizer state.
bool isStepInput(const std::string &name, const std::string &dataInput) {
  return name == dataInput || name == "target" || name == "lr" || name == "step" ||
         name == "dropout_seed";
}

void writeType(BlobWriter &w, const std::string &name, const TensorType &t) {
  w.str(name);
  w.pod<int32_t>(onnxFromDType(t.dtype));
  w.shape(std::vector<int64_t>(t.shape.begin(), t.shape.end()));
}

struct Compiled {
  train::Step *step;
  aot::StepKind kind;
  LoweredFunction lowered;
  std::string plan; // --target=cuda: the serialized gpu::Plan
};

// A GPU step's layout: the plan's slots are the CPU's (inputs, parameters, outputs, workspace)
// with the memory plan's in-place outputs.
LoweredFunction gpuLayout(const Function &fn, const gpu::Plan &plan) {
  LoweredFunction l;
  l.entry = plan.entry;
  BufferLayout &b = l.layout;
  auto add = [&](BufferSlot::Kind kind, const std::string &name, const TensorType &t) {
    BufferSlot s;
    s.kind = kind;
    s.name = name;
    s.type = t;
    b.slots.push_back(s);
  };
  for (Value *v : fn.inputs())
    add(BufferSlot::Kind::Input, v->name(), v->type());
  for (Value *v : fn.params())
    add(BufferSlot::Kind::Param, v->name(), v->type());
  b.firstOutput = (int)b.slots.size();
  for (const auto &o : fn.outputs())
    add(BufferSlot::Kind::Output, o.name, o.value->type());
  b.workspaceSlot = (int)b.slots.size();
  add(BufferSlot::Kind::Workspace, "workspace", TensorType{DType::F32, {0}});
  check(plan.slots.size() == b.slots.size(), "internal error: the GPU plan of @", fn.name(), " has ",
        plan.slots.size(), " slots, its function ", b.slots.size());
  for (size_t i = 0; i < b.slots.size(); ++i)
    b.slots[i].inPlaceOf = plan.slots[i].inPlaceOf;
  b.workspaceBytes = plan.workspaceBytes;
  l.errorMessages = plan.errorMessages;
  return l;
}

void writeStep(BlobWriter &w, const Compiled &c, uint32_t entry) {
  const BufferLayout &l = c.lowered.layout;
  w.pod<uint8_t>((uint8_t)c.kind);
  w.pod<int64_t>(c.step->batch);
  w.pod<uint32_t>(c.plan.empty() ? entry : aot::kNoEntry);
  w.str(c.plan);
  w.pod<int64_t>(l.workspaceBytes);
  w.pod<int32_t>(l.firstOutput);
  w.pod<int32_t>(l.workspaceSlot);
  w.pod<int32_t>((int32_t)c.step->lossIndex);
  w.pod<int32_t>((int32_t)c.step->predIndex);
  w.pod<uint32_t>((uint32_t)l.slots.size());
  for (const BufferSlot &s : l.slots) {
    w.pod<uint8_t>((uint8_t)(s.kind == BufferSlot::Kind::Input    ? aot::SlotKind::Input
                             : s.kind == BufferSlot::Kind::Param  ? aot::SlotKind::Param
                             : s.kind == BufferSlot::Kind::Output ? aot::SlotKind::Output
                                                                  : aot::SlotKind::Workspace));
    // The workspace slot has no tensor type: a byte vector of its size stands in.
    TensorType t = s.kind == BufferSlot::Kind::Workspace
                       ? TensorType{DType::F32, {0}}
                       : s.type;
    writeType(w, s.name, t);
    w.pod<int32_t>(s.inPlaceOf);
  }
  w.pod<uint32_t>((uint32_t)c.lowered.errorMessages.size());
  for (const std::string &m : c.lowered.errorMessages)
    w.str(m);
}

} // namespace

CompiledModel compileModel(const CompileOptions &o, AotOutput output) {
  train::ModelFile model(o.model);
  train::StepSpec spec;
  spec.loss = o.loss;
  spec.optimizer = o.optimizer;
  spec.optimizerOptions = o.optimizerOptions;
  spec.freeze = o.freeze;
  spec.dims = o.dims;
  // Steps are built here and compiled below, ahead of time; the interpreter "backend" only
  // wraps them and compiles nothing.
  spec.backend = "interp";
  train::StepBuilder builder(model, spec);

  int64_t batch = o.batch;
  if (int64_t fixed = builder.fixedBatch()) {
    check(!o.batchGiven || o.batch == fixed, o.model, ": input '", builder.dataInput(),
          "' has a fixed batch size of ", fixed, "; --batch=", o.batch,
          " cannot be compiled (export the model with a dynamic batch axis)");
    check(o.tailBatches.empty(), o.model, ": the model fixes its batch at ", fixed,
          "; --tail-batch cannot be compiled");
    batch = fixed;
  }

  CompiledModel out;
  out.batch = batch;
  // --target=cuda: the CPU builder only carries the description (no steps: entries is empty).
  AotBuilder aot(o.target);
  std::unique_ptr<GpuAotBuilder> gpu;
  if (o.cuda) {
    GpuOptions go;
    go.arch = o.gpuArch;
    gpu = std::make_unique<GpuAotBuilder>(go);
    out.target = "cuda " + o.gpuArch + " (NVPTX; host emulator for " + aot.target().describe() + ")";
  } else {
    out.target = aot.target().describe();
  }
  std::vector<Compiled> compiled;
  std::set<std::pair<int, int64_t>> seen;
  auto add = [&](aot::StepKind kind, int64_t b, bool listed = true) {
    if (!seen.insert({(int)kind, b}).second)
      return;
    bool tr = kind == aot::StepKind::Train;
    train::Step &s = tr ? builder.train(b) : builder.eval(b);
    fuse(*s.fn);
    std::string symbol = std::string(tr ? "adj_aot_train_b" : "adj_aot_eval_b") + std::to_string(b);
    if (gpu) {
      gpu::Plan plan = gpu->add(*s.fn);
      std::ostringstream text;
      text << "// " << symbol << ": @" << plan.entry << ", " << plan.steps.size() << " steps\n";
      for (size_t i = 0; i < plan.steps.size(); ++i)
        text << "// step " << i << ": " << describeStep(plan.steps[i]) << "\n";
      out.ptx += text.str() + plan.ptx + "\n";
      compiled.push_back({&s, kind, gpuLayout(*s.fn, plan), gpu::serializePlan(plan)});
    } else {
      compiled.push_back({&s, kind, aot.add(*s.fn, symbol), ""});
    }
    if (listed)
      out.steps.push_back(std::string(tr ? "train" : "eval") + " b" + std::to_string(b) + " (" +
                          std::to_string(s.fn->ops().size()) + " ops)");
  };
  add(aot::StepKind::Train, batch);
  add(aot::StepKind::Eval, batch);
  for (int64_t t : o.tailBatches) {
    add(aot::StepKind::Train, t);
    add(aot::StepKind::Eval, t);
  }
  // Every partial size: training steps only (a partial test batch is evaluated one example at a
  // time, with the same totals).
  bool tailAll = o.tailAll && !builder.fixedBatch();
  for (int64_t t = 1; tailAll && t < batch; ++t)
    add(aot::StepKind::Train, t, /*listed=*/false);
  if (tailAll && batch > 1)
    out.steps.push_back("train b1..b" + std::to_string(batch - 1) + " (every partial batch)");
  // Evaluation of a last partial test batch without its own step goes one example at a time.
  if (!builder.fixedBatch())
    add(aot::StepKind::Eval, 1);

  train::Step &tr = builder.train(batch);
  train::Step &ev = builder.eval(batch);
  const Value *target = ev.fn->findArg("target");
  check(target != nullptr, "internal error: the evaluation step has no target input");
  const TensorType &pred = ev.fn->outputs()[ev.predIndex].value->type();
  std::string lossKind = builder.lossKind();
  int64_t classes = lossKind == "cross-entropy" && pred.shape.size() > 1 ? pred.shape[1] : 0;

  std::filesystem::path modelPath(o.model);
  std::map<std::string, std::string> config = {
      {"model", modelPath.filename().string()},
      {"model_stem", modelPath.stem().string()},
      {"loss", o.loss},
      {"loss_kind", lossKind},
      {"optimizer", o.optimizer},
      {"optimizer_desc", o.optimizerDescription()},
      {"lr", [&] {
         std::ostringstream os;
         os.precision(17);
         os << o.baseLr();
         return os.str();
       }()},
      {"batch", std::to_string(batch)},
      {"fixed_batch", builder.fixedBatch() ? "1" : "0"},
      {"data_input", builder.dataInput()},
      {"target", out.target},
      {"device", o.cuda ? "cuda" : "cpu"}};
  if (o.cuda)
    config["gpu_arch"] = o.gpuArch;

  BlobWriter w;
  w.raw(aot::kBlobMagic, sizeof aot::kBlobMagic);
  w.pod<uint32_t>(aot::kBlobVersion);
  w.pod<uint32_t>((uint32_t)config.size());
  for (const auto &[k, v] : config) {
    w.str(k);
    w.str(v);
  }
  w.pod<int32_t>(onnxFromDType(builder.inputDType()));
  w.shape(std::vector<int64_t>(builder.exampleShape().begin(), builder.exampleShape().end()));
  w.pod<int32_t>(onnxFromDType(target->dtype()));
  w.shape(std::vector<int64_t>(target->shape().begin() + 1, target->shape().end()));
  w.pod<int64_t>(classes);

  std::set<std::string> paramNames;
  std::vector<Value *> params = tr.fn->params();
  w.pod<uint32_t>((uint32_t)params.size());
  for (Value *p : params) {
    const Tensor &data = p->paramData();
    check(data.dtype() == p->dtype() && data.shape() == p->shape(), o.model, ": parameter '",
          p->name(), "' has no initial value of its type");
    writeType(w, p->name(), p->type());
    w.bytes(data.bytes(), data.byteSize());
    paramNames.insert(p->name());
  }
  std::vector<Value *> state;
  for (Value *in : tr.fn->inputs())
    if (!isStepInput(in->name(), builder.dataInput()))
      state.push_back(in);
  w.pod<uint32_t>((uint32_t)state.size());
  for (Value *s : state)
    writeType(w, s->name(), s->type());
  for (const Compiled &c : compiled)
    for (Value *p : c.step->fn->params())
      check(paramNames.count(p->name()), "internal error: step @", c.step->fn->name(),
            " reads parameter '", p->name(), "' that the training step does not");

  w.pod<uint32_t>((uint32_t)compiled.size());
  for (size_t i = 0; i < compiled.size(); ++i)
    writeStep(w, compiled[i], (uint32_t)i);
  w.str(readFile(o.model));

  std::ostringstream h;
  auto exampleSize = [](const Shape &s) {
    int64_t n = 1;
    for (int64_t d : s)
      n *= d;
    return n;
  };
  h << "#define ADJOINT_MODEL_NAME \"" << config["model"] << "\"\n"
    << "#define ADJOINT_MODEL_BATCH " << batch << "\n"
    << "#define ADJOINT_MODEL_EXAMPLE_SIZE " << exampleSize(builder.exampleShape()) << "\n"
    << "#define ADJOINT_MODEL_INPUT_DTYPE " << onnxFromDType(builder.inputDType()) << "\n"
    << "#define ADJOINT_MODEL_TARGET_DTYPE " << onnxFromDType(target->dtype()) << "\n"
    << "#define ADJOINT_MODEL_CLASSES " << classes << "\n"
    << "#define ADJOINT_MODEL_NUM_PARAMS " << params.size() << "\n"
    << "#define ADJOINT_MODEL_LOSS \"" << o.loss << "\"\n"
    << "#define ADJOINT_MODEL_OPTIMIZER \"" << o.optimizerDescription() << "\"\n"
    << "#define ADJOINT_MODEL_DEFAULT_LR " << config["lr"] << "\n";
  out.header = h.str();
  out.bytes = aot.finish(w.data(), output);
  if (gpu && o.emit == Emit::Exe)
    out.emulatorObject = gpu->finishHostObject();
  return out;
}

} // namespace adjoint::compile
