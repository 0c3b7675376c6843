#pragma once
// What the adjoint-train suites share (TrainTest, TrainGpuTest, CudaTrainerTest): the checked-in
// models, options for a small in-process run, and running one.
#include "Frontend/OnnxExporter.h"
#include "Frontend/TensorIO.h"
#include "Ops/Build.h"
#include "Trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>
#include <unistd.h>

namespace adjoint::train::testing {

namespace fs = std::filesystem;

inline const std::string kMlp = std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx";
inline const std::string kCnn = std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_cnn_bn.onnx";

inline std::string tempDir() {
  static int counter = 0;
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("traintest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir.string();
}

inline TrainOptions baseOptions(const std::string &model, const std::string &data) {
  TrainOptions o;
  o.model = model;
  o.data = data;
  o.backend = "interp";
  o.progress = "none";
  o.batch = 32;
  o.threads = 2;
  return o;
}

struct Outcome {
  TrainResult result;
  TrainState state;
  std::string output;
};

inline Outcome runTraining(const TrainOptions &o) {
  std::ostringstream out;
  Trainer t(o, out);
  Outcome r;
  r.result = t.run();
  r.state = t.state();
  r.output = out.str();
  return r;
}

inline std::string errorOf(const TrainOptions &o) {
  try {
    runTraining(o);
  } catch (const std::exception &e) {
    return e.what();
  }
  return "(no error)";
}

inline double meanLoss(const std::vector<Point> &pts, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i)
    s += pts[i].loss;
  return s / (double)(to - from);
}

inline void expectSameTensors(const std::map<std::string, Tensor> &a,
                       const std::map<std::string, Tensor> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto &[name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(t.identical(b.at(name))) << name << " differs";
  }
}

inline std::string npy(const std::string &dir, const std::string &name, const Tensor &t) {
  std::string p = dir + "/" + name;
  writeNpy(p, t);
  return p;
}

// o stopped after `stopAt` steps, then resumed from its checkpoint, ends as `full` (o run
// uninterrupted): the same parameters, optimizer state and curves.
inline void expectResumesBitIdentically(const TrainOptions &o, const Outcome &full, int64_t stopAt,
                                        const std::string &dir) {
  SCOPED_TRACE("interrupted after step " + std::to_string(stopAt));
  TrainOptions a = o;
  a.checkpoint = dir + "/part" + std::to_string(stopAt) + ".ckpt";
  a.stopAfter = stopAt;
  Outcome first = runTraining(a);
  ASSERT_TRUE(first.result.interrupted);
  EXPECT_EQ(first.result.steps, stopAt);
  EXPECT_NE(first.output.find("continue with --resume="), std::string::npos);
  TrainOptions b = o;
  b.checkpoint = a.checkpoint;
  b.resume = a.checkpoint;
  Outcome second = runTraining(b);
  EXPECT_NE(second.output.find("resuming from"), std::string::npos);
  ASSERT_FALSE(second.result.interrupted);
  expectSameTensors(full.state.params, second.state.params);
  expectSameTensors(full.state.optState, second.state.optState);
  ASSERT_EQ(full.state.trainCurve.size(), second.state.trainCurve.size());
  for (size_t i = 0; i < full.state.trainCurve.size(); ++i)
    EXPECT_EQ(full.state.trainCurve[i].loss, second.state.trainCurve[i].loss) << i;
  ASSERT_EQ(full.state.testCurve.size(), second.state.testCurve.size());
  EXPECT_EQ(full.state.testCurve.back().loss, second.state.testCurve.back().loss);
}

// input[32,784] -> Gemm -> Dropout(0.5) -> Gemm -> logits[32,10], written as ONNX.
inline std::string dropoutMlp(const std::string &dir) {
  std::mt19937 rng(5);
  std::normal_distribution<float> n(0, 0.05f);
  auto weights = [&](Shape s) {
    Tensor t(DType::F32, s);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = n(rng);
    return t;
  };
  Module m;
  Function *f = m.addFunction("main");
  Value *x = f->addInput("input", {DType::F32, {32, 784}});
  Value *w1 = f->addParam("w1", {DType::F32, {784, 64}}, weights({784, 64}));
  Value *w2 = f->addParam("w2", {DType::F32, {64, 10}}, weights({64, 10}));
  Value *h = buildOp(*f, "Relu", {buildOp(*f, "Gemm", {x, w1})->result()})->result();
  Value *ratio = buildConstant(*f, Tensor::scalar(0.5f));
  Value *d = buildOp(*f, "Dropout", {h, ratio})->result();
  f->addOutput("logits", buildOp(*f, "Gemm", {d, w2})->result());
  std::string path = dir + "/dropout_mlp.onnx";
  exportOnnxFile(*f, path);
  return path;
}

} // namespace adjoint::train::testing
