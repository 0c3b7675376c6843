#include "Ops/Build.h"

namespace adjoint {

static const OpSchema &schemaFor(const Op &op) {
  const OpSchema *s = OpRegistry::instance().find(op);
  if (!s)
    fail(op.describe(), ": unknown op '", op.domain().empty() ? "" : op.domain() + ".",
         op.opType(), "'");
  return *s;
}

void checkAttributes(const Op &op, const OpSchema &schema) {
  for (const auto &[name, a] : op.attrs()) {
    const AttrSpec *spec = schema.findAttr(name);
    if (!spec)
      fail(op.describe(), ": unknown attribute '", name, "'");
    bool ok = a.kind() == spec->kind;
    if (!ok)
      fail(op.describe(), ": attribute '", name, "' must be ", attrKindName(spec->kind), ", got ",
           attrKindName(a.kind()));
  }
  for (const auto &spec : schema.attrs)
    if (!spec.dflt && !spec.optional && !op.hasAttr(spec.name))
      fail(op.describe(), ": missing required attribute '", spec.name, "'");
}

std::vector<TensorType> inferResultTypes(const Op &op) {
  const OpSchema &s = schemaFor(op);
  int n = (int)op.numOperands();
  if (n < s.minInputs || n > s.maxInputs)
    fail(op.describe(), ": expects ", s.minInputs == s.maxInputs ? "" : "between ", s.minInputs,
         s.minInputs == s.maxInputs ? "" : " and " + std::to_string(s.maxInputs), " operands, got ",
         n);
  int r = (int)op.numResults();
  if (r < s.minOutputs || r > s.maxOutputs)
    fail(op.describe(), ": expects ", s.minOutputs, " to ", s.maxOutputs, " results, got ", r);
  checkAttributes(op, s);
  InferContext ctx(op, s, op.numResults());
  std::vector<TensorType> types = s.infer(ctx);
  if (types.size() < op.numResults())
    fail(op.describe(), ": internal error: inference gave ", types.size(), " result types for ",
         op.numResults(), " results");
  types.resize(op.numResults());
  for (auto &t : types)
    numElements(t.shape); // rejects negative dims and overflow
  return types;
}

Op *buildOp(Function &f, const std::string &type, std::vector<Value *> operands, AttrMap attrs,
            size_t numResults, Op *before, const std::string &domain, const std::string &name) {
  std::vector<TensorType> placeholder(numResults);
  Op *op = f.createOp(type, std::move(operands), placeholder, std::move(attrs), before);
  op->setDomain(domain);
  op->setName(name);
  try {
    std::vector<TensorType> types = inferResultTypes(*op);
    for (size_t i = 0; i < numResults; ++i)
      op->result(i)->setType(types[i]);
  } catch (...) {
    f.eraseOp(op);
    throw;
  }
  return op;
}

std::vector<Tensor> evaluateOp(const Op &op, const std::vector<const Tensor *> &inputs) {
  const OpSchema &s = schemaFor(op);
  if (!s.kernel)
    fail(op.describe(), ": op has no reference kernel");
  KernelContext ctx(op, s);
  ctx.inputs = inputs;
  for (size_t i = 0; i < op.numResults(); ++i) {
    const TensorType &t = op.result(i)->type();
    ctx.outputs.emplace_back(t.dtype, t.shape);
  }
  s.kernel(ctx);
  for (size_t i = 0; i < op.numResults(); ++i) {
    const TensorType &t = op.result(i)->type();
    if (ctx.outputs[i].dtype() != t.dtype || ctx.outputs[i].shape() != t.shape)
      fail(op.describe(), ": internal error: kernel produced ",
           TensorType{ctx.outputs[i].dtype(), ctx.outputs[i].shape()}.str(), " for result ", i,
           " of type ", t.str());
  }
  return std::move(ctx.outputs);
}

std::optional<std::vector<Tensor>> tryFold(const Op &op) {
  const OpSchema *s = OpRegistry::instance().find(op);
  if (!s || !s->foldable || !s->kernel || op.opType() == "Constant")
    return std::nullopt;
  std::vector<const Tensor *> ins;
  std::vector<Tensor> placeholders;
  placeholders.reserve(op.numOperands());
  for (size_t i = 0; i < op.numOperands(); ++i) {
    Value *v = op.operand(i);
    if (!v) {
      ins.push_back(nullptr);
      continue;
    }
    Op *d = v->definingOp();
    if (s->shapeOnly) {
      placeholders.push_back(Tensor::placeholder(v->dtype(), v->shape()));
      ins.push_back(&placeholders.back());
      continue;
    }
    if (!d || d->opType() != "Constant" || !d->domain().empty())
      return std::nullopt;
    const Attribute *a = d->attr("value");
    if (!a || a->kind() != AttrKind::Tensor)
      return std::nullopt;
    ins.push_back(&a->tensor());
  }
  return evaluateOp(op, ins);
}

Value *buildConstant(Function &f, Tensor t, Op *before) {
  TensorType ty{t.dtype(), t.shape()};
  AttrMap attrs;
  attrs["value"] = Attribute(std::move(t));
  return f.createOp("Constant", {}, {ty}, std::move(attrs), before)->result();
}

Value *buildZeros(Function &f, const TensorType &t, Op *before) {
  Value *zero = buildConstant(f, Tensor(t.dtype, {}), before);
  Value *shape = buildConstant(f, Tensor::fromVector<int64_t>({t.rank()}, t.shape), before);
  return buildOp(f, "Expand", {zero, shape}, {}, 1, before)->result();
}

} // namespace adjoint
