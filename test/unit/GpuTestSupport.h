#pragma once
// What the GPU suites share (NvptxEmulatorTest: the GPU target on the host emulator, everywhere;
// CudaOpsTest / CudaTrainTest: on a CUDA device, label `gpu`, skipped without one): a function
// compiled for the GPU against the interpreter, and one case list per op family run on either
// backend. Tolerance: 1e-4 relative for f32 (cuBLAS/BLAS f32 sums against the interpreter's
// double sums), 1e-9 for f64, plus 1e-5 of the tensor's largest magnitude where sums cancel.
#include "CodeGen/GpuBundle.h"
#include "CodeGen/GpuFunction.h"
#include "JitTestSupport.h"

namespace adjoint::testing {

inline Tolerance gpuTolerance() { return {1e-4, 1e-9, 1e-5}; }

#define ADJOINT_SKIP_WITHOUT(backend)                                                          \
  do {                                                                                          \
    std::string why_;                                                                           \
    if (!::adjoint::gpuBackendAvailable(backend, &why_))                                        \
      GTEST_SKIP() << "SKIPPED: no CUDA device here (" << why_ << ")";                          \
  } while (0)

inline void expectGpuMatches(const Function &fn, const std::map<std::string, Tensor> &inputs,
                             const std::string &what, GpuBackend backend, Tolerance tol = gpuTolerance()) {
  std::vector<Tensor> want = interpret(fn, inputs);
  // ADJOINT_GPU_EXPORT=DIR: also a bundle for bench/gpu/replay on a machine with only a driver.
  if (std::string dir = gpuExportDir(what); !dir.empty() && backend == GpuBackend::Emulator) {
    GpuBundle b;
    b.kind = "check";
    b.plan = compileForGpu(fn);
    for (Value *v : fn.inputs())
      b.inputs[v->name()] = inputs.at(v->name());
    for (Value *v : fn.params())
      b.inputs[v->name()] = inputs.count(v->name()) ? inputs.at(v->name()) : v->paramData();
    for (size_t k = 0; k < fn.outputs().size(); ++k)
      b.expect[fn.outputs()[k].name] = want[k];
    b.f32 = tol.f32;
    b.f64 = tol.f64;
    b.ofMax = tol.ofMax;
    writeGpuBundle(dir, b);
  }
  std::unique_ptr<GpuFunction> g;
  std::vector<Tensor> got;
  try {
    g = GpuFunction::compile(fn, backend);
    got = g->run(inputs);
  } catch (const Error &e) {
    ADD_FAILURE() << what << ": " << e.what();
    return;
  }
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(difference(want[i], got[i], tol), "") << what << ", output " << i;
}

// @f = type(operands), every result an output, checked on the backend. `positive` draws operands
// from [0, 1) (sums that do not cancel), else random values with specials.
inline void checkGpuOp(GpuBackend backend, const std::string &type, const std::string &domain,
                       const std::vector<TensorType> &types, AttrMap attrs, size_t results, bool positive,
                       const std::string &what, std::mt19937 &rng, bool specials = true) {
  Module m;
  Function *f = m.addFunction("f");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> inputs;
  for (size_t i = 0; i < types.size(); ++i) {
    std::string name = std::string("x").append(std::to_string(i));
    operands.push_back(f->addInput(name, types[i]));
    inputs[name] = positive ? uniformTensor(types[i].dtype, types[i].shape, rng, 0, 1)
                            : randomTensor(types[i].dtype, types[i].shape, rng, specials);
  }
  Op *op = buildOp(*f, type, operands, std::move(attrs), results, nullptr, domain);
  for (size_t i = 0; i < results; ++i)
    f->addOutput(std::string("y").append(std::to_string(i)), op->result(i));
  expectGpuMatches(*f, inputs, what + " " + std::string(dtypeName(types[0].dtype)), backend);
}

} // namespace adjoint::testing
