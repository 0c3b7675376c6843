// The JIT against the interpreter for the normalization ops (CodeGen/LowerNorm.cpp): Softmax and
// LogSoftmax on every axis, LayerNormalization (axis, epsilon, stash_type, optional bias,
// Mean/InvStdDev outputs, broadcast scale), BatchNormalization (inference, and training with
// the running statistics), Dropout (in and out of training: the mask's MT19937 stream),
// NegativeLogLikelihoodLoss and its Grad; f32 and f64, sizes with vector remainders, 1 and 2
// threads.
#include "JitTestSupport.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

struct Inputs {
  std::unique_ptr<Module> module = std::make_unique<Module>();
  Function *f = module->addFunction("f");
  std::map<std::string, Tensor> values;

  Value *add(const std::string &name, Tensor t) {
    Value *v = f->addInput(name, {t.dtype(), t.shape()});
    values[name] = std::move(t);
    return v;
  }
  void outputs(Op *op) {
    for (size_t i = 0; i < op->numResults(); ++i)
      f->addOutput(std::string("y").append(std::to_string(i)), op->result(i));
  }
};

std::string shapeName(DType t, const Shape &s) { return TensorType{t, s}.str(); }

void checkSoftmax(const char *op, DType t, const Shape &s, int64_t axis, std::mt19937 &rng) {
  Inputs in;
  Value *x = in.add("x", randomTensor(t, s, rng, true, false));
  in.outputs(buildOp(*in.f, op, {x}, {{"axis", Attribute(axis)}}));
  expectJitMatches(*in.f, in.values, std::string(op) + " " + shapeName(t, s) + " axis " + std::to_string(axis));
}

void checkLayerNorm(DType t, const Shape &s, int64_t axis, const Shape &scale, bool bias,
                    int results, int64_t stash, double eps, std::mt19937 &rng) {
  Inputs in;
  std::vector<Value *> operands{in.add("x", randomTensor(t, s, rng, false)),
                                in.add("w", uniformTensor(t, scale, rng, -2, 2))};
  if (bias)
    operands.push_back(in.add("b", uniformTensor(t, scale, rng, -2, 2)));
  in.outputs(buildOp(*in.f, "LayerNormalization", operands,
                     {{"axis", Attribute(axis)}, {"stash_type", Attribute(stash)}, {"epsilon", Attribute(eps)}},
                     results));
  expectJitMatches(*in.f, in.values,
                   "LayerNormalization " + shapeName(t, s) + " axis " + std::to_string(axis) + " scale " +
                       shapeStr(scale) + (bias ? " bias" : "") + " results " + std::to_string(results) +
                       " stash " + std::to_string(stash));
}

void checkBatchNorm(DType t, DType stat, const Shape &s, bool training, int results,
                    std::mt19937 &rng) {
  Inputs in;
  int64_t C = s[1];
  std::vector<Value *> operands{in.add("x", randomTensor(t, s, rng, false)),
                                in.add("scale", uniformTensor(t, {C}, rng, -2, 2)),
                                in.add("b", uniformTensor(t, {C}, rng, -2, 2)),
                                in.add("mean", uniformTensor(stat, {C}, rng, -1, 1)),
                                in.add("var", uniformTensor(stat, {C}, rng, 0.1, 2))};
  in.outputs(buildOp(*in.f, "BatchNormalization", operands,
                     {{"training_mode", Attribute(int64_t{training})}, {"epsilon", Attribute(1e-3)},
                      {"momentum", Attribute(0.8)}},
                     results));
  expectJitMatches(*in.f, in.values,
                   "BatchNormalization " + shapeName(t, s) + " stats " + std::string(dtypeName(stat)) +
                       (training ? " training" : "") + " results " + std::to_string(results));
}

} // namespace

TEST(JitNorm, Softmax) {
  std::mt19937 rng(41);
  for (const char *op : {"Softmax", "LogSoftmax"})
    for (DType t : {DType::F32, DType::F64}) {
      for (int64_t axis : {-1, 0, 1, 2})
        checkSoftmax(op, t, {3, 17, 5}, axis, rng);
      checkSoftmax(op, t, {7, 33}, 1, rng);
      checkSoftmax(op, t, {1}, 0, rng);
      checkSoftmax(op, t, {4, 1, 3}, 1, rng);
      checkSoftmax(op, t, {0, 5}, 1, rng);
    }
}

TEST(JitNorm, LayerNormalization) {
  std::mt19937 rng(42);
  for (DType t : {DType::F32, DType::F64})
    for (int64_t stash : {1, 11})
      for (int results : {1, 2, 3}) {
        checkLayerNorm(t, {3, 4, 17}, -1, {17}, true, results, stash, 1e-5, rng);
        checkLayerNorm(t, {3, 4, 17}, 1, {4, 17}, results != 2, results, stash, 1e-2, rng);
        checkLayerNorm(t, {3, 4, 17}, 1, {1, 17}, true, results, stash, 1e-5, rng);
        checkLayerNorm(t, {3, 4, 17}, 0, {3, 4, 17}, false, results, stash, 1e-5, rng);
        checkLayerNorm(t, {5, 33}, -2, {33}, true, results, stash, 0.5, rng);
        checkLayerNorm(t, {6}, 0, {6}, true, results, stash, 1e-5, rng);
      }
}

TEST(JitNorm, BatchNormalization) {
  std::mt19937 rng(43);
  for (DType t : {DType::F32, DType::F64})
    for (DType stat : {DType::F32, DType::F64}) {
      checkBatchNorm(t, stat, {2, 3, 5, 7}, false, 1, rng);
      checkBatchNorm(t, stat, {4, 5}, false, 1, rng);
      checkBatchNorm(t, stat, {3, 2, 17}, false, 1, rng);
      for (int results : {1, 2, 3}) {
        checkBatchNorm(t, stat, {2, 3, 5, 7}, true, results, rng);
        checkBatchNorm(t, stat, {4, 5}, true, results, rng);
        checkBatchNorm(t, stat, {1, 2, 1}, true, results, rng);
      }
    }
}

TEST(JitNorm, DropoutInference) {
  std::mt19937 rng(44);
  for (DType t : {DType::F32, DType::F64})
    for (int variant = 0; variant < 3; ++variant) {
      Inputs in;
      std::vector<Value *> operands{in.add("x", randomTensor(t, {5, 13}, rng))};
      if (variant > 0)
        operands.push_back(buildConstant(*in.f, t == DType::F32 ? Tensor::scalar(0.3f) : Tensor::scalar(0.3)));
      if (variant > 1)
        operands.push_back(buildConstant(*in.f, Tensor::scalar(false)));
      in.outputs(buildOp(*in.f, "Dropout", operands, {{"seed", Attribute(int64_t{3})}}, 2));
      expectJitMatches(*in.f, in.values, "Dropout variant " + std::to_string(variant));
    }
}

TEST(JitNorm, DropoutTraining) {
  std::mt19937 rng(47);
  for (DType t : {DType::F32, DType::F64})
    for (bool mode : {true, false})
      for (int variant = 0; variant < 4; ++variant) {
        Inputs in;
        Value *x = in.add("x", randomTensor(t, {7, 19}, rng));
        // Variants: ratio a constant or an input (f64 with f32 data too), seed or none, 1 or 2
        // results.
        Value *ratio;
        if (variant % 2)
          ratio = in.add("ratio", variant == 3 ? Tensor::scalar(0.25) : Tensor::scalar(0.0f));
        else
          ratio = buildConstant(*in.f, t == DType::F32 ? Tensor::scalar(0.3f) : Tensor::scalar(0.3));
        Value *training = in.add("training", Tensor::scalar(mode));
        AttrMap attrs;
        if (variant < 2)
          attrs["seed"] = Attribute(int64_t{variant == 0 ? 7 : -5});
        in.outputs(buildOp(*in.f, "Dropout", {x, ratio, training}, attrs, variant == 2 ? 1 : 2));
        expectJitMatches(*in.f, in.values,
                         "Dropout " + std::string(dtypeName(t)) + (mode ? " training" : "") +
                             " variant " + std::to_string(variant));
      }
}

// The seed operand (an adjoint extension) is mixed into the seed at run time: the JIT's inline
// mixing draws the interpreter's mask, and different operand values draw different masks.
TEST(JitNorm, DropoutSeedOperand) {
  std::mt19937 rng(48);
  std::vector<Tensor> masks;
  for (int64_t salt : std::vector<int64_t>{0, 1, 2, -7, int64_t(1) << 40}) {
    Inputs in;
    Value *x = in.add("x", randomTensor(DType::F32, {6, 11}, rng));
    Value *ratio = buildConstant(*in.f, Tensor::scalar(0.5f));
    Value *training = buildConstant(*in.f, Tensor::scalar(true));
    Value *seed = in.add("seed", Tensor::scalar<int64_t>(salt));
    Op *op = buildOp(*in.f, "Dropout", {x, ratio, training, seed},
                     {{"seed", Attribute(int64_t{11})}}, 2);
    in.outputs(op);
    expectJitMatches(*in.f, in.values, "Dropout with seed operand " + std::to_string(salt));
    masks.push_back(interpret(*in.f, in.values)[1]);
  }
  for (size_t i = 1; i < masks.size(); ++i)
    EXPECT_NE(std::memcmp(masks[i].bytes(), masks[0].bytes(), masks[0].byteSize()), 0)
        << "salt " << i << " drew salt 0's mask";
}

TEST(JitNorm, DropoutBadRatioIsAnError) {
  Inputs in;
  Value *x = in.add("x", Tensor(DType::F32, {4}));
  Value *ratio = in.add("ratio", Tensor::scalar(1.5f));
  Value *mode = in.add("training", Tensor::scalar(true));
  in.outputs(buildOp(*in.f, "Dropout", {x, ratio, mode}, {}, 2));
  try {
    compileFunction(*in.f)->run(in.values);
    ADD_FAILURE() << "a ratio of 1.5 ran";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("ratio must be in [0, 1) in training mode"), std::string::npos)
        << e.what();
  }
}

TEST(JitNorm, LargeAndThreaded) {
  std::mt19937 rng(45);
  for (int threads : {1, 2}) {
    setJitThreads(threads);
    for (DType t : {DType::F32, DType::F64}) {
      checkSoftmax("Softmax", t, {513, 257}, 1, rng);
      checkSoftmax("LogSoftmax", t, {65, 129, 9}, 1, rng);
      checkLayerNorm(t, {1025, 131}, -1, {131}, true, 3, 1, 1e-5, rng);
      checkLayerNorm(t, {257, 3, 67}, 1, {3, 67}, true, 1, 11, 1e-5, rng);
      checkBatchNorm(t, t, {16, 33, 13, 11}, false, 1, rng);
      checkBatchNorm(t, t, {16, 33, 13, 11}, true, 3, rng);
      Inputs in;
      Value *x = in.add("x", randomTensor(t, {301, 257}, rng));
      Value *ratio = buildConstant(*in.f, Tensor::scalar(0.5));
      in.outputs(buildOp(*in.f, "Dropout", {x, ratio, in.add("mode", Tensor::scalar(true))}, {}, 2));
      expectJitMatches(*in.f, in.values, "large Dropout");
    }
  }
  setJitThreads(0);
}

namespace {

Tensor labelsTensor(DType t, const Shape &s, int64_t classes, int64_t ignore, std::mt19937 &rng) {
  Tensor r(t, s);
  for (int64_t i = 0; i < r.numel(); ++i)
    r.setDouble(i, (double)(rng() % 5 == 0 ? ignore : (int64_t)(rng() % classes)));
  return r;
}

} // namespace

TEST(JitNorm, NegativeLogLikelihoodLossAndGrad) {
  std::mt19937 rng(46);
  for (const Shape &s : {Shape{64, 10}, Shape{1, 1}, Shape{3, 5, 4, 2}, Shape{7, 17}})
    for (const char *red : {"mean", "sum", "none"})
      for (int opt = 0; opt < 4; ++opt) {
        DType t = opt % 2 ? DType::F64 : DType::F32, lt = opt < 2 ? DType::I64 : DType::I32;
        bool weights = opt & 1, ignore = opt & 2;
        Inputs in;
        Shape labelShape = s;
        labelShape.erase(labelShape.begin() + 1);
        int64_t C = s[1];
        std::vector<Value *> operands{in.add("x", randomTensor(t, s, rng, false)),
                                      in.add("y", labelsTensor(lt, labelShape, C, ignore ? -1 : 0, rng))};
        if (weights)
          operands.push_back(in.add("w", uniformTensor(t, {C}, rng, 0.1, 2)));
        AttrMap attrs{{"reduction", Attribute(red)}};
        if (ignore)
          attrs["ignore_index"] = Attribute(int64_t{-1});
        Op *loss = buildOp(*in.f, "NegativeLogLikelihoodLoss", operands, attrs);
        in.f->addOutput("loss", loss->result());
        Value *dy = in.add("dy", uniformTensor(t, loss->result()->shape(), rng, -1, 1));
        std::vector<Value *> gradOperands{dy, operands[1]};
        if (weights)
          gradOperands.push_back(operands[2]);
        AttrMap gradAttrs = attrs;
        gradAttrs["num_classes"] = Attribute(C);
        in.f->addOutput("dx", buildOp(*in.f, "NegativeLogLikelihoodLossGrad", gradOperands, gradAttrs, 1,
                                      nullptr, "adjoint")->result());
        expectJitMatches(*in.f, in.values,
                         "NLL " + shapeName(t, s) + " " + red + (weights ? " weights" : "") +
                             (ignore ? " ignore" : "") + " labels " + std::string(dtypeName(lt)));
      }
}

TEST(JitNorm, NllLabelOutOfRangeIsTheInterpretersError) {
  Inputs in;
  Value *x = in.add("x", Tensor(DType::F32, {2, 3}));
  Tensor labels(DType::I64, {2});
  labels.setDouble(1, 7);
  Value *y = in.add("y", labels);
  in.outputs(buildOp(*in.f, "NegativeLogLikelihoodLoss", {x, y}));
  std::string want, got;
  try {
    interpret(*in.f, in.values);
  } catch (const Error &e) {
    want = e.what();
  }
  try {
    compileFunction(*in.f)->run(in.values);
  } catch (const Error &e) {
    got = e.what();
  }
  EXPECT_NE(want, "");
  EXPECT_EQ(got, want);
}
