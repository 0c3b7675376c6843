#pragma once
// What a gradient rule sees: the forward op, the gradients flowing into its results, which
// operands want a gradient, and builders that append ordinary ops to the function. Rules build
// from existing ops; dedicated backward ops (domain "adjoint") exist only where speed needs them.
#include "Ops/OpRegistry.h"

namespace adjoint {

class GradContext {
public:
  GradContext(Function &f, const Op &op, std::vector<Value *> outGrads, std::vector<bool> needs)
      : f(f), op(op), outGrads_(std::move(outGrads)), needs_(std::move(needs)) {}

  Function &f;
  const Op &op;

  Value *x(size_t i) const { return op.operand(i); } // forward operand (nullptr if absent)
  Value *y(size_t i = 0) const { return op.result(i); }
  // Gradient flowing into result i, or nullptr when none does.
  Value *dy(size_t i = 0) const { return i < outGrads_.size() ? outGrads_[i] : nullptr; }
  // Like dy, but zeros of the result's type when no gradient flows (multi-result ops).
  Value *dyOrZeros(size_t i);
  bool needs(size_t operand) const { return operand < needs_.size() && needs_[operand]; }
  size_t numOperands() const { return op.numOperands(); }

  // Attribute of the forward op with the schema's default applied.
  AttrReader attrs() const;

  // Builders: each appends one op with inferred types and returns its (first) result.
  Value *build(const std::string &type, std::vector<Value *> operands, AttrMap attrs = {},
               const std::string &domain = "");
  Op *buildMulti(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                 size_t numResults, const std::string &domain = "");
  Value *add(Value *a, Value *b) { return build("Add", {a, b}); }
  Value *sub(Value *a, Value *b) { return build("Sub", {a, b}); }
  Value *mul(Value *a, Value *b) { return build("Mul", {a, b}); }
  Value *div(Value *a, Value *b) { return build("Div", {a, b}); }
  Value *neg(Value *a) { return build("Neg", {a}); }
  Value *scalar(double v, DType t);            // rank-0 constant
  Value *ints(const std::vector<int64_t> &v);  // i64[n] constant
  Value *zerosLike(const TensorType &t);
  Value *reshape(Value *v, const Shape &s);
  // Sums g (shaped like a broadcast of `shape`) back down to `shape`: the adjoint of numpy
  // broadcasting. Returns g itself when the shapes already agree.
  Value *sumToShape(Value *g, const Shape &shape);

  [[noreturn]] void error(const std::string &msg) const;

private:
  std::vector<Value *> outGrads_;
  std::vector<bool> needs_;
};

} // namespace adjoint
