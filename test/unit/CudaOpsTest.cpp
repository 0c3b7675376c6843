// The GPU target on a CUDA device (ctest label `gpu`; each test is SKIPPED, visibly, where no
// device or driver is present): every op case of GpuOpCases.h and the fused training steps of
// fashion_mlp, LeNet-5, the BatchNorm CNN and a Dropout MLP equal the interpreter within 1e-4 (f32), run from PTX loaded by the
// driver with cuBLAS GEMMs. bench/gpu-check runs them on a GPU machine.
#include "GpuOpCases.h"

using namespace adjoint;
using namespace adjoint::testing;
using namespace adjoint::testing::gpucases;

namespace {
constexpr GpuBackend kCuda = GpuBackend::Cuda;
}

TEST(CudaOps, Elementwise) { ADJOINT_SKIP_WITHOUT(kCuda); elementwise(kCuda); }
TEST(CudaOps, Gemm) { ADJOINT_SKIP_WITHOUT(kCuda); gemm(kCuda); }
TEST(CudaOps, Reductions) { ADJOINT_SKIP_WITHOUT(kCuda); reductions(kCuda); }
TEST(CudaOps, IntegerGemmsAndReductions) { ADJOINT_SKIP_WITHOUT(kCuda); integerOps(kCuda); }
TEST(CudaOps, Loss) { ADJOINT_SKIP_WITHOUT(kCuda); loss(kCuda); }
TEST(CudaOps, NegativeLogLikelihoodLoss) { ADJOINT_SKIP_WITHOUT(kCuda); nllLoss(kCuda); }
TEST(CudaOps, TrainingDomainOptimizers) { ADJOINT_SKIP_WITHOUT(kCuda); trainingOps(kCuda); }
TEST(CudaOps, Dropout) { ADJOINT_SKIP_WITHOUT(kCuda); dropout(kCuda); }
TEST(CudaOps, DropoutMlpAdamSteps) { ADJOINT_SKIP_WITHOUT(kCuda); dropoutMlpSteps(kCuda, 64, 5); }
TEST(CudaOps, ConvPool) { ADJOINT_SKIP_WITHOUT(kCuda); convPool(kCuda); }
TEST(CudaOps, DataMovement) { ADJOINT_SKIP_WITHOUT(kCuda); dataMovement(kCuda); }
TEST(CudaOps, FashionMlpStep) { ADJOINT_SKIP_WITHOUT(kCuda); modelStep(kCuda, "fashion_mlp", 64); }
TEST(CudaOps, LeNet5Step) { ADJOINT_SKIP_WITHOUT(kCuda); modelStep(kCuda, "lenet5", 64); }
TEST(CudaOps, CnnBatchNormStep) { ADJOINT_SKIP_WITHOUT(kCuda); modelStep(kCuda, "fashion_cnn_bn", 64, true); }

TEST(CudaOps, LabelOutOfRangeIsReported) {
  ADJOINT_SKIP_WITHOUT(kCuda);
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {2, 3}});
  Value *y = f->addInput("y", {DType::I64, {2}});
  f->addOutput("loss", buildOp(*f, "SoftmaxCrossEntropyLoss", {x, y}, {})->result());
  std::map<std::string, Tensor> in{{"x", Tensor(DType::F32, {2, 3})}, {"y", Tensor::fromVector<int64_t>({2}, {1, 7})}};
  auto g = GpuFunction::compile(*f, kCuda);
  try {
    g->run(in);
    ADD_FAILURE() << "no error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("label 7"), std::string::npos) << e.what();
  }
}
