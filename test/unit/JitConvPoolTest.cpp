// The JIT against the interpreter for Conv, MaxPool (with Indices), AveragePool,
// GlobalAveragePool and the backward ops ConvGradData, ConvGradFilter, MaxPoolGrad and
// AveragePoolGrad (CodeGen/LowerConvPool.cpp), over every window attribute (pads, strides,
// dilations, auto_pad, ceil_mode, count_include_pad, storage_order, group, bias), 1-3 spatial
// axes, f32 and f64, on one and two threads.
//
// f64 and the pooling ops run the interpreter's loops and must match with special values in the
// data. f32 Conv and ConvGradFilter use im2col + BLAS (f32 sums), so their operands are
// non-negative: the sums do not cancel and stay within 1e-5 of the interpreter's double sums.
#include "JitTestSupport.h"

#include "adjoint_runtime.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

using Ints = std::vector<int64_t>;

struct Case {
  std::string name;
  Shape x, w; // w: Conv's weight (empty for pooling)
  AttrMap attrs;
};

// The result shape of `type` on these operand types, by the op's own inference.
Shape resultShape(const std::string &type, const std::vector<TensorType> &types, AttrMap attrs) {
  Module m;
  Function *f = m.addFunction("s");
  std::vector<Value *> ops;
  for (size_t i = 0; i < types.size(); ++i)
    ops.push_back(f->addInput(std::string("a").append(std::to_string(i)), types[i]));
  return buildOp(*f, type, ops, std::move(attrs))->result()->shape();
}

// Builds @f = type(operands) with `results` results, all outputs, and checks the JIT on 1 and 2
// threads. `positive` draws operands from [0, 1) without special values.
void checkJit(const std::string &type, const std::string &domain, const std::vector<TensorType> &types,
           AttrMap attrs, size_t results, bool positive, const std::string &what,
           std::mt19937 &rng) {
  Module m;
  Function *f = m.addFunction("f");
  std::vector<Value *> operands;
  std::map<std::string, Tensor> inputs;
  for (size_t i = 0; i < types.size(); ++i) {
    std::string name = std::string("x").append(std::to_string(i));
    operands.push_back(f->addInput(name, types[i]));
    inputs[name] = positive ? uniformTensor(types[i].dtype, types[i].shape, rng, 0, 1)
                            : randomTensor(types[i].dtype, types[i].shape, rng);
  }
  Op *op = buildOp(*f, type, operands, std::move(attrs), results, nullptr, domain);
  for (size_t i = 0; i < results; ++i)
    f->addOutput(std::string("y").append(std::to_string(i)), op->result(i));
  for (int threads : {1, 2}) {
    adj_set_num_threads(threads);
    expectJitMatches(*f, inputs, what + " " + std::string(dtypeName(types[0].dtype)) + " threads " +
                                     std::to_string(threads));
  }
  adj_set_num_threads(0);
}

AttrMap with(AttrMap a, const std::string &k, Attribute v) {
  a[k] = std::move(v);
  return a;
}

std::vector<Case> convCases() {
  return {
      {"plain", {2, 3, 7, 9}, {5, 3, 3, 3}, {}},
      {"pads strides", {2, 3, 9, 8}, {4, 3, 3, 2}, {{"pads", Ints{1, 0, 2, 1}}, {"strides", Ints{2, 3}}}},
      {"dilations", {1, 2, 11, 10}, {3, 2, 3, 3}, {{"dilations", Ints{2, 3}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"group 2", {2, 4, 6, 7}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"depthwise", {2, 3, 8, 8}, {3, 1, 3, 3}, {{"group", int64_t{3}}, {"strides", Ints{2, 2}}}},
      {"same upper", {1, 2, 7, 8}, {3, 2, 4, 3}, {{"auto_pad", "SAME_UPPER"}, {"strides", Ints{2, 2}}}},
      {"same lower", {1, 2, 7, 8}, {3, 2, 4, 3}, {{"auto_pad", "SAME_LOWER"}, {"strides", Ints{2, 1}}}},
      {"valid", {1, 2, 7, 8}, {3, 2, 2, 3}, {{"auto_pad", "VALID"}, {"strides", Ints{3, 2}}}},
      {"1d", {3, 2, 17}, {4, 2, 5}, {{"pads", Ints{2, 1}}}},
      {"3d", {1, 2, 5, 6, 7}, {3, 2, 2, 3, 2}, {{"pads", Ints{1, 0, 1, 0, 1, 1}}}},
      {"1x1", {2, 5, 4, 6}, {7, 5, 1, 1}, {}},
      {"big", {4, 6, 19, 21}, {8, 6, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}},
      {"kernel_shape", {1, 2, 6, 6}, {2, 2, 3, 3}, {{"kernel_shape", Ints{3, 3}}}},
  };
}

std::vector<Case> poolCases() {
  return {
      {"plain", {2, 3, 7, 9}, {}, {{"kernel_shape", Ints{2, 2}}}},
      {"strides", {2, 3, 9, 8}, {}, {{"kernel_shape", Ints{3, 2}}, {"strides", Ints{2, 3}}}},
      {"pads", {1, 2, 7, 7}, {}, {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 0}}, {"strides", Ints{2, 2}}}},
      {"ceil", {1, 2, 8, 7}, {}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}},
      {"ceil pads", {1, 2, 6, 9}, {}, {{"kernel_shape", Ints{2, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 0, 1}}, {"ceil_mode", int64_t{1}}}},
      {"same upper", {1, 3, 7, 8}, {}, {{"kernel_shape", Ints{3, 2}}, {"auto_pad", "SAME_UPPER"}, {"strides", Ints{2, 2}}}},
      {"same lower", {1, 3, 7, 8}, {}, {{"kernel_shape", Ints{3, 2}}, {"auto_pad", "SAME_LOWER"}}},
      {"valid", {1, 3, 7, 8}, {}, {{"kernel_shape", Ints{3, 2}}, {"auto_pad", "VALID"}, {"strides", Ints{2, 2}}}},
      {"1d", {3, 2, 17}, {}, {{"kernel_shape", Ints{4}}, {"strides", Ints{3}}, {"pads", Ints{1, 2}}}},
      {"3d", {1, 2, 5, 6, 7}, {}, {{"kernel_shape", Ints{2, 3, 2}}, {"strides", Ints{1, 2, 2}}}},
      {"big", {8, 16, 33, 31}, {}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
  };
}

const DType floatTypes[] = {DType::F32, DType::F64};

} // namespace

TEST(JitConvPool, Conv) {
  std::mt19937 rng(1);
  for (DType t : floatTypes)
    for (const Case &c : convCases())
      for (bool bias : {false, true}) {
        std::vector<TensorType> types{{t, c.x}, {t, c.w}};
        if (bias)
          types.push_back({t, {c.w[0]}});
        checkJit("Conv", "", types, c.attrs, 1, t == DType::F32, "Conv " + c.name + (bias ? " bias" : ""), rng);
      }
}

TEST(JitConvPool, MaxPool) {
  std::mt19937 rng(2);
  for (DType t : floatTypes)
    for (const Case &c : poolCases()) {
      checkJit("MaxPool", "", {{t, c.x}}, c.attrs, 1, false, "MaxPool " + c.name, rng);
      checkJit("MaxPool", "", {{t, c.x}}, c.attrs, 2, false, "MaxPool+Indices " + c.name, rng);
      checkJit("MaxPool", "", {{t, c.x}}, with(c.attrs, "storage_order", int64_t{1}), 2, false,
            "MaxPool+Indices column-major " + c.name, rng);
      if (c.x.size() == 4)
        checkJit("MaxPool", "", {{t, c.x}}, with(c.attrs, "dilations", Ints{2, 1}), 2, false,
              "MaxPool dilations " + c.name, rng);
    }
}

TEST(JitConvPool, AveragePool) {
  std::mt19937 rng(3);
  for (DType t : floatTypes)
    for (const Case &c : poolCases())
      for (int64_t includePad : {0, 1})
        checkJit("AveragePool", "", {{t, c.x}}, with(c.attrs, "count_include_pad", includePad), 1, false,
              "AveragePool " + c.name + " count_include_pad " + std::to_string(includePad), rng);
}

TEST(JitConvPool, GlobalAveragePool) {
  std::mt19937 rng(4);
  for (DType t : floatTypes)
    for (const Shape &s : std::vector<Shape>{{2, 3, 7, 9}, {3, 5, 17}, {1, 2, 3, 4, 5}, {64, 32, 15, 15}, {2, 3, 0, 4}})
      checkJit("GlobalAveragePool", "", {{t, s}}, {}, 1, false, "GlobalAveragePool " + shapeStr(s), rng);
}

TEST(JitConvPool, ConvGradData) {
  std::mt19937 rng(5);
  for (DType t : floatTypes)
    for (const Case &c : convCases()) {
      Shape dy = resultShape("Conv", {{t, c.x}, {t, c.w}}, c.attrs);
      checkJit("ConvGradData", "adjoint", {{t, dy}, {t, c.w}}, with(c.attrs, "input_shape", Ints(c.x)), 1,
            t == DType::F32, "ConvGradData " + c.name, rng);
    }
}

TEST(JitConvPool, ConvGradFilter) {
  std::mt19937 rng(6);
  for (DType t : floatTypes)
    for (const Case &c : convCases()) {
      Shape dy = resultShape("Conv", {{t, c.x}, {t, c.w}}, c.attrs);
      Ints k(c.w.begin() + 2, c.w.end());
      checkJit("ConvGradFilter", "adjoint", {{t, c.x}, {t, dy}}, with(c.attrs, "kernel_shape", k), 1,
            t == DType::F32, "ConvGradFilter " + c.name, rng);
    }
}

TEST(JitConvPool, MaxPoolGrad) {
  std::mt19937 rng(7);
  for (DType t : floatTypes)
    for (const Case &c : poolCases()) {
      Shape dy = resultShape("MaxPool", {{t, c.x}}, c.attrs);
      checkJit("MaxPoolGrad", "adjoint", {{t, dy}, {t, c.x}}, c.attrs, 1, false, "MaxPoolGrad " + c.name, rng);
    }
}

TEST(JitConvPool, AveragePoolGrad) {
  std::mt19937 rng(8);
  for (DType t : floatTypes)
    for (const Case &c : poolCases())
      for (int64_t includePad : {0, 1}) {
        AttrMap a = with(c.attrs, "count_include_pad", includePad);
        Shape dy = resultShape("AveragePool", {{t, c.x}}, a);
        checkJit("AveragePoolGrad", "adjoint", {{t, dy}}, with(a, "input_shape", Ints(c.x)), 1, false,
              "AveragePoolGrad " + c.name + " count_include_pad " + std::to_string(includePad), rng);
      }
}

TEST(JitConvPool, EmptyBatches) {
  std::mt19937 rng(9);
  for (DType t : floatTypes) {
    checkJit("Conv", "", {{t, {0, 3, 5, 5}}, {t, {2, 3, 3, 3}}}, {}, 1, false, "Conv empty batch", rng);
    checkJit("MaxPool", "", {{t, {0, 2, 4, 4}}}, {{"kernel_shape", Ints{2, 2}}}, 2, false, "MaxPool empty batch", rng);
    checkJit("AveragePool", "", {{t, {0, 2, 4, 4}}}, {{"kernel_shape", Ints{2, 2}}}, 1, false, "AveragePool empty batch", rng);
    // No images: dW is zero, in the GEMM path's absence too.
    checkJit("ConvGradFilter", "adjoint", {{t, {0, 3, 5, 5}}, {t, {0, 2, 3, 3}}}, {{"kernel_shape", Ints{3, 3}}}, 1,
             false, "ConvGradFilter empty batch", rng);
    checkJit("ConvGradData", "adjoint", {{t, {0, 2, 3, 3}}, {t, {2, 3, 3, 3}}}, {{"input_shape", Ints{0, 3, 5, 5}}}, 1,
             false, "ConvGradData empty batch", rng);
  }
}
