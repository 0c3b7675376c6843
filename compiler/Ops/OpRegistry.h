#pragma once
// The op registry: every op is defined once (DESIGN.md, "The op is the unit") by an OpSchema that
// holds its arity, attribute schema, type/shape inference and reference kernel. Schemas follow
// ONNX opset-17 semantics; the importer upgrades older opset forms to them.
//
// Each op family registers itself from one file (Ops/Elementwise.cpp, Ops/Conv.cpp, ...) through
// a registerXxxOps(OpRegistry&) function listed in Ops/AllOps.cpp.
#include "IR/Graph.h"
#include "Support/Error.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace adjoint {

struct OpSchema;

struct AttrSpec {
  std::string name;
  AttrKind kind;
  std::optional<Attribute> dflt; // nullopt: required unless `optional`
  bool optional = false;          // may be absent with no default (e.g. Gemm-less "value_*")
};

// Attribute access that applies the schema's default and names the op in errors.
class AttrReader {
public:
  AttrReader(const Op &op, const OpSchema &schema) : op_(op), schema_(schema) {}
  bool has(const std::string &n) const { return op_.hasAttr(n); }
  int64_t i(const std::string &n) const;
  double f(const std::string &n) const;
  std::string s(const std::string &n) const;
  std::vector<int64_t> ints(const std::string &n) const;
  std::vector<double> floats(const std::string &n) const;
  const Tensor &tensor(const std::string &n) const;

private:
  const Attribute &get(const std::string &n, AttrKind k) const;
  const Op &op_;
  const OpSchema &schema_;
};

class InferContext : public AttrReader {
public:
  InferContext(const Op &op, const OpSchema &schema, size_t numResults)
      : AttrReader(op, schema), op(op), numResults(numResults) {}
  const Op &op;
  size_t numResults; // results the node asks for (optional outputs count)

  size_t numOperands() const { return op.numOperands(); }
  bool hasOperand(size_t i) const { return op.operand(i) != nullptr; }
  const TensorType &type(size_t i) const;
  const Shape &shape(size_t i) const { return type(i).shape; }
  DType dtype(size_t i) const { return type(i).dtype; }
  // The operand's value when it is known at compile time (a Constant op's result), else null.
  // Ops whose output shape depends on an operand's value (Reshape, Expand, Slice, ...) need it.
  const Tensor *constant(size_t i) const;
  const Tensor &requireConstant(size_t i, const char *what) const;

  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(op.describe(), ": ", args...);
  }
  template <typename... Args> void require(bool c, const Args &...args) const {
    if (!c)
      error(args...);
  }
};

class KernelContext : public AttrReader {
public:
  KernelContext(const Op &op, const OpSchema &schema) : AttrReader(op, schema), op(op) {}
  const Op &op;
  std::vector<const Tensor *> inputs; // nullptr for an absent optional operand
  std::vector<Tensor> outputs;        // preallocated, zero-filled, of the result types

  const Tensor &in(size_t i) const;
  bool hasInput(size_t i) const { return i < inputs.size() && inputs[i]; }
  Tensor &out(size_t i = 0) { return outputs[i]; }
  template <typename... Args> [[noreturn]] void error(const Args &...args) const {
    fail(op.describe(), ": ", args...);
  }
};

// Builds the vector-Jacobian product of one op out of ordinary graph ops (Ops/GradContext.h).
class GradContext;

using InferFn = std::function<std::vector<TensorType>(InferContext &)>;
using KernelFn = std::function<void(KernelContext &)>;
// Returns one gradient per operand (nullptr where none flows: integer operands, operands that
// need none). Each gradient has exactly its operand's type.
using GradFn = std::function<std::vector<Value *>(GradContext &)>;

struct OpSchema {
  std::string name;
  std::string domain; // "" = ai.onnx
  int minInputs = 1, maxInputs = 1;
  int minOutputs = 1, maxOutputs = 1;
  std::vector<AttrSpec> attrs;
  InferFn infer;
  KernelFn kernel;
  // Ops whose value must not be folded at compile time (random, side effects).
  bool foldable = true;
  // The kernel reads only its operands' types (Shape): it folds whatever the operands are.
  bool shapeOnly = false;
  // Result element i depends only on operand elements at index i (after broadcasting): fusion
  // may put the op in a loop nest and the memory planner may write a result over an operand.
  bool elementwise = false;
  // The gradient rule; empty for ops that are not differentiable (Shape, comparisons, ...).
  // Set by the family's gradient table (Ops/<Family>Grad.cpp) through OpRegistry::setGrad.
  GradFn grad;

  const AttrSpec *findAttr(const std::string &n) const;
};

class OpRegistry {
public:
  static OpRegistry &instance(); // populated with every op family on first use
  void add(OpSchema s);
  const OpSchema *find(const std::string &domain, const std::string &name) const;
  const OpSchema *find(const Op &op) const { return find(op.domain(), op.opType()); }
  const std::vector<OpSchema> &all() const { return schemas_; }
  // Attaches the gradient rule of an already registered op.
  void setGrad(const std::string &domain, const std::string &name, GradFn fn);

private:
  std::vector<OpSchema> schemas_;
};

// Op families (one file each); AllOps.cpp calls them all.
void registerElementwiseOps(OpRegistry &r);  // Ops/Elementwise.cpp: unary/binary math, activations
void registerLogicOps(OpRegistry &r);        // Ops/Logic.cpp: Where Equal Less Greater Not Cast
void registerLinalgOps(OpRegistry &r);       // Ops/Linalg.cpp: MatMul Gemm
void registerConvPoolOps(OpRegistry &r);     // Ops/ConvPool.cpp: Conv MaxPool AveragePool GlobalAveragePool
void registerNormOps(OpRegistry &r);         // Ops/Norm.cpp: BatchNormalization LayerNormalization Softmax LogSoftmax Dropout
void registerShapeOps(OpRegistry &r);        // Ops/ShapeOps.cpp: Reshape Squeeze Unsqueeze Expand Flatten Shape Identity Constant
void registerDataMovementOps(OpRegistry &r); // Ops/DataMovement.cpp: Transpose Concat Slice Split Gather
// Gradient tables, one per family (Ops/<Family>Grad.cpp), attached after every op exists.
void registerElementwiseGrads(OpRegistry &r);
void registerLogicGrads(OpRegistry &r);
void registerLinalgGrads(OpRegistry &r);
void registerConvPoolGrads(OpRegistry &r);
void registerNormGrads(OpRegistry &r);
void registerReduceGrads(OpRegistry &r);
void registerShapeGrads(OpRegistry &r); // ShapeOps.cpp and DataMovement.cpp
void registerAdjointOps(OpRegistry &r);       // Ops/AdjointOps.cpp: domain "adjoint" (StopGradient)
void registerKernelOp(OpRegistry &r);         // Ops/KernelOp.cpp: adjoint.Kernel (a fused group)
void registerConvPoolBackwardOps(OpRegistry &r); // Ops/ConvPoolBackward.cpp: Conv/pooling grads
void registerShapeBackwardOps(OpRegistry &r); // Ops/ShapeBackward.cpp: adjoint.SliceGrad GatherGrad
void registerTrainingOps(OpRegistry &r);    // Ops/Training.cpp: ai.onnx.preview.training Adam Adagrad Momentum Gradient
void registerReduceOps(OpRegistry &r);       // Ops/Reduce.cpp: ReduceSum ReduceMean ReduceMax
void registerLossOps(OpRegistry &r);   // Ops/Loss.cpp: SoftmaxCrossEntropyLoss NegativeLogLikelihoodLoss (+ their adjoint.*Grad)
void registerLossGrads(OpRegistry &r); // Ops/LossGrad.cpp

} // namespace adjoint
