// The JIT against the interpreter for SoftmaxCrossEntropyLoss and adjoint.SoftmaxCrossEntropyGrad:
// every reduction, class weights, ignore_index, extra dimensions [N, C, d1, d2], i32 and i64
// labels, f32 and f64; a label out of range is the interpreter's error; and the MLP's training
// step (forward and backward) as adjoint-run builds it.
#include "JitTestSupport.h"

#include "Frontend/OnnxImporter.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

Tensor labelsTensor(DType t, const Shape &s, int64_t classes, int64_t ignore, std::mt19937 &rng) {
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

struct LossCase {
  Shape scores;
  std::string reduction;
  bool weights, ignore, logProb;
  DType t, labels;
};

} // namespace

TEST(JitLoss, SoftmaxCrossEntropyAndGrad) {
  std::mt19937 rng(31);
  std::vector<LossCase> cases;
  for (const Shape &s : {Shape{64, 10}, Shape{1, 1}, Shape{3, 5, 4, 2}, Shape{7, 17}})
    for (const char *red : {"mean", "sum", "none"})
      for (int opt = 0; opt < 4; ++opt)
        cases.push_back({s, red, bool(opt & 1), bool(opt & 2), opt == 3,
                         opt % 2 ? DType::F64 : DType::F32, opt < 2 ? DType::I64 : DType::I32});
  for (const LossCase &k : cases) {
    Module m;
    Function *f = m.addFunction("f");
    Shape labelShape = k.scores;
    labelShape.erase(labelShape.begin() + 1);
    int64_t C = k.scores[1];
    Value *x = f->addInput("x", {k.t, k.scores});
    Value *y = f->addInput("y", {k.labels, labelShape});
    std::map<std::string, Tensor> in{{"x", randomTensor(k.t, k.scores, rng, false)},
                                     {"y", labelsTensor(k.labels, labelShape, C, k.ignore ? -1 : 0, rng)}};
    std::vector<Value *> operands{x, y};
    if (k.weights) {
      operands.push_back(f->addInput("w", {k.t, {C}}));
      in["w"] = uniformTensor(k.t, {C}, rng, 0.1, 2);
    }
    AttrMap attrs{{"reduction", Attribute(k.reduction)}};
    if (k.ignore)
      attrs["ignore_index"] = Attribute(int64_t{-1});
    Op *loss = buildOp(*f, "SoftmaxCrossEntropyLoss", operands, attrs, k.logProb ? 2 : 1);
    f->addOutput("loss", loss->result(0));
    if (k.logProb)
      f->addOutput("log_prob", loss->result(1));
    Value *dy = f->addInput("dy", loss->result(0)->type());
    in["dy"] = uniformTensor(k.t, loss->result(0)->shape(), rng, -1, 1);
    std::vector<Value *> gradOperands{dy, x, y};
    if (k.weights)
      gradOperands.push_back(operands[2]);
    f->addOutput("dx", buildOp(*f, "SoftmaxCrossEntropyGrad", gradOperands, attrs, 1, nullptr, "adjoint")->result());
    std::string what = "loss " + TensorType{k.t, k.scores}.str() + " " + k.reduction +
                       (k.weights ? " weights" : "") + (k.ignore ? " ignore" : "") +
                       " labels " + std::string(dtypeName(k.labels));
    expectJitMatches(*f, in, what);
  }
}

TEST(JitLoss, LabelOutOfRangeIsTheInterpretersError) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {2, 3}});
  Value *y = f->addInput("y", {DType::I64, {2}});
  Op *op = buildOp(*f, "SoftmaxCrossEntropyLoss", {x, y});
  op->setName("sce");
  f->addOutput("loss", op->result());
  std::map<std::string, Tensor> in{{"x", Tensor(DType::F32, {2, 3})},
                                   {"y", Tensor::fromVector<int64_t>({2}, {1, 7})}};
  std::string want, got;
  try {
    interpret(*f, in);
  } catch (const Error &e) {
    want = e.what();
  }
  auto c = compileFunction(*f);
  try {
    c->run(in);
  } catch (const Error &e) {
    got = e.what();
  }
  EXPECT_NE(want, "");
  EXPECT_EQ(got, want);
  // The next run with good labels succeeds: the error was taken.
  in["y"] = Tensor::fromVector<int64_t>({2}, {1, 2});
  EXPECT_NO_THROW(c->run(in));
}

TEST(JitLoss, MlpTrainingStep) {
  ImportOptions io;
  io.dims["batch"] = 64;
  auto mod = importOnnxFile(std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx", io);
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy";
  runPipeline(*mod, {findPass("attach-loss"), findPass("autodiff")}, ctx, {});
  std::mt19937 rng(32);
  std::map<std::string, Tensor> in{{"input", uniformTensor(DType::F32, {64, 784}, rng, 0, 1)},
                                   {"target", labelsTensor(DType::I64, {64}, 10, 0, rng)}};
  expectJitMatches(*mod->main(), in, "training step", Tolerance{1e-4, 1e-9, 1e-5});
  runPass(*mod, "fuse");
  expectJitMatches(*mod->main(), in, "training step fused", Tolerance{1e-4, 1e-9, 1e-5});
}
