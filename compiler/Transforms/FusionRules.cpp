// The rules of fusion, as XLA and Glow have them. A kernel is one loop nest:
//  - elementwise ops (math, activations, Where, Clip, comparisons, Cast, Not, Expand) iterate
//    over one shape; an operand of a smaller, broadcast shape is read at the broadcast index;
//  - a kernel with reductions iterates over their common input shape; every reduction in it
//    reduces the same axes, so per-row values (max, sum, mean) sit beside the full-shape values,
//    as a softmax or layer norm needs;
//  - a kernel with a GEMM-like op (MatMul, Gemm, Conv) iterates over its output: the GEMM runs
//    first and its elementwise consumers are the epilogue. Its producers never join: a GEMM reads
//    each operand element many times, so a fused producer would be recomputed as often.
// A member whose result has a different, smaller shape than the loop nest is recomputed for each
// element of the nest; that is allowed only for a cheap elementwise op whose result is not needed
// outside the kernel (it would have to be written at its own shape).
#include "Transforms/FusionRules.h"
#include "Ops/OpRegistry.h"

#include <algorithm>
#include <set>
#include <unordered_set>

namespace adjoint::fusion {

namespace {
const std::set<std::string> kExpensive = {"Div", "Pow",  "Exp",  "Log",     "Sqrt",
                                          "Reciprocal", "Erf", "Tanh", "Sigmoid", "Elu"};
const std::set<std::string> kReductions = {"ReduceSum", "ReduceMean", "ReduceMax", "Softmax",
                                           "LogSoftmax", "LayerNormalization",
                                           "SoftmaxCrossEntropyLoss"};
const std::set<std::string> kGemms = {"MatMul", "Gemm", "Conv"};

const Tensor *constantOf(const Value *v) {
  const Op *d = v ? v->definingOp() : nullptr;
  if (!d || d->opType() != "Constant" || !d->domain().empty())
    return nullptr;
  const Attribute *a = d->attr("value");
  return a && a->kind() == AttrKind::Tensor ? &a->tensor() : nullptr;
}

std::vector<int64_t> allAxes(int64_t rank) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < rank; ++i)
    r.push_back(i);
  return r;
}

std::string shapeText(const Shape &s) { return shapeStr(s); }

std::string axesText(const std::vector<int64_t> &axes) {
  std::string r = "[";
  for (size_t i = 0; i < axes.size(); ++i) {
    if (i)
      r += ',';
    r += std::to_string(axes[i]);
  }
  return r + "]";
}

// The reduction's per-row shapes: the input with the reduced axes kept as 1, or dropped.
std::pair<Shape, Shape> rowShapes(const ReduceInfo &r) {
  Shape keep = r.in, drop;
  for (int64_t a : r.axes)
    keep[(size_t)a] = 1;
  for (size_t i = 0; i < r.in.size(); ++i)
    if (!std::binary_search(r.axes.begin(), r.axes.end(), (int64_t)i))
      drop.push_back(r.in[i]);
  return {keep, drop};
}

bool broadcastsTo(const Shape &s, const Shape &to) {
  try {
    return broadcastShapes(s, to) == to;
  } catch (const Error &) {
    return false;
  }
}
} // namespace

OpClass classify(const Op &op) {
  const std::string &t = op.opType();
  if (t == "Constant" && op.domain().empty())
    return OpClass::Constant;
  const OpSchema *s = OpRegistry::instance().find(op);
  if (!s || !s->foldable || !s->kernel || op.numResults() == 0)
    return OpClass::Opaque; // unknown, random or result-less ops stay where they are
  if (s->elementwise)
    return OpClass::Elementwise;
  if (op.domain() == "adjoint")
    return t == "SoftmaxCrossEntropyGrad" && reductionInfo(op) ? OpClass::Reduction
                                                               : OpClass::Opaque;
  if (!op.domain().empty())
    return OpClass::Opaque;
  if (t == "Expand")
    // A broadcast: its shape must be a constant to be copied into the body (inference needs it).
    return constantOf(op.operand(1)) ? OpClass::Elementwise : OpClass::Opaque;
  if (kReductions.count(t))
    return reductionInfo(op) ? OpClass::Reduction : OpClass::Opaque;
  if (kGemms.count(t))
    return OpClass::Gemm;
  return OpClass::Opaque;
}

bool isExpensive(const Op &op) { return op.domain().empty() && kExpensive.count(op.opType()); }

std::optional<ReduceInfo> reductionInfo(const Op &op) {
  const std::string &t = op.opType();
  bool sceGrad = op.domain() == "adjoint" && t == "SoftmaxCrossEntropyGrad";
  if (!sceGrad && (!op.domain().empty() || !kReductions.count(t)))
    return std::nullopt;
  const Value *x = op.operand(sceGrad ? 1 : 0);
  if (!x)
    return std::nullopt;
  ReduceInfo r{x->shape(), {}};
  int64_t rank = (int64_t)r.in.size();
  try {
    if (sceGrad) {
      r.axes = {1}; // the softmax over classes; the scale is per row
    } else if (t == "SoftmaxCrossEntropyLoss") {
      r.axes = op.stringAttr("reduction", "mean") == "none" ? std::vector<int64_t>{1} : allAxes(rank);
    } else if (t == "Softmax" || t == "LogSoftmax") {
      r.axes = {normalizeAxis(op.intAttr("axis", -1), rank, "axis")};
    } else if (t == "LayerNormalization") {
      for (int64_t a = normalizeAxis(op.intAttr("axis", -1), rank, "axis"); a < rank; ++a)
        r.axes.push_back(a);
    } else {
      std::vector<int64_t> axes;
      if (t == "ReduceSum") {
        if (op.operand(1)) {
          const Tensor *c = constantOf(op.operand(1));
          if (!c)
            return std::nullopt;
          axes = c->toInts();
        }
        if (axes.empty() && op.intAttr("noop_with_empty_axes", 0) != 0)
          return std::nullopt; // the identity, not a reduction
      } else {
        axes = op.intsAttr("axes");
      }
      for (int64_t a : axes)
        r.axes.push_back(normalizeAxis(a, rank, "axes"));
      if (axes.empty())
        r.axes = allAxes(rank);
    }
  } catch (const Error &) {
    return std::nullopt; // malformed: the verifier says why; fusion leaves it alone
  }
  std::sort(r.axes.begin(), r.axes.end());
  r.axes.erase(std::unique(r.axes.begin(), r.axes.end()), r.axes.end());
  return r;
}

std::optional<std::string> whyNotOneKernel(const std::vector<Op *> &members,
                                           const std::function<bool(const Value *)> &escapes) {
  std::unordered_set<const Op *> inKernel(members.begin(), members.end());
  for (const Op *m : members)
    if (classify(*m) == OpClass::Gemm)
      for (const Value *v : m->operands())
        if (v && v->definingOp() && inKernel.count(v->definingOp()))
          return m->describe() + " reads each operand element many times, so its producer " +
                 v->definingOp()->describe() + " is not fused into it (only consumers fuse, as "
                 "an epilogue)";
  const Op *gemm = nullptr, *red = nullptr;
  ReduceInfo ri;
  for (const Op *m : members) {
    OpClass c = classify(*m);
    if (c == OpClass::Gemm) {
      if (gemm)
        return "the kernel would hold two GEMM-like ops, " + gemm->describe() + " and " +
               m->describe();
      gemm = m;
    } else if (c == OpClass::Reduction) {
      ReduceInfo info = *reductionInfo(*m);
      if (!red) {
        red = m;
        ri = info;
      } else if (!(info == ri)) {
        return m->describe() + " reduces " + shapeText(info.in) + " over axes " +
               axesText(info.axes) + " but " + red->describe() + " reduces " + shapeText(ri.in) +
               " over axes " + axesText(ri.axes);
      }
    } else if (c != OpClass::Elementwise) {
      return m->describe() + " is not fusible";
    }
  }
  if (gemm && red)
    return "a reduction (" + red->describe() + ") does not join the epilogue of " +
           gemm->describe();

  // The loop nest the kernel iterates over, and the per-row shapes of its reductions.
  Shape nest, rowKeep, rowDrop;
  const Op *nestOwner = gemm ? gemm : red;
  if (gemm) {
    nest = gemm->result(0)->shape();
  } else if (red) {
    nest = ri.in;
    std::tie(rowKeep, rowDrop) = rowShapes(ri);
  } else {
    for (size_t k = 0; k < members.size(); ++k)
      for (size_t i = 0; i < members[k]->numResults(); ++i) {
        const Shape &s = members[k]->result(i)->shape();
        if (!nestOwner) {
          nest = s;
          nestOwner = members[k];
          continue;
        }
        try {
          nest = broadcastShapes(nest, s);
        } catch (const Error &) {
          return members[k]->describe() + " iterates over " + shapeText(s) + " and " +
                 nestOwner->describe() + " over " + shapeText(nest) +
                 ": they do not share one loop nest";
        }
      }
  }
  auto what = [&] {
    return gemm  ? " (the output of " + gemm->describe() + ")"
           : red ? " (the input of " + red->describe() + ")"
                 : std::string();
  };

  for (const Op *m : members)
    for (size_t i = 0; i < m->numResults(); ++i) {
      const Value *v = m->result(i);
      const Shape &s = v->shape();
      if (s == nest || (red && (s == rowKeep || s == rowDrop)))
        continue;
      std::string head = m->describe() + " yields " + v->type().str() + " but the kernel iterates over " +
                         shapeText(nest) + what();
      if (classify(*m) != OpClass::Elementwise || !broadcastsTo(s, nest))
        return head + (red ? ", not over it or its reduced shape" : "");
      if (escapes(v))
        return head + ", and the result is needed outside the kernel at its own shape";
      if (isExpensive(*m))
        return head + ": " + m->describe() + " is expensive and would be recomputed for each " +
               "element";
    }
  return std::nullopt;
}

} // namespace adjoint::fusion
