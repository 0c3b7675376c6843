#pragma once
// What the per-family lowering files (Lower*.cpp) share: the module being filled
// (CodegenContext), the function being emitted for one op (OpEmitContext), and the table that
// says how each op lowers (LoweringRegistry). See README.md in this folder for the structure.
#include "CodeGen/Target.h"
#include "Ops/OpRegistry.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace adjoint {

using Builder = llvm::IRBuilder<>;

// Loops whose work (elements times cost per element) reaches this many units run on the thread
// pool; each chunk gets at least this much work, so that waking a thread pays off. A unit is
// about one vectorized add.
constexpr double kParallelWork = 1 << 16;

// The LLVM module being filled for one top-level function, with helpers for types, runtime
// calls and memory access that every lowering uses.
class CodegenContext {
public:
  CodegenContext(llvm::Module &m, const Target &target) : module(m), ctx(m.getContext()), target(target) {}
  llvm::Module &module;
  llvm::LLVMContext &ctx;
  const Target &target;

  // How an element is stored (bool as i8 0/1) and how it is computed with (bool as i1).
  llvm::Type *storageType(DType t) const;
  llvm::Type *scalarType(DType t) const;
  llvm::Type *i64() const { return llvm::Type::getInt64Ty(ctx); }
  llvm::Type *i32() const { return llvm::Type::getInt32Ty(ctx); }
  llvm::PointerType *ptr() const { return llvm::PointerType::get(ctx, 0); }
  llvm::Constant *i64c(int64_t v) const { return llvm::ConstantInt::get(i64(), v, true); }

  // Element `index` (an i64 element offset) of the dtype-t buffer at `base`.
  llvm::Value *elementPtr(Builder &b, DType t, llvm::Value *base, llvm::Value *index) const;
  llvm::Value *load(Builder &b, DType t, llvm::Value *base, llvm::Value *index) const;
  void store(Builder &b, DType t, llvm::Value *v, llvm::Value *base, llvm::Value *index) const;

  // A new function with the target's attributes, nounwind, internal unless `exported`.
  llvm::Function *createFunction(const std::string &name, llvm::FunctionType *type,
                                 bool exported = false) const;
  // A runtime (runtime/adjoint_runtime.h) or libm function, declared on first use.
  llvm::FunctionCallee runtime(const std::string &name) const;
  // A pure libm function of one or two arguments of type t (errno is never read).
  llvm::FunctionCallee libm(const std::string &name, llvm::Type *t, int arity = 1) const;
  // memcpy of `bytes` (compile-time) bytes.
  void copy(Builder &b, llvm::Value *dst, llvm::Value *src, int64_t bytes) const;
  // A private constant global holding t's bytes.
  llvm::GlobalVariable *constantData(const Tensor &t, const std::string &name) const;
  // A unique symbol name with the given stem.
  std::string uniqueName(const std::string &stem);
  // Reports error `site` at run time (adj_report_error); the message may use {0} {1} {2} for
  // a, b, c (i64 values). The caller of the compiled function throws it after the call.
  void reportError(Builder &b, const std::string &message, llvm::Value *a, llvm::Value *c1,
                   llvm::Value *c2);
  std::vector<std::string> errorMessages;

private:
  std::map<std::string, int> names_;
};

// The LLVM function generated for one op (or kernel): one pointer parameter per distinct buffer
// the op touches. operands[i] / results[j] point at the op's buffers (operands[i] is null for an
// absent optional operand); two of them are the same llvm::Value when the memory plan put them
// in the same buffer (in-place ops), and pointers are noalias where buffers cannot overlap.
class OpEmitContext {
public:
  OpEmitContext(CodegenContext &cg, const Op &op, llvm::Function *fn, Builder &b)
      : cg(cg), op(op), fn(fn), b(b) {}
  CodegenContext &cg;
  const Op &op;
  llvm::Function *fn;
  Builder &b;
  std::vector<llvm::Value *> operands, results;
  llvm::Value *scratch = nullptr; // OpLowering::scratchBytes bytes, 64-byte aligned

  const TensorType &operandType(size_t i) const { return op.operand(i)->type(); }
  const TensorType &resultType(size_t j = 0) const { return op.result(j)->type(); }

  // Runs body over the iterations [0, n) of a loop, in a function of its own taking this
  // function's pointers and [begin, end): on the calling thread when n * workPerIteration is
  // below kParallelWork, else split across the runtime's thread pool. body receives a context
  // whose pointers are that function's parameters. n > 0.
  void parallelFor(int64_t n, double workPerIteration,
                   const std::function<void(OpEmitContext &inner, llvm::Value *begin,
                                            llvm::Value *end)> &body);

  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(op.describe(), ": ", args...);
  }

private:
  friend class FunctionLowering;
  std::vector<llvm::Value *> params_; // fn's pointer parameters, in order
};

// Loads each operand's element and computes the result element, for elementwise ops: the
// generic elementwise lowering and fused kernels call these per element. args[i] is null for
// operands the op does not read per element (absent ones, Expand's shape).
using ScalarFn = std::function<llvm::Value *(CodegenContext &cg, Builder &b, const Op &op,
                                             const std::vector<llvm::Value *> &args)>;
using EmitFn = std::function<void(OpEmitContext &)>;

struct OpLowering {
  enum class Kind {
    Elementwise, // one loop nest over the result: scalar(operands at broadcast indices)
    Alias,       // result 0 is operand 0's bytes (Reshape, Identity, ...): no code
    Constant,    // result is known at compile time: global data (Constant, Shape)
    Emit,        // emit() writes the op function's body
    Kernel,      // adjoint.Kernel: its body is scheduled in place (LowerKernel.cpp)
  };
  Kind kind = Kind::Emit;
  ScalarFn scalar;
  std::vector<int> elementOperands; // Elementwise: operands read per element; empty = all
  double cost = 1;                  // Elementwise: work units per element
  EmitFn emit;
  std::function<int64_t(const Op &)> scratchBytes; // Emit: temporary bytes it needs
  // Emit: why this particular op cannot be lowered (unsupported dtype, ...), or "" when it can.
  std::function<std::string(const Op &)> unsupported;
};

// How each op lowers, keyed by (domain, op type); every family registers its entries from its
// own file, as the op registry does.
class LoweringRegistry {
public:
  static const LoweringRegistry &instance();
  void add(const std::string &domain, const std::string &name, OpLowering l);
  const OpLowering *find(const std::string &domain, const std::string &name) const;
  const OpLowering *find(const Op &op) const { return find(op.domain(), op.opType()); }
  std::vector<std::string> names() const; // "Add", "adjoint.Kernel", ...

private:
  std::map<std::pair<std::string, std::string>, OpLowering> table_;
};

void registerElementwiseLowerings(LoweringRegistry &r); // LowerElementwise.cpp (+ ScalarOps.cpp)
void registerShapeLowerings(LoweringRegistry &r);       // LowerShape.cpp
void registerLinalgLowerings(LoweringRegistry &r);      // LowerLinalg.cpp
void registerReduceLowerings(LoweringRegistry &r);      // LowerReduce.cpp
void registerKernelLowering(LoweringRegistry &r);       // LowerKernel.cpp
void registerLossLowerings(LoweringRegistry &r);        // LowerLoss.cpp
void registerConvPoolLowerings(LoweringRegistry &r);    // LowerConvPool.cpp
void registerNormLowerings(LoweringRegistry &r);        // LowerNorm.cpp
void registerDataMovementLowerings(LoweringRegistry &r); // LowerDataMovement.cpp
void registerTrainingLowerings(LoweringRegistry &r);     // LowerTraining.cpp

// Attribute access with the op schema's defaults.
AttrReader attrsOf(const Op &op);

} // namespace adjoint
