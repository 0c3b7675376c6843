// Older opset forms → the opset-17 schemas the op registry implements.
//
// The importer accepts default-domain opsets 7..17. Each op of the op set was checked against
// its schema history (onnx/defs/*/old.cc; onnx.defs.get_schema(name, v) for v in 7..17). Forms
// handled here, by the model's default-domain opset v:
//
//   Softmax, LogSoftmax  v < 13  axis (default 1) coerced the input to 2-D [prod(d[:axis]),
//                                prod(d[axis:])] and normalized over the second dim. Emitted as
//                                Reshape → op(axis=-1) → Reshape back (Constant shape operands),
//                                or as op(axis=-1) alone when axis is the last dim.
//   ReduceSum            v < 13  axes attribute → axes operand (i64 Constant).
//   Squeeze, Unsqueeze   v < 13  axes attribute → axes operand.
//   Split                v < 13  split attribute → split operand.
//   Slice                v < 10  starts/ends/axes attributes → operands.
//   Clip                 v < 11  min/max attributes → scalar operands of the input's type.
//   Pad                  v < 11  pads attribute → operand, value → constant_value operand.
//   BatchNormalization   v < 9   spatial=1 dropped (spatial=0 is unsupported: per-element
//                                statistics have no opset-17 form).
//                        v < 14  outputs 2..5 were training-mode statistics with no opset-17
//                                equivalent: built with Y alone; a use of the others is an error.
//                        any     is_test / consumed_inputs (pre-v7 leftovers) dropped.
//   Dropout              v < 12  ratio attribute → ratio operand (f32 scalar); is_test dropped.
//                        v < 10  the mask output was of the input's type: a Cast follows.
//
// Unchanged in meaning across 7..17 (later versions only widened types, allowed negative axes,
// or added attributes whose defaults give the old behaviour), so nothing to do: Add Sub Mul Div
// Pow Sqrt Exp Log Neg Abs Reciprocal Relu Sigmoid Tanh LeakyRelu Elu Selu HardSigmoid Softplus
// PRelu Erf Max Min Sum Mean Where Equal Less Greater Not Cast MatMul Gemm (C became optional in
// 11) Conv MaxPool (ceil_mode/dilations added in 10, defaults match) AveragePool GlobalAveragePool
// Reshape (allowzero added in 14, default 0) Transpose Concat Gather Expand Flatten Shape
// (start/end added in 15) Identity Constant (value_* forms: see normalizeConstant) ReduceMean
// ReduceMax LayerNormalization (17 only).
#include "Frontend/OnnxImportContext.h"
#include "Frontend/TensorIO.h"
#include "Ops/Build.h"

namespace adjoint {

namespace {

// Names the ops an upgrade adds after the node ("sm/flatten"); none when the node has none.
std::string subName(const NodeImport &n, const std::string &what) {
  return n.name.empty() ? std::string() : n.name + "/" + what;
}

void setOperand(NodeImport &n, size_t i, Value *v) {
  if (n.operands.size() <= i)
    n.operands.resize(i + 1, nullptr);
  n.operands[i] = v;
}

// Moves an ints attribute to an i64 operand at `index`; absent stays absent unless required.
void intsToOperand(ImportContext &ctx, NodeImport &n, const char *attr, size_t index,
                   bool required = false) {
  auto it = n.attrs.find(attr);
  if (it == n.attrs.end()) {
    if (required)
      n.error("missing required attribute '", attr, "'");
    return;
  }
  if (it->second.kind() != AttrKind::Ints)
    n.error("attribute '", attr, "' must be ints, got ", attrKindName(it->second.kind()));
  std::vector<int64_t> v = it->second.ints();
  n.attrs.erase(it);
  if (n.operands.size() > index && n.operands[index])
    n.error("has both an '", attr, "' attribute and operand");
  setOperand(n, index,
             ctx.constant(Tensor::fromVector<int64_t>({(int64_t)v.size()}, v), subName(n, attr)));
}

// Moves a float attribute to a scalar operand of dtype `dt` at `index`.
void floatToOperand(ImportContext &ctx, NodeImport &n, const char *attr, size_t index, DType dt) {
  auto it = n.attrs.find(attr);
  if (it == n.attrs.end())
    return;
  if (it->second.kind() != AttrKind::Float && it->second.kind() != AttrKind::Int)
    n.error("attribute '", attr, "' must be float, got ", attrKindName(it->second.kind()));
  double v = it->second.kind() == AttrKind::Float ? it->second.f() : (double)it->second.i();
  n.attrs.erase(it);
  Tensor t(dt, {});
  t.setDouble(0, v);
  setOperand(n, index, ctx.constant(std::move(t), subName(n, attr)));
}

DType inputDType(const NodeImport &n) {
  if (n.operands.empty() || !n.operands[0])
    n.error("operand 0 is required");
  return n.operands[0]->dtype();
}

std::vector<Value *> emitNode(ImportContext &ctx, NodeImport &n) {
  return ctx.emit(n.opType, n.operands, n.attrs, n.numResults, n.name, n.domain);
}

std::vector<Value *> upgradeSoftmax(ImportContext &ctx, NodeImport &n) {
  int64_t axis = 1;
  if (auto it = n.attrs.find("axis"); it != n.attrs.end()) {
    if (it->second.kind() != AttrKind::Int)
      n.error("attribute 'axis' must be int, got ", attrKindName(it->second.kind()));
    axis = it->second.i();
  }
  if (n.operands.size() != 1 || !n.operands[0])
    n.error("expects 1 operand, got ", n.operands.size());
  Value *x = n.operands[0];
  Shape shape = x->shape();
  int64_t rank = (int64_t)shape.size();
  if (axis < -rank || axis >= rank || rank == 0)
    n.error("axis ", axis, " is out of range for an operand of rank ", rank);
  if (axis < 0)
    axis += rank;
  n.attrs["axis"] = Attribute(int64_t{-1});
  if (axis == rank - 1)
    return emitNode(ctx, n);
  // The old semantics normalize over all of d[axis:] at once.
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < axis ? rows : cols) *= shape[d];
  Value *flatShape = ctx.constant(Tensor::fromVector<int64_t>({2}, {rows, cols}),
                                  subName(n, "flatten_shape"));
  Value *flat = ctx.emit("Reshape", {x, flatShape}, {}, 1, subName(n, "flatten"))[0];
  Value *y = ctx.emit(n.opType, {flat}, n.attrs, 1, n.name)[0];
  Value *backShape = ctx.constant(Tensor::fromVector<int64_t>({rank}, shape),
                                  subName(n, "unflatten_shape"));
  return ctx.emit("Reshape", {y, backShape}, {}, 1, subName(n, "unflatten"));
}

std::vector<Value *> upgradeBatchNorm(ImportContext &ctx, NodeImport &n) {
  if (ctx.opset < 9) {
    auto it = n.attrs.find("spatial");
    if (it != n.attrs.end()) {
      if (it->second.kind() != AttrKind::Int || it->second.i() != 1)
        n.error("spatial=0 (per-element statistics, opset < 9) is not supported");
      n.attrs.erase(it);
    }
  }
  n.attrs.erase("is_test");
  n.attrs.erase("consumed_inputs");
  if (ctx.opset < 14 && n.numResults > 1) {
    for (size_t i = 1; i < n.numResults; ++i)
      n.droppedResults[i] = "output " + std::to_string(i) + " of " + n.label +
                            " (a training-mode statistic of opset " + std::to_string(ctx.opset) +
                            " BatchNormalization) is not supported";
    n.numResults = 1;
  }
  std::vector<Value *> r = emitNode(ctx, n);
  r.resize(n.droppedResults.empty() ? r.size() : n.droppedResults.rbegin()->first + 1, nullptr);
  return r;
}

std::vector<Value *> upgradeDropout(ImportContext &ctx, NodeImport &n) {
  n.attrs.erase("is_test");
  if (n.operands.size() > 1)
    n.error("expects 1 operand in opset ", ctx.opset, ", got ", n.operands.size());
  floatToOperand(ctx, n, "ratio", 1, DType::F32);
  std::vector<Value *> r = emitNode(ctx, n);
  if (ctx.opset < 10 && r.size() > 1 && r[1]) {
    // Opset 7..9 gave the mask the data's type; later opsets give bool.
    AttrMap castAttrs;
    castAttrs["to"] = Attribute((int64_t)onnxFromDType(inputDType(n)));
    r[1] = ctx.emit("Cast", {r[1]}, castAttrs, 1, subName(n, "mask"))[0];
  }
  return r;
}

} // namespace

std::vector<Value *> buildNode(ImportContext &ctx, NodeImport &n) {
  if (!n.domain.empty())
    return emitNode(ctx, n);
  const std::string &t = n.opType;
  int64_t v = ctx.opset;
  if (t == "Constant")
    normalizeConstant(n);
  else if ((t == "Softmax" || t == "LogSoftmax") && v < 13)
    return upgradeSoftmax(ctx, n);
  else if ((t == "ReduceSum" || t == "Squeeze") && v < 13)
    intsToOperand(ctx, n, "axes", 1);
  else if (t == "Unsqueeze" && v < 13)
    intsToOperand(ctx, n, "axes", 1, /*required=*/true);
  else if (t == "Split" && v < 13)
    intsToOperand(ctx, n, "split", 1);
  else if (t == "Slice" && v < 10) {
    intsToOperand(ctx, n, "starts", 1, true);
    intsToOperand(ctx, n, "ends", 2, true);
    intsToOperand(ctx, n, "axes", 3);
  } else if (t == "Clip" && v < 11) {
    DType dt = inputDType(n);
    floatToOperand(ctx, n, "min", 1, dt);
    floatToOperand(ctx, n, "max", 2, dt);
  } else if (t == "Pad" && v < 11) {
    DType dt = inputDType(n);
    intsToOperand(ctx, n, "pads", 1, true);
    floatToOperand(ctx, n, "value", 2, dt);
  } else if (t == "BatchNormalization")
    return upgradeBatchNorm(ctx, n);
  else if (t == "Dropout" && v < 12)
    return upgradeDropout(ctx, n);
  return emitNode(ctx, n);
}

} // namespace adjoint
