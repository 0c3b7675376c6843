// The scalar expression of every elementwise op, one entry per op type, with the interpreter's
// semantics (Ops/Elementwise.cpp, Ops/Logic.cpp): wrapping integer arithmetic, integer division by
// zero giving 0, NaN-propagating Clip, numpy-compatible Cast, and the same libm functions the
// reference kernels call (so f32 Exp is expf in both). Adding an elementwise op is one entry here.
#include "CodeGen/Elementwise.h"

#include <llvm/IR/Intrinsics.h>

#include <cmath>

namespace adjoint {

llvm::Value *convertScalar(Builder &b, llvm::Value *v, DType from, DType to) {
  if (from == to)
    return v;
  llvm::LLVMContext &c = b.getContext();
  auto type = [&](DType t) -> llvm::Type * {
    switch (t) {
    case DType::F32: return b.getFloatTy();
    case DType::F64: return b.getDoubleTy();
    case DType::I64: return b.getInt64Ty();
    case DType::I32: return b.getInt32Ty();
    case DType::Bool: return b.getInt1Ty();
    }
    return nullptr;
  };
  llvm::Type *t = type(to);
  if (to == DType::Bool)
    return isFloat(from) ? b.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0))
                         : b.CreateICmpNE(v, llvm::ConstantInt::get(v->getType(), 0));
  if (from == DType::Bool)
    return isFloat(to) ? b.CreateUIToFP(v, t) : b.CreateZExt(v, t);
  if (isFloat(from) && isFloat(to))
    return to == DType::F64 ? b.CreateFPExt(v, t) : b.CreateFPTrunc(v, t);
  if (!isFloat(from) && isFloat(to))
    return b.CreateSIToFP(v, t);
  if (!isFloat(from) && !isFloat(to))
    return b.CreateSExtOrTrunc(v, t);
  // Float to integer: [-2^(bits-1), 2^(bits-1)) converts by truncation, all else (NaN too) to
  // the minimum, as x86's cvttss2si does and numpy shows. fptosi is poison outside the range;
  // select never picks it there.
  unsigned bits = t->getIntegerBitWidth();
  double lo = -std::ldexp(1.0, (int)bits - 1);
  llvm::Value *inRange = b.CreateAnd(b.CreateFCmpOGE(v, llvm::ConstantFP::get(v->getType(), lo)),
                                     b.CreateFCmpOLT(v, llvm::ConstantFP::get(v->getType(), -lo)));
  (void)c;
  return b.CreateSelect(inRange, b.CreateFPToSI(v, t),
                        llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(bits)));
}

namespace {

using Args = std::vector<llvm::Value *>;

DType inType(const Op &op, size_t i = 0) { return op.operand(i)->dtype(); }
DType outType(const Op &op) { return op.result(0)->dtype(); }

llvm::Value *fconst(llvm::Value *like, double v) { return llvm::ConstantFP::get(like->getType(), v); }
llvm::Value *iconst(llvm::Value *like, int64_t v) {
  return llvm::ConstantInt::get(like->getType(), v, true);
}

// x < 0, for floats (false for NaN) and signed integers.
llvm::Value *isNegative(Builder &b, llvm::Value *x) {
  return x->getType()->isFloatingPointTy() ? b.CreateFCmpOLT(x, fconst(x, 0))
                                            : b.CreateICmpSLT(x, iconst(x, 0));
}

// numpy's maximum/minimum (Clip): NaN in either operand gives NaN; ties keep the first.
llvm::Value *npMaximum(Builder &b, llvm::Value *a, llvm::Value *c) {
  if (!a->getType()->isFloatingPointTy())
    return b.CreateSelect(b.CreateICmpSLT(a, c), c, a);
  llvm::Value *pick = b.CreateSelect(b.CreateFCmpOLT(a, c), c, a);
  return b.CreateSelect(b.CreateFCmpUNO(a, c), llvm::ConstantFP::getNaN(a->getType()), pick);
}
llvm::Value *npMinimum(Builder &b, llvm::Value *a, llvm::Value *c) {
  if (!a->getType()->isFloatingPointTy())
    return b.CreateSelect(b.CreateICmpSLT(c, a), c, a);
  llvm::Value *pick = b.CreateSelect(b.CreateFCmpOLT(c, a), c, a);
  return b.CreateSelect(b.CreateFCmpUNO(a, c), llvm::ConstantFP::getNaN(a->getType()), pick);
}

// libm name for a float type: "tanh" -> "tanhf" for f32.
std::string libmName(const std::string &base, llvm::Type *t) {
  return t->isFloatTy() ? base + "f" : base;
}

llvm::Value *callLibm(CodegenContext &cg, Builder &b, const std::string &base, llvm::Value *x) {
  return b.CreateCall(cg.libm(libmName(base, x->getType()), x->getType()), {x});
}

llvm::Value *toDouble(Builder &b, llvm::Value *v, DType t) {
  return convertScalar(b, v, t, DType::F64);
}

// Integer division as the interpreter does it: truncation, x / 0 = 0, MIN / -1 wraps.
llvm::Value *intDivide(Builder &b, llvm::Value *x, llvm::Value *y) {
  llvm::Value *zero = b.CreateICmpEQ(y, iconst(y, 0));
  llvm::Value *minusOne = b.CreateICmpEQ(y, iconst(y, -1));
  llvm::Value *safe = b.CreateSelect(b.CreateOr(zero, minusOne), iconst(y, 1), y);
  llvm::Value *q = b.CreateSDiv(x, safe);
  return b.CreateSelect(zero, iconst(x, 0), b.CreateSelect(minusOne, b.CreateNeg(x), q));
}

llvm::Value *power(CodegenContext &cg, Builder &b, const Op &op, llvm::Value *x, llvm::Value *y) {
  DType tx = inType(op, 0), ty = inType(op, 1);
  llvm::Value *viaDouble = b.CreateCall(cg.libm("pow", b.getDoubleTy(), 2),
                                        {toDouble(b, x, tx), toDouble(b, y, ty)});
  if (isFloat(tx))
    return convertScalar(b, viaDouble, DType::F64, tx);
  llvm::Value *fromDouble = convertScalar(b, viaDouble, DType::F64, tx);
  if (isFloat(ty))
    return fromDouble;
  // Integer base and exponent: exact wrapping power for exponents >= 0.
  llvm::Value *e = b.CreateSExt(y, b.getInt64Ty());
  llvm::Value *exact = b.CreateCall(cg.runtime("adj_ipow"), {b.CreateSExt(x, b.getInt64Ty()), e});
  exact = b.CreateTrunc(exact, x->getType());
  return b.CreateSelect(b.CreateICmpSGE(e, b.getInt64(0)), exact, fromDouble);
}

using Scalar = std::function<llvm::Value *(CodegenContext &, Builder &, const Op &, const Args &)>;

void add(LoweringRegistry &r, const char *name, Scalar f, double cost = 1,
         std::vector<int> elementOperands = {}) {
  OpLowering l;
  l.kind = OpLowering::Kind::Elementwise;
  l.scalar = std::move(f);
  l.cost = cost;
  l.elementOperands = std::move(elementOperands);
  r.add("", name, std::move(l));
}

// Unary float math through an LLVM intrinsic (lowered to the libm call the interpreter makes).
void addIntrinsic(LoweringRegistry &r, const char *name, llvm::Intrinsic::ID id, double cost) {
  add(r, name, [id](CodegenContext &, Builder &b, const Op &, const Args &a) -> llvm::Value * {
        return b.CreateUnaryIntrinsic(id, a[0]);
      }, cost);
}

} // namespace

void registerElementwiseLowerings(LoweringRegistry &r) {
  using CG = CodegenContext;
  add(r, "Add", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFAdd(a[0], a[1]) : b.CreateAdd(a[0], a[1]);
  });
  add(r, "Sub", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFSub(a[0], a[1]) : b.CreateSub(a[0], a[1]);
  });
  add(r, "Mul", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFMul(a[0], a[1]) : b.CreateMul(a[0], a[1]);
  });
  add(r, "Div", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFDiv(a[0], a[1]) : intDivide(b, a[0], a[1]);
  }, 4);
  add(r, "Pow", [](CG &cg, Builder &b, const Op &op, const Args &a) {
    return power(cg, b, op, a[0], a[1]);
  }, 40);
  add(r, "Neg", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFNeg(a[0]) : b.CreateNeg(a[0]);
  });
  add(r, "Abs", [](CG &, Builder &b, const Op &, const Args &a) -> llvm::Value * {
    if (a[0]->getType()->isFloatingPointTy())
      return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, a[0]);
    return b.CreateBinaryIntrinsic(llvm::Intrinsic::abs, a[0], b.getFalse()); // MIN stays MIN
  });
  addIntrinsic(r, "Exp", llvm::Intrinsic::exp, 20);
  addIntrinsic(r, "Log", llvm::Intrinsic::log, 20);
  addIntrinsic(r, "Sqrt", llvm::Intrinsic::sqrt, 4);
  add(r, "Reciprocal", [](CG &, Builder &b, const Op &, const Args &a) {
    return b.CreateFDiv(fconst(a[0], 1.0), a[0]);
  }, 4);
  // erf in double, as the reference (integers too, truncated back like a cast).
  add(r, "Erf", [](CG &cg, Builder &b, const Op &op, const Args &a) -> llvm::Value * {
    llvm::Value *d = b.CreateCall(cg.libm("erf", b.getDoubleTy()), {toDouble(b, a[0], inType(op))});
    DType t = outType(op);
    return isFloat(t) ? convertScalar(b, d, DType::F64, t) : b.CreateFPToSI(d, a[0]->getType());
  }, 20);
  add(r, "Tanh", [](CG &cg, Builder &b, const Op &, const Args &a) {
    return callLibm(cg, b, "tanh", a[0]);
  }, 20);
  // 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below, as the reference: both are e = exp(-|x|).
  add(r, "Sigmoid", [](CG &, Builder &b, const Op &, const Args &a) {
    llvm::Value *x = a[0];
    llvm::Value *e = b.CreateUnaryIntrinsic(
        llvm::Intrinsic::exp, b.CreateFNeg(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x)));
    llvm::Value *den = b.CreateFAdd(fconst(x, 1.0), e);
    return b.CreateSelect(b.CreateFCmpOGE(x, fconst(x, 0.0)), b.CreateFDiv(fconst(x, 1.0), den),
                          b.CreateFDiv(e, den));
  }, 24);
  // `x < 0 ? 0 : x` keeps NaN.
  add(r, "Relu", [](CG &, Builder &b, const Op &, const Args &a) {
    llvm::Value *zero = llvm::Constant::getNullValue(a[0]->getType());
    return b.CreateSelect(isNegative(b, a[0]), zero, a[0]);
  });
  add(r, "LeakyRelu", [](CG &, Builder &b, const Op &op, const Args &a) {
    llvm::Value *alpha = fconst(a[0], attrsOf(op).f("alpha"));
    return b.CreateSelect(isNegative(b, a[0]), b.CreateFMul(alpha, a[0]), a[0]);
  });
  add(r, "Elu", [](CG &cg, Builder &b, const Op &op, const Args &a) {
    llvm::Value *alpha = fconst(a[0], attrsOf(op).f("alpha"));
    llvm::Value *neg = b.CreateFMul(alpha, callLibm(cg, b, "expm1", a[0]));
    return b.CreateSelect(isNegative(b, a[0]), neg, a[0]);
  }, 20);
  // min and max are scalars read at index 0 (their broadcast index); absent ones are no bound.
  add(r, "Clip", [](CG &, Builder &b, const Op &, const Args &a) {
    llvm::Value *v = a[0];
    if (a.size() > 1 && a[1])
      v = npMaximum(b, v, a[1]);
    if (a.size() > 2 && a[2])
      v = npMinimum(b, v, a[2]);
    return v;
  }, 2);

  add(r, "Where", [](CG &, Builder &b, const Op &, const Args &a) {
    return b.CreateSelect(a[0], a[1], a[2]);
  });
  add(r, "Equal", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFCmpOEQ(a[0], a[1])
                                                : b.CreateICmpEQ(a[0], a[1]);
  });
  add(r, "Less", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFCmpOLT(a[0], a[1])
                                                : b.CreateICmpSLT(a[0], a[1]);
  });
  add(r, "Greater", [](CG &, Builder &b, const Op &, const Args &a) {
    return a[0]->getType()->isFloatingPointTy() ? b.CreateFCmpOGT(a[0], a[1])
                                                : b.CreateICmpSGT(a[0], a[1]);
  });
  add(r, "Not", [](CG &, Builder &b, const Op &, const Args &a) { return b.CreateNot(a[0]); });
  add(r, "Cast", [](CG &, Builder &b, const Op &op, const Args &a) {
    return convertScalar(b, a[0], inType(op), outType(op));
  });
  // Expand is a broadcast copy: only the data operand is read per element.
  add(r, "Expand", [](CG &, Builder &, const Op &, const Args &a) { return a[0]; }, 0.5, {0});
}

} // namespace adjoint
