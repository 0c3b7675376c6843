// The ONNX training-domain optimizers (ai.onnx.preview.training Adam, Adagrad, Momentum) on the
// GPU: one elementwise kernel per optimized tensor, one thread per element, with the CPU's
// arithmetic (LowerTraining.cpp, the interpreter's Ops/Training.cpp): every element in double
// from its inputs widened to double, rounded once when stored; the step's coefficients (learning
// rate decay, bias correction, Momentum's first-step beta) from the scalars R and T, computed by
// every thread (a few flops beside the element's own). A thread loads all of its element's
// inputs before it stores, so results the memory plan writes over their inputs stay correct.
#include "CodeGen/NvptxOpSupport.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint::nvptx {

namespace {

// The step's scalar coefficients from R and T (double, i64).
using CoefFn = std::function<std::vector<llvm::Value *>(Builder &b, llvm::Value *r, llvm::Value *t)>;
// Per element: the double values of the input groups (X, G, state...) and the coefficients give
// the result groups (new X, new state...).
using ElementFn = std::function<std::vector<llvm::Value *>(Builder &b, const std::vector<llvm::Value *> &in,
                                                           const std::vector<llvm::Value *> &coef)>;

void lowerOptimizer(GpuOpContext &c, int groups, const CoefFn &coefficients, const ElementFn &element) {
  CodegenContext &cg = c.g.cg;
  const size_t n = (c.op.numOperands() - 2) / (size_t)groups;
  DType rType = c.op.operand(0)->dtype();
  for (size_t k = 0; k < n; ++k) {
    DType t = c.op.operand(2 + k)->dtype();
    int64_t numel = numElements(c.op.operand(2 + k)->shape());
    if (numel == 0)
      continue;
    // [R, T, the groups' inputs, the results present]
    std::vector<BufferRef> args{c.operands[0], c.operands[1]};
    for (int g = 0; g < groups; ++g)
      args.push_back(c.operands[2 + g * n + k]);
    std::vector<size_t> present;
    for (int g = 0; g < groups - 1; ++g)
      if (g * n + k < c.op.numResults()) {
        present.push_back((size_t)g);
        args.push_back(c.results[g * n + k]);
      }
    KernelFn kf = c.g.kernel(c.stem + "_" + std::to_string(k), c.what(), args, GpuCodegen::gridFor(numel));
    Builder &b = *kf.b;
    llvm::Value *r = toDouble(b, cg.load(b, rType, kf.args[0], cg.i64c(0)));
    llvm::Value *step = cg.load(b, DType::I64, kf.args[1], cg.i64c(0));
    std::vector<llvm::Value *> coef = coefficients(b, r, step);
    c.g.gridStride(b, numel, [&](Builder &b, llvm::Value *e) {
      std::vector<llvm::Value *> vals;
      for (int g = 0; g < groups; ++g)
        vals.push_back(toDouble(b, cg.load(b, t, kf.args[2 + g], e)));
      std::vector<llvm::Value *> out = element(b, vals, coef);
      for (size_t j = 0; j < present.size(); ++j)
        cg.store(b, t, fromDouble(b, out[present[j]], t), kf.args[2 + groups + j], e);
    });
    b.CreateRetVoid();
  }
}

llvm::Value *sqrtOf(Builder &b, llvm::Value *v) { return b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, v); }

void lowerAdam(GpuOpContext &c) {
  CodegenContext &cg = c.g.cg;
  AttrReader a = attrsOf(c.op);
  double alpha = a.f("alpha"), beta = a.f("beta"), eps = a.f("epsilon");
  double norm = a.f("norm_coefficient"), post = a.f("norm_coefficient_post");
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    // Bias correction only from the first counted update on (T > 0).
    llvm::FunctionCallee pow = cg.libm("pow", b.getDoubleTy(), 2);
    llvm::Value *td = b.CreateSIToFP(t, b.getDoubleTy());
    llvm::Value *num = sqrtOf(b, b.CreateFSub(dconst(b, 1), b.CreateCall(pow, {dconst(b, beta), td})));
    llvm::Value *den = b.CreateFSub(dconst(b, 1), b.CreateCall(pow, {dconst(b, alpha), td}));
    llvm::Value *adj = b.CreateFDiv(b.CreateFMul(r, num), den);
    return std::vector<llvm::Value *>{b.CreateSelect(b.CreateICmpSGT(t, cg.i64c(0)), adj, r)};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in, const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(b, norm), x), in[1]);
    llvm::Value *v = b.CreateFAdd(b.CreateFMul(dconst(b, alpha), in[2]), b.CreateFMul(dconst(b, 1 - alpha), g));
    llvm::Value *h = b.CreateFAdd(b.CreateFMul(dconst(b, beta), in[3]),
                                  b.CreateFMul(b.CreateFMul(dconst(b, 1 - beta), g), g));
    llvm::Value *step = b.CreateFDiv(b.CreateFMul(coef[0], v), b.CreateFAdd(sqrtOf(b, h), dconst(b, eps)));
    return std::vector<llvm::Value *>{b.CreateFMul(dconst(b, 1 - post), b.CreateFSub(x, step)), v, h};
  };
  lowerOptimizer(c, 4, coefficients, element);
}

void lowerAdagrad(GpuOpContext &c) {
  AttrReader a = attrsOf(c.op);
  double decay = a.f("decay_factor"), eps = a.f("epsilon"), norm = a.f("norm_coefficient");
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    llvm::Value *td = b.CreateSIToFP(t, b.getDoubleTy());
    return std::vector<llvm::Value *>{b.CreateFDiv(r, b.CreateFAdd(dconst(b, 1), b.CreateFMul(td, dconst(b, decay))))};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in, const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(b, norm), x), in[1]);
    llvm::Value *h = b.CreateFAdd(in[2], b.CreateFMul(g, g));
    llvm::Value *step = b.CreateFDiv(b.CreateFMul(coef[0], g), b.CreateFAdd(sqrtOf(b, h), dconst(b, eps)));
    return std::vector<llvm::Value *>{b.CreateFSub(x, step), h};
  };
  lowerOptimizer(c, 3, coefficients, element);
}

void lowerMomentum(GpuOpContext &c) {
  CodegenContext &cg = c.g.cg;
  AttrReader a = attrsOf(c.op);
  double alpha = a.f("alpha"), beta = a.f("beta"), norm = a.f("norm_coefficient");
  bool nesterov = a.s("mode") == "nesterov";
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    // The gradient's coefficient is 1 on the first update (T = 0).
    llvm::Value *bt = b.CreateSelect(b.CreateICmpSGT(t, cg.i64c(0)), dconst(b, beta), dconst(b, 1));
    return std::vector<llvm::Value *>{r, bt};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in, const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(b, norm), x), in[1]);
    llvm::Value *v = b.CreateFAdd(b.CreateFMul(dconst(b, alpha), in[2]), b.CreateFMul(coef[1], g));
    llvm::Value *d = nesterov ? b.CreateFAdd(g, b.CreateFMul(dconst(b, alpha), v)) : v;
    return std::vector<llvm::Value *>{b.CreateFSub(x, b.CreateFMul(coef[0], d)), v};
  };
  lowerOptimizer(c, 3, coefficients, element);
}

// The float types the optimizers run in on the GPU (R and the tensors; T is int64).
std::string optimizerWhy(const Op &op) {
  for (size_t i = 0; i < op.numOperands(); ++i) {
    if (i == 1 || !op.operand(i))
      continue;
    DType t = op.operand(i)->dtype();
    if (t != DType::F32 && t != DType::F64)
      return "only f32 and f64 run on the GPU";
  }
  if (op.opType() == "Momentum") {
    std::string mode = attrsOf(op).s("mode");
    if (mode != "standard" && mode != "nesterov")
      return "mode '" + mode + "'";
  }
  return "";
}

} // namespace

void addTrainingLowerings(std::map<std::pair<std::string, std::string>, GpuOpLowering> &t) {
  const std::string training = "ai.onnx.preview.training";
  t[{training, "Adam"}] = {lowerAdam, optimizerWhy};
  t[{training, "Adagrad"}] = {lowerAdagrad, optimizerWhy};
  t[{training, "Momentum"}] = {lowerMomentum, optimizerWhy};
}

} // namespace adjoint::nvptx
