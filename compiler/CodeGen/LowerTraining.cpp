// The ONNX training-domain optimizer ops (ai.onnx.preview.training Adam, Adagrad, Momentum) as one
// elementwise loop per optimized tensor, with the interpreter's semantics (Ops/Training.cpp): every
// element is computed in double from its inputs widened to double and rounded once when stored,
// the step-dependent coefficients (learning rate decay, bias correction, Momentum's first-step
// beta) are computed in double from R and T at run time, with the same T = 0 rules, and pow is
// libm's, as std::pow. Each loop loads all of an element's inputs before it stores any result, so
// a result written over its own tensor's input (the parameter update in place) stays correct.
#include "CodeGen/Loops.h"

#include <llvm/IR/Intrinsics.h>

namespace adjoint {

namespace {

llvm::Type *f64(CodegenContext &cg) { return llvm::Type::getDoubleTy(cg.ctx); }
llvm::Value *dconst(CodegenContext &cg, double v) { return llvm::ConstantFP::get(f64(cg), v); }

llvm::Value *toDouble(Builder &b, DType t, llvm::Value *v) {
  return t == DType::F32 ? b.CreateFPExt(v, b.getDoubleTy()) : v;
}
llvm::Value *fromDouble(Builder &b, DType t, llvm::Value *v) {
  return t == DType::F32 ? b.CreateFPTrunc(v, b.getFloatTy()) : v;
}

int groupsOf(const Op &op) { return op.opType() == "Adam" ? 4 : 3; }

// Per element: the double values of the input groups (X, G, state...) give the values of the
// result groups (new X, new state...). coef holds what computeCoefficients returned.
using ElementFn = std::function<std::vector<llvm::Value *>(
    Builder &b, const std::vector<llvm::Value *> &in, const std::vector<llvm::Value *> &coef)>;
// The step's scalar coefficients from R and T (both double / i64 values).
using CoefFn = std::function<std::vector<llvm::Value *>(Builder &b, llvm::Value *r, llvm::Value *t)>;

void lowerOptimizer(OpEmitContext &c, double workPerElement, const CoefFn &coefficients,
                    const ElementFn &element) {
  CodegenContext &cg = c.cg;
  int groups = groupsOf(c.op);
  size_t n = (c.op.numOperands() - 2) / groups;
  DType rType = c.operandType(0).dtype;
  for (size_t k = 0; k < n; ++k) {
    DType t = c.operandType(2 + k).dtype;
    int64_t numel = numElements(c.operandType(2 + k).shape);
    if (numel == 0)
      continue;
    c.parallelFor(numel, workPerElement, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
      Builder &b = in.b;
      llvm::Value *r = toDouble(b, rType, cg.load(b, rType, in.operands[0], cg.i64c(0)));
      llvm::Value *step = cg.load(b, DType::I64, in.operands[1], cg.i64c(0));
      std::vector<llvm::Value *> coef = coefficients(b, r, step);
      emitLoop(b, begin, end, [&](Builder &b, llvm::Value *e) {
        std::vector<llvm::Value *> vals;
        for (int g = 0; g < groups; ++g)
          vals.push_back(toDouble(b, t, cg.load(b, t, in.operands[2 + g * n + k], e)));
        std::vector<llvm::Value *> out = element(b, vals, coef);
        for (int g = 0; g < groups - 1; ++g) {
          size_t res = g * n + k;
          if (res < c.op.numResults())
            cg.store(b, t, fromDouble(b, t, out[g]), in.results[res], e);
        }
      }, "e");
    });
  }
}

llvm::Value *sqrtOf(Builder &b, llvm::Value *v) {
  return b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, v);
}

void lowerAdam(OpEmitContext &c) {
  CodegenContext &cg = c.cg;
  AttrReader a = attrsOf(c.op);
  double alpha = a.f("alpha"), beta = a.f("beta"), eps = a.f("epsilon");
  double norm = a.f("norm_coefficient"), post = a.f("norm_coefficient_post");
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    // Bias correction only from the first counted update on (T > 0).
    llvm::FunctionCallee pow = cg.libm("pow", f64(cg), 2);
    llvm::Value *td = b.CreateSIToFP(t, f64(cg));
    llvm::Value *num = sqrtOf(b, b.CreateFSub(dconst(cg, 1), b.CreateCall(pow, {dconst(cg, beta), td})));
    llvm::Value *den = b.CreateFSub(dconst(cg, 1), b.CreateCall(pow, {dconst(cg, alpha), td}));
    llvm::Value *adj = b.CreateFDiv(b.CreateFMul(r, num), den);
    return std::vector<llvm::Value *>{b.CreateSelect(b.CreateICmpSGT(t, cg.i64c(0)), adj, r)};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in,
                     const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(cg, norm), x), in[1]);
    llvm::Value *v = b.CreateFAdd(b.CreateFMul(dconst(cg, alpha), in[2]),
                                  b.CreateFMul(dconst(cg, 1 - alpha), g));
    llvm::Value *h = b.CreateFAdd(b.CreateFMul(dconst(cg, beta), in[3]),
                                  b.CreateFMul(b.CreateFMul(dconst(cg, 1 - beta), g), g));
    llvm::Value *step = b.CreateFDiv(b.CreateFMul(coef[0], v),
                                     b.CreateFAdd(sqrtOf(b, h), dconst(cg, eps)));
    llvm::Value *xNew = b.CreateFSub(x, step);
    return std::vector<llvm::Value *>{b.CreateFMul(dconst(cg, 1 - post), xNew), v, h};
  };
  lowerOptimizer(c, 12, coefficients, element);
}

void lowerAdagrad(OpEmitContext &c) {
  CodegenContext &cg = c.cg;
  AttrReader a = attrsOf(c.op);
  double decay = a.f("decay_factor"), eps = a.f("epsilon"), norm = a.f("norm_coefficient");
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    llvm::Value *td = b.CreateSIToFP(t, f64(cg));
    return std::vector<llvm::Value *>{
        b.CreateFDiv(r, b.CreateFAdd(dconst(cg, 1), b.CreateFMul(td, dconst(cg, decay))))};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in,
                     const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(cg, norm), x), in[1]);
    llvm::Value *h = b.CreateFAdd(in[2], b.CreateFMul(g, g));
    llvm::Value *step = b.CreateFDiv(b.CreateFMul(coef[0], g),
                                     b.CreateFAdd(sqrtOf(b, h), dconst(cg, eps)));
    return std::vector<llvm::Value *>{b.CreateFSub(x, step), h};
  };
  lowerOptimizer(c, 10, coefficients, element);
}

void lowerMomentum(OpEmitContext &c) {
  CodegenContext &cg = c.cg;
  AttrReader a = attrsOf(c.op);
  double alpha = a.f("alpha"), beta = a.f("beta"), norm = a.f("norm_coefficient");
  bool nesterov = a.s("mode") == "nesterov";
  auto coefficients = [&](Builder &b, llvm::Value *r, llvm::Value *t) {
    // The gradient's coefficient is 1 on the first update (T = 0).
    llvm::Value *bt = b.CreateSelect(b.CreateICmpSGT(t, cg.i64c(0)), dconst(cg, beta), dconst(cg, 1));
    return std::vector<llvm::Value *>{r, bt};
  };
  auto element = [&](Builder &b, const std::vector<llvm::Value *> &in,
                     const std::vector<llvm::Value *> &coef) {
    llvm::Value *x = in[0];
    llvm::Value *g = b.CreateFAdd(b.CreateFMul(dconst(cg, norm), x), in[1]);
    llvm::Value *v = b.CreateFAdd(b.CreateFMul(dconst(cg, alpha), in[2]), b.CreateFMul(coef[1], g));
    llvm::Value *d = nesterov ? b.CreateFAdd(g, b.CreateFMul(dconst(cg, alpha), v)) : v;
    return std::vector<llvm::Value *>{b.CreateFSub(x, b.CreateFMul(coef[0], d)), v};
  };
  lowerOptimizer(c, 4, coefficients, element);
}

std::string unsupportedMomentum(const Op &op) {
  std::string mode = attrsOf(op).s("mode");
  if (mode != "standard" && mode != "nesterov")
    return "mode '" + mode + "'";
  return "";
}

} // namespace

void registerTrainingLowerings(LoweringRegistry &r) {
  const char *training = "ai.onnx.preview.training";
  OpLowering adam;
  adam.emit = lowerAdam;
  r.add(training, "Adam", adam);
  OpLowering adagrad;
  adagrad.emit = lowerAdagrad;
  r.add(training, "Adagrad", adagrad);
  OpLowering momentum;
  momentum.emit = lowerMomentum;
  momentum.unsupported = unsupportedMomentum;
  r.add(training, "Momentum", momentum);
}

} // namespace adjoint
