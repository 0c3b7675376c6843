// Selection, comparison and conversion ops (ONNX opset 17): Where, Equal, Less, Greater, Not,
// Cast. Comparisons follow IEEE (NaN compares unequal and unordered); Cast converts as numpy's
// astype does (see convertElement in Ops/ElementwiseKernel.h).
#include "Ops/ElementwiseKernel.h"

namespace adjoint {
namespace {

// ONNX TensorProto.DataType codes of the element types the IR carries.
std::optional<DType> dtypeFromOnnxCode(int64_t code) {
  switch (code) {
  case 1: return DType::F32;
  case 11: return DType::F64;
  case 7: return DType::I64;
  case 6: return DType::I32;
  case 9: return DType::Bool;
  default: return std::nullopt;
  }
}

// z = cmp(a, b) -> bool, over operands of one type, numpy-broadcast.
template <typename Cmp> void addCompare(OpRegistry &r, const char *name, TypeSet types, Cmp cmp) {
  OpSchema s;
  s.name = name;
  s.minInputs = s.maxInputs = 2;
  s.infer = [types](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, types, "A");
    requireSameDType(ctx, 0, 1);
    return {{DType::Bool, inferBroadcast(ctx, {0, 1})}};
  };
  s.kernel = [cmp](KernelContext &ctx) {
    dispatchDType(ctx.in(0).dtype(), [&](auto z) {
      using T = decltype(z);
      mapBinary<T, T, bool>(ctx.in(0), ctx.in(1), ctx.out(), [&](T a, T b) { return cmp(a, b); });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

void addWhere(OpRegistry &r) {
  OpSchema s;
  s.name = "Where";
  s.minInputs = s.maxInputs = 3;
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, TypeSet::Bool, "condition");
    requireSameDType(ctx, 1, 2);
    return {{ctx.dtype(1), inferBroadcast(ctx, {0, 1, 2})}};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchDType(ctx.in(1).dtype(), [&](auto z) {
      using T = decltype(z);
      mapTernary<bool, T, T, T>(ctx.in(0), ctx.in(1), ctx.in(2), ctx.out(),
                                [](bool c, T x, T y) { return c ? x : y; });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

void addNot(OpRegistry &r) {
  OpSchema s;
  s.name = "Not";
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    requireTypeSet(ctx, 0, TypeSet::Bool, "X");
    return {ctx.type(0)};
  };
  s.kernel = [](KernelContext &ctx) {
    mapUnary<bool, bool>(ctx.in(0), ctx.out(), [](bool x) { return !x; });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

void addCast(OpRegistry &r) {
  OpSchema s;
  s.name = "Cast";
  s.attrs = {AttrSpec{"to", AttrKind::Int, std::nullopt}};
  s.infer = [](InferContext &ctx) -> std::vector<TensorType> {
    int64_t code = ctx.i("to");
    std::optional<DType> to = dtypeFromOnnxCode(code);
    ctx.require(to.has_value(), "unsupported target type 'to' = ", code,
                " (supported ONNX codes: 1 float, 11 double, 7 int64, 6 int32, 9 bool)");
    return {{*to, ctx.shape(0)}};
  };
  s.kernel = [](KernelContext &ctx) {
    dispatchDType(ctx.in(0).dtype(), [&](auto zi) {
      using I = decltype(zi);
      dispatchDType(ctx.out().dtype(), [&](auto zo) {
        using O = decltype(zo);
        mapUnary<I, O>(ctx.in(0), ctx.out(), convertElement<O, I>);
      });
    });
  };
  s.elementwise = true;
  r.add(std::move(s));
}

} // namespace

void registerLogicOps(OpRegistry &r) {
  addWhere(r);
  addCompare(r, "Equal", TypeSet::NumericOrBool, [](auto a, auto b) { return a == b; });
  addCompare(r, "Less", TypeSet::Numeric, [](auto a, auto b) { return a < b; });
  addCompare(r, "Greater", TypeSet::Numeric, [](auto a, auto b) { return a > b; });
  addNot(r);
  addCast(r);
}

} // namespace adjoint
