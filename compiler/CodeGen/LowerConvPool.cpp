// Conv, MaxPool, AveragePool, GlobalAveragePool and their backward ops (adjoint.ConvGradData,
// ConvGradFilter, MaxPoolGrad, AveragePoolGrad). The window geometry is computed here, at compile
// time, by the interpreter's own code (Ops/ConvPoolWindow.h) and baked into a constant
// descriptor; the generated function splits the op's planes across the thread pool and each
// range calls a runtime routine (runtime/ConvPool.cpp) that runs the interpreter's loops over
// that descriptor, so f64 and the pooling ops match the interpreter bit for bit.
//
// f32 Conv, ConvGradData and ConvGradFilter take the GEMM form instead: im2col (col2im for
// ConvGradData) of one image and group through the op's scratch and adj_sgemm (BLAS, f32
// accumulation, threaded by BLAS itself), as MatMul does. Instances with an empty dimension or a size past BLAS's 32-bit range use the direct
// loops.
#include "CodeGen/Loops.h"
#include "Ops/ConvPoolWindow.h"

#include <climits>

namespace adjoint {

namespace {

using namespace convpool;

// The descriptor layout of runtime/adjoint_runtime.h.
struct Geometry {
  int64_t n = 0, c = 0, m = 0, group = 1, flag = 0;
  Taps taps;
  std::vector<int64_t> colMap;

  llvm::Value *descriptor(CodegenContext &cg) const {
    std::vector<int64_t> d = {n,          c,         m,           group, taps.inSize, taps.outSize,
                              taps.kSize, flag,      colMap.empty() ? 0 : 1};
    d.insert(d.end(), taps.index.begin(), taps.index.end());
    if (taps.padded.empty())
      d.resize(d.size() + taps.outSize, 0);
    else
      d.insert(d.end(), taps.padded.begin(), taps.padded.end());
    d.insert(d.end(), colMap.begin(), colMap.end());
    Tensor t(DType::I64, {(int64_t)d.size()});
    std::copy(d.begin(), d.end(), t.data<int64_t>());
    return cg.constantData(t, cg.uniqueName("convpool.desc"));
  }
};

std::string suffixed(const std::string &stem, DType t) {
  return stem + (t == DType::F32 ? "_f32" : "_f64");
}

using Pointers = std::function<std::vector<llvm::Value *>(OpEmitContext &)>;

// fn(desc, pointers..., begin, end) over [0, n), split across the pool.
void callOverPlanes(OpEmitContext &c, const std::string &fn, const Geometry &g, int64_t n,
                    double workPerPlane, const Pointers &pointers) {
  if (n <= 0)
    return;
  llvm::Value *desc = g.descriptor(c.cg);
  c.parallelFor(n, workPerPlane, [&](OpEmitContext &in, llvm::Value *begin, llvm::Value *end) {
    std::vector<llvm::Value *> args{desc};
    for (llvm::Value *p : pointers(in))
      args.push_back(p);
    while (args.size() < 6)
      args.push_back(llvm::ConstantPointerNull::get(in.cg.ptr()));
    args.push_back(begin);
    args.push_back(end);
    in.b.CreateCall(in.cg.runtime(fn), args);
  });
}

llvm::Value *orNull(OpEmitContext &c, llvm::Value *v) {
  return v ? v : llvm::ConstantPointerNull::get(c.cg.ptr());
}

bool fitsBlas(std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes)
    if (s <= 0 || s > INT_MAX)
      return false;
  return true;
}

// ---- Conv ----

Geometry convGeometry(const Op &op, const Shape &x, const Shape &wt) {
  Geometry g;
  g.n = x[0];
  g.c = x[1];
  g.m = wt[0];
  g.group = attrsOf(op).i("group");
  g.taps = buildTaps(convWindow(attrsOf(op), op.describe(), x, wt));
  return g;
}

// The f32 GEMM form's im2col buffer for one image and group, or 0 when the direct loops run.
int64_t convColumns(const Geometry &g) {
  const int64_t cg = g.c / g.group, mg = g.m / g.group;
  const int64_t rows = cg * g.taps.kSize;
  if (!fitsBlas({g.n, mg, rows, g.taps.outSize, rows * g.taps.outSize}))
    return 0;
  return rows * g.taps.outSize;
}

int64_t convScratch(const Op &op) {
  if (op.result()->dtype() != DType::F32)
    return 0;
  return convColumns(convGeometry(op, op.operand(0)->shape(), op.operand(1)->shape())) *
         (int64_t)sizeof(float);
}

void lowerConv(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = convGeometry(c.op, c.operandType(0).shape, c.operandType(1).shape);
  if (numElements(c.resultType().shape) == 0)
    return;
  llvm::Value *bias = c.op.numOperands() > 2 ? c.operands[2] : nullptr;
  if (t == DType::F32 && convColumns(g) > 0) {
    llvm::Value *desc = g.descriptor(c.cg);
    c.b.CreateCall(c.cg.runtime("adj_conv_gemm_f32"),
                   {desc, c.operands[0], c.operands[1], orNull(c, bias), c.results[0], c.scratch,
                    c.cg.i64c(0), c.cg.i64c(g.n)});
    return;
  }
  const int64_t cg = g.c / g.group;
  callOverPlanes(c, suffixed("adj_conv", t), g, g.n * g.m,
                 (double)(g.taps.outSize * cg * g.taps.kSize), [&](OpEmitContext &in) {
                   llvm::Value *b = in.op.numOperands() > 2 ? in.operands[2] : nullptr;
                   return std::vector<llvm::Value *>{in.operands[0], in.operands[1],
                                                     orNull(in, b), in.results[0]};
                 });
}

// ---- Pooling ----

Geometry poolGeometry(const Op &op, const Shape &x) {
  Geometry g;
  g.n = x[0];
  g.c = g.m = x[1];
  g.taps = buildTaps(poolWindow(attrsOf(op), op.describe(), x));
  return g;
}

void lowerMaxPool(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  const Shape &x = c.operandType(0).shape;
  Geometry g = poolGeometry(c.op, x);
  const bool indices = c.results.size() > 1 && c.results[1];
  if (indices && attrsOf(c.op).i("storage_order") == 1) {
    Shape in = spatialOf(x);
    for (int64_t i = 0; i < g.taps.inSize; ++i)
      g.colMap.push_back(columnMajorOffset(i, in));
  }
  if (g.taps.outSize == 0)
    return;
  callOverPlanes(c, suffixed("adj_maxpool", t), g, g.n * g.c,
                 (double)(g.taps.outSize * g.taps.kSize), [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{
                       in.operands[0], in.results[0],
                       indices ? in.results[1] : llvm::ConstantPointerNull::get(in.cg.ptr())};
                 });
}

void lowerAveragePool(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = poolGeometry(c.op, c.operandType(0).shape);
  g.flag = attrsOf(c.op).i("count_include_pad") != 0;
  if (g.taps.outSize == 0)
    return;
  callOverPlanes(c, suffixed("adj_avgpool", t), g, g.n * g.c,
                 (double)(g.taps.outSize * g.taps.kSize), [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.results[0]};
                 });
}

void lowerGlobalAveragePool(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  const Shape &x = c.operandType(0).shape;
  Geometry g;
  g.n = x[0];
  g.c = g.m = x[1];
  g.taps.inSize = numElements(spatialOf(x));
  g.taps.outSize = 1;
  g.taps.kSize = 0;
  callOverPlanes(c, suffixed("adj_gavgpool", t), g, g.n * g.c, (double)g.taps.inSize,
                 [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.results[0]};
                 });
}

// ---- Backward ops ----

int64_t convGradDataScratch(const Op &op) {
  if (op.result()->dtype() != DType::F32)
    return 0;
  return convColumns(convGeometry(op, attrsOf(op).ints("input_shape"), op.operand(1)->shape())) *
         (int64_t)sizeof(float);
}

void lowerConvGradData(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = convGeometry(c.op, attrsOf(c.op).ints("input_shape"), c.operandType(1).shape);
  if (numElements(c.resultType().shape) == 0)
    return;
  if (t == DType::F32 && convColumns(g) > 0) {
    llvm::Value *desc = g.descriptor(c.cg);
    llvm::Value *null = llvm::ConstantPointerNull::get(c.cg.ptr());
    c.b.CreateCall(c.cg.runtime("adj_conv_grad_data_gemm_f32"),
                   {desc, c.operands[0], c.operands[1], c.results[0], c.scratch, null,
                    c.cg.i64c(0), c.cg.i64c(g.n)});
    return;
  }
  const int64_t mg = g.m / g.group;
  callOverPlanes(c, suffixed("adj_conv_grad_data", t), g, g.n * g.c,
                 (double)(mg * g.taps.outSize * g.taps.kSize + g.taps.inSize),
                 [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.operands[1], in.results[0]};
                 });
}

Geometry gradFilterGeometry(const Op &op) {
  const Shape &x = op.operand(0)->shape(), &dy = op.operand(1)->shape();
  Geometry g = convGeometry(op, x, op.result()->shape());
  g.m = dy[1];
  return g;
}

int64_t convGradFilterScratch(const Op &op) {
  if (op.result()->dtype() != DType::F32)
    return 0;
  return convColumns(gradFilterGeometry(op)) * (int64_t)sizeof(float);
}

void lowerConvGradFilter(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = gradFilterGeometry(c.op);
  if (numElements(c.resultType().shape) == 0)
    return;
  if (t == DType::F32 && convColumns(g) > 0) {
    llvm::Value *desc = g.descriptor(c.cg);
    llvm::Value *null = llvm::ConstantPointerNull::get(c.cg.ptr());
    c.b.CreateCall(c.cg.runtime("adj_conv_grad_filter_gemm_f32"),
                   {desc, c.operands[0], c.operands[1], c.results[0], c.scratch, null,
                    c.cg.i64c(0), c.cg.i64c(g.group)});
    return;
  }
  const int64_t cg = g.c / g.group;
  callOverPlanes(c, suffixed("adj_conv_grad_filter", t), g, g.m * cg,
                 (double)(g.n * g.taps.outSize * g.taps.kSize), [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.operands[1], in.results[0]};
                 });
}

void lowerMaxPoolGrad(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = poolGeometry(c.op, c.operandType(1).shape);
  callOverPlanes(c, suffixed("adj_maxpool_grad", t), g, g.n * g.c,
                 (double)(g.taps.outSize * g.taps.kSize + g.taps.inSize), [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.operands[1], in.results[0]};
                 });
}

void lowerAveragePoolGrad(OpEmitContext &c) {
  DType t = c.resultType().dtype;
  Geometry g = poolGeometry(c.op, attrsOf(c.op).ints("input_shape"));
  g.flag = attrsOf(c.op).i("count_include_pad") != 0;
  callOverPlanes(c, suffixed("adj_avgpool_grad", t), g, g.n * g.c,
                 (double)(2 * g.taps.outSize * g.taps.kSize + g.taps.inSize),
                 [&](OpEmitContext &in) {
                   return std::vector<llvm::Value *>{in.operands[0], in.results[0]};
                 });
}

std::string floatOnly(const Op &op) {
  DType t = op.result()->dtype();
  return t == DType::F32 || t == DType::F64 ? "" : "only f32 and f64 are lowered";
}

OpLowering emitLowering(EmitFn fn, std::function<int64_t(const Op &)> scratch = nullptr) {
  OpLowering l;
  l.emit = std::move(fn);
  l.unsupported = floatOnly;
  if (scratch)
    l.scratchBytes = std::move(scratch);
  return l;
}

} // namespace

void registerConvPoolLowerings(LoweringRegistry &r) {
  r.add("", "Conv", emitLowering(lowerConv, convScratch));
  r.add("", "MaxPool", emitLowering(lowerMaxPool));
  r.add("", "AveragePool", emitLowering(lowerAveragePool));
  r.add("", "GlobalAveragePool", emitLowering(lowerGlobalAveragePool));
  r.add("adjoint", "ConvGradData", emitLowering(lowerConvGradData, convGradDataScratch));
  r.add("adjoint", "ConvGradFilter", emitLowering(lowerConvGradFilter, convGradFilterScratch));
  r.add("adjoint", "MaxPoolGrad", emitLowering(lowerMaxPoolGrad));
  r.add("adjoint", "AveragePoolGrad", emitLowering(lowerAveragePoolGrad));
}

} // namespace adjoint
