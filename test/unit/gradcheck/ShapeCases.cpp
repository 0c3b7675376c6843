// Gradient checks of the Shape family (ShapeOps.cpp, DataMovement.cpp): every attribute and
// operand variant, negative axes and steps, clamped bounds, repeated and negative gather
// indices, int32 and int64 index operands.
#include "GradCheck.h"

#include <limits>

namespace adjoint::gradcheck {

namespace {
Value *ints32(CaseBuilder &b, const std::vector<int32_t> &v) {
  return b.constant(Tensor::fromVector<int32_t>({(int64_t)v.size()}, v));
}

// Slice of a [3,4,5] parameter; empty axes/steps leave those operands absent.
Case slice(const char *variant, std::vector<int64_t> starts, std::vector<int64_t> ends,
           std::vector<int64_t> axes = {}, std::vector<int64_t> steps = {}, Shape shape = {3, 4, 5}) {
  return {"Slice", variant, [=](CaseBuilder &b) {
            std::vector<Value *> ops{b.param(shape), b.ints(starts), b.ints(ends)};
            if (!axes.empty() || !steps.empty())
              ops.push_back(axes.empty() ? nullptr : b.ints(axes));
            if (!steps.empty())
              ops.push_back(b.ints(steps));
            return b.op("Slice", ops);
          }};
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
} // namespace

GRAD_CASES(Shape) {
  return {
      // ---- reshaping ops ----
      {"Reshape", "explicit shape",
       [](CaseBuilder &b) { return b.op("Reshape", {b.param({2, 3}), b.ints({3, 2})}); }},
      {"Reshape", "0 copies a dim, -1 infers one",
       [](CaseBuilder &b) { return b.op("Reshape", {b.param({2, 3, 2}), b.ints({0, -1})}); }},
      {"Reshape", "allowzero=1",
       [](CaseBuilder &b) {
         return b.op("Reshape", {b.param({2, 3}), b.ints({6, 1})}, {{"allowzero", 1}});
       }},
      {"Reshape", "to a scalar",
       [](CaseBuilder &b) { return b.op("Reshape", {b.param({1, 1}), b.ints({})}); }},
      {"Flatten", "default axis 1",
       [](CaseBuilder &b) { return b.op("Flatten", {b.param({2, 3, 2})}); }},
      {"Flatten", "axis 0", [](CaseBuilder &b) {
         return b.op("Flatten", {b.param({2, 3, 2})}, {{"axis", 0}});
       }},
      {"Flatten", "axis -1", [](CaseBuilder &b) {
         return b.op("Flatten", {b.param({2, 3, 2})}, {{"axis", -1}});
       }},
      {"Flatten", "axis = rank", [](CaseBuilder &b) {
         return b.op("Flatten", {b.param({2, 3, 2})}, {{"axis", 3}});
       }},
      {"Squeeze", "all unit dims (no axes)",
       [](CaseBuilder &b) { return b.op("Squeeze", {b.param({2, 1, 3, 1})}); }},
      {"Squeeze", "negative axes",
       [](CaseBuilder &b) { return b.op("Squeeze", {b.param({1, 2, 1, 3}), b.ints({-2})}); }},
      {"Squeeze", "two axes",
       [](CaseBuilder &b) { return b.op("Squeeze", {b.param({1, 2, 1, 3}), b.ints({2, 0})}); }},
      {"Unsqueeze", "leading axis",
       [](CaseBuilder &b) { return b.op("Unsqueeze", {b.param({2, 3}), b.ints({0})}); }},
      {"Unsqueeze", "negative axis appends",
       [](CaseBuilder &b) { return b.op("Unsqueeze", {b.param({2, 3}), b.ints({-1})}); }},
      {"Unsqueeze", "unordered axes of a scalar",
       [](CaseBuilder &b) { return b.op("Unsqueeze", {b.param({}), b.ints({1, 0})}); }},
      {"Identity", "plain", [](CaseBuilder &b) { return b.op("Identity", {b.param({2, 3})}); }},

      // ---- Expand: summed back over broadcast dims ----
      {"Expand", "unit dims and new leading dims",
       [](CaseBuilder &b) { return b.op("Expand", {b.param({3, 1}), b.ints({2, 3, 4})}); }},
      {"Expand", "scalar", [](CaseBuilder &b) { return b.op("Expand", {b.param({}), b.ints({2, 3})}); }},
      {"Expand", "bidirectional: shape of lower rank with 1s",
       [](CaseBuilder &b) { return b.op("Expand", {b.param({2, 1, 3}), b.ints({4, 1})}); }},
      {"Expand", "same shape (no-op)",
       [](CaseBuilder &b) { return b.op("Expand", {b.param({2, 3}), b.ints({2, 3})}); }},

      // ---- Transpose: the inverse permutation ----
      {"Transpose", "default reverses axes",
       [](CaseBuilder &b) { return b.op("Transpose", {b.param({2, 3, 4})}); }},
      {"Transpose", "perm that is not its own inverse",
       [](CaseBuilder &b) {
         return b.op("Transpose", {b.param({2, 3, 4})}, {{"perm", std::vector<int64_t>{1, 2, 0}}});
       }},
      {"Transpose", "rank 4",
       [](CaseBuilder &b) {
         return b.op("Transpose", {b.param({2, 1, 3, 2})},
                     {{"perm", std::vector<int64_t>{3, 0, 2, 1}}});
       }},

      // ---- Concat: one slice of dy per operand ----
      {"Concat", "axis 0",
       [](CaseBuilder &b) { return b.op("Concat", {b.param({1, 3}), b.param({2, 3})}, {{"axis", 0}}); }},
      {"Concat", "axis -1, three operands",
       [](CaseBuilder &b) {
         return b.op("Concat", {b.param({2, 1}), b.param({2, 3}), b.param({2, 2})}, {{"axis", -1}});
       }},
      {"Concat", "same operand twice and a constant",
       [](CaseBuilder &b) {
         Value *x = b.param({2, 2});
         return b.op("Concat", {x, b.constant({2, 3}), x}, {{"axis", 1}});
       }},
      {"Concat", "single operand",
       [](CaseBuilder &b) { return b.op("Concat", {b.param({2, 3})}, {{"axis", 1}}); }},

      // ---- Slice: dy scattered into zeros ----
      slice("starts/ends only", {1, 0}, {3, 3}),
      slice("axes and steps", {0, 1}, {3, 5}, {0, 2}, {2, 2}),
      slice("negative axes, steps absent", {1}, {-1}, {-2}),
      slice("negative starts and ends", {-3, -4}, {-1, -1}, {1, 2}),
      slice("negative step reverses", {-1}, {kMin}, {2}, {-1}),
      slice("negative step -2 with clamped start", {100, 3}, {-100, 0}, {0, 1}, {-2, -2}),
      slice("out-of-range ends are clamped", {0}, {kMax}, {1}, {3}),
      slice("step longer than the dim", {1}, {5}, {0}, {7}),
      slice("empty slice", {2}, {1}, {0}),
      {"Slice", "int32 operands",
       [](CaseBuilder &b) {
         return b.op("Slice", {b.param({3, 4}), ints32(b, {2, -1}), ints32(b, {0, -5}),
                               ints32(b, {0, -1}), ints32(b, {-1, -2})});
       }},
      {"Slice", "int32 operands, axes only",
       [](CaseBuilder &b) {
         return b.op("Slice", {b.param({3, 4}), ints32(b, {1}), ints32(b, {3}), ints32(b, {1})});
       }},

      // ---- Split: Concat of the results' gradients ----
      {"Split", "equal parts on axis 0",
       [](CaseBuilder &b) {
         auto r = b.ops("Split", {b.param({4, 3})}, {}, 2);
         return b.op("Mul", {r[0], r[1]});
       }},
      {"Split", "three parts on axis -1, one result unused",
       [](CaseBuilder &b) {
         auto r = b.ops("Split", {b.param({2, 6})}, {{"axis", -1}}, 3);
         (void)r[1];
         return b.op("Concat", {r[0], r[2]}, {{"axis", 1}});
       }},
      {"Split", "explicit split with a zero-size part",
       [](CaseBuilder &b) {
         auto r = b.ops("Split", {b.param({2, 5}), b.ints({2, 0, 3})}, {{"axis", 1}}, 3);
         return b.op("Concat", {r[2], r[1], r[0]}, {{"axis", 1}});
       }},
      {"Split", "single result",
       [](CaseBuilder &b) { return b.ops("Split", {b.param({2, 3})}, {{"axis", 1}}, 1)[0]; }},

      // ---- Gather: scatter-add at the indices ----
      {"Gather", "embedding: [vocab, dim] table, repeated token ids",
       [](CaseBuilder &b) {
         Value *table = b.param({5, 3});
         Value *ids = b.constant(Tensor::fromVector<int64_t>({2, 3}, {1, 3, 1, 4, 1, 0}));
         return b.op("Gather", {table, ids});
       }},
      {"Gather", "int32 repeated ids",
       [](CaseBuilder &b) {
         Value *ids = b.constant(Tensor::fromVector<int32_t>({4}, {2, 2, 0, 2}));
         return b.op("Gather", {b.param({4, 2}), ids});
       }},
      {"Gather", "negative indices alias positive ones",
       [](CaseBuilder &b) {
         Value *ids = b.constant(Tensor::fromVector<int64_t>({3}, {-1, 3, -4}));
         return b.op("Gather", {b.param({4, 2}), ids});
       }},
      {"Gather", "axis 1 with 2-D indices",
       [](CaseBuilder &b) {
         Value *ids = b.constant(Tensor::fromVector<int64_t>({2, 2}, {0, 2, 2, -1}));
         return b.op("Gather", {b.param({2, 4, 2}), ids}, {{"axis", 1}});
       }},
      {"Gather", "axis -1, int32",
       [](CaseBuilder &b) {
         Value *ids = b.constant(Tensor::fromVector<int32_t>({3}, {1, 1, -3}));
         return b.op("Gather", {b.param({2, 3}), ids}, {{"axis", -1}});
       }},
      {"Gather", "scalar index drops the axis",
       [](CaseBuilder &b) {
         return b.op("Gather", {b.param({3, 4}), b.scalarInt(-2)}, {{"axis", 0}});
       }},
  };
}

} // namespace adjoint::gradcheck
