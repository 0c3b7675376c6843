// Gradient rules of the ConvPool family (Ops/ConvPool.cpp). Conv and the windowed pools use the
// dedicated backward ops of Ops/ConvPoolBackward.cpp, which take the forward's attributes;
// GlobalAveragePool's gradient is a plain broadcast.
#include "Ops/GradContext.h"

namespace adjoint {

namespace {

// The forward op's attributes (as given; the backward schemas share their defaults) without
// those the backward op has no use for.
AttrMap forwardAttrs(const GradContext &g, std::initializer_list<const char *> drop = {}) {
  AttrMap a = g.op.attrs();
  for (const char *n : drop)
    a.erase(n);
  return a;
}

// The axes of an [N, C, D1, ...] tensor other than the channel axis.
std::vector<int64_t> allButChannels(int64_t rank) {
  std::vector<int64_t> axes{0};
  for (int64_t i = 2; i < rank; ++i)
    axes.push_back(i);
  return axes;
}

} // namespace

void registerConvPoolGrads(OpRegistry &r) {
  r.setGrad("", "Conv", [](GradContext &g) -> std::vector<Value *> {
    Value *dy = g.dy();
    std::vector<Value *> grads(g.numOperands(), nullptr);
    if (g.needs(0)) {
      AttrMap a = forwardAttrs(g);
      a["input_shape"] = Attribute(g.x(0)->shape());
      grads[0] = g.build("ConvGradData", {dy, g.x(1)}, std::move(a), "adjoint");
    }
    if (g.needs(1)) {
      const Shape &w = g.x(1)->shape();
      AttrMap a = forwardAttrs(g);
      a["kernel_shape"] = Attribute(Shape(w.begin() + 2, w.end()));
      grads[1] = g.build("ConvGradFilter", {g.x(0), dy}, std::move(a), "adjoint");
    }
    if (g.needs(2))
      grads[2] = g.build("ReduceSum", {dy, g.ints(allButChannels(dy->type().rank()))},
                         {{"keepdims", Attribute(0)}});
    return grads;
  });

  // The gradient goes to the element MaxPool's Indices name: the first maximum of each window
  // (PyTorch picks the same one). Indices (result 1) is an integer and carries none.
  r.setGrad("", "MaxPool", [](GradContext &g) -> std::vector<Value *> {
    if (!g.dy(0))
      return {nullptr};
    return {
        g.build("MaxPoolGrad", {g.dy(0), g.x(0)}, forwardAttrs(g, {"storage_order"}), "adjoint")};
  });

  r.setGrad("", "AveragePool", [](GradContext &g) -> std::vector<Value *> {
    AttrMap a = forwardAttrs(g);
    a["input_shape"] = Attribute(g.x(0)->shape());
    return {g.build("AveragePoolGrad", {g.dy()}, std::move(a), "adjoint")};
  });

  r.setGrad("", "GlobalAveragePool", [](GradContext &g) -> std::vector<Value *> {
    const Shape &x = g.x(0)->shape();
    int64_t size = numElements(Shape(x.begin() + 2, x.end()));
    // Divide before broadcasting: the small tensor is the cheap one to scale.
    Value *scaled = g.div(g.dy(), g.scalar((double)size, g.x(0)->dtype()));
    return {g.build("Expand", {scaled, g.ints(x)})};
  });
}

} // namespace adjoint
