// The GPU target without a GPU: every op case of GpuOpCases.h and the fused training steps of
// fashion_mlp, LeNet-5 and a Dropout MLP run through the GPU lowering's plan and kernels on the
// host emulator (NvptxEmulator.cpp) and must equal the interpreter (Dropout's mask bit for bit);
// the PTX of the same functions comes out of the NVPTX backend with one .entry per launched
// kernel; unsupported ops, bad labels and bad Dropout ratios give the errors the CPU gives.
#include "GpuOpCases.h"
#include "cuda/PlanFile.h"

#include <filesystem>

using namespace adjoint;
using namespace adjoint::testing;
using namespace adjoint::testing::gpucases;

namespace {
constexpr GpuBackend kEmu = GpuBackend::Emulator;
}

TEST(NvptxEmulator, Elementwise) { elementwise(kEmu); }
TEST(NvptxEmulator, Gemm) { gemm(kEmu); }
TEST(NvptxEmulator, Reductions) { reductions(kEmu); }
TEST(NvptxEmulator, IntegerGemmsAndReductions) { integerOps(kEmu); }
TEST(NvptxEmulator, Loss) { loss(kEmu); }
TEST(NvptxEmulator, NegativeLogLikelihoodLoss) { nllLoss(kEmu); }
TEST(NvptxEmulator, TrainingDomainOptimizers) { trainingOps(kEmu); }
TEST(NvptxEmulator, Dropout) { dropout(kEmu); }
TEST(NvptxEmulator, DropoutMlpAdamSteps) { dropoutMlpSteps(kEmu, 16, 3); }
TEST(NvptxEmulator, ConvPool) { convPool(kEmu); }
TEST(NvptxEmulator, DataMovement) { dataMovement(kEmu); }
TEST(NvptxEmulator, FashionMlpStep) { modelStep(kEmu, "fashion_mlp", 64); }
TEST(NvptxEmulator, LeNet5Step) { modelStep(kEmu, "lenet5", 16); }
TEST(NvptxEmulator, CnnBatchNormStep) { modelStep(kEmu, "fashion_cnn_bn", 8, /*trainMode=*/true); }

TEST(NvptxEmulator, ResidentStepsUpdateInPlace) {
  // Two steps with the state left on the device equal two interpreted steps fed back by hand.
  auto mod = trainingStep("fashion_mlp", 8);
  const Function &f = *mod->main();
  std::mt19937 rng(3);
  std::map<std::string, Tensor> in = stepInputs(f, 8, rng);
  auto g = GpuFunction::compile(f, kEmu);
  for (const auto &[name, t] : in)
    g->set(name, t);
  for (Value *p : f.params())
    g->set(p->name(), p->paramData());
  for (const auto &o : f.outputs())
    if (o.name.rfind("new.", 0) == 0)
      g->feedBack(o.name, o.name.substr(4));
  std::map<std::string, Tensor> cpu = in;
  for (int s = 1; s <= 2; ++s) {
    cpu["step"] = Tensor::scalar<int64_t>(s);
    g->set("step", cpu["step"]);
    std::vector<Tensor> want = interpret(f, cpu);
    g->step();
    for (size_t k = 0; k < f.outputs().size(); ++k) {
      const std::string &name = f.outputs()[k].name;
      EXPECT_EQ(difference(want[k], g->get(name), gpuTolerance()), "") << "step " << s << " " << name;
      if (name.rfind("new.", 0) == 0)
        cpu[name.substr(4)] = want[k];
    }
  }
}

TEST(NvptxPtx, EveryLaunchedKernelIsAnEntry) {
  for (const char *model : {"fashion_mlp", "lenet5"}) {
    auto mod = trainingStep(model, 64);
    gpu::Plan p = compileForGpu(*mod->main());
    EXPECT_NE(p.ptx.find(".target sm_90"), std::string::npos);
    int launches = 0, gemms = 0;
    for (const gpu::Step &s : p.steps) {
      if (s.kind == gpu::Step::Kind::Gemm)
        ++gemms;
      if (s.kind != gpu::Step::Kind::Launch)
        continue;
      ++launches;
      EXPECT_NE(p.ptx.find(".entry " + s.launch.kernel + "("), std::string::npos) << s.launch.kernel;
    }
    EXPECT_GT(launches, 10) << model;
    EXPECT_GT(gemms, 5) << model;
    // Math comes from libdevice, linked and inlined: no calls remain to unresolved functions.
    EXPECT_EQ(p.ptx.find(".extern .func"), std::string::npos) << model;
  }
}

TEST(NvptxPtx, ArchitectureAndErrors) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {4}});
  f->addOutput("y", buildOp(*f, "Exp", {x}, {})->result());
  GpuOptions o;
  o.arch = "sm_80";
  EXPECT_NE(compileForGpu(*f, o).ptx.find(".target sm_80"), std::string::npos);
  o.arch = "sm_1";
  try {
    compileForGpu(*f, o);
    ADD_FAILURE() << "sm_1 accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("--gpu-arch: 'sm_1'"), std::string::npos) << e.what();
  }
  o = {};
  o.libdevice = "/nonexistent/libdevice.bc";
  try {
    compileForGpu(*f, o);
    ADD_FAILURE() << "missing libdevice accepted";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("libdevice"), std::string::npos) << e.what();
  }
}

TEST(NvptxPtx, UnsupportedOpsAreListed) {
  Module m;
  Function *f = m.addFunction("f");
  // Every op the CPU lowers has a GPU lowering now; what is left are instances: f32 batches
  // that broadcast partially (cuBLAS's strided batches cannot express them).
  Value *x = f->addInput("x", {DType::F32, {2, 1, 3, 4}});
  Value *y = f->addInput("y", {DType::F32, {3, 4, 5}});
  Op *a = buildOp(*f, "MatMul", {x, y}, {});
  a->setName("mm1");
  Op *b = buildOp(*f, "MatMul", {x, y}, {});
  b->setName("mm2");
  f->addOutput("l1", a->result());
  f->addOutput("l2", b->result());
  try {
    compileForGpu(*f);
    ADD_FAILURE() << "compiled";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("@f: 2 ops are not supported by the GPU code generator yet: MatMul 'mm1': batch dimensions "
                       "broadcast partially (not on the GPU yet), MatMul 'mm2': batch dimensions broadcast partially"),
              std::string::npos)
        << msg;
  }
}

TEST(NvptxEmulator, LabelOutOfRangeIsReported) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {2, 3}});
  Value *y = f->addInput("y", {DType::I64, {2}});
  f->addOutput("loss", buildOp(*f, "SoftmaxCrossEntropyLoss", {x, y}, {})->result());
  std::map<std::string, Tensor> in{{"x", Tensor(DType::F32, {2, 3})}, {"y", Tensor::fromVector<int64_t>({2}, {1, 7})}};
  std::string want;
  try {
    interpret(*f, in);
  } catch (const Error &e) {
    want = e.what();
  }
  auto g = GpuFunction::compile(*f, kEmu);
  std::string got;
  try {
    g->run(in);
  } catch (const Error &e) {
    got = e.what();
  }
  EXPECT_NE(want, "");
  EXPECT_EQ(got, want);
  in["y"] = Tensor::fromVector<int64_t>({2}, {1, 2});
  EXPECT_NO_THROW(g->run(in));
}

TEST(NvptxEmulator, NllLabelOutOfRangeIsReported) {
  // Forward and backward check labels as the interpreter does; the first report names it.
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F64, {3, 4, 2}});
  Value *y = f->addInput("y", {DType::I32, {3, 2}});
  Value *dy = f->addInput("dy", {DType::F64, {}});
  AttrMap attrs{{"reduction", Attribute(std::string("sum"))}, {"ignore_index", Attribute(int64_t{-1})}};
  f->addOutput("loss", buildOp(*f, "NegativeLogLikelihoodLoss", {x, y}, attrs)->result());
  f->addOutput("dx", buildOp(*f, "NegativeLogLikelihoodLossGrad", {dy, y}, with(attrs, "num_classes", int64_t{4}), 1,
                             nullptr, "adjoint")->result());
  std::map<std::string, Tensor> in{{"x", Tensor(DType::F64, {3, 4, 2})},
                                   {"y", Tensor::fromVector<int32_t>({3, 2}, {1, -1, 0, 9, 3, 2})},
                                   {"dy", Tensor::scalar(1.0)}};
  std::string want, got;
  try {
    interpret(*f, in);
  } catch (const Error &e) {
    want = e.what();
  }
  auto g = GpuFunction::compile(*f, kEmu);
  try {
    g->run(in);
  } catch (const Error &e) {
    got = e.what();
  }
  EXPECT_NE(want.find("label 9 at element 3 is out of range [0, 4) and is not ignore_index"), std::string::npos) << want;
  EXPECT_EQ(got, want);
  in["y"] = Tensor::fromVector<int32_t>({3, 2}, {1, -1, 0, 2, 3, 2});
  EXPECT_NO_THROW(g->run(in));
}

TEST(NvptxEmulator, DropoutBadRatioIsReported) {
  // A run-time ratio outside [0, 1) in training mode: the CPU's message (without the value).
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {4, 5}});
  Value *ratio = f->addInput("ratio", {DType::F32, {}});
  Value *training = buildConstant(*f, Tensor::scalar(true));
  Op *d = buildOp(*f, "Dropout", {x, ratio, training}, {{"seed", Attribute(int64_t{2})}});
  d->setName("drop");
  f->addOutput("y", d->result());
  auto g = GpuFunction::compile(*f, kEmu);
  std::map<std::string, Tensor> in{{"x", Tensor(DType::F32, {4, 5})}, {"ratio", Tensor::scalar(1.5f)}};
  std::string got;
  try {
    g->run(in);
  } catch (const Error &e) {
    got = e.what();
  }
  EXPECT_NE(got.find("Dropout 'drop': ratio must be in [0, 1) in training mode"), std::string::npos) << got;
  in["ratio"] = Tensor::scalar(0.5f);
  EXPECT_NO_THROW(g->run(in));
}

TEST(NvptxEmulator, LossCurvesMatchTheJit) {
  // The harness of CudaTrainTest on the emulator, a few steps (it is slow: fibers, not a GPU).
  // With ADJOINT_GPU_EXPORT the bundles for the device are at CudaTrainTest's batch.
  const bool exporting = std::getenv("ADJOINT_GPU_EXPORT") != nullptr;
  lossCurves(kEmu, "fashion_mlp", exporting ? 64 : 16, exporting ? 2 : 4);
  lossCurves(kEmu, "lenet5", exporting ? 64 : 8, exporting ? 1 : 3);
}

TEST(NvptxCoverage, PrintsWhatTheGpuLowers) {
  // Not a failure list: the GPU covers every op the CPU lowers (some instances are refused, see
  // UnsupportedOpsAreListed); this prints what it lowers and what only the CPU does (docs/gpu.md
  // keeps the same list), and checks the ops of the reference models' training steps.
  std::vector<std::string> has = gpuLoweredOpNames(), missing = gpuMissingOpNames();
  std::string a, b;
  for (const auto &n : has)
    a += " " + n;
  for (const auto &n : missing)
    b += " " + n;
  std::printf("GPU lowers %zu ops:%s\nCPU only (%zu):%s\n", has.size(), a.c_str(), missing.size(), b.c_str());
  for (const char *needed : {"Gemm", "Conv", "adjoint.ConvGradData", "adjoint.ConvGradFilter", "AveragePool",
                             "adjoint.AveragePoolGrad", "ReduceSum", "SoftmaxCrossEntropyLoss",
                             "adjoint.SoftmaxCrossEntropyGrad", "adjoint.Kernel", "Relu", "Where", "Sqrt",
                             "NegativeLogLikelihoodLoss", "adjoint.NegativeLogLikelihoodLossGrad", "Dropout",
                             "ai.onnx.preview.training.Adam", "ai.onnx.preview.training.Adagrad",
                             "ai.onnx.preview.training.Momentum"})
    EXPECT_NE(std::find(has.begin(), has.end(), needed), has.end()) << needed;
}

TEST(NvptxPlanFile, RoundTripsAndRejectsDamage) {
  auto mod = trainingStep("lenet5", 4);
  gpu::Plan p = compileForGpu(*mod->main());
  std::string path = std::string(ADJOINT_BINARY_DIR) + "/nvptx-plan-test.adjplan";
  gpu::writePlanFile(path, p);
  gpu::Plan q = gpu::readPlanFile(path);
  EXPECT_EQ(q.ptx, p.ptx);
  EXPECT_EQ(q.constants, p.constants);
  EXPECT_EQ(q.workspaceBytes, p.workspaceBytes);
  EXPECT_EQ(q.errorMessages, p.errorMessages);
  ASSERT_EQ(q.slots.size(), p.slots.size());
  for (size_t i = 0; i < p.slots.size(); ++i)
    EXPECT_EQ(q.slots[i].name + std::to_string(q.slots[i].inPlaceOf), p.slots[i].name + std::to_string(p.slots[i].inPlaceOf));
  ASSERT_EQ(q.steps.size(), p.steps.size());
  for (size_t i = 0; i < p.steps.size(); ++i)
    EXPECT_EQ(describeStep(q.steps[i]), describeStep(p.steps[i]));
  // Truncated: an error naming the file, not a crash.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  try {
    gpu::readPlanFile(path);
    ADD_FAILURE() << "truncated plan accepted";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("nvptx-plan-test.adjplan"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  // An in-place output larger than the argument it lives in, or in-place over another in-place
  // output, would let the device write outside its bytes: refused.
  for (int damage : {0, 1}) {
    gpu::Plan bad = p;
    int arg = -1, out = -1;
    for (size_t i = 0; i < bad.slots.size(); ++i)
      if (bad.slots[i].inPlaceOf >= 0) {
        out = (int)i;
        arg = bad.slots[i].inPlaceOf;
        break;
      }
    ASSERT_GE(out, 0) << "the LeNet-5 step has no in-place update";
    if (damage == 0)
      bad.slots[(size_t)out].bytes = bad.slots[(size_t)arg].bytes + 4;
    else
      bad.slots[(size_t)arg].inPlaceOf = out;
    try {
      gpu::parsePlan(gpu::serializePlan(bad), "damaged plan");
      ADD_FAILURE() << "damaged in-place slot accepted (" << damage << ")";
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("in-place slot"), std::string::npos) << e.what();
    }
  }
}
