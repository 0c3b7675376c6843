// adjoint-train's loop, driven in process on the checked-in models: loss falls on synthetic data
// and on a few hundred Fashion-MNIST examples, an interrupted and resumed run ends bit-identical
// to an uninterrupted one, checkpoints are checked and written atomically, a diverging run stops
// naming the step, a dataset that does not fit is refused before training, and the trained model
// keeps the original graph with the trained values (BatchNorm statistics included).
#include "Backend.h"
#include "TrainTestSupport.h"
#include "Checkpoint.h"
#include "Frontend/OnnxExporter.h"
#include "Frontend/TensorIO.h"
#include "Interpreter/Interpreter.h"
#include "ModelFile.h"
#include "Ops/Build.h"
#include "Options.h"
#include "Plot.h"
#include "Schedule.h"
#include "Support/Error.h"
#include "StepBuilder.h"
#include "Trainer.h"
#include "data/Dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <zlib.h>

using namespace adjoint;
using namespace adjoint::train;
using namespace adjoint::train::testing;
namespace fs = std::filesystem;


TEST(Train, SyntheticLossFalls) {
  TrainOptions o = baseOptions(kMlp, "synthetic,train=192,test=64");
  o.epochs = 3;
  Outcome r = runTraining(o);
  ASSERT_EQ(r.state.trainCurve.size(), 18u); // 6 steps per epoch
  EXPECT_LT(meanLoss(r.state.trainCurve, 12, 18), 0.5 * meanLoss(r.state.trainCurve, 0, 6));
  EXPECT_GT(r.result.test.accuracy, 0.9);
  EXPECT_EQ(r.result.test.examples, 64);
  EXPECT_EQ(r.state.testCurve.size(), 3u);
  EXPECT_NE(r.output.find("final test accuracy"), std::string::npos);
}

TEST(Train, FashionMnistFewHundredExamples) {
  if (!fs::exists(std::string(data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TrainOptions o = baseOptions(kMlp, "fashion-mnist,train=320,test=200");
  o.epochs = 2;
  Outcome r = runTraining(o);
  ASSERT_EQ(r.state.trainCurve.size(), 20u);
  EXPECT_LT(meanLoss(r.state.trainCurve, 15, 20), meanLoss(r.state.trainCurve, 0, 5) - 0.5);
  ASSERT_EQ(r.state.testCurve.size(), 2u);
  EXPECT_LT(r.state.testCurve[1].loss, r.state.testCurve[0].loss);
  EXPECT_GT(r.result.test.accuracy, 0.5);
}

TEST(Train, SmallerLastBatchGetsItsOwnStep) {
  TrainOptions o = baseOptions(kMlp, "synthetic,train=100,test=10");
  o.steps = 5; // crosses into the second epoch
  Outcome r = runTraining(o);
  ASSERT_EQ(r.state.trainCurve.size(), 5u);
  EXPECT_DOUBLE_EQ(r.state.trainCurve[3].epoch, 1.0); // batch 4 of 4 (4 examples) ends epoch 1
  EXPECT_NE(r.output.find("the last batch, of 4, has its own compiled step"), std::string::npos);
  EXPECT_EQ(r.state.epoch, 1);
  EXPECT_EQ(r.state.batchInEpoch, 1);
}

TEST(Train, ResumeIsBitIdentical) {
  std::string dir = tempDir();
  TrainOptions o = baseOptions(kCnn, "synthetic,train=100,test=40");
  o.epochs = 2; // 4 steps per epoch, the last of 4 examples
  o.checkpoint = dir + "/full.ckpt";
  o.optimizer = "sgd";
  o.optimizerOptions["momentum"] = "0.9";
  o.schedule = "cosine";
  Outcome full = runTraining(o);
  ASSERT_FALSE(full.result.interrupted);
  for (int64_t stopAt : {3, 4}) // mid-epoch, and at the epoch's end before its evaluation
    expectResumesBitIdentically(o, full, stopAt, dir);
  // The running statistics are trained state too: they moved and were checkpointed.
  ImportOptions io;
  io.dims["batch"] = 1;
  Tensor initial = ModelFile(kCnn).import(io)->main()->findArg("1.running_mean")->paramData();
  EXPECT_FALSE(initial.identical(full.state.params.at("1.running_mean")));
}

TEST(Train, JitMatchesTheInterpreterAndResumesBitIdentically) {
  std::string dir = tempDir();
  TrainOptions o = baseOptions(kMlp, "synthetic,train=100,test=40");
  o.epochs = 2;
  Outcome interp = runTraining(o);
  o.backend = "jit";
  o.backendGiven = true;
  Outcome jit = runTraining(o);
  EXPECT_NE(jit.output.find("training step on jit"), std::string::npos);
  // The first step starts from the same parameters: only summation order differs (the
  // interpreter accumulates in double). Adam then amplifies tiny gradient differences (an element
  // whose gradient is near zero moves by up to lr either way), so later steps agree less closely.
  ASSERT_EQ(interp.state.trainCurve.size(), jit.state.trainCurve.size());
  EXPECT_NEAR(interp.state.trainCurve[0].loss, jit.state.trainCurve[0].loss, 1e-5);
  for (size_t i = 0; i < jit.state.trainCurve.size(); ++i)
    EXPECT_NEAR(interp.state.trainCurve[i].loss, jit.state.trainCurve[i].loss,
                1e-2 * interp.state.trainCurve[i].loss + 1e-4)
        << i;
  for (const auto &[name, t] : interp.state.params)
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_NEAR(t.getDouble(i), jit.state.params.at(name).getDouble(i), 2e-3 * 8) << name;
  EXPECT_EQ(interp.result.test.accuracy, jit.result.test.accuracy);
  TrainOptions a = o;
  a.checkpoint = dir + "/jit.ckpt";
  a.stopAfter = 6;
  ASSERT_TRUE(runTraining(a).result.interrupted);
  a.stopAfter = 0;
  a.resume = a.checkpoint;
  Outcome resumed = runTraining(a);
  expectSameTensors(jit.state.params, resumed.state.params);
  expectSameTensors(jit.state.optState, resumed.state.optState);
}

TEST(Train, ResumeRefusesAnotherRun) {
  std::string dir = tempDir();
  TrainOptions o = baseOptions(kMlp, "synthetic,train=64,test=0");
  o.checkpoint = dir + "/c.ckpt";
  runTraining(o);
  TrainOptions other = o;
  other.resume = o.checkpoint;
  other.batch = 16;
  other.batchGiven = true;
  EXPECT_NE(errorOf(other).find("the checkpoint's run used batch = '32', this run has '16'"),
            std::string::npos);
  other = o;
  other.resume = o.checkpoint;
  other.optimizer = "sgd";
  EXPECT_NE(errorOf(other).find("optimizer = 'adam'"), std::string::npos);
  other = o;
  other.resume = o.checkpoint;
  other.model = kCnn;
  EXPECT_NE(errorOf(other).find("parameter '0.bias' is f32[512] in the checkpoint but f32[16] in "
                                "the model"),
            std::string::npos);
}

TEST(Checkpoint, RoundTripAndCorruption) {
  TrainState s;
  s.params["w"] = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
  s.optState["adam.m.w"] = Tensor::fromVector<float>({2, 2}, {0.5f, 0, 0, -1});
  s.step = 17;
  s.epoch = 2;
  s.batchInEpoch = 3;
  s.seed = 99;
  s.epochLoss = 0.1 + 0.2; // not exactly representable: stored by its bits
  s.config["optimizer"] = "adam";
  Point p;
  p.step = 17;
  p.loss = 0.25;
  s.trainCurve.push_back(p);
  std::string bytes = serializeCheckpoint(s);
  TrainState r = parseCheckpoint(bytes, "c");
  EXPECT_EQ(r.step, 17);
  EXPECT_EQ(r.epoch, 2);
  EXPECT_EQ(r.batchInEpoch, 3);
  EXPECT_EQ(r.seed, 99u);
  EXPECT_EQ(r.epochLoss, 0.1 + 0.2);
  EXPECT_EQ(r.config.at("optimizer"), "adam");
  EXPECT_TRUE(std::isnan(r.trainCurve[0].accuracy));
  expectSameTensors(s.params, r.params);
  expectSameTensors(s.optState, r.optState);

  auto err = [](const std::string &b) {
    try {
      parseCheckpoint(b, "c.ckpt");
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  std::string flipped = bytes;
  flipped[40] ^= 1;
  EXPECT_NE(err(flipped).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(err(bytes.substr(0, bytes.size() - 3)).find("truncated"), std::string::npos);
  EXPECT_NE(err("PK" + bytes).find("not an adjoint-train checkpoint"), std::string::npos);
  std::string newer = bytes;
  newer[8] = 2;
  EXPECT_NE(err(newer).find("format version 2 is newer"), std::string::npos);
}

TEST(Checkpoint, WrittenAtomically) {
  std::string dir = tempDir();
  TrainState s;
  s.params["w"] = Tensor::fromVector<float>({3}, {1, 2, 3});
  writeCheckpoint(dir + "/c.ckpt", s);
  s.step = 5;
  writeCheckpoint(dir + "/c.ckpt", s); // replaces it whole, keeping the first as .prev
  EXPECT_EQ(readCheckpoint(dir + "/c.ckpt").step, 5);
  EXPECT_EQ(readCheckpoint(dir + "/c.ckpt.prev").step, 0);
  s.step = 9;
  writeCheckpoint(dir + "/c.ckpt", s);
  EXPECT_EQ(readCheckpoint(dir + "/c.ckpt").step, 9);
  EXPECT_EQ(readCheckpoint(dir + "/c.ckpt.prev").step, 5);
  int files = 0;
  for (const auto &e : fs::directory_iterator(dir))
    files += e.is_regular_file(), (void)e;
  EXPECT_EQ(files, 2); // no temporary file left behind
  EXPECT_THROW(readCheckpoint(dir + "/missing.ckpt"), Error);
}

TEST(Train, CorruptCheckpointNamesTheIntactPreviousOne) {
  std::string dir = tempDir(), path = dir + "/c.ckpt";
  TrainState s;
  s.params["w"] = Tensor::fromVector<float>({3}, {1, 2, 3});
  s.step = 4;
  writeCheckpoint(path, s);
  s.step = 8;
  writeCheckpoint(path, s);
  std::string bytes = serializeCheckpoint(s);
  auto errorReading = [&](const std::string &content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    try {
      readCheckpoint(path);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string cut = errorReading(bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(cut.find("truncated checkpoint"), std::string::npos) << cut;
  EXPECT_NE(cut.find("the previous checkpoint " + path + ".prev (after step 4) is intact: "
                     "resume from it with --resume=" + path + ".prev"),
            std::string::npos)
      << cut;
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  std::string bad = errorReading(flipped);
  EXPECT_NE(bad.find("checksum mismatch"), std::string::npos) << bad;
  EXPECT_EQ(readCheckpoint(path + ".prev").step, 4);
  // Dimensions whose product overflows are refused, not allocated.
  TrainState big;
  big.params["w"] = Tensor::fromVector<float>({2}, {1, 2});
  std::string b = serializeCheckpoint(big);
  size_t at = b.find(std::string("\x01\0\0\0w\0", 6));
  ASSERT_NE(at, std::string::npos);
  // name (length, 'w'), role (1), dtype (4), rank (4), then the dim: 2^62, with a valid checksum
  // so that the size check itself is what refuses it.
  int64_t huge = int64_t(1) << 62;
  std::memcpy(&b[at + 4 + 1 + 1 + 4 + 4], &huge, 8);
  uint32_t crc = (uint32_t)crc32(0L, reinterpret_cast<const Bytef *>(b.data() + 20),
                                 (uInt)(b.size() - 24));
  std::memcpy(&b[b.size() - 4], &crc, 4);
  try {
    parseCheckpoint(b, "big");
    ADD_FAILURE() << "an overflowing shape was accepted";
  } catch (const Error &err) {
    EXPECT_NE(std::string(err.what()).find("corrupt checkpoint (tensor 'w' size)"),
              std::string::npos)
        << err.what();
  }
}

TEST(Train, NonFiniteLossKeepsTheLastGoodCheckpoint) {
  std::string dir = tempDir();
  TrainOptions o = baseOptions(kMlp, "synthetic,train=128,test=0");
  o.optimizer = "sgd";
  o.lr = 1e30;
  o.checkpoint = dir + "/run.ckpt";
  std::string e = errorOf(o);
  EXPECT_NE(e.find("The state after step 1 (the last good one) is in " + o.checkpoint),
            std::string::npos)
      << e;
  TrainState kept = readCheckpoint(o.checkpoint);
  EXPECT_EQ(kept.step, 1);
  for (const auto &[name, t] : kept.params)
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_TRUE(std::isfinite(t.getDouble(i))) << name;
}

TEST(Train, NonFiniteLossStopsNamingTheStep) {
  TrainOptions o = baseOptions(kMlp, "synthetic,train=128,test=0");
  o.optimizer = "sgd";
  o.lr = 1e30;
  std::string plain = errorOf(o);
  EXPECT_NE(plain.find("at step 2 (epoch 1, batch 2 of 4"), std::string::npos) << plain;
  EXPECT_NE(plain.find("--check-numerics"), std::string::npos);
  o.checkNumerics = true;
  std::string detail = errorOf(o);
  EXPECT_NE(detail.find("check-numerics: every parameter was finite before step 2"),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("check-numerics: the first op with a non-finite result is "),
            std::string::npos)
      << detail;
  EXPECT_NE(detail.find("check-numerics: the step made parameter '"), std::string::npos) << detail;
}

TEST(Train, CheckNumericsNamesTheFirstOpAndGradient) {
  std::string dir = tempDir();
  Tensor x(DType::F32, {32, 784}), y(DType::I64, {32});
  // Huge inputs: the loss is finite but Adam's second moment (g * g) overflows in step 1.
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = 1e38f;
  TrainOptions o = baseOptions(kMlp, "x=" + npy(dir, "x.npy", x) + ",y=" + npy(dir, "y.npy", y));
  o.normalize = "none";
  o.checkNumerics = true;
  std::string detail = errorOf(o);
  EXPECT_NE(detail.find("step 1 made optimizer state 'adam.v.0.weight' ("), std::string::npos)
      << detail;
  // A NaN in the data: the first Gemm's result is the first non-finite value.
  x.data<float>()[5] = NAN;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (i != 5)
      x.data<float>()[i] = 0.5f;
  o.data = "x=" + npy(dir, "x2.npy", x) + ",y=" + npy(dir, "y.npy", y);
  detail = errorOf(o);
  EXPECT_NE(detail.find("the loss is NaN at step 1"), std::string::npos) << detail;
  EXPECT_NE(detail.find("the first op with a non-finite result is Gemm"), std::string::npos)
      << detail;
  EXPECT_NE(detail.find("forward pass"), std::string::npos) << detail;
  EXPECT_NE(detail.find("the first non-finite gradient is grad."), std::string::npos) << detail;
}

TEST(Train, DropoutDrawsANewMaskEachStepOnEveryBackend) {
  std::string dir = tempDir(), model = dropoutMlp(dir);
  // The compiled step takes the mask's seed as an input: the same value gives the same loss,
  // another value another mask, on the JIT as on the interpreter.
  ModelFile file(model);
  for (const char *backend : {"interp", "jit"}) {
    StepSpec spec;
    spec.backend = backend;
    StepBuilder builder(file, spec);
    Step &st = builder.train(32);
    ASSERT_NE(st.fn->findArg(kDropoutSeedInput), nullptr);
    std::map<std::string, Tensor> in;
    Tensor x(DType::F32, {32, 784});
    for (int64_t i = 0; i < x.numel(); ++i)
      x.data<float>()[i] = float(i % 17) / 17.0f;
    in["input"] = x;
    Tensor y(DType::I64, {32});
    in["target"] = y;
    in["lr"] = Tensor::scalar(0.001f);
    in["step"] = Tensor::scalar<int64_t>(1);
    for (Value *v : st.fn->inputs())
      if (!in.count(v->name()) && v->name() != kDropoutSeedInput)
        in[v->name()] = Tensor(v->dtype(), v->shape());
    auto lossWith = [&](int64_t seed) {
      in[kDropoutSeedInput] = Tensor::scalar<int64_t>(seed);
      return st.compiled.run(in)[st.lossIndex].getDouble(0);
    };
    double a = lossWith(1), b = lossWith(2), a2 = lossWith(1);
    EXPECT_EQ(a, a2) << backend;
    EXPECT_NE(a, b) << backend << ": another seed drew the same mask";
  }
  // Three steps on each backend end with the same parameters (up to the JIT's f32 GEMM
  // rounding): the masks are the same draws.
  TrainOptions o = baseOptions(model, "synthetic,train=96,test=0");
  o.normalize = "none";
  Outcome interp = runTraining(o);
  o.backend = "jit";
  Outcome jit = runTraining(o);
  for (const auto &[name, t] : interp.state.params) {
    const Tensor &u = jit.state.params.at(name);
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_NEAR(t.getDouble(i), u.getDouble(i), 1e-5) << name << "[" << i << "]";
  }
  EXPECT_EQ(jit.output.find("mask repeats"), std::string::npos) << jit.output;
}

TEST(Train, DatasetThatDoesNotFitIsRefusedBeforeTraining) {
  std::string dir = tempDir();
  Tensor x(DType::F32, {8, 100}), y(DType::I64, {8});
  TrainOptions o = baseOptions(kMlp, "x=" + npy(dir, "x.npy", x) + ",y=" + npy(dir, "y.npy", y));
  std::string e = errorOf(o);
  EXPECT_NE(e.find("training examples are float32[100] (100 elements), but the model input "
                   "'input' takes f32[784] per example"),
            std::string::npos)
      << e;
  Tensor x2(DType::F32, {8, 28, 28});
  Tensor y2 = Tensor::fromVector<int64_t>({8}, {0, 1, 2, 3, 4, 5, 6, 10});
  o.data = "x=" + npy(dir, "x2.npy", x2) + ",y=" + npy(dir, "y2.npy", y2);
  e = errorOf(o);
  EXPECT_NE(e.find("training label 10 (example 7) is not a class of the model: its output has 10 "
                   "classes (0..9)"),
            std::string::npos)
      << e;
  Tensor y3(DType::I64, {8, 2});
  o.data = "x=" + npy(dir, "x2.npy", x2) + ",y=" + npy(dir, "y3.npy", y3);
  EXPECT_NE(errorOf(o).find("labels are int64[2] per example"), std::string::npos);
  o.data = "csv=" + dir + "/none.csv";
  EXPECT_NE(errorOf(o).find("cannot open"), std::string::npos);
}

TEST(Train, TrainedModelKeepsTheGraphWithTrainedValues) {
  std::string dir = tempDir();
  TrainOptions o = baseOptions(kCnn, "synthetic,train=64,test=0");
  o.output = dir + "/trained.onnx";
  o.plot = dir + "/curve.svg";
  o.log = dir + "/log.jsonl";
  Outcome r = runTraining(o);
  ModelFile trained(o.output);
  ASSERT_EQ(trained.inputs().size(), 1u);
  EXPECT_EQ(trained.inputs()[0].dims[0], -1); // the batch stays symbolic
  EXPECT_EQ(trained.inputs()[0].dimParams[0], "batch");
  ImportOptions io;
  io.dims["batch"] = 3;
  auto m = trained.import(io);
  for (Value *p : m->main()->params())
    EXPECT_TRUE(p->paramData().identical(r.state.params.at(p->name()))) << p->name();
  // The trained file computes what the original graph computes with the trained values.
  auto orig = ModelFile(kCnn).import(io);
  Tensor x(DType::F32, {3, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = (float)std::sin((double)i);
  std::map<std::string, Tensor> in = r.state.params;
  in["input"] = x;
  EXPECT_TRUE(interpret(*m->main(), {{"input", x}})[0].identical(interpret(*orig->main(), in)[0]));
  std::ifstream svg(o.plot);
  std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("train (smoothed)"), std::string::npos);
  std::ifstream log(o.log);
  int lines = 0;
  for (std::string line; std::getline(log, line); ++lines)
    EXPECT_EQ(line.rfind("{\"type\":\"train\",\"step\":", 0), 0u) << line;
  EXPECT_EQ(lines, 2);
}

TEST(Schedule, Shapes) {
  Schedule s;
  s.lr = 1;
  s.total = 11;
  EXPECT_EQ(s.at(1), 1);
  EXPECT_EQ(s.at(11), 1);
  s.kind = "cosine";
  EXPECT_DOUBLE_EQ(s.at(1), 1);
  EXPECT_NEAR(s.at(6), 0.5, 1e-12);
  EXPECT_NEAR(s.at(11), 0, 1e-12);
  s.kind = "warmup-cosine";
  s.warmup = 4;
  EXPECT_DOUBLE_EQ(s.at(1), 0.25);
  EXPECT_DOUBLE_EQ(s.at(4), 1);
  EXPECT_DOUBLE_EQ(s.at(5), 1);
  EXPECT_NEAR(s.at(11), 0, 1e-12);
  s.kind = "step";
  s.stepEvery = 3;
  s.gamma = 0.5;
  EXPECT_EQ(s.at(3), 1);
  EXPECT_EQ(s.at(4), 0.5);
  EXPECT_EQ(s.at(7), 0.25);
  EXPECT_THROW(checkScheduleKind("linear"), Error);
}

TEST(Options, ParseAndErrors) {
  auto parse = [](std::vector<std::string> args) {
    std::vector<char *> argv;
    static std::string tool = "adjoint-train";
    argv.push_back(tool.data());
    for (auto &a : args)
      argv.push_back(a.data());
    TrainOptions o;
    parseTrainOptions((int)argv.size(), argv.data(), o);
    return o;
  };
  TrainOptions o = parse({"m.onnx", "--data", "synthetic", "--optimizer=sgd", "--momentum=0.9",
                          "--nesterov", "--batch=16", "-o", "t.onnx", "--schedule=warmup-cosine",
                          "--dim", "seq=8", "--seed=3"});
  EXPECT_EQ(o.model, "m.onnx");
  EXPECT_EQ(o.optimizerOptions.at("momentum"), "0.9");
  EXPECT_EQ(o.optimizerOptions.at("nesterov"), "1");
  EXPECT_EQ(o.batch, 16);
  EXPECT_TRUE(o.batchGiven);
  EXPECT_EQ(o.output, "t.onnx");
  EXPECT_EQ(o.dims.at("seq"), 8);
  EXPECT_EQ(o.seed, 3u);
  EXPECT_DOUBLE_EQ(o.baseLr(), 0.01);
  auto err = [&](std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(err({"m.onnx"}).find("no dataset given"), std::string::npos);
  EXPECT_NE(err({"--data", "x"}).find("no model given"), std::string::npos);
  EXPECT_NE(err({"m.onnx", "--data=s", "--optimizer=lbfgs"}).find("--optimizer expects"),
            std::string::npos);
  EXPECT_NE(err({"m.onnx", "--data=s", "--backend=tpu"}).find("available: jit, interp"),
            std::string::npos);
  EXPECT_NE(err({"m.onnx", "--data=s", "--frobnicate"}).find("unknown option '--frobnicate'"),
            std::string::npos);
  EXPECT_NE(err({"m.onnx", "--data=s", "--batch=0"}).find("--batch must be positive"),
            std::string::npos);
  EXPECT_NE(err({"m.onnx", "--data=s", "--lr=fast"}).find("--lr expects a number"),
            std::string::npos);
}

TEST(Train, DefaultBackendFallsBackToTheInterpreter) {
  // Every op of the reference models compiles now; the one op the JIT does not lower is ONNX's
  // Gradient (the expand-gradient pass replaces it before any backend runs). A step holding one
  // shows the decision: with the fallback it is handed to the interpreter with a note naming
  // the op; without it, the JIT's error stands.
  Module m;
  Function &f = *m.addFunction("step");
  Value *x = f.addInput("x", {DType::F32, {3}});
  Value *y = buildOp(f, "Mul", {x, x})->result();
  AttrMap a = {{"xs", Attribute(std::vector<std::string>{"x"})}, {"y", Attribute("y")}};
  Op *g = buildOp(f, "Gradient", {x}, a, 1, nullptr, "ai.onnx.preview.training");
  (void)y;
  f.addOutput("dx", g->result());
  BackendOptions opts;
  opts.fallback = true;
  CompiledStep s = compileStep("jit", f, opts);
  EXPECT_EQ(s.backend, "interp");
  EXPECT_NE(s.note.find("the JIT cannot compile this step ("), std::string::npos) << s.note;
  EXPECT_NE(s.note.find("Gradient"), std::string::npos) << s.note;
  opts.fallback = false;
  EXPECT_THROW(compileStep("jit", f, opts), Error);
}

TEST(Train, OptimizerOptionErrorsComeFromThePass) {
  TrainOptions o = baseOptions(kMlp, "synthetic,train=32,test=0");
  o.optimizer = "sgd";
  o.optimizerOptions["amsgrad"] = "1";
  std::string e = errorOf(o);
  EXPECT_NE(e.find("amsgrad"), std::string::npos) << e;
}

TEST(Plot, TicksAndSvg) {
  std::vector<double> ticks = niceTicks(0, 1, 5), want{0, 0.2, 0.4, 0.6, 0.8, 1.0};
  ASSERT_EQ(ticks.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(ticks[i], want[i], 1e-12);
  EXPECT_EQ(niceTicks(0, 938, 6).back(), 800);
  PlotData d;
  d.title = "a <model> & b";
  for (int i = 1; i <= 10; ++i) {
    Point p;
    p.step = i;
    p.epoch = i / 20.0;
    p.loss = 1.0 / i;
    p.accuracy = i / 10.0;
    d.train.push_back(p);
  }
  d.test.push_back(d.train.back());
  std::string svg = renderPlotSvg(d);
  EXPECT_NE(svg.find("a &lt;model&gt; &amp; b"), std::string::npos);
  EXPECT_NE(svg.find(">accuracy (%)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos); // under one epoch: steps on the x axis
}
