// Conv, MaxPool, AveragePool, GlobalAveragePool and their backward ops (adjoint.ConvGradData,
// ConvGradFilter, MaxPoolGrad, AveragePoolGrad). The window geometry is computed here, at compile
// time, by the interpreter's own code (Ops/ConvPoolWindow.h) and baked into a constant
// descriptor; the generated function splits the op's planes across the thread pool and each
// range calls a runtime routine (runtime/ConvPool.cpp) that runs the interpreter's loops over
// that descriptor, so f64 and the pooling ops match the interpreter bit for bit.
//
// f32 Conv, ConvGradData and ConvGradFilter take the GEMM form instead: im2col (col2im for
// ConvGradData) of a few images of one group side by side through the op's scratch and one
// adj_sgemm for them (BLAS, f32 accumulation, threaded by BLAS itself), as MatMul does. Late
// ResNet layers have 4x4 or 8x8 outputs: one image per GEMM gave BLAS 16 or 64 columns and ran
// at a quarter of its speed, so images are batched until a GEMM has about kGemmColumns columns
// (the im2col buffer capped at kGemmScratchBytes). Instances with an empty dimension or a size
// past BLAS's 32-bit range use the direct loops.
#include "CodeGen/Loops.h"
#include "Ops/ConvPoolWindow.h"

#include <algorithm>
#include <climits>

namespace adjoint {

namespace {

using namespace convpool;

constexpr int64_t kGemmColumns = 2048;
constexpr int64_t kGemmScratchBytes = 8 << 20;

// The descriptor layout of runtime/adjoint_runtime.h.
struct Geometry {
  int64_t n = 0, c = 0, m = 0, group = 1, flag = 0;
  Taps taps;
  std::vector<int64_t> colMap;
  int64_t gemmImages = 0; // the GEMM forms' images per GEMM; 0: no GEMM extension

  llvm::Value *descriptor(CodegenContext &cg) const {
    std::vector<int64_t> d = {n,          c,         m,           group, taps.inSize, taps.outSize,
                              taps.kSize, flag,      colMap.empty() ? 0 : 1};
    d.insert(d.end(), taps.index.begin(), taps.index.end());
    if (taps.padded.empty())
      d.resize(d.size() + taps.outSize, 0);
    else
      d.insert(d.end(), taps.padded.begin(), taps.padded.end());
    d.insert(d.end(), colMap.begin(), colMap.end());
    if (gemmImages > 0) {
      d.push_back(gemmImages);
      appendTapRuns(d);
    }
    Tensor t(DType::I64, {(int64_t)d.size()});
    std::copy(d.begin(), d.end(), t.data<int64_t>());
    return cg.constantData(t, cg.uniqueName("convpool.desc"));
  }

  // The GEMM forms copy one kernel offset j at a time, over all outputs: the taps of j as runs
  // (count, then per run: first output, first input offset or -1 for padding, length, input
  // step), so that im2col is a memcpy per output row instead of a lookup per element.
  void appendTapRuns(std::vector<int64_t> &d) const {
    auto tap = [&](int64_t o, int64_t j) { return taps.index[(size_t)(o * taps.kSize + j)]; };
    for (int64_t j = 0; j < taps.kSize; ++j) {
      size_t countAt = d.size();
      d.push_back(0);
      for (int64_t o = 0; o < taps.outSize;) {
        int64_t first = tap(o, j), len = 1, step = 0;
        if (o + 1 < taps.outSize) {
          int64_t next = tap(o + 1, j);
          if (first < 0 && next < 0)
            while (o + len < taps.outSize && tap(o + len, j) < 0)
              ++len;
          else if (first >= 0 && next >= 0)
            for (step = next - first;
                 o + len < taps.outSize && tap(o + len, j) == first + len * step;)
              ++len;
        }
        d.insert(d.end(), {o, first < 0 ? -1 : first, len, step});
        ++d[countAt];
        o += len;
      }
    }
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

// Images per GEMM of the f32 GEMM form (see the top of the file), or 0 when the direct loops run.
int64_t gemmImages(const Geometry &g) {
  const int64_t cg = g.c / g.group, mg = g.m / g.group;
  const int64_t rows = cg * g.taps.kSize, out = g.taps.outSize;
  if (!fitsBlas({g.n, mg, rows, out, rows * out}))
    return 0;
  int64_t nb = std::min<int64_t>(g.n, std::max<int64_t>(1, kGemmColumns / out));
  while (nb > 1 && (rows + mg) * out * nb * (int64_t)sizeof(float) > kGemmScratchBytes)
    --nb;
  return fitsBlas({rows * out * nb, mg * out * nb}) ? nb : 1;
}

// The GEMM form's scratch in floats: the im2col columns of gemmImages images, then a staging
// matrix [mg, images * out] for the output (or dY) of those images.
int64_t convColumns(const Geometry &g) {
  const int64_t nb = gemmImages(g);
  return nb * (g.c / g.group * g.taps.kSize + g.m / g.group) * g.taps.outSize;
}

Geometry withGemm(Geometry g) {
  g.gemmImages = gemmImages(g);
  return g;
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
    llvm::Value *desc = withGemm(g).descriptor(c.cg);
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
    llvm::Value *desc = withGemm(g).descriptor(c.cg);
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
    llvm::Value *desc = withGemm(g).descriptor(c.cg);
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
