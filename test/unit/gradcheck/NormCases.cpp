// Gradient checks of the normalization and probability ops, plus checks of what finite
// differences cannot see: mixed dtypes and Dropout's mask.
#include "GradCheck.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

namespace adjoint::gradcheck {

namespace {
Value *boolConst(CaseBuilder &b, bool v) { return b.constant(Tensor::scalar<bool>(v)); }
Value *f64Const(CaseBuilder &b, double v) { return b.constant(Tensor::scalar<double>(v)); }

// BatchNormalization with every operand trainable; the variance is kept positive.
Value *batchNorm(CaseBuilder &b, const Shape &xs, AttrMap attrs, size_t results = 1) {
  Shape c{xs[1]};
  Value *x = b.param(xs);
  std::vector<Value *> ops = {x, b.param(c), b.param(c), b.param(c), b.param(c, 0.5, 1.5)};
  return b.ops("BatchNormalization", ops, std::move(attrs), results)[0];
}

// LayerNormalization in f64 throughout (stash_type=11), with the results it asks for.
std::vector<Value *> layerNorm(CaseBuilder &b, const Shape &xs, int64_t axis, const Shape &ws,
                               const Shape *bs, size_t results = 1) {
  std::vector<Value *> ops = {b.param(xs), b.param(ws)};
  if (bs)
    ops.push_back(b.param(*bs));
  return b.ops("LayerNormalization", ops,
               {{"axis", Attribute(axis)}, {"stash_type", Attribute(11)}}, results);
}

Value *dropout(CaseBuilder &b, std::vector<Value *> ops, AttrMap attrs, size_t results = 1) {
  ops.insert(ops.begin(), b.param({3, 4}));
  return b.ops("Dropout", ops, std::move(attrs), results)[0];
}
} // namespace

GRAD_CASES(Norm) {
  const Shape w4{4}, w32{3, 2};
  return {
      {"Softmax", "last axis",
       [](CaseBuilder &b) {
         return b.op("Softmax", {b.param({2, 3})});
       }},
      {"Softmax", "axis 0",
       [](CaseBuilder &b) {
         return b.op("Softmax", {b.param({3, 2})}, {{"axis", Attribute(0)}});
       }},
      {"Softmax", "middle axis of rank 3",
       [](CaseBuilder &b) {
         return b.op("Softmax", {b.param({2, 3, 2})}, {{"axis", Attribute(-2)}});
       }},
      {"LogSoftmax", "last axis",
       [](CaseBuilder &b) {
         return b.op("LogSoftmax", {b.param({2, 3})});
       }},
      {"LogSoftmax", "axis 0",
       [](CaseBuilder &b) {
         return b.op("LogSoftmax", {b.param({3, 2})}, {{"axis", Attribute(0)}});
       }},
      {"LogSoftmax", "middle axis of rank 3",
       [](CaseBuilder &b) {
         return b.op("LogSoftmax", {b.param({2, 3, 2})}, {{"axis", Attribute(1)}});
       }},

      {"BatchNormalization", "inference, N x C x L",
       [](CaseBuilder &b) {
         return batchNorm(b, {2, 3, 2}, {});
       }},
      {"BatchNormalization", "inference, N x C, epsilon",
       [](CaseBuilder &b) {
         return batchNorm(b, {3, 2}, {{"epsilon", Attribute(0.1)}});
       }},
      {"BatchNormalization", "inference, N x C x H x W",
       [](CaseBuilder &b) {
         return batchNorm(b, {2, 2, 2, 2}, {});
       }},
      {"BatchNormalization", "training, N x C x L (input stats get none)",
       [](CaseBuilder &b) {
         return batchNorm(b, {3, 2, 2}, {{"training_mode", Attribute(1)}});
       }},
      {"BatchNormalization", "training, N x C, running stats returned",
       [](CaseBuilder &b) {
         return batchNorm(b, {4, 3},
                          {{"training_mode", Attribute(1)}, {"epsilon", Attribute(0.01)}}, 3);
       }},
      {"BatchNormalization", "training, N x C x H x W",
       [](CaseBuilder &b) {
         return batchNorm(b, {2, 2, 2, 2}, {{"training_mode", Attribute(1)}});
       }},

      {"LayerNormalization", "last axis, bias",
       [w4](CaseBuilder &b) {
         return layerNorm(b, {2, 3, 4}, -1, w4, &w4)[0];
       }},
      {"LayerNormalization", "axis 1 of rank 3, no bias",
       [w32](CaseBuilder &b) {
         return layerNorm(b, {2, 3, 2}, 1, w32, nullptr)[0];
       }},
      {"LayerNormalization", "axis 0, scale broadcast over the normalized axes",
       [](CaseBuilder &b) {
         Shape ws{1, 3}, bs{2, 1};
         return layerNorm(b, {2, 3}, 0, ws, &bs)[0];
       }},
      {"LayerNormalization", "Mean and InvStdDev results used",
       [w4](CaseBuilder &b) {
         auto r = layerNorm(b, {3, 4}, -1, w4, &w4, 3);
         return b.op("Add", {r[0], b.op("Mul", {r[1], r[2]})});
       }},
      {"LayerNormalization", "only the Mean result used",
       [w32](CaseBuilder &b) {
         return layerNorm(b, {2, 3, 2}, -2, w32, nullptr, 2)[1];
       }},
      {"LayerNormalization", "only the InvStdDev result used",
       [w4](CaseBuilder &b) {
         return layerNorm(b, {2, 4}, 1, w4, nullptr, 3)[2];
       }},
      {"LayerNormalization", "axis = rank normalizes nothing",
       [](CaseBuilder &b) {
         Shape bs{3};
         return layerNorm(b, {2, 3}, 2, {3}, &bs)[0];
       }},

      {"Dropout", "no training operand: identity",
       [](CaseBuilder &b) { return dropout(b, {}, {}); }},
      {"Dropout", "training_mode false: identity",
       [](CaseBuilder &b) {
         return dropout(b, {f64Const(b, 0.4), boolConst(b, false)}, {});
       }},
      {"Dropout", "training, seed, mask rebuilt",
       [](CaseBuilder &b) {
         return dropout(b, {f64Const(b, 0.3), boolConst(b, true)}, {{"seed", Attribute(7)}});
       }},
      {"Dropout", "training, default ratio and seed, mask returned",
       [](CaseBuilder &b) {
         return dropout(b, {nullptr, boolConst(b, true)}, {}, 2);
       }},
      {"Dropout", "training, default ratio, mask rebuilt without a ratio operand",
       [](CaseBuilder &b) {
         return dropout(b, {nullptr, boolConst(b, true)}, {{"seed", Attribute(2)}});
       }},
      {"Dropout", "training, ratio 0: identity",
       [](CaseBuilder &b) {
         return dropout(b, {f64Const(b, 0.0), boolConst(b, true)}, {});
       }},
      {"Dropout", "training, ratio and training computed at run time",
       [](CaseBuilder &b) {
         Value *on = b.op("Greater", {f64Const(b, 1.0), f64Const(b, 0.0)});
         Value *ratio = b.op("Identity", {b.constant(Tensor::fromVector<double>({1}, {0.6}))});
         return dropout(b, {ratio, on}, {{"seed", Attribute(3)}});
       }},
      {"Dropout", "training computed at run time, false",
       [](CaseBuilder &b) {
         Value *off = b.op("Less", {f64Const(b, 1.0), f64Const(b, 0.0)});
         return dropout(b, {f64Const(b, 0.5), off}, {{"seed", Attribute(3)}});
       }},
  };
}

namespace {
// Runs autodiff on f (loss: its first output) and returns [loss, grads...] from the interpreter.
std::vector<Tensor> gradients(Function &f) {
  PassContext ctx;
  runAutodiff(f, ctx);
  verifyFunction(f);
  return interpret(f, {});
}

Value *sumAll(Function &f, Value *v) {
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < v->type().rank(); ++i)
    axes.push_back(i);
  Value *ax = buildConstant(f, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes));
  return buildOp(f, "ReduceSum", {v, ax}, {{"keepdims", Attribute(0)}})->result();
}

Tensor ramp(DType t, const Shape &s, double from, double step) {
  Tensor r(t, s);
  for (int64_t i = 0; i < r.numel(); ++i)
    r.setDouble(i, from + step * (double)i);
  return r;
}

// sum(Mul(op(...), weights)) with the weights a fixed ramp, so gradients are not all alike.
Value *weightedLoss(Function &f, Value *y) {
  Value *w = buildConstant(f, ramp(y->dtype(), y->shape(), -0.7, 0.13));
  return sumAll(f, buildOp(f, "Mul", {y, w})->result());
}
} // namespace

// BatchNormalization lets X, scale/B and mean/var have three float types; each gradient keeps
// its operand's type and agrees with the all-f64 gradient to f32 precision.
TEST(NormGrad, BatchNormMixedDTypes) {
  for (int64_t training : {0, 1}) {
    std::vector<std::vector<Tensor>> runs;
    for (bool mixed : {false, true}) {
      Function f("bn");
      DType pt = mixed ? DType::F32 : DType::F64;
      Value *x = f.addParam("x", {DType::F64, {2, 3, 2}}, ramp(DType::F64, {2, 3, 2}, -1, 0.17));
      std::vector<Value *> ops = {x};
      const char *names[] = {"scale", "b", "mean", "var"};
      for (int i = 0; i < 4; ++i)
        ops.push_back(f.addParam(names[i], {pt, {3}}, ramp(pt, {3}, 0.5 + 0.1 * i, 0.25)));
      Value *y =
          buildOp(f, "BatchNormalization", ops, {{"training_mode", Attribute(training)}})->result();
      f.addOutput("loss", weightedLoss(f, y));
      runs.push_back(gradients(f));
      for (size_t k = 1; k < runs.back().size(); ++k)
        EXPECT_EQ(runs.back()[k].dtype(), k == 1 ? DType::F64 : pt);
    }
    for (size_t k = 1; k < runs[0].size(); ++k)
      for (int64_t i = 0; i < runs[0][k].numel(); ++i)
        EXPECT_NEAR(runs[1][k].getDouble(i), runs[0][k].getDouble(i),
                    1e-4 * (1 + std::abs(runs[0][k].getDouble(i))))
            << "training_mode=" << training << " output " << k << " element " << i;
  }
}

// LayerNormalization in every (X type, stash type) pair gives the f64/f64 gradients to f32
// precision, in X's type.
TEST(NormGrad, LayerNormStashTypes) {
  std::vector<std::vector<Tensor>> runs;
  for (DType xt : {DType::F64, DType::F32})
    for (int64_t stash : {11, 1}) {
      Function f("ln");
      Value *x = f.addParam("x", {xt, {2, 4}}, ramp(xt, {2, 4}, -1, 0.29));
      Value *w = f.addParam("w", {xt, {4}}, ramp(xt, {4}, 0.5, 0.3));
      Value *bias = f.addParam("b", {xt, {4}}, ramp(xt, {4}, -0.2, 0.1));
      auto *op =
          buildOp(f, "LayerNormalization", {x, w, bias}, {{"stash_type", Attribute(stash)}}, 3);
      Value *y = buildOp(f, "Add",
                         {op->result(), buildOp(f, "Cast", {op->result(2)},
                                                {{"to", Attribute(xt == DType::F64 ? 11 : 1)}})
                                            ->result()})
                     ->result();
      f.addOutput("loss", weightedLoss(f, y));
      runs.push_back(gradients(f));
      for (size_t k = 1; k < runs.back().size(); ++k)
        EXPECT_EQ(runs.back()[k].dtype(), xt);
    }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t k = 1; k < runs[0].size(); ++k)
      for (int64_t i = 0; i < runs[0][k].numel(); ++i)
        EXPECT_NEAR(runs[r][k].getDouble(i), runs[0][k].getDouble(i),
                    1e-3 * (1 + std::abs(runs[0][k].getDouble(i))))
            << "run " << r << " output " << k << " element " << i;
}

// In training mode the gradient is dy * mask / (1 - ratio), with the mask of the forward draw,
// whether or not the forward node asked for the mask; f32 scales in f32 as the kernel does.
TEST(NormGrad, DropoutUsesTheForwardMask) {
  for (DType t : {DType::F32, DType::F64})
    for (size_t results : {1, 2}) {
      Function f("dropout");
      Shape s{5, 7};
      Value *x = f.addParam("x", {t, s}, ramp(t, s, 1, 1));
      Value *ratio = buildConstant(f, Tensor::scalar<float>(0.3f));
      Value *on = buildConstant(f, Tensor::scalar<bool>(true));
      Op *d = buildOp(f, "Dropout", {x, ratio, on}, {{"seed", Attribute(11)}}, results);
      // loss = sum(y * x_data): its gradient is y'(x) applied to x_data, i.e. y itself.
      f.addOutput("loss", sumAll(f, buildOp(f, "Mul", {d->result(), x})->result()));
      f.addOutput("y", d->result());
      PassContext ctx;
      runAutodiff(f, ctx);
      verifyFunction(f);
      std::vector<Tensor> out = interpret(f, {});
      // f.outputs(): loss, y, grad.x. d/dx sum(y(x) * x) = 2 * y, elementwise.
      const Tensor &y = out[1], &gx = out[2];
      ASSERT_EQ(gx.dtype(), t);
      int kept = 0;
      for (int64_t i = 0; i < y.numel(); ++i) {
        EXPECT_EQ(gx.getDouble(i), 2 * y.getDouble(i)) << "element " << i;
        kept += y.getDouble(i) != 0;
      }
      EXPECT_GT(kept, 0);
      EXPECT_LT(kept, y.numel());
    }
}

} // namespace adjoint::gradcheck
