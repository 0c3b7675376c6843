// ai.onnx.preview.training: the Adam, Adagrad and Momentum kernels against the numpy references of
// ONNX's node-test generators (onnx/backend/test/case/node/{adam,adagrad,momentum}.py, values
// computed there in float64), their operand checks, and the Gradient op with its expansion.
#include "Frontend/OnnxImporter.h"
#include "OpTestUtil.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <onnx/onnx_pb.h>

using namespace adjoint;
using namespace adjoint::test;

namespace {

const char *const kTraining = "ai.onnx.preview.training";

// Runs one training-domain op over the given inputs; returns all its results.
std::vector<Tensor> runTraining(const std::string &type, const std::vector<Tensor> &ins,
                                AttrMap attrs, size_t numResults) {
  Function f("t");
  std::map<std::string, Tensor> feeds;
  std::vector<Value *> operands;
  for (size_t i = 0; i < ins.size(); ++i) {
    operands.push_back(f.addInput(inputName(i), {ins[i].dtype(), ins[i].shape()}));
    feeds[inputName(i)] = ins[i];
  }
  Op *op = buildOp(f, type, operands, std::move(attrs), numResults, nullptr, kTraining);
  for (size_t i = 0; i < numResults; ++i)
    f.addOutput(inputName(i),
                op->result(i)); // output names need only be distinct
  return interpret(f, feeds);
}

std::string trainingError(const std::string &type, const std::vector<TensorType> &types,
                          AttrMap attrs, size_t numResults) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i)
    operands.push_back(f.addInput(inputName(i), types[i]));
  try {
    buildOp(f, type, operands, std::move(attrs), numResults, nullptr, kTraining);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

Tensor d3(std::vector<double> v) { return tensor<double>({3}, std::move(v)); }
Tensor r(double v) { return Tensor::scalar<double>(v); }
Tensor t(int64_t v) { return Tensor::scalar<int64_t>(v); }

const Tensor X = d3({1.0, -2.0, 0.5}), G = d3({0.3, -0.1, 2.0}), V = d3({0.2, 0.1, -0.4}),
             H = d3({0.5, 0.02, 1.0});

} // namespace

TEST(TrainingOps, AdamWithBiasCorrection) {
  auto out = runTraining("Adam", {r(0.1), t(3), X, G, V, H},
                         {{"alpha", 0.9},
                          {"beta", 0.999},
                          {"epsilon", 1e-3},
                          {"norm_coefficient", 0.01},
                          {"norm_coefficient_post", 0.05}},
                         3);
  expectTensor<double>(out[0], {3}, {0.9442792009255476, -1.910511813006317, 0.47805330521915934},
                       1e-12);
  expectTensor<double>(out[1], {3}, {0.211, 0.078, -0.1595}, 1e-12);
  expectTensor<double>(out[2], {3}, {0.4995961, 0.0199944, 1.003020025}, 1e-12);
}

TEST(TrainingOps, AdamFirstUpdateHasNoBiasCorrection) {
  // T = 0: R is used as it is; the attributes' defaults are ONNX's (alpha 0.9, beta 0.999, epsilon
  // 1e-6 as f32).
  auto out = runTraining("Adam", {r(0.1), t(0), X, G, V, H}, {}, 3);
  expectTensor<double>(out[0], {3}, {0.970289373352208, -2.0565822897387895, 0.5159760379132258},
                       1e-7);
  expectTensor<double>(out[1], {3}, {0.21, 0.08, -0.16}, 1e-12);
}

TEST(TrainingOps, AdagradDecaysTheRate) {
  auto out = runTraining("Adagrad", {r(0.1), t(2), X, G, H},
                         {{"decay_factor", 0.5}, {"epsilon", 1e-4}, {"norm_coefficient", 0.01}}, 2);
  expectTensor<double>(out[0], {3}, {0.9799268333302376, -1.9676676005004803, 0.4552583435978067},
                       1e-12);
  expectTensor<double>(out[1], {3}, {0.5961, 0.0344, 5.020025}, 1e-12);
}

TEST(TrainingOps, MomentumStandardAndNesterov) {
  AttrMap a = {{"alpha", 0.9}, {"beta", 0.5}, {"norm_coefficient", 0.01}, {"mode", "standard"}};
  // On the first update (T = 0) the gradient's coefficient is 1, not beta.
  auto first = runTraining("Momentum", {r(0.1), t(0), X, G, V}, a, 2);
  expectTensor<double>(first[0], {3}, {0.951, -1.997, 0.3355}, 1e-12);
  expectTensor<double>(first[1], {3}, {0.49, -0.03, 1.645}, 1e-12);
  auto later = runTraining("Momentum", {r(0.1), t(4), X, G, V}, a, 2);
  expectTensor<double>(later[0], {3}, {0.9665, -2.003, 0.43575}, 1e-12);
  expectTensor<double>(later[1], {3}, {0.335, 0.03, 0.6425}, 1e-12);
  a["mode"] = Attribute("nesterov");
  auto nesterov = runTraining("Momentum", {r(0.1), t(4), X, G, V}, a, 2);
  expectTensor<double>(nesterov[0], {3}, {0.93885, -1.9907, 0.241675}, 1e-12);
  expectTensor<double>(nesterov[1], {3}, {0.335, 0.03, 0.6425}, 1e-12);
}

TEST(TrainingOps, SeveralTensorsAndFloat32) {
  // Groups: X1 X2, G1 G2, H1 H2; results X1_new X2_new H1_new H2_new (test_adagrad_multiple).
  Tensor x1 = tensor<float>({1}, {1.f}), x2 = tensor<float>({2}, {1.f, 2.f});
  Tensor g1 = tensor<float>({1}, {-1.f}), g2 = tensor<float>({2}, {-1.f, -3.f});
  Tensor h1 = tensor<float>({1}, {2.f}), h2 = tensor<float>({2}, {4.f, 1.f});
  auto out =
      runTraining("Adagrad", {Tensor::scalar<float>(0.1f), t(0), x1, x2, g1, g2, h1, h2},
                  {{"decay_factor", 0.1}, {"epsilon", 1e-5}, {"norm_coefficient", 0.001}}, 4);
  ASSERT_EQ(out.size(), 4u);
  expectTensor<float>(out[0], {1}, {1.0576962f}, 1e-6);
  expectTensor<float>(out[1], {2}, {1.0446854f, 2.0948617f}, 1e-6);
  expectTensor<float>(out[2], {1}, {2.998001f}, 1e-6);
  expectTensor<float>(out[3], {2}, {4.998001f, 9.988004f}, 1e-6);
}

TEST(TrainingOps, TrailingResultsMayBeOmitted) {
  auto out = runTraining("Adam", {r(0.1), t(3), X, G, V, H}, {{"epsilon", 1e-3}}, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), Shape{3});
}

TEST(TrainingOps, OperandChecks) {
  TensorType f3{DType::F32, {3}}, f2{DType::F32, {2}}, r32{DType::F32, {}}, i64{DType::I64, {}};
  AttrMap mom = {{"alpha", 0.9}, {"beta", 0.5}, {"norm_coefficient", 0.0}, {"mode", "standard"}};
  EXPECT_NE(trainingError("Adam", {r32, i64, f3, f3, f3}, {}, 3).find("4 equally long groups"),
            std::string::npos);
  EXPECT_NE(trainingError("Adagrad", {r32, i64, f3, f2, f3}, {}, 2).find("must have X1's type"),
            std::string::npos);
  EXPECT_NE(trainingError("Adagrad", {r32, r32, f3, f3, f3}, {}, 2).find("T (the update count)"),
            std::string::npos);
  EXPECT_NE(trainingError("Adagrad", {f3, i64, f3, f3, f3}, {}, 2).find("R (the learning rate)"),
            std::string::npos);
  EXPECT_NE(trainingError("Adagrad", {r32, i64, f3, f3, f3}, {}, 3).find("at most 2"),
            std::string::npos);
  mom["mode"] = Attribute("heavy-ball");
  EXPECT_NE(trainingError("Momentum", {r32, i64, f3, f3, f3}, mom, 2).find("mode must be"),
            std::string::npos);
  mom.erase("mode");
  EXPECT_NE(trainingError("Momentum", {r32, i64, f3, f3, f3}, mom, 2)
                .find("missing required attribute 'mode'"),
            std::string::npos);
  TensorType i3{DType::I64, {3}};
  EXPECT_NE(trainingError("Adagrad", {r32, i64, i3, i3, i3}, {}, 2).find("float or double"),
            std::string::npos);
}

// ---- Gradient and its expansion -------------------------------------------------------------

namespace {

struct AddMul {
  std::unique_ptr<Function> f = std::make_unique<Function>("g");
  Value *a, *b, *d;
};

// d = (a + b) * a, as ONNX's test_gradient_of_add_and_mul, with named values.
AddMul addAndMul(TensorType t) {
  AddMul g;
  g.a = g.f->addInput("a", t);
  g.b = g.f->addInput("b", t);
  Value *c = buildOp(*g.f, "Add", {g.a, g.b})->result();
  c->setName("c");
  g.d = buildOp(*g.f, "Mul", {c, g.a})->result();
  g.d->setName("d");
  return g;
}

AttrMap gradAttrs(std::vector<std::string> xs, std::string y, std::vector<std::string> zs = {}) {
  AttrMap a = {{"xs", Attribute(std::move(xs))}, {"y", Attribute(std::move(y))}};
  if (!zs.empty())
    a["zs"] = Attribute(std::move(zs));
  return a;
}

bool expandGradients(Function &f) {
  PassContext ctx;
  bool changed = runExpandGradient(f, ctx);
  verifyFunction(f);
  return changed;
}

} // namespace

TEST(Gradient, ExpandsToTheAdjointGraph) {
  AddMul g = addAndMul({DType::F64, {2}});
  Op *grad =
      buildOp(*g.f, "Gradient", {g.a, g.b}, gradAttrs({"a", "b"}, "d"), 2, nullptr, kTraining);
  // A user of the gradient, ahead of where the expansion appends the adjoint ops.
  Value *sum = buildOp(*g.f, "Add", {grad->result(0), grad->result(1)})->result();
  g.f->addOutput("d", g.d);
  g.f->addOutput("dd_da", grad->result(0));
  g.f->addOutput("sum", sum);
  EXPECT_TRUE(expandGradients(*g.f));
  for (const auto &op : g.f->ops())
    EXPECT_NE(op->opType(), "Gradient");
  auto out =
      interpret(*g.f, {{"a", tensor<double>({2}, {1, 3})}, {"b", tensor<double>({2}, {2, -1})}});
  // dd/da = 2a + b, dd/db = a.
  expectTensor<double>(out[1], {2}, {4, 5});
  expectTensor<double>(out[2], {2}, {5, 8});
}

TEST(Gradient, AtOtherValuesThanTheNamedTensors) {
  // The inputs are where the gradient is taken: here a' = a + 1 in a's place.
  AddMul g = addAndMul({DType::F64, {}});
  Value *one = buildConstant(*g.f, Tensor::scalar<double>(1.0));
  Value *a1 = buildOp(*g.f, "Add", {g.a, one})->result();
  Op *grad =
      buildOp(*g.f, "Gradient", {a1, g.b}, gradAttrs({"a", "b"}, "d"), 2, nullptr, kTraining);
  g.f->addOutput("d", g.d);
  g.f->addOutput("dd_da", grad->result(0));
  g.f->addOutput("dd_db", grad->result(1));
  expandGradients(*g.f);
  auto out = interpret(*g.f, {{"a", Tensor::scalar<double>(1)}, {"b", Tensor::scalar<double>(2)}});
  expectTensor<double>(out[0], {}, {3});         // d itself is untouched
  expectTensor<double>(out[1], {}, {2 * 2 + 2}); // 2a' + b at a' = 2
  expectTensor<double>(out[2], {}, {2});
}

TEST(Gradient, UnusedTensorGetsZerosAndZsAreConstants) {
  AddMul g = addAndMul({DType::F32, {3}});
  Value *e = g.f->addInput("e", {DType::F32, {3}});
  Op *grad = buildOp(*g.f, "Gradient", {g.a, e, g.b}, gradAttrs({"a", "e"}, "d", {"b"}), 2, nullptr,
                     kTraining);
  g.f->addOutput("dd_da", grad->result(0));
  g.f->addOutput("dd_de", grad->result(1));
  expandGradients(*g.f);
  Tensor a = tensor<float>({3}, {1, 2, 3}), b = tensor<float>({3}, {0, 1, 0});
  auto out = interpret(*g.f, {{"a", a}, {"b", b}, {"e", a}});
  expectTensor<float>(out[0], {3}, {2, 5, 6});
  expectTensor<float>(out[1], {3}, {0, 0, 0});
}

TEST(Gradient, Errors) {
  AddMul g = addAndMul({DType::F32, {}});
  Op *grad = buildOp(*g.f, "Gradient", {g.a}, gradAttrs({"a"}, "nope"), 1, nullptr, kTraining);
  g.f->addOutput("g", grad->result());
  PassContext ctx;
  try {
    runExpandGradient(*g.f, ctx);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("y names no value 'nope'"), std::string::npos) << e.what();
  }
  // Run unexpanded, the op says what to do.
  try {
    interpret(*g.f, {{"a", Tensor::scalar<float>(1)}, {"b", Tensor::scalar<float>(1)}});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("--expand-gradient"), std::string::npos) << e.what();
  }
  TensorType f32{DType::F32, {}}, i64{DType::I64, {}};
  EXPECT_NE(trainingError("Gradient", {f32, f32}, gradAttrs({"a"}, "d"), 1)
                .find("one input per name in xs and zs"),
            std::string::npos);
  EXPECT_NE(trainingError("Gradient", {i64}, gradAttrs({"a"}, "d"), 1).find("float or double"),
            std::string::npos);
  EXPECT_NE(trainingError("Gradient", {f32}, gradAttrs({"a"}, "d"), 2).find("xs names 1"),
            std::string::npos);
}

// ---- Import -----------------------------------------------------------------------------------

namespace {

// Momentum(R, T, X, G, V) in a model that imports the given opsets ("" is ai.onnx).
onnx::ModelProto momentumModel(std::vector<std::pair<std::string, int64_t>> opsets,
                               bool withDefaultOp = false) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  for (const auto &[domain, version] : opsets) {
    auto *imp = m.add_opset_import();
    imp->set_domain(domain);
    imp->set_version(version);
  }
  onnx::GraphProto &g = *m.mutable_graph();
  g.set_name("momentum");
  auto add = [](google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> *list,
                const std::string &name, int elem, bool scalar) {
    onnx::ValueInfoProto &vi = *list->Add();
    vi.set_name(name);
    auto *tt = vi.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto *shape = tt->mutable_shape();
    if (!scalar)
      shape->add_dim()->set_dim_value(2);
  };
  add(g.mutable_input(), "R", onnx::TensorProto::FLOAT, true);
  add(g.mutable_input(), "T", onnx::TensorProto::INT64, true);
  for (const char *n : {"X", "G", "V"})
    add(g.mutable_input(), n, onnx::TensorProto::FLOAT, false);
  onnx::NodeProto &n = *g.add_node();
  n.set_op_type("Momentum");
  n.set_domain("ai.onnx.preview.training");
  for (const char *in : {"R", "T", "X", "G", "V"})
    n.add_input(in);
  n.add_output("X_new");
  n.add_output("V_new");
  auto attr = [&](const char *name, float v) {
    auto *a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  };
  attr("alpha", 0.9f);
  attr("beta", 0.5f);
  attr("norm_coefficient", 0.f);
  auto *mode = n.add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("standard");
  std::string out = "X_new";
  if (withDefaultOp) {
    onnx::NodeProto &neg = *g.add_node();
    neg.set_op_type("Neg");
    neg.add_input("X_new");
    neg.add_output("Y");
    out = "Y";
  }
  add(g.mutable_output(), out, onnx::TensorProto::FLOAT, false);
  return m;
}

std::string importError(const onnx::ModelProto &m) {
  try {
    importOnnxModel(m, ".", "m.onnx");
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(TrainingImport, ModelOfTrainingOpsOnlyNeedsNoDefaultOpset) {
  // ONNX's node tests of the training ops import only ai.onnx.preview.training.
  auto module = importOnnxModel(momentumModel({{"ai.onnx.preview.training", 1}}), ".", "m.onnx");
  const Function &f = *module->main();
  verifyFunction(f);
  auto out = interpret(f, {{"R", Tensor::scalar<float>(0.5f)},
                           {"T", Tensor::scalar<int64_t>(0)},
                           {"X", tensor<float>({2}, {1, 2})},
                           {"G", tensor<float>({2}, {1, -1})},
                           {"V", tensor<float>({2}, {0, 0})}});
  expectTensor<float>(out[0], {2}, {0.5f, 2.5f});
}

TEST(TrainingImport, Errors) {
  EXPECT_NE(importError(momentumModel({{"ai.onnx.preview.training", 2}}))
                .find("ai.onnx.preview.training opset 2 is not supported (only "
                      "version 1)"),
            std::string::npos);
  EXPECT_NE(importError(momentumModel({{"ai.onnx.preview.training", 1}}, true))
                .find("imports no default-domain (ai.onnx) opset"),
            std::string::npos);
  EXPECT_EQ(importError(momentumModel({{"", 17}, {"ai.onnx.preview.training", 1}}, true)), "");
}
