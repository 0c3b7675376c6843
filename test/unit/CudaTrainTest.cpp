// A few hundred Adam steps of fashion_mlp and LeNet-5 on a CUDA device, state resident, against
// the CPU JIT's loss curve (GpuOpCases.h, lossCurves). Label `gpu`: SKIPPED without a device.
#include "GpuOpCases.h"

using namespace adjoint;
using namespace adjoint::testing::gpucases;

TEST(CudaTrain, FashionMlpLossCurve) {
  ADJOINT_SKIP_WITHOUT(GpuBackend::Cuda);
  lossCurves(GpuBackend::Cuda, "fashion_mlp", 64, 300);
}

TEST(CudaTrain, LeNet5LossCurve) {
  ADJOINT_SKIP_WITHOUT(GpuBackend::Cuda);
  lossCurves(GpuBackend::Cuda, "lenet5", 64, 200);
}
