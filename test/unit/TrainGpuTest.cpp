// adjoint-train on the GPU target, run here on the host emulator (the same plans and kernels as
// the CUDA device, docs/gpu.md): the training state stays on the device for the whole run — only
// batches go up and only the loss and predictions come back each step — and the result is the
// same, bit for bit, as the mode that keeps the state on the host (--check-numerics); an
// interrupted run resumes bit-identically across the smaller last batch's step; a diverging run
// says what it could keep. CudaTrainerTest runs the same loop on a real device (label gpu).
#include "Backend.h"
#include "Checkpoint.h"
#include "ModelFile.h"
#include "StepBuilder.h"
#include "TrainTestSupport.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace adjoint;
using namespace adjoint::train;
using namespace adjoint::train::testing;

namespace {

TrainOptions onEmulator(const std::string &model, const std::string &data) {
  TrainOptions o = baseOptions(model, data);
  o.backend = "cuda-emulator";
  o.backendGiven = true;
  return o;
}

std::map<std::string, Tensor> stepInputs(const Step &st, int64_t batch, int64_t step) {
  std::map<std::string, Tensor> in;
  Tensor x(DType::F32, {batch, 784});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = float((i * 7 + step) % 23) / 23.0f;
  Tensor y(DType::I64, {batch});
  for (int64_t i = 0; i < batch; ++i)
    y.data<int64_t>()[i] = (i + step) % 10;
  in["input"] = x;
  in["target"] = y;
  in["lr"] = Tensor::scalar(0.01f);
  in["step"] = Tensor::scalar<int64_t>(step);
  (void)st;
  return in;
}

} // namespace

// The resident step against run(): the same outputs and state, and the traffic is what the
// contract says — the state once, then each step's inputs up and only the asked outputs down.
TEST(TrainGpu, ResidentStepKeepsTheStateOnTheDevice) {
  ModelFile file(kMlp);
  StepSpec spec;
  spec.backend = "cuda-emulator";
  StepBuilder builder(file, spec);
  Step &st = builder.train(16);
  ASSERT_NE(st.compiled.resident, nullptr);
  std::map<std::string, Tensor> state;
  for (Value *p : st.fn->params())
    state[p->name()] = p->paramData();
  for (Value *in : st.fn->inputs())
    if (in->name().rfind("adam.", 0) == 0)
      state[in->name()] = Tensor(in->dtype(), in->shape());
  ASSERT_FALSE(state.empty());

  // Reference: run() with the state passed back by the host.
  std::map<std::string, Tensor> host = state;
  std::vector<Tensor> want;
  for (int64_t step = 1; step <= 3; ++step) {
    std::map<std::string, Tensor> in = stepInputs(st, 16, step);
    in.insert(host.begin(), host.end());
    want = st.compiled.run(in);
    for (const auto &[i, name] : st.updates)
      host[name] = want[i];
  }

  StepBuilder builder2(file, spec);
  Step &rs = builder2.train(16);
  ResidentStep &r = *rs.compiled.resident;
  int64_t stateBytes = 0;
  for (const auto &[name, t] : state)
    stateBytes += (int64_t)t.byteSize();
  r.load(state);
  EXPECT_EQ(r.bytesUp, stateBytes);
  std::vector<Tensor> got;
  int64_t stepBytes = 0;
  for (int64_t step = 1; step <= 3; ++step) {
    std::map<std::string, Tensor> in = stepInputs(rs, 16, step);
    stepBytes = 0;
    for (const auto &[name, t] : in)
      stepBytes += (int64_t)t.byteSize();
    int64_t up = r.bytesUp, down = r.bytesDown;
    got = r.step(in, {rs.lossIndex, rs.predIndex});
    EXPECT_EQ(r.bytesUp - up, stepBytes);
    EXPECT_EQ(r.bytesDown - down, (int64_t)(got[rs.lossIndex].byteSize() + got[rs.predIndex].byteSize()));
    for (size_t i = 0; i < got.size(); ++i) {
      if (i != rs.lossIndex && i != rs.predIndex) {
        EXPECT_TRUE(got[i].empty()) << "output " << i << " was downloaded";
      }
    }
  }
  EXPECT_TRUE(got[rs.lossIndex].identical(want[st.lossIndex]));
  EXPECT_TRUE(got[rs.predIndex].identical(want[st.predIndex]));
  for (const auto &[name, t] : host)
    EXPECT_TRUE(r.read(name).identical(t)) << name << " differs from the host loop's";
}

// The whole loop: two epochs whose last batch is smaller (the state moves between the two
// compiled steps through the host, twice an epoch), evaluations and checkpoints reading the state
// back; bit-identical to keeping the state on the host, and close to the CPU JIT.
TEST(TrainGpu, ResidentLoopEqualsTheHostStateLoop) {
  TrainOptions o = onEmulator(kMlp, "synthetic,train=100,test=40");
  o.epochs = 2; // 4 steps per epoch, the last of 4 examples
  o.evalEvery = 3;
  std::string dir = tempDir();
  o.checkpoint = dir + "/resident.ckpt";
  Outcome resident = runTraining(o);
  EXPECT_NE(resident.output.find("training step on cuda-emulator"), std::string::npos);
  EXPECT_NE(resident.output.find("the training state stayed on the device"), std::string::npos)
      << resident.output;
  TrainOptions h = o;
  h.checkNumerics = true; // keeps the state on the host, downloading every output each step
  h.checkpoint = dir + "/host.ckpt";
  Outcome host = runTraining(h);
  EXPECT_EQ(host.output.find("the training state stayed on the device"), std::string::npos);
  expectSameTensors(host.state.params, resident.state.params);
  expectSameTensors(host.state.optState, resident.state.optState);
  ASSERT_EQ(host.state.trainCurve.size(), 8u);
  ASSERT_EQ(resident.state.trainCurve.size(), 8u);
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ(host.state.trainCurve[i].loss, resident.state.trainCurve[i].loss) << i;
  ASSERT_EQ(host.state.testCurve.size(), resident.state.testCurve.size());
  for (size_t i = 0; i < host.state.testCurve.size(); ++i)
    EXPECT_EQ(host.state.testCurve[i].loss, resident.state.testCurve[i].loss) << i;
  TrainState saved = readCheckpoint(o.checkpoint);
  expectSameTensors(resident.state.params, saved.params);
  // The state went to the last batch's step and back on the device, not through the host.
  EXPECT_NE(resident.output.find("moved on the device 3x"), std::string::npos) << resident.output;

  TrainOptions j = o;
  j.backend = "jit";
  j.checkpoint = "";
  Outcome jit = runTraining(j);
  for (size_t i = 0; i < 8; ++i)
    EXPECT_NEAR(jit.state.trainCurve[i].loss, resident.state.trainCurve[i].loss,
                1e-2 * jit.state.trainCurve[i].loss + 1e-4)
        << i;
}

// A frozen parameter has no update, yet it must reach the last batch's step too.
TEST(TrainGpu, FrozenParameterCrossesToTheLastBatchStep) {
  TrainOptions o = onEmulator(kMlp, "synthetic,train=100,test=40");
  o.epochs = 2;
  ImportOptions io;
  io.dims["batch"] = 1;
  o.freeze = ModelFile(kMlp).import(io)->main()->params().front()->name();
  Outcome resident = runTraining(o);
  TrainOptions h = o;
  h.checkNumerics = true;
  Outcome host = runTraining(h);
  expectSameTensors(host.state.params, resident.state.params);
  for (size_t i = 0; i < host.state.trainCurve.size(); ++i)
    EXPECT_EQ(host.state.trainCurve[i].loss, resident.state.trainCurve[i].loss) << i;
}

TEST(TrainGpu, ResumeIsBitIdenticalWithTheStateOnTheDevice) {
  std::string dir = tempDir();
  TrainOptions o = onEmulator(kMlp, "synthetic,train=100,test=40");
  o.epochs = 2;
  o.optimizer = "sgd";
  o.optimizerOptions["momentum"] = "0.9";
  o.checkpoint = dir + "/full.ckpt";
  Outcome full = runTraining(o);
  for (int64_t stopAt : {3, 4}) // before the small last batch, and right after it
    expectResumesBitIdentically(o, full, stopAt, dir);
}

TEST(TrainGpu, DivergingRunSaysWhatItKept) {
  std::string dir = tempDir();
  TrainOptions o = onEmulator(kMlp, "synthetic,train=128,test=0");
  o.optimizer = "sgd";
  o.lr = 1e30;
  o.checkpoint = dir + "/run.ckpt";
  // Step 1 is finite and step 2 is not: the state after step 1 was never read back from the
  // device, and step 2 overwrote it there.
  std::string e = errorOf(o);
  EXPECT_NE(e.find("the loss is"), std::string::npos) << e;
  EXPECT_NE(e.find("at step 2"), std::string::npos) << e;
  EXPECT_NE(e.find("the state before this step was not kept"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(o.checkpoint)) << "a stale state was saved as step 1's";
  // Reading it back each step keeps the guarantee of the CPU backends.
  o.checkNumerics = true;
  e = errorOf(o);
  EXPECT_NE(e.find("The state after step 1 (the last good one) is in " + o.checkpoint),
            std::string::npos)
      << e;
  TrainState kept = readCheckpoint(o.checkpoint);
  EXPECT_EQ(kept.step, 1);
}
