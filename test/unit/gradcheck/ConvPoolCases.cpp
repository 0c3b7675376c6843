// Gradient checks of the ConvPool family: every attribute of Conv (w.r.t. X, W and B), MaxPool,
// AveragePool and GlobalAveragePool, at 1, 2 and 3 spatial dims. Random inputs have distinct
// values, so no MaxPool window holds a tie (ties are checked in ConvPoolBackwardTest).
#include "GradCheck.h"

#include <optional>

namespace adjoint::gradcheck {

namespace {

using Ints = std::vector<int64_t>;

Case conv(const char *variant, Shape x, Shape w, std::optional<Shape> bias, AttrMap attrs) {
  return {"Conv", variant, [x, w, bias, attrs](CaseBuilder &b) {
            std::vector<Value *> ops{b.param(x), b.param(w)};
            if (bias)
              ops.push_back(b.param(*bias));
            return b.op("Conv", ops, attrs);
          }};
}

Case pool(const char *op, const char *variant, Shape x, AttrMap attrs) {
  std::string type = op;
  return {op, variant,
          [type, x, attrs](CaseBuilder &b) { return b.op(type, {b.param(x)}, attrs); }};
}

Case maxPool(const char *variant, Shape x, AttrMap attrs) {
  return pool("MaxPool", variant, std::move(x), std::move(attrs));
}
Case avgPool(const char *variant, Shape x, AttrMap attrs) {
  return pool("AveragePool", variant, std::move(x), std::move(attrs));
}

} // namespace

GRAD_CASES(ConvPool) {
  return {
      conv("2-D with bias", {1, 2, 3, 3}, {2, 2, 2, 2}, Shape{2}, {}),
      conv("asymmetric pads, strides (last row unread)", {1, 1, 5, 4}, {1, 1, 2, 2}, std::nullopt,
           {{"pads", Ints{1, 0, 0, 1}}, {"strides", Ints{2, 2}}}),
      conv("group 2, batch 2", {2, 4, 3, 3}, {2, 2, 2, 2}, Shape{2},
           {{"group", Attribute(2)}, {"kernel_shape", Ints{2, 2}}}),
      conv("depthwise with channel multiplier 2", {1, 2, 3, 3}, {4, 1, 2, 2}, Shape{4},
           {{"group", Attribute(2)}, {"pads", Ints{1, 1, 0, 0}}}),
      conv("dilations, strides", {1, 1, 5, 5}, {1, 1, 2, 2}, std::nullopt,
           {{"dilations", Ints{2, 2}}, {"strides", Ints{2, 1}}}),
      conv("auto_pad SAME_UPPER, stride 2", {1, 1, 4, 5}, {1, 1, 3, 2}, std::nullopt,
           {{"auto_pad", "SAME_UPPER"}, {"strides", Ints{2, 2}}}),
      conv("auto_pad SAME_LOWER, stride 2", {1, 1, 4, 5}, {1, 1, 3, 2}, std::nullopt,
           {{"auto_pad", "SAME_LOWER"}, {"strides", Ints{2, 2}}}),
      conv("auto_pad SAME_UPPER, dilation 2", {1, 1, 5, 4}, {1, 1, 2, 2}, std::nullopt,
           {{"auto_pad", "SAME_UPPER"}, {"dilations", Ints{2, 1}}}),
      conv("auto_pad VALID", {1, 1, 4, 4}, {2, 1, 3, 3}, Shape{2}, {{"auto_pad", "VALID"}}),
      conv("1-D, batch 2, strides, pads", {2, 2, 5}, {3, 2, 3}, Shape{3},
           {{"strides", Ints{2}}, {"pads", Ints{1, 0}}}),
      conv("1-D dilation 2, wide pads", {1, 1, 5}, {2, 1, 3}, std::nullopt,
           {{"dilations", Ints{2}}, {"pads", Ints{2, 2}}}),
      conv("3-D, pads, strides", {1, 1, 3, 3, 3}, {2, 1, 2, 2, 2}, Shape{2},
           {{"pads", Ints{1, 0, 0, 0, 1, 0}}, {"strides", Ints{2, 1, 1}}}),
      {"Conv", "constant X (filter gradient only)",
       [](CaseBuilder &b) {
         return b.op("Conv", {b.constant({1, 2, 4, 4}), b.param({3, 2, 2, 2})},
                     {{"strides", Ints{2, 2}}});
       }},
      {"Conv", "constant W and B (data gradient only)",
       [](CaseBuilder &b) {
         return b.op("Conv", {b.param({1, 2, 4, 4}), b.constant({3, 2, 2, 2}), b.constant({3})},
                     {{"pads", Ints{0, 1, 1, 0}}});
       }},

      maxPool("2x2 stride 2", {1, 2, 4, 4},
              {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}),
      maxPool("overlapping 3x3 windows, pads", {1, 1, 4, 4},
              {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}),
      maxPool("ceil_mode, pads", {1, 1, 6, 5},
              {{"kernel_shape", Ints{2, 2}},
               {"strides", Ints{2, 2}},
               {"pads", Ints{1, 0, 0, 0}},
               {"ceil_mode", Attribute(1)}}),
      maxPool("dilations", {1, 1, 5, 5}, {{"kernel_shape", Ints{2, 2}}, {"dilations", Ints{2, 2}}}),
      maxPool("auto_pad SAME_UPPER, stride 2", {1, 1, 5, 5},
              {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"auto_pad", "SAME_UPPER"}}),
      maxPool("auto_pad SAME_LOWER", {1, 1, 4, 4},
              {{"kernel_shape", Ints{2, 2}}, {"auto_pad", "SAME_LOWER"}}),
      maxPool("1-D, strides, pads", {2, 2, 7},
              {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
      maxPool("3-D", {1, 1, 3, 4, 4},
              {{"kernel_shape", Ints{2, 2, 2}}, {"strides", Ints{1, 2, 2}}}),
      {"MaxPool", "Indices requested, storage_order 1",
       [](CaseBuilder &b) {
         return b.ops("MaxPool", {b.param({1, 2, 3, 4})},
                      {{"kernel_shape", Ints{2, 2}}, {"storage_order", Attribute(1)}}, 2)[0];
       }},

      avgPool("2x2 stride 2", {1, 2, 4, 4},
              {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}),
      avgPool("pads, count_include_pad 0", {1, 1, 4, 4},
              {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}}}),
      avgPool("pads, count_include_pad 1", {1, 1, 4, 4},
              {{"kernel_shape", Ints{3, 3}},
               {"pads", Ints{1, 1, 1, 1}},
               {"count_include_pad", Attribute(1)}}),
      avgPool("ceil_mode, pads, count_include_pad 0", {1, 1, 6, 5},
              {{"kernel_shape", Ints{2, 2}},
               {"strides", Ints{2, 2}},
               {"pads", Ints{1, 0, 0, 0}},
               {"ceil_mode", Attribute(1)}}),
      avgPool("ceil_mode, pads, count_include_pad 1 (overhang not counted)", {1, 1, 6, 5},
              {{"kernel_shape", Ints{2, 2}},
               {"strides", Ints{2, 2}},
               {"pads", Ints{1, 0, 0, 1}},
               {"ceil_mode", Attribute(1)},
               {"count_include_pad", Attribute(1)}}),
      avgPool("auto_pad SAME_LOWER, stride 2, count_include_pad 1", {1, 1, 5, 5},
              {{"kernel_shape", Ints{2, 2}},
               {"strides", Ints{2, 2}},
               {"auto_pad", "SAME_LOWER"},
               {"count_include_pad", Attribute(1)}}),
      avgPool("auto_pad SAME_UPPER", {1, 1, 4, 5},
              {{"kernel_shape", Ints{3, 2}}, {"auto_pad", "SAME_UPPER"}}),
      avgPool("1-D, strides, pads, count_include_pad 1", {2, 2, 6},
              {{"kernel_shape", Ints{3}},
               {"strides", Ints{2}},
               {"pads", Ints{1, 1}},
               {"count_include_pad", Attribute(1)}}),
      avgPool("3-D, pads", {1, 1, 3, 4, 4},
              {{"kernel_shape", Ints{2, 2, 2}},
               {"strides", Ints{1, 2, 2}},
               {"pads", Ints{1, 0, 0, 0, 1, 1}}}),

      pool("GlobalAveragePool", "2-D", {2, 3, 2, 2}, {}),
      pool("GlobalAveragePool", "1-D", {1, 2, 5}, {}),
      pool("GlobalAveragePool", "3-D", {1, 1, 2, 2, 3}, {}),
  };
}

} // namespace adjoint::gradcheck
