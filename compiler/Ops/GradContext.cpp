#include "Ops/GradContext.h"
#include "Ops/Build.h"

namespace adjoint {

Value *GradContext::dyOrZeros(size_t i) {
  if (Value *g = dy(i))
    return g;
  return zerosLike(op.result(i)->type());
}

AttrReader GradContext::attrs() const {
  const OpSchema *s = OpRegistry::instance().find(op);
  return AttrReader(op, *s);
}

Value *GradContext::build(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                          const std::string &domain) {
  return buildMulti(type, std::move(operands), std::move(attrs), 1, domain)->result();
}

Op *GradContext::buildMulti(const std::string &type, std::vector<Value *> operands, AttrMap attrs,
                            size_t numResults, const std::string &domain) {
  try {
    return buildOp(f, type, std::move(operands), std::move(attrs), numResults, nullptr, domain);
  } catch (const Error &e) {
    fail("gradient of ", op.describe(), ": ", e.what());
  }
}

Value *GradContext::scalar(double v, DType t) {
  Tensor c(t, {});
  c.setDouble(0, v);
  return buildConstant(f, std::move(c));
}

Value *GradContext::ints(const std::vector<int64_t> &v) {
  return buildConstant(f, Tensor::fromVector<int64_t>({(int64_t)v.size()}, v));
}

Value *GradContext::zerosLike(const TensorType &t) { return buildZeros(f, t); }

Value *GradContext::reshape(Value *v, const Shape &s) {
  if (v->shape() == s)
    return v;
  return build("Reshape", {v, ints(s)});
}

Value *GradContext::sumToShape(Value *g, const Shape &shape) {
  if (g->shape() == shape)
    return g;
  if (g->shape().size() < shape.size()) {
    // A lower-rank gradient (rank-0 result, shape-[1] bound): give it the leading 1s first.
    Shape padded(shape.size() - g->shape().size(), 1);
    padded.insert(padded.end(), g->shape().begin(), g->shape().end());
    g = reshape(g, padded);
  }
  const Shape &gs = g->shape();
  size_t lead = gs.size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < gs.size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && gs[i] != 1))
      axes.push_back((int64_t)i);
  Value *r = axes.empty() ? g : build("ReduceSum", {g, ints(axes)}, {{"keepdims", Attribute(0)}});
  return reshape(r, shape);
}

void GradContext::error(const std::string &msg) const {
  fail("gradient of ", op.describe(), ": ", msg);
}

} // namespace adjoint
