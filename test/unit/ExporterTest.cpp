// The ONNX exporter: models it writes pass onnx::checker, and re-importing them gives a function
// that computes the same values.
#include "Frontend/OnnxExporter.h"
#include "Frontend/OnnxImporter.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Support/Error.h"

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <filesystem>

using namespace adjoint;
namespace fs = std::filesystem;

namespace {

Tensor iota(Shape s, float scale = 1.f, float offset = 0.f) {
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = offset + scale * (float)i;
  return t;
}

Value *op1(Function &f, const std::string &type, std::vector<Value *> ins, AttrMap attrs = {},
           const std::string &name = "") {
  return buildOp(f, type, std::move(ins), std::move(attrs), 1, nullptr, "", name)->result();
}

// x → MatMul(w) → Add(b) → Relu → Reshape(const) → Softmax; plus Split with two results, one
// output that is an input, and the Relu result exported under a second name.
std::unique_ptr<Module> sampleModule() {
  auto m = std::make_unique<Module>();
  Function &f = *m->addFunction("sample");
  Value *x = f.addInput("x", {DType::F32, {2, 3}});
  Value *w = f.addParam("w", {DType::F32, {3, 4}}, iota({3, 4}, 0.1f, -0.4f));
  Value *b = f.addParam("b", {DType::F32, {4}}, iota({4}, -0.2f));
  Value *h = op1(f, "MatMul", {x, w}, {}, "mm");
  Value *a = op1(f, "Add", {h, b}, {}, "add");
  Value *r = op1(f, "Relu", {a}, {}, "relu");
  Value *shape = buildConstant(f, Tensor::fromVector<int64_t>({2}, {4, 2}));
  Value *rs = op1(f, "Reshape", {r, shape}, {}, "reshape");
  AttrMap sm;
  sm["axis"] = Attribute(int64_t{0});
  Value *y = op1(f, "Softmax", {rs}, sm, "softmax");
  AttrMap sp;
  sp["axis"] = Attribute(int64_t{1});
  Op *split = buildOp(f, "Split", {x}, sp, 3, nullptr, "", "split");
  f.addOutput("y", y);
  f.addOutput("relu_out", r);
  f.addOutput("x_again", x);
  f.addOutput("part0", split->result(0));
  f.addOutput("part2", split->result(2));
  return m;
}

} // namespace

TEST(Exporter, CheckerAcceptsAndReimportComputesTheSame) {
  auto m = sampleModule();
  Function &f = *m->main();
  onnx::ModelProto proto;
  exportOnnxModel(f, proto);
  EXPECT_NO_THROW(onnx::checker::check_model(proto)) << proto.DebugString();

  EXPECT_EQ(proto.ir_version(), 8);
  ASSERT_GE(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), 17);
  const onnx::GraphProto &g = proto.graph();
  EXPECT_EQ(g.name(), "sample");
  ASSERT_EQ(g.input_size(), 1); // parameters are initializers only
  EXPECT_EQ(g.input(0).name(), "x");
  ASSERT_EQ(g.initializer_size(), 2);
  EXPECT_EQ(g.initializer(0).name(), "w");
  ASSERT_EQ(g.output_size(), 5);
  EXPECT_EQ(g.output(0).name(), "y");
  EXPECT_EQ(g.output(2).name(), "x_again");
  bool sawConstant = false, sawNamedMatMul = false;
  for (const auto &n : g.node()) {
    sawConstant |= n.op_type() == "Constant";
    sawNamedMatMul |= n.op_type() == "MatMul" && n.name() == "mm";
  }
  EXPECT_TRUE(sawConstant);
  EXPECT_TRUE(sawNamedMatMul);

  auto back = importOnnxModel(proto, testing::TempDir(), "exported");
  Function &f2 = *back->main();
  EXPECT_EQ(f2.params().size(), 2u);
  EXPECT_EQ(f2.inputs().size(), 1u);
  ASSERT_EQ(f2.outputs().size(), f.outputs().size());
  std::map<std::string, Tensor> ins{{"x", iota({2, 3}, 0.7f, -1.f)}};
  auto want = interpret(f, ins), got = interpret(f2, ins);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(f2.outputs()[i].name, f.outputs()[i].name);
    EXPECT_TRUE(got[i].identical(want[i])) << "output " << f.outputs()[i].name;
  }
}

TEST(Exporter, ParametersExportTheirCurrentData) {
  auto m = sampleModule();
  Function &f = *m->main();
  Tensor updated = iota({3, 4}, -0.3f, 2.f);
  f.findArg("w")->setParamData(updated);
  fs::path path = fs::path(testing::TempDir()) / ("exported_" + std::to_string(::getpid()) + ".onnx");
  exportOnnxFile(f, path.string());
  EXPECT_NO_THROW(onnx::checker::check_model(path.string()));
  auto back = importOnnxFile(path.string());
  EXPECT_TRUE(back->main()->findArg("w")->paramData().identical(updated));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp-" + std::to_string(::getpid())));
  fs::remove(path);
}

TEST(Exporter, DoubleAndIntegerTypesSurvive) {
  Module m;
  Function &f = *m.addFunction("types");
  Value *x = f.addInput("x", {DType::F64, {3}});
  Value *i = f.addInput("i", {DType::I64, {3}});
  Value *p = f.addParam("p", {DType::F64, {3}}, Tensor::fromVector<double>({3}, {0.1, 0.2, 0.3}));
  AttrMap cast;
  cast["to"] = Attribute(int64_t{11});
  Value *ic = op1(f, "Cast", {i}, cast, "cast");
  Value *s = op1(f, "Add", {op1(f, "Mul", {x, p}), ic});
  Value *lt = op1(f, "Less", {s, x}, {}, "less");
  f.addOutput("s", s);
  f.addOutput("lt", lt);
  onnx::ModelProto proto;
  exportOnnxModel(f, proto);
  EXPECT_NO_THROW(onnx::checker::check_model(proto));
  auto back = importOnnxModel(proto, ".", "types");
  std::map<std::string, Tensor> ins{{"x", Tensor::fromVector<double>({3}, {1, -2, 3})},
                                    {"i", Tensor::fromVector<int64_t>({3}, {-1, 0, 1})}};
  auto want = interpret(f, ins), got = interpret(*back->main(), ins);
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_TRUE(got[k].identical(want[k]));
}

TEST(Exporter, ParameterWithoutDataIsAnError) {
  Module m;
  Function &f = *m.addFunction("nodata");
  Value *x = f.addInput("x", {DType::F32, {2}});
  Value *w = f.addParam("w", {DType::F32, {2}}, Tensor());
  f.addOutput("y", op1(f, "Add", {x, w}));
  onnx::ModelProto proto;
  try {
    exportOnnxModel(f, proto);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos) << e.what();
  }
}
