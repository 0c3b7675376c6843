#include "Ops/SliceWindow.h"

namespace adjoint {

namespace {
const char *kIndexNames[] = {"starts", "ends", "axes", "steps"};
} // namespace

SliceWindow inferSliceWindow(const InferContext &ctx, const Shape &in, size_t first) {
  std::vector<int64_t> vals[4];
  for (size_t k = 0; k < 4; ++k) {
    size_t i = first + k;
    if (!ctx.hasOperand(i))
      continue;
    const char *what = kIndexNames[k];
    DType t = ctx.dtype(i);
    ctx.require(t == DType::I64 || t == DType::I32, what, " must be int32 or int64, got ",
                dtypeName(t));
    ctx.require(t == ctx.dtype(first), what, " has dtype ", dtypeName(t), " but starts has ",
                dtypeName(ctx.dtype(first)));
    ctx.require(ctx.type(i).rank() == 1, what, " must be 1-D, got shape ", shapeStr(ctx.shape(i)));
    const Tensor &c = ctx.requireConstant(i, what);
    ctx.require(!c.empty() || c.numel() == 0, what, " constant has no data");
    vals[k] = c.toInts();
  }
  return sliceWindow(ctx, in, vals[0], vals[1], ctx.hasOperand(first + 2) ? &vals[2] : nullptr,
                     ctx.hasOperand(first + 3) ? &vals[3] : nullptr);
}

SliceWindow kernelSliceWindow(const KernelContext &ctx, const Shape &in, size_t first) {
  std::vector<int64_t> vals[4];
  for (size_t k = 0; k < 4; ++k)
    if (ctx.hasInput(first + k))
      vals[k] = ctx.in(first + k).toInts();
  return sliceWindow(ctx, in, vals[0], vals[1], ctx.hasInput(first + 2) ? &vals[2] : nullptr,
                     ctx.hasInput(first + 3) ? &vals[3] : nullptr);
}

void sliceStrides(const SliceWindow &w, const Shape &in, int64_t &base,
                  std::vector<int64_t> &strides) {
  strides = stridesOf(in);
  base = 0;
  for (size_t d = 0; d < strides.size(); ++d) {
    base += w.start[d] * strides[d];
    strides[d] *= w.step[d];
  }
}

} // namespace adjoint
