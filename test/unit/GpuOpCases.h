#pragma once
// The GPU target's op cases, run on the host emulator (NvptxEmulatorTest) and on a CUDA device
// (CudaOpsTest, label gpu): every op the GPU lowers — elementwise ops and fused chains, GEMMs
// (integer ones too), reductions, softmax, both losses and their gradients, conv / pooling and
// their backward ops, the training-domain optimizers, Dropout — and the fused Adam training
// steps of fashion_mlp, LeNet-5 and a Dropout MLP, against the interpreter.
#include "GpuTestSupport.h"

#include "Frontend/OnnxImporter.h"

namespace adjoint::testing::gpucases {

using Ints = std::vector<int64_t>;
const DType kFloats[] = {DType::F32, DType::F64};

inline AttrMap with(AttrMap a, const std::string &k, Attribute v) {
  a[k] = std::move(v);
  return a;
}

inline Shape resultShape(const std::string &type, const std::vector<TensorType> &types, AttrMap attrs) {
  Module m;
  Function *f = m.addFunction("s");
  std::vector<Value *> ops;
  for (size_t i = 0; i < types.size(); ++i)
    ops.push_back(f->addInput(std::string("a").append(std::to_string(i)), types[i]));
  return buildOp(*f, type, ops, std::move(attrs))->result()->shape();
}

inline void elementwise(GpuBackend b) {
  std::mt19937 rng(11);
  for (DType t : kFloats) {
    for (const char *op : {"Add", "Sub", "Mul", "Div", "Pow"})
      checkGpuOp(b, op, "", {{t, {4, 1, 33}}, {t, {5, 1}}}, {}, 1, false, std::string(op) + " broadcast", rng);
    for (const char *op : {"Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "Relu", "Erf", "Neg", "Abs", "Reciprocal"})
      checkGpuOp(b, op, "", {{t, {3, 70}}}, {}, 1, false, op, rng);
    checkGpuOp(b, "Greater", "", {{t, {6, 9}}, {t, {9}}}, {}, 1, false, "Greater", rng);
    checkGpuOp(b, "Where", "", {{DType::Bool, {6, 9}}, {t, {6, 9}}, {t, {1}}}, {}, 1, false, "Where", rng);
    checkGpuOp(b, "Cast", "", {{t, {300}}}, {{"to", int64_t{7}}}, 1, false, "Cast to i64", rng);
  }
  checkGpuOp(b, "Add", "", {{DType::I64, {2, 300}}, {DType::I64, {300}}}, {}, 1, false, "Add i64", rng);
  checkGpuOp(b, "Pow", "", {{DType::F32, {2, 9}}, {DType::I64, {9}}}, {}, 1, false, "Pow f32^i64", rng);
  checkGpuOp(b, "Pow", "", {{DType::I64, {2, 9}}, {DType::I64, {9}}}, {}, 1, false, "Pow i64 (adj_ipow)", rng);
}

inline void gemm(GpuBackend b) {
  std::mt19937 rng(12);
  for (DType t : kFloats) {
    checkGpuOp(b, "Gemm", "", {{t, {7, 5}}, {t, {5, 9}}}, {}, 1, true, "Gemm", rng);
    checkGpuOp(b, "Gemm", "", {{t, {5, 7}}, {t, {9, 5}}, {t, {9}}},
               {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.5}, {"beta", 2.0}}, 1, true,
               "Gemm transposed + C", rng);
    checkGpuOp(b, "Gemm", "", {{t, {64, 784}}, {t, {128, 784}}, {t, {128}}}, {{"transB", int64_t{1}}}, 1, true,
               "Gemm MLP layer", rng);
    checkGpuOp(b, "MatMul", "", {{t, {6, 4}}, {t, {4, 3}}}, {}, 1, true, "MatMul 2d", rng);
    checkGpuOp(b, "MatMul", "", {{t, {2, 3, 6, 4}}, {t, {2, 3, 4, 5}}}, {}, 1, true, "MatMul batched", rng);
    checkGpuOp(b, "MatMul", "", {{t, {3, 6, 4}}, {t, {4, 5}}}, {}, 1, true, "MatMul batch x 2d", rng);
    checkGpuOp(b, "MatMul", "", {{t, {4}}, {t, {3, 4, 5}}}, {}, 1, true, "MatMul vector x batch", rng);
  }
}

inline void reductions(GpuBackend b) {
  std::mt19937 rng(13);
  for (DType t : kFloats) {
    for (const char *op : {"ReduceMean", "ReduceMax"}) {
      checkGpuOp(b, op, "", {{t, {4, 5, 6}}}, {{"axes", Ints{1}}}, 1, false, std::string(op) + " middle", rng);
      checkGpuOp(b, op, "", {{t, {4, 5, 600}}}, {{"axes", Ints{0, 2}}, {"keepdims", int64_t{0}}}, 1, false,
                 std::string(op) + " outer+inner", rng);
      checkGpuOp(b, op, "", {{t, {3, 1000}}}, {}, 1, false, std::string(op) + " all", rng);
    }
    for (const Ints &axes : {Ints{0}, Ints{0, 2, 3}, Ints{-1}}) {
      Module m;
      Function *f = m.addFunction("f");
      Value *x = f->addInput("x", {t, {16, 6, 5, 5}});
      Value *ax = buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes));
      f->addOutput("y", buildOp(*f, "ReduceSum", {x, ax}, {})->result());
      expectGpuMatches(*f, {{"x", randomTensor(t, {16, 6, 5, 5}, rng, false)}}, "ReduceSum " + std::to_string(axes.size()) + " axes", b);
    }
    for (const char *op : {"Softmax", "LogSoftmax"}) {
      checkGpuOp(b, op, "", {{t, {64, 10}}}, {}, 1, false, op, rng, false);
      checkGpuOp(b, op, "", {{t, {3, 700, 2}}}, {{"axis", int64_t{1}}}, 1, false, std::string(op) + " axis 1", rng, false);
    }
    checkGpuOp(b, "Transpose", "", {{t, {3, 4, 5}}}, {{"perm", Ints{2, 0, 1}}}, 1, false, "Transpose", rng);
    for (int results : {1, 3})
      for (int64_t axis : {-1, 1})
        checkGpuOp(b, "LayerNormalization", "", {{t, {4, 6, 130}}, {t, {130}}, {t, {130}}},
                   {{"axis", axis == 1 ? int64_t{2} : int64_t{-1}}}, (size_t)results, false,
                   "LayerNormalization results " + std::to_string(results), rng, false);
  }
}

// i32 / i64 GEMMs and reductions (generated kernels): wrapping sums (the operands include the
// type's extremes), Gemm's exact C and its saturating scaled form, MatMul batches broadcasting
// partially, reductions over inner, outer and all axes.
inline void integerOps(GpuBackend b) {
  std::mt19937 rng(23);
  for (DType t : {DType::I32, DType::I64}) {
    checkGpuOp(b, "Gemm", "", {{t, {7, 5}}, {t, {5, 9}}}, {}, 1, false, "Gemm", rng);
    checkGpuOp(b, "Gemm", "", {{t, {5, 7}}, {t, {9, 5}}, {t, {9}}}, {{"transA", int64_t{1}}, {"transB", int64_t{1}}},
               1, false, "Gemm transposed + C", rng);
    checkGpuOp(b, "Gemm", "", {{t, {5, 7}}, {t, {7, 9}}, {t, {5, 1}}}, {{"alpha", 0.5}, {"beta", 3.0}}, 1, false,
               "Gemm scaled (saturating)", rng);
    checkGpuOp(b, "MatMul", "", {{t, {6, 4}}, {t, {4, 3}}}, {}, 1, false, "MatMul 2d", rng);
    checkGpuOp(b, "MatMul", "", {{t, {2, 1, 6, 4}}, {t, {3, 4, 5}}}, {}, 1, false, "MatMul partial broadcast", rng);
    checkGpuOp(b, "MatMul", "", {{t, {4}}, {t, {3, 4, 5}}}, {}, 1, false, "MatMul vector x batch", rng);
    checkGpuOp(b, "MatMul", "", {{t, {3, 0}}, {t, {0, 2}}}, {}, 1, false, "MatMul k = 0", rng);
    for (const char *op : {"ReduceMean", "ReduceMax"}) {
      checkGpuOp(b, op, "", {{t, {4, 5, 6}}}, {{"axes", Ints{1}}}, 1, false, std::string(op) + " middle", rng);
      checkGpuOp(b, op, "", {{t, {3, 700}}}, {}, 1, false, std::string(op) + " all", rng);
    }
    for (const Ints &axes : {Ints{0}, Ints{0, 2}, Ints{-1}}) {
      Module m;
      Function *f = m.addFunction("f");
      Value *x = f->addInput("x", {t, {6, 5, 7}});
      Value *ax = buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes));
      f->addOutput("y", buildOp(*f, "ReduceSum", {x, ax}, {})->result());
      expectGpuMatches(*f, {{"x", randomTensor(t, {6, 5, 7}, rng)}},
                       "ReduceSum " + std::string(dtypeName(t)) + " axes " + shapeStr(Shape(axes.begin(), axes.end())), b);
    }
  }
}

// Slice and SliceGrad with constant windows (negative steps, clamping), Gather and GatherGrad
// with repeated and negative indices, on rows and inner axes.
inline void dataMovement(GpuBackend b) {
  std::mt19937 rng(17);
  for (DType t : kFloats) {
    struct Win {
      Ints starts, ends, axes, steps;
    };
    for (const Win &w : {Win{{1, 0}, {3, 100}, {0, 2}, {1, 2}}, Win{{-1}, {-100}, {1}, {-2}}, Win{{0}, {2}, {2}, {1}}}) {
      Module m;
      Function *f = m.addFunction("f");
      Shape in{4, 5, 6};
      Value *x = f->addInput("x", {t, in});
      auto c = [&](const Ints &v) { return buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)v.size()}, v)); };
      Value *s0 = c(w.starts), *e0 = c(w.ends), *a0 = c(w.axes), *st = c(w.steps);
      Op *sl = buildOp(*f, "Slice", {x, s0, e0, a0, st}, {});
      f->addOutput("y", sl->result());
      Value *dy = f->addInput("dy", sl->result()->type());
      f->addOutput("dx", buildOp(*f, "SliceGrad", {dy, c(Ints(in.begin(), in.end())), s0, e0, a0, st}, {}, 1, nullptr,
                                 "adjoint")->result());
      expectGpuMatches(*f, {{"x", randomTensor(t, in, rng)}, {"dy", randomTensor(t, sl->result()->shape(), rng)}},
                       "Slice/SliceGrad " + shapeStr(sl->result()->shape()), b);
    }
    for (int64_t axis : {0, 1, -1}) {
      checkGpuOp(b, "Concat", "", {{t, {2, 3, 4}}, {t, {2, 5, 4}}, {t, {2, 1, 4}}}, {{"axis", int64_t{1}}}, 1, false,
                 "Concat", rng);
      Shape x{3, 6, 3};
      checkGpuOp(b, "Split", "", {{t, x}}, {{"axis", axis}}, 3, false,
                 "Split axis " + std::to_string(axis), rng);
    }
    for (int64_t axis : {0, 1}) {
      Module m;
      Function *f = m.addFunction("f");
      Shape data{7, 5};
      Value *x = f->addInput("x", {t, data});
      Value *idx = f->addInput("i", {DType::I64, {3, 4}});
      Tensor it(DType::I64, {3, 4});
      for (int64_t i = 0; i < 12; ++i)
        it.data<int64_t>()[i] = (int64_t)(rng() % (uint64_t)data[(size_t)axis]) - (i % 3 == 0 ? data[(size_t)axis] : 0);
      Op *g = buildOp(*f, "Gather", {x, idx}, {{"axis", axis}});
      f->addOutput("y", g->result());
      Value *dy = f->addInput("dy", g->result()->type());
      Value *shape = buildConstant(*f, Tensor::fromVector<int64_t>({2}, Ints(data.begin(), data.end())));
      f->addOutput("dx", buildOp(*f, "GatherGrad", {dy, idx, shape}, {{"axis", axis}}, 1, nullptr, "adjoint")->result());
      expectGpuMatches(*f, {{"x", randomTensor(t, data, rng)}, {"i", it}, {"dy", randomTensor(t, g->result()->shape(), rng, false)}},
                       "Gather/GatherGrad axis " + std::to_string(axis), b);
    }
  }
}

inline Tensor labels(DType t, const Shape &s, int64_t classes, int64_t ignore, std::mt19937 &rng) {
  Tensor r(t, s);
  for (int64_t i = 0; i < r.numel(); ++i) {
    int64_t v = rng() % 5 == 0 ? ignore : (int64_t)(rng() % classes);
    if (t == DType::I32)
      r.data<int32_t>()[i] = (int32_t)v;
    else
      r.data<int64_t>()[i] = v;
  }
  return r;
}

// A loss and its gradient over x[s] and labels, for every reduction, weights, ignore_index,
// i64/i32 labels and f32/f64 (opt: bit 0 f64 and weights, bit 1 i32 labels and ignore_index).
// nll: NegativeLogLikelihoodLoss (+Grad), else SoftmaxCrossEntropyLoss (+Grad; option 3 also
// returns log_prob).
inline void lossCases(GpuBackend b, bool nll, std::mt19937 &rng) {
  for (const Shape &s : {Shape{64, 10}, Shape{3, 5, 4, 2}, Shape{300, 7}})
    for (const char *red : {"mean", "sum", "none"})
      for (int opt = 0; opt < 4; ++opt) {
        DType t = opt % 2 ? DType::F64 : DType::F32, lt = opt < 2 ? DType::I64 : DType::I32;
        bool weights = opt & 1, ignore = opt & 2;
        Module m;
        Function *f = m.addFunction("f");
        Shape ls = s;
        ls.erase(ls.begin() + 1);
        Value *x = f->addInput("x", {t, s});
        Value *y = f->addInput("y", {lt, ls});
        std::map<std::string, Tensor> in{{"x", randomTensor(t, s, rng, false)},
                                         {"y", labels(lt, ls, s[1], ignore ? -1 : 0, rng)}};
        std::vector<Value *> operands{x, y};
        if (weights) {
          operands.push_back(f->addInput("w", {t, {s[1]}}));
          in["w"] = uniformTensor(t, {s[1]}, rng, 0.1, 2);
        }
        AttrMap attrs{{"reduction", Attribute(std::string(red))}};
        if (ignore)
          attrs["ignore_index"] = Attribute(int64_t{-1});
        bool logProb = !nll && opt == 3;
        Op *l = buildOp(*f, nll ? "NegativeLogLikelihoodLoss" : "SoftmaxCrossEntropyLoss", operands, attrs,
                        logProb ? 2 : 1);
        f->addOutput("loss", l->result(0));
        if (logProb)
          f->addOutput("log_prob", l->result(1));
        Value *dy = f->addInput("dy", l->result(0)->type());
        in["dy"] = nll ? uniformTensor(t, l->result(0)->shape(), rng, -1, 1)
                       : uniformTensor(t, l->result(0)->shape(), rng, 0.5, 1.5);
        std::vector<Value *> gops{dy};
        if (!nll)
          gops.push_back(x);
        gops.push_back(y);
        if (weights)
          gops.push_back(operands[2]);
        Op *g = nll ? buildOp(*f, "NegativeLogLikelihoodLossGrad", gops, with(attrs, "num_classes", s[1]), 1,
                              nullptr, "adjoint")
                    : buildOp(*f, "SoftmaxCrossEntropyGrad", gops, attrs, 1, nullptr, "adjoint");
        f->addOutput("dx", g->result());
        expectGpuMatches(*f, in, std::string(nll ? "nll " : "loss ") + shapeStr(s) + " " + red + " option " +
                                     std::to_string(opt), b);
      }
}

inline void loss(GpuBackend b) {
  std::mt19937 rng(14);
  lossCases(b, false, rng);
}

// NegativeLogLikelihoodLoss and its gradient: every reduction, weights, ignore_index, i64/i32
// labels, rank 2 and 4.
inline void nllLoss(GpuBackend b) {
  std::mt19937 rng(18);
  lossCases(b, true, rng);
}

// The ONNX training-domain optimizers: every attribute, f32/f64 tensors with an f32/f64 rate,
// T = 0 and T > 0, several tensors per op, omitted trailing results.
inline void trainingOps(GpuBackend b) {
  std::mt19937 rng(19);
  const char *training = "ai.onnx.preview.training";
  auto f = [](double v) { return Attribute(v); };
  auto s = [](const char *v) { return Attribute(std::string(v)); };
  struct Case {
    std::string op;
    AttrMap attrs;
  };
  const std::vector<Case> cases{
      {"Adagrad", {}},
      {"Adagrad", {{"decay_factor", f(0.1)}, {"epsilon", f(1e-3)}, {"norm_coefficient", f(0.01)}}},
      {"Momentum", {{"alpha", f(0.9)}, {"beta", f(0.5)}, {"mode", s("standard")}, {"norm_coefficient", f(0.02)}}},
      {"Momentum", {{"alpha", f(0.5)}, {"beta", f(0.25)}, {"mode", s("nesterov")}, {"norm_coefficient", f(0.1)}}},
      {"Adam", {}},
      {"Adam", {{"alpha", f(0.8)}, {"beta", f(0.95)}, {"epsilon", f(1e-4)}, {"norm_coefficient", f(0.01)},
                {"norm_coefficient_post", f(0.02)}}},
  };
  const std::vector<std::vector<Shape>> shapeSets{{{}}, {{3, 5}, {}, {700}}};
  int index = 0, number = 0;
  for (const Case &c : cases) {
    ++number;
    for (DType t : kFloats)
      for (int64_t step : {0, 3})
        for (const auto &shapes : shapeSets) {
          DType rType = index++ % 2 ? DType::F32 : DType::F64;
          Module m;
          Function *fn = m.addFunction("f");
          std::map<std::string, Tensor> in;
          std::vector<Value *> operands{fn->addInput("r", {rType, {}}), fn->addInput("t", {DType::I64, {}})};
          in["r"] = Tensor(rType, {});
          in["r"].setDouble(0, 0.1);
          in["t"] = Tensor::scalar<int64_t>(step);
          int groups = c.op == "Adam" ? 4 : 3;
          for (int g = 0; g < groups; ++g)
            for (size_t k = 0; k < shapes.size(); ++k) {
              std::string name = "in" + std::to_string(g) + "_" + std::to_string(k);
              operands.push_back(fn->addInput(name, {t, shapes[k]}));
              in[name] = g >= 2 ? uniformTensor(t, shapes[k], rng, 0, 2) : randomTensor(t, shapes[k], rng, false);
            }
          size_t all = (size_t)(groups - 1) * shapes.size();
          size_t n = shapes.size() > 1 && step ? 2 : all; // some results omitted
          Op *op = buildOp(*fn, c.op, operands, c.attrs, n, nullptr, training);
          for (size_t j = 0; j < n; ++j)
            fn->addOutput(std::string("y").append(std::to_string(j)), op->result(j));
          expectGpuMatches(*fn, in, c.op + " case " + std::to_string(number) + " " + std::string(dtypeName(t)) +
                                        " T " + std::to_string(step) + " tensors " + std::to_string(shapes.size()), b);
        }
  }
}

// Dropout: inference forms (no training operand, constant false, ratio 0) and training mode with
// the interpreter's MT19937 mask (less than one 312-element round, several rounds with a partial
// last one), a constant or run-time ratio (f64 with f32 data too), seed or none, the run-time
// seed operand, with and without the mask result.
inline void dropout(GpuBackend b) {
  std::mt19937 rng(20);
  for (DType t : kFloats) {
    for (int variant = 0; variant < 3; ++variant) {
      Module m;
      Function *f = m.addFunction("f");
      Value *x = f->addInput("x", {t, {5, 13}});
      std::vector<Value *> operands{x};
      if (variant > 0)
        operands.push_back(buildConstant(*f, t == DType::F32 ? Tensor::scalar(0.3f) : Tensor::scalar(0.3)));
      if (variant > 1)
        operands.push_back(buildConstant(*f, Tensor::scalar(false)));
      Op *d = buildOp(*f, "Dropout", operands, {{"seed", Attribute(int64_t{3})}}, 2);
      f->addOutput("y", d->result(0));
      f->addOutput("mask", d->result(1));
      expectGpuMatches(*f, {{"x", randomTensor(t, {5, 13}, rng)}},
                       "Dropout inference " + std::string(dtypeName(t)) + " variant " + std::to_string(variant), b);
    }
    for (const Shape &s : {Shape{7, 19}, Shape{37, 100}, Shape{312}})
      for (bool mode : {true, false})
        for (int variant = 0; variant < 5; ++variant) {
          Module m;
          Function *f = m.addFunction("f");
          std::map<std::string, Tensor> in{{"x", randomTensor(t, s, rng)}, {"training", Tensor::scalar(mode)}};
          Value *x = f->addInput("x", {t, s});
          Value *ratio;
          if (variant % 2) {
            in["ratio"] = variant == 3 ? Tensor::scalar(0.25) : Tensor::scalar(0.0f);
            ratio = f->addInput("ratio", {in["ratio"].dtype(), {}});
          } else {
            ratio = buildConstant(*f, t == DType::F32 ? Tensor::scalar(0.3f) : Tensor::scalar(0.3));
          }
          std::vector<Value *> operands{x, ratio, f->addInput("training", {DType::Bool, {}})};
          if (variant == 4) {
            in["seed"] = Tensor::scalar<int64_t>(12345);
            operands.push_back(f->addInput("seed", {DType::I64, {}}));
          }
          AttrMap attrs;
          if (variant < 2 || variant == 4)
            attrs["seed"] = Attribute(int64_t{variant == 0 ? 7 : -5});
          Op *d = buildOp(*f, "Dropout", operands, attrs, variant == 2 ? 1 : 2);
          for (size_t i = 0; i < d->numResults(); ++i)
            f->addOutput(std::string("y").append(std::to_string(i)), d->result(i));
          expectGpuMatches(*f, in, "Dropout " + std::string(dtypeName(t)) + " " + shapeStr(s) +
                                       (mode ? " training" : "") + " variant " + std::to_string(variant), b);
        }
  }
}

struct Window {
  std::string name;
  Shape x, w;
  AttrMap attrs;
};

inline std::vector<Window> convCases() {
  return {
      {"plain", {2, 3, 7, 9}, {5, 3, 3, 3}, {}},
      {"pads strides", {2, 3, 9, 8}, {4, 3, 3, 2}, {{"pads", Ints{1, 0, 2, 1}}, {"strides", Ints{2, 3}}}},
      {"dilations", {1, 2, 11, 10}, {3, 2, 3, 3}, {{"dilations", Ints{2, 3}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"group 2", {2, 4, 6, 7}, {6, 2, 3, 3}, {{"group", int64_t{2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {"1d", {3, 2, 17}, {4, 2, 5}, {{"pads", Ints{2, 1}}}},
      {"lenet conv1", {8, 1, 28, 28}, {6, 1, 5, 5}, {{"pads", Ints{2, 2, 2, 2}}}},
  };
}

inline std::vector<Window> poolCases() {
  return {
      {"plain", {2, 3, 7, 9}, {}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}}},
      {"pads", {1, 2, 7, 7}, {}, {{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 0}}, {"strides", Ints{2, 2}}}},
      {"ceil", {1, 2, 8, 7}, {}, {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}},
      {"1d", {3, 2, 17}, {}, {{"kernel_shape", Ints{4}}, {"strides", Ints{3}}, {"pads", Ints{1, 2}}}},
  };
}

inline void convPool(GpuBackend b) {
  std::mt19937 rng(15);
  for (DType t : kFloats) {
    for (const Window &c : convCases()) {
      checkGpuOp(b, "Conv", "", {{t, c.x}, {t, c.w}, {t, {c.w[0]}}}, c.attrs, 1, true, "Conv " + c.name, rng);
      Shape dy = resultShape("Conv", {{t, c.x}, {t, c.w}}, c.attrs);
      checkGpuOp(b, "ConvGradData", "adjoint", {{t, dy}, {t, c.w}}, with(c.attrs, "input_shape", Ints(c.x)), 1, true,
                 "ConvGradData " + c.name, rng);
      Ints k(c.w.begin() + 2, c.w.end());
      checkGpuOp(b, "ConvGradFilter", "adjoint", {{t, c.x}, {t, dy}}, with(c.attrs, "kernel_shape", k), 1, true,
                 "ConvGradFilter " + c.name, rng);
    }
    for (const Window &c : poolCases())
      for (int64_t pad : {0, 1}) {
        AttrMap a = with(c.attrs, "count_include_pad", pad);
        checkGpuOp(b, "AveragePool", "", {{t, c.x}}, a, 1, false, "AveragePool " + c.name, rng);
        Shape dy = resultShape("AveragePool", {{t, c.x}}, a);
        checkGpuOp(b, "AveragePoolGrad", "adjoint", {{t, dy}}, with(a, "input_shape", Ints(c.x)), 1, false,
                   "AveragePoolGrad " + c.name, rng);
      }
    checkGpuOp(b, "GlobalAveragePool", "", {{t, {2, 3, 7, 9}}}, {}, 1, false, "GlobalAveragePool", rng);
    for (const Window &c : poolCases()) {
      checkGpuOp(b, "MaxPool", "", {{t, c.x}}, c.attrs, 1, false, "MaxPool " + c.name, rng);
      checkGpuOp(b, "MaxPool", "", {{t, c.x}}, c.attrs, 2, false, "MaxPool+Indices " + c.name, rng);
      checkGpuOp(b, "MaxPool", "", {{t, c.x}}, with(c.attrs, "storage_order", int64_t{1}), 2, false,
                 "MaxPool+Indices column-major " + c.name, rng);
      Shape dy = resultShape("MaxPool", {{t, c.x}}, c.attrs);
      checkGpuOp(b, "MaxPoolGrad", "adjoint", {{t, dy}, {t, c.x}}, c.attrs, 1, false, "MaxPoolGrad " + c.name, rng);
    }
    for (int64_t training : {0, 1}) {
      Shape x{4, 3, 5, 5};
      std::vector<TensorType> types{{t, x}, {t, {3}}, {t, {3}}, {t, {3}}, {t, {3}}};
      checkGpuOp(b, "BatchNormalization", "", types, {{"training_mode", training}, {"epsilon", 1e-3}}, training ? 3 : 1,
                 true, "BatchNormalization training " + std::to_string(training), rng);
    }
  }
}

// The fused Adam training step of a model, as adjoint-train builds it.
inline std::unique_ptr<Module> trainingStep(const std::string &model, int64_t batch, bool trainMode = false) {
  ImportOptions io;
  io.dims["batch"] = batch;
  auto mod = importOnnxFile(std::string(ADJOINT_SOURCE_DIR) + "/models/" + model + ".onnx", io);
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy";
  ctx.options["optimizer"] = "adam";
  std::vector<const PassInfo *> passes{findPass("attach-loss"), findPass("autodiff"), findPass("optimizer"),
                                       findPass("cse"), findPass("dce"), findPass("fuse")};
  if (trainMode)
    passes.insert(passes.begin(), findPass("train-mode"));
  runPipeline(*mod, passes, ctx, {});
  return mod;
}

inline std::map<std::string, Tensor> stepInputs(const Function &f, int64_t batch, std::mt19937 &rng) {
  std::map<std::string, Tensor> in;
  for (Value *v : f.inputs()) {
    if (v->name() == "target")
      in[v->name()] = labels(v->dtype(), v->shape(), 10, 0, rng);
    else if (v->name() == "lr")
      in[v->name()] = Tensor::scalar<float>(1e-3f);
    else if (v->name() == "step")
      in[v->name()] = Tensor::scalar<int64_t>(1);
    else if (v->name().rfind("adam.", 0) == 0)
      in[v->name()] = uniformTensor(v->dtype(), v->shape(), rng, 0, 1e-3);
    else
      in[v->name()] = uniformTensor(v->dtype(), v->shape(), rng, 0, 1);
  }
  (void)batch;
  return in;
}

inline void modelStep(GpuBackend b, const std::string &model, int64_t batch, bool trainMode = false) {
  std::mt19937 rng(16);
  auto mod = trainingStep(model, batch, trainMode);
  expectGpuMatches(*mod->main(), stepInputs(*mod->main(), batch, rng), model + " fused Adam step", b);
}

// input[batch, 20] -> Gemm -> Relu -> Dropout(0.5, training, run-time seed) -> Gemm -> logits,
// as the fused Adam step adjoint-train builds (cross-entropy, the seed operand per step): a few
// steps on the backend, the parameters and moments fed back, equal the interpreter's; the
// backward pass redraws the same mask.
inline void dropoutMlpSteps(GpuBackend b, int64_t batch, int steps) {
  Module m;
  Function *f = m.addFunction("main");
  std::mt19937 rng(22);
  Value *x = f->addInput("input", {DType::F32, {batch, 20}});
  auto param = [&](const char *name, Shape s) {
    return f->addParam(name, {DType::F32, s}, uniformTensor(DType::F32, s, rng, -0.4, 0.4));
  };
  Value *w1 = param("w1", {20, 32}), *b1 = param("b1", {32}), *w2 = param("w2", {32, 10}), *b2 = param("b2", {10});
  Value *h = buildOp(*f, "Relu", {buildOp(*f, "Gemm", {x, w1, b1})->result()})->result();
  Value *ratio = buildConstant(*f, Tensor::scalar(0.5f)), *training = buildConstant(*f, Tensor::scalar(true));
  Value *seed = f->addInput("dropout.seed", {DType::I64, {}});
  Value *d = buildOp(*f, "Dropout", {h, ratio, training, seed}, {{"seed", Attribute(int64_t{1})}})->result();
  f->addOutput("logits", buildOp(*f, "Gemm", {d, w2, b2})->result());
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy";
  ctx.options["optimizer"] = "adam";
  runPipeline(m, {findPass("attach-loss"), findPass("autodiff"), findPass("optimizer"), findPass("cse"),
                  findPass("dce"), findPass("fuse")}, ctx, {});
  const Function &step = *m.main();
  std::map<std::string, Tensor> cpu = stepInputs(step, batch, rng);
  for (Value *p : step.params())
    cpu[p->name()] = p->paramData();
  cpu["step"] = Tensor::scalar<int64_t>(1);
  cpu["dropout.seed"] = Tensor::scalar<int64_t>(1001);
  expectGpuMatches(step, cpu, "dropout MLP fused Adam step", b); // also a bundle for the device
  std::map<std::string, Tensor> gpu = cpu;
  auto g = GpuFunction::compile(step, b);
  for (int s = 1; s <= steps; ++s) {
    for (auto *in : {&cpu, &gpu}) {
      (*in)["step"] = Tensor::scalar<int64_t>(s);
      (*in)["dropout.seed"] = Tensor::scalar<int64_t>(1000 + s);
    }
    std::vector<Tensor> want = interpret(step, cpu), got = g->run(gpu);
    ASSERT_EQ(want.size(), got.size());
    for (size_t k = 0; k < want.size(); ++k) {
      const std::string &name = step.outputs()[k].name;
      EXPECT_EQ(difference(want[k], got[k], gpuTolerance()), "") << "dropout MLP step " << s << " " << name;
      if (name.rfind("new.", 0) == 0) {
        cpu[name.substr(4)] = want[k];
        gpu[name.substr(4)] = got[k];
      }
    }
  }
}

} // namespace adjoint::testing::gpucases

namespace adjoint::testing::gpucases {

// `steps` Adam steps of the model's fused step on the backend and on the CPU JIT from the same
// weights over the same batches (a fixed set cycled; labels a function of the inputs, so the
// loss falls): every step's loss agrees within 1e-3 relative for the first 20 steps and 2e-2
// after (f32 rounding differences grow through Adam), and both curves fall.
inline void lossCurves(GpuBackend b, const std::string &model, int64_t batch, int steps) {
  auto mod = trainingStep(model, batch);
  const Function &f = *mod->main();
  std::mt19937 rng(21);
  std::vector<std::map<std::string, Tensor>> batches;
  for (int i = 0; i < 8; ++i) {
    std::map<std::string, Tensor> in;
    Tensor x = uniformTensor(DType::F32, f.inputs()[0]->shape(), rng, 0, 1);
    Tensor y(DType::I64, {batch});
    const int64_t per = x.numel() / batch;
    for (int64_t n = 0; n < batch; ++n) {
      double s = 0;
      for (int64_t j = 0; j < per; j += 7)
        s += x.data<float>()[n * per + j];
      y.data<int64_t>()[n] = (int64_t)(s * 10) % 10;
    }
    in[f.inputs()[0]->name()] = x;
    in["target"] = y;
    batches.push_back(in);
  }
  std::map<std::string, Tensor> state;
  for (Value *v : f.inputs())
    if (v->name().rfind("adam.", 0) == 0)
      state[v->name()] = Tensor(v->dtype(), v->shape());
  state["lr"] = Tensor::scalar<float>(1e-3f);
  std::map<std::string, Tensor> cpuState = state, gpuState = state;
  auto jit = compileFunction(f);
  if (std::string dir = gpuExportDir(model + " loss curve"); !dir.empty() && b == GpuBackend::Emulator) {
    // The device's run: the CPU JIT's curve over the steps CudaTrainTest takes.
    GpuBundle bundle;
    bundle.kind = "curve";
    bundle.plan = compileForGpu(f);
    bundle.steps = model == "lenet5" ? 200 : 300;
    std::map<std::string, Tensor> st = state;
    st["step"] = Tensor::scalar<int64_t>(1);
    for (const auto &[k, v] : batches[0])
      st[k] = v;
    for (Value *p : f.params())
      st[p->name()] = p->paramData();
    bundle.inputs = st;
    bundle.batches = batches;
    for (int s = 0; s < bundle.steps; ++s) {
      st["step"] = Tensor::scalar<int64_t>(s + 1);
      for (const auto &[k, v] : batches[(size_t)s % batches.size()])
        st[k] = v;
      std::vector<Tensor> c = jit->run(st);
      for (size_t k = 0; k < f.outputs().size(); ++k) {
        const std::string &name = f.outputs()[k].name;
        if (name == "loss")
          bundle.curve.push_back(c[k].getDouble(0));
        else if (name.rfind("new.", 0) == 0)
          st[name.substr(4)] = c[k];
      }
    }
    bundle.info["model"] = model;
    bundle.info["batch"] = std::to_string(batch);
    writeGpuBundle(dir, bundle);
  }
  auto gpu = GpuFunction::compile(f, b);
  std::vector<double> cpuLoss, gpuLoss;
  for (int s = 0; s < steps; ++s) {
    for (auto *st : {&cpuState, &gpuState}) {
      (*st)["step"] = Tensor::scalar<int64_t>(s + 1);
      for (const auto &[k, v] : batches[(size_t)s % batches.size()])
        (*st)[k] = v;
    }
    std::vector<Tensor> c = jit->run(cpuState), g = gpu->runResident(gpuState);
    for (size_t k = 0; k < f.outputs().size(); ++k) {
      const std::string &name = f.outputs()[k].name;
      if (name == "loss") {
        cpuLoss.push_back(c[k].getDouble(0));
        gpuLoss.push_back(g[k].getDouble(0));
      } else if (name.rfind("new.", 0) == 0) {
        cpuState[name.substr(4)] = c[k];
        gpuState[name.substr(4)] = g[k];
      }
    }
    double tol = s < 20 ? 1e-3 : 2e-2;
    ASSERT_NEAR(gpuLoss.back(), cpuLoss.back(), tol * std::max(1.0, std::fabs(cpuLoss.back())))
        << model << " step " << s + 1;
  }
  if (steps >= 50) {
    auto mean = [](const std::vector<double> &v, size_t from, size_t to) {
      double m = 0;
      for (size_t i = from; i < to; ++i)
        m += v[i];
      return m / (double)(to - from);
    };
    EXPECT_LT(mean(gpuLoss, gpuLoss.size() - 8, gpuLoss.size()), 0.9 * mean(gpuLoss, 0, 8)) << model;
    EXPECT_LT(mean(cpuLoss, cpuLoss.size() - 8, cpuLoss.size()), 0.9 * mean(cpuLoss, 0, 8)) << model;
  }
  std::printf("%s: %d steps on %s, loss %.4f -> %.4f (CPU JIT %.4f -> %.4f)\n", model.c_str(), steps,
              gpu->device().describe().c_str(), gpuLoss.front(), gpuLoss.back(), cpuLoss.front(), cpuLoss.back());
}

} // namespace adjoint::testing::gpucases
