#pragma once
// What the GPU op lowerings share (NvptxOps.cpp, NvptxConvPool.cpp, NvptxLoss.cpp, ...): small
// IR helpers and the lowerings the other files register in NvptxOps.cpp's table.
#include "CodeGen/NvptxKernels.h"

namespace adjoint::nvptx {

using gpu::BufferRef;

inline BufferRef at(BufferRef r, int64_t bytes) { return {r.slot, r.offset + bytes}; }
inline int64_t esize(DType t) { return (int64_t)dtypeSize(t); }

inline std::string floatOnly(const Op &op) {
  DType t = op.result(0)->dtype();
  return t == DType::F32 || t == DType::F64 ? "" : std::string("only f32 and f64 run on the GPU");
}

// The integer forms of GEMMs and reductions have generated kernels.
inline std::string numericOnly(const Op &op) {
  DType t = op.result(0)->dtype();
  return t == DType::F32 || t == DType::F64 || t == DType::I32 || t == DType::I64
             ? ""
             : std::string("only f32, f64, i32 and i64 run on the GPU");
}

inline llvm::Value *toDouble(Builder &b, llvm::Value *v) {
  return v->getType()->isDoubleTy() ? v : b.CreateFPExt(v, b.getDoubleTy());
}
inline llvm::Value *fromDouble(Builder &b, llvm::Value *v, DType t) {
  return t == DType::F32 ? b.CreateFPTrunc(v, b.getFloatTy()) : v;
}
inline llvm::Value *dconst(Builder &b, double v) { return llvm::ConstantFP::get(b.getDoubleTy(), v); }
inline llvm::Value *fadd(Builder &b, llvm::Value *x, llvm::Value *y) { return b.CreateFAdd(x, y); }
// NaN-propagating max, first operand kept on ties (the interpreter's std::max over NaN checks).
inline llvm::Value *fmaxNaN(Builder &b, llvm::Value *x, llvm::Value *y) {
  llvm::Value *pick = b.CreateSelect(b.CreateFCmpOLT(x, y), y, x);
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, b.CreateSelect(b.CreateFCmpUNO(y, y), y, pick));
}


// A kernel broadcasting src (of shape `from`) into dst (of shape `to`).
void emitBroadcast(GpuOpContext &c, BufferRef src, const Shape &from, BufferRef dst, const Shape &to, DType t);

// NvptxConvPool.cpp
void lowerConv(GpuOpContext &c);
void lowerConvGradData(GpuOpContext &c);
void lowerConvGradFilter(GpuOpContext &c);
void lowerAveragePool(GpuOpContext &c);
void lowerAveragePoolGrad(GpuOpContext &c);
void lowerMaxPool(GpuOpContext &c);
void lowerMaxPoolGrad(GpuOpContext &c);

// NvptxLoss.cpp: SoftmaxCrossEntropyLoss / adjoint.SoftmaxCrossEntropyGrad, or
// NegativeLogLikelihoodLoss / adjoint.NegativeLogLikelihoodLossGrad when `nll`.
void lowerLoss(GpuOpContext &c, bool nll);
void lowerLossGrad(GpuOpContext &c, bool nll);
// NvptxInteger.cpp: i32 / i64 Gemm and MatMul (cuBLAS has none).
void lowerIntegerGemm(GpuOpContext &c);
void lowerIntegerMatMul(GpuOpContext &c);
// NvptxTraining.cpp: ai.onnx.preview.training Adam, Adagrad, Momentum.
void addTrainingLowerings(std::map<std::pair<std::string, std::string>, GpuOpLowering> &t);
// NvptxDropout.cpp: Dropout (its training-mode mask the interpreter's MT19937 stream).
void addDropoutLowering(std::map<std::pair<std::string, std::string>, GpuOpLowering> &t);

} // namespace adjoint::nvptx
