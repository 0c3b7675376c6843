// adjoint-train --device=cuda on a CUDA device (label gpu; SKIPPED without one): one epoch's
// worth of Fashion-MNIST steps with the state on the device, against the CPU JIT's run of the
// same steps. TrainGpuTest checks the same loop on the host emulator everywhere.
#include "CodeGen/GpuFunction.h"
#include "TrainTestSupport.h"

#include <gtest/gtest.h>

using namespace adjoint;
using namespace adjoint::train;
using namespace adjoint::train::testing;

namespace {

void compareWithJit(const std::string &model, int64_t steps) {
  std::string why;
  if (!gpuBackendAvailable(GpuBackend::Cuda, &why))
    GTEST_SKIP() << "SKIPPED: no CUDA device here (" << why << ")";
  if (!fs::exists("/usr/share/datasets/fashion-mnist"))
    GTEST_SKIP() << "SKIPPED: dataset-fashion-mnist is not installed";
  TrainOptions o = baseOptions(model, "fashion-mnist");
  o.batch = 64;
  o.steps = steps;
  o.backend = "cuda";
  o.backendGiven = true;
  Outcome gpu = runTraining(o);
  EXPECT_NE(gpu.output.find("the training state stayed on the device"), std::string::npos)
      << gpu.output;
  o.backend = "jit";
  Outcome cpu = runTraining(o);
  ASSERT_EQ(gpu.state.trainCurve.size(), cpu.state.trainCurve.size());
  for (size_t i = 0; i < cpu.state.trainCurve.size(); ++i) {
    double want = cpu.state.trainCurve[i].loss, got = gpu.state.trainCurve[i].loss;
    EXPECT_NEAR(got, want, (i < 20 ? 1e-3 : 2e-2) * std::abs(want) + 1e-4) << "step " << i + 1;
  }
  EXPECT_NEAR(gpu.result.test.accuracy, cpu.result.test.accuracy, 0.01);
}

} // namespace

TEST(CudaTrainer, FashionMlpMatchesTheCpu) { compareWithJit(kMlp, 300); }

TEST(CudaTrainer, LeNet5MatchesTheCpu) {
  compareWithJit(std::string(ADJOINT_SOURCE_DIR) + "/models/lenet5.onnx", 200);
}
