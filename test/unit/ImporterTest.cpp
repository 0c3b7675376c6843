// The ONNX importer: every error it promises (one clear Error naming the file and node, never a
// crash), and imports of small models built here with onnx::ModelProto, checked by running them
// through the interpreter.
#include "Frontend/OnnxImporter.h"
#include "Frontend/TensorIO.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <variant>

using namespace adjoint;
namespace fs = std::filesystem;

namespace {

using Dim = std::variant<int64_t, std::string>;

// A model under construction; save() writes it into a fresh folder of the test temp dir.
struct ModelBuilder {
  onnx::ModelProto m;

  explicit ModelBuilder(int64_t opset = 17, const std::string &name = "test_graph") {
    m.set_ir_version(8);
    auto *imp = m.add_opset_import();
    imp->set_domain("");
    imp->set_version(opset);
    m.mutable_graph()->set_name(name);
  }
  onnx::GraphProto &g() { return *m.mutable_graph(); }

  static void setType(onnx::ValueInfoProto &vi, const std::string &name, int elem,
                      const std::vector<Dim> *dims) {
    vi.set_name(name);
    auto *tt = vi.mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    if (!dims)
      return;
    auto *s = tt->mutable_shape();
    for (const Dim &d : *dims) {
      auto *pd = s->add_dim();
      if (std::holds_alternative<int64_t>(d))
        pd->set_dim_value(std::get<int64_t>(d));
      else
        pd->set_dim_param(std::get<std::string>(d));
    }
  }
  void input(const std::string &name, std::vector<Dim> dims, int elem = onnx::TensorProto::FLOAT) {
    setType(*g().add_input(), name, elem, &dims);
  }
  void output(const std::string &name, int elem = onnx::TensorProto::FLOAT) {
    setType(*g().add_output(), name, elem, nullptr);
  }
  void output(const std::string &name, std::vector<Dim> dims, int elem = onnx::TensorProto::FLOAT) {
    setType(*g().add_output(), name, elem, &dims);
  }
  onnx::NodeProto &node(const std::string &type, std::vector<std::string> ins,
                        std::vector<std::string> outs, const std::string &name = "") {
    auto *n = g().add_node();
    n->set_op_type(type);
    n->set_name(name);
    for (auto &i : ins)
      n->add_input(i);
    for (auto &o : outs)
      n->add_output(o);
    return *n;
  }
  onnx::TensorProto &init(const std::string &name, const Tensor &t) {
    auto *p = g().add_initializer();
    tensorToProto(t, *p);
    p->set_name(name);
    return *p;
  }
  std::string save(const std::string &file = "model.onnx") {
    static int counter = 0;
    fs::path dir = fs::path(testing::TempDir()) /
                   ("importer_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir);
    std::string path = (dir / file).string();
    std::string bytes;
    m.SerializeToString(&bytes);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
};

void attrInt(onnx::NodeProto &n, const std::string &name, int64_t v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attrFloat(onnx::NodeProto &n, const std::string &name, float v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attrInts(onnx::NodeProto &n, const std::string &name, std::vector<int64_t> v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v)
    a->add_ints(x);
}
void attrTensor(onnx::NodeProto &n, const std::string &name, const Tensor &t) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  tensorToProto(t, *a->mutable_t());
}

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  } catch (const std::exception &e) {
    return std::string("NOT an adjoint::Error: ") + e.what();
  }
  return "no error";
}

// Imports and checks that the result is valid IR (types agree with what inference gives).
std::unique_ptr<Module> importVerified(const std::string &path, const ImportOptions &opts = {}) {
  auto m = importOnnxFile(path, opts);
  verifyModule(*m);
  return m;
}

std::string importError(const std::string &path, const ImportOptions &opts = {}) {
  return errorOf([&] { importOnnxFile(path, opts); });
}

#define EXPECT_CONTAINS(haystack, needle)                                                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                                 \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

Tensor iota(Shape s, float scale = 1.f, float offset = 0.f) {
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = offset + scale * (float)i;
  return t;
}

void expectClose(const Tensor &a, const Tensor &b, double tol = 1e-5) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_NEAR(a.getDouble(i), b.getDouble(i), tol) << "element " << i;
}

size_t countOps(const Function &f, const std::string &type) {
  size_t n = 0;
  for (const auto &op : f.ops())
    n += op->opType() == type;
  return n;
}

} // namespace

// ---- Errors -----------------------------------------------------------------------------------

TEST(Importer, UnsupportedOpsAreListedTogether) {
  ModelBuilder b;
  b.input("x", {2, 3});
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("NonZero", {"r"}, {"nz"}, "nz");
  b.node("Loop", {"", ""}, {"l"}, "loop1");
  b.node("Fancy", {"r"}, {"f"}, "custom").set_domain("com.example");
  auto *imp = b.m.add_opset_import();
  imp->set_domain("com.example");
  imp->set_version(1);
  b.output("f");
  std::string path = b.save();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "3 unsupported ops");
  EXPECT_CONTAINS(msg, "NonZero (node 'nz')");
  EXPECT_CONTAINS(msg, "Loop (node 'loop1')");
  EXPECT_CONTAINS(msg, "com.example.Fancy (node 'custom')");
}

TEST(Importer, MissingFileIsAnError) {
  std::string path = testing::TempDir() + "/does_not_exist.onnx";
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "no such file");
}

TEST(Importer, DirectoryIsAnError) {
  std::string msg = importError(testing::TempDir());
  EXPECT_CONTAINS(msg, "directory");
}

TEST(Importer, EmptyFileIsAnError) {
  ModelBuilder b;
  std::string path = b.save();
  std::ofstream(path, std::ios::trunc).close();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "empty");
}

TEST(Importer, TruncatedFilesAreErrors) {
  ModelBuilder b;
  b.input("x", {2, 3});
  b.init("w", iota({3, 4}));
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  b.output("y");
  std::string path = b.save();
  std::string bytes;
  b.m.SerializeToString(&bytes);
  for (size_t len = 1; len < bytes.size(); len += 7) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, len);
    std::string msg = importError(path);
    EXPECT_CONTAINS(msg, path);
    EXPECT_EQ(msg.find("NOT an adjoint::Error"), std::string::npos) << msg;
  }
}

TEST(Importer, RandomBytesAreErrors) {
  ModelBuilder b;
  std::string path = b.save();
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(1 + rng() % 300, '\0');
    for (char &c : bytes)
      c = (char)(rng() & 0xff);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    std::string msg = importError(path);
    EXPECT_CONTAINS(msg, path);
    EXPECT_EQ(msg.find("NOT an adjoint::Error"), std::string::npos) << msg;
  }
}

TEST(Importer, NewerAndOlderOpsetsAreErrors) {
  // Add changed meaning at opset 7 (numpy broadcasting), so an opset-6 Add cannot be imported.
  for (auto [opset, op] : {std::pair<int64_t, std::string>{18, "Relu"}, {6, "Add"}}) {
    ModelBuilder b(opset);
    b.input("x", {2});
    b.node(op, op == "Add" ? std::vector<std::string>{"x", "x"} : std::vector<std::string>{"x"},
           {"y"}, "n");
    b.output("y");
    std::string path = b.save();
    std::string msg = importError(path);
    EXPECT_CONTAINS(msg, path);
    EXPECT_CONTAINS(msg, "opset " + std::to_string(opset));
    EXPECT_CONTAINS(msg, opset > 17 ? "newer" : "older");
    EXPECT_CONTAINS(msg, op + " 'n'");
  }
}

TEST(Importer, OlderOpsetWithUnchangedOpsImports) {
  // Relu has meant the same since opset 6: an opset-6 model of it imports as opset 7.
  ModelBuilder b(6);
  b.input("x", {2});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  auto m = importOnnxFile(b.save());
  EXPECT_EQ(m->main()->ops().size(), 1u);
}

TEST(Importer, MissingDefaultOpsetAndBadIrVersion) {
  // A default-domain node needs a default-domain opset (a model of training-domain ops only
  // does not).
  ModelBuilder b;
  b.m.clear_opset_import();
  b.input("x", {2});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  EXPECT_CONTAINS(importError(b.save()), "no default-domain");
  ModelBuilder c;
  c.m.set_ir_version(99);
  EXPECT_CONTAINS(importError(c.save()), "IR version 99");
}

TEST(Importer, UnboundSymbolicDimSaysHowToBindIt) {
  ModelBuilder b;
  b.input("x", {"batch", 3});
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y");
  std::string path = b.save();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "--dim batch=N");

  ImportOptions byDim;
  byDim.dims["batch"] = 5;
  auto m = importVerified(path, byDim);
  EXPECT_EQ(m->main()->inputs()[0]->shape(), (Shape{5, 3}));
  EXPECT_EQ(m->main()->outputs()[0].value->shape(), (Shape{5, 3}));

  ImportOptions byShape;
  byShape.inputShapes["x"] = {7, 3};
  EXPECT_EQ(importOnnxFile(path, byShape)->main()->inputs()[0]->shape(), (Shape{7, 3}));
}

TEST(Importer, ContradictingShapesAreErrors) {
  ModelBuilder b;
  b.input("x", {"batch", 3});
  b.input("z", {"batch", 3});
  b.node("Add", {"x", "z"}, {"y"}, "add");
  b.output("y");
  std::string path = b.save();
  ImportOptions wrongDim;
  wrongDim.inputShapes["x"] = {2, 4};
  EXPECT_CONTAINS(importError(path, wrongDim), "dimension 1 differs");
  ImportOptions wrongRank;
  wrongRank.inputShapes["x"] = {2};
  EXPECT_CONTAINS(importError(path, wrongRank), "rank");
  ImportOptions twoBatches;
  twoBatches.inputShapes["x"] = {2, 3};
  twoBatches.inputShapes["z"] = {4, 3};
  EXPECT_CONTAINS(importError(path, twoBatches), "symbolic dimension 'batch'");
  ImportOptions dimVsShape;
  dimVsShape.dims["batch"] = 2;
  dimVsShape.inputShapes["z"] = {4, 3};
  EXPECT_CONTAINS(importError(path, dimVsShape), "--dim batch=2");
}

TEST(Importer, ExternalDataOutsideTheFolderIsRefused) {
  for (std::string location : {"../outside.bin", "/etc/passwd", "sub/../../outside.bin"}) {
    ModelBuilder b;
    b.input("x", {2});
    auto &w = b.init("w", iota({2}));
    w.clear_raw_data();
    w.set_data_location(onnx::TensorProto::EXTERNAL);
    auto *kv = w.add_external_data();
    kv->set_key("location");
    kv->set_value(location);
    b.node("Add", {"x", "w"}, {"y"}, "add");
    b.output("y");
    std::string msg = importError(b.save());
    EXPECT_CONTAINS(msg, "initializer 'w'");
    EXPECT_CONTAINS(msg, location);
  }
}

TEST(Importer, ExternalDataThroughASymlinkOutsideIsRefused) {
  ModelBuilder b;
  b.input("x", {2});
  auto &w = b.init("w", iota({2}));
  w.clear_raw_data();
  w.set_data_location(onnx::TensorProto::EXTERNAL);
  auto *kv = w.add_external_data();
  kv->set_key("location");
  kv->set_value("link.bin");
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y");
  std::string path = b.save();
  fs::path dir = fs::path(path).parent_path();
  fs::path outside = dir.parent_path() / ("outside_" + std::to_string(::getpid()) + ".bin");
  std::ofstream(outside, std::ios::binary) << std::string(8, '\0');
  fs::create_symlink(outside, dir / "link.bin");
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, "outside the model's folder");
  EXPECT_CONTAINS(msg, "initializer 'w'");
  fs::remove(outside);
}

TEST(Importer, ExternalDataMissingOrShortIsAnError) {
  ModelBuilder b;
  b.input("x", {4});
  auto &w = b.init("w", iota({4}));
  w.clear_raw_data();
  w.set_data_location(onnx::TensorProto::EXTERNAL);
  auto *kv = w.add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  auto *off = w.add_external_data();
  off->set_key("offset");
  off->set_value("8");
  b.node("Add", {"x", "w"}, {"y"}, "add");
  b.output("y");
  std::string path = b.save();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, "initializer 'w'");
  EXPECT_CONTAINS(msg, "weights.bin");
  EXPECT_CONTAINS(msg, "does not exist");

  fs::path bin = fs::path(path).parent_path() / "weights.bin";
  std::ofstream(bin, std::ios::binary) << std::string(12, '\0');
  msg = importError(path);
  EXPECT_CONTAINS(msg, "too short");
  EXPECT_CONTAINS(msg, "weights.bin");

  // 8 bytes of padding, then the four floats.
  Tensor want = Tensor::fromVector<float>({4}, {1.5f, -2.f, 3.f, 0.25f});
  std::ofstream(bin, std::ios::binary | std::ios::trunc)
      << std::string(8, 'x')
      << std::string(reinterpret_cast<const char *>(want.bytes()), want.byteSize());
  auto m = importVerified(path);
  Value *p = m->main()->findArg("w");
  ASSERT_TRUE(p && p->isParam());
  EXPECT_TRUE(p->paramData().identical(want));
}

TEST(Importer, ShapeInferenceErrorsNameTheModel) {
  // ONNX shape inference runs after the graph is built, as a check of declared value_info.
  ModelBuilder b;
  b.input("x", {2, 3});
  b.node("Relu", {"x"}, {"h"}, "relu1");
  b.node("Relu", {"h"}, {"y"}, "relu2");
  b.output("y");
  std::vector<Dim> wrong{int64_t{4}, int64_t{5}};
  ModelBuilder::setType(*b.g().add_value_info(), "h", onnx::TensorProto::FLOAT, &wrong);
  std::string path = b.save();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "shape inference");
}

TEST(Importer, NodeErrorsNameTheFileAndTheNode) {
  // Reshape's target shape must be known at compile time; here it is a graph input.
  ModelBuilder b;
  b.input("x", {2, 3});
  b.input("s", {2}, onnx::TensorProto::INT64);
  b.node("Reshape", {"x", "s"}, {"y"}, "reshape1");
  b.output("y");
  std::string path = b.save();
  std::string msg = importError(path);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "Reshape 'reshape1'");
}

TEST(Importer, UndefinedInputIsAnError) {
  ModelBuilder b;
  b.input("x", {2});
  b.node("Relu", {"nowhere"}, {"y"}, "relu");
  b.output("y");
  std::string msg = importError(b.save());
  EXPECT_CONTAINS(msg, "Relu 'relu'");
  EXPECT_CONTAINS(msg, "'nowhere'");
}

TEST(Importer, GraphAttributesAreUnsupported) {
  ModelBuilder b;
  b.input("x", {2});
  auto &n = b.node("Relu", {"x"}, {"y"}, "relu");
  auto *a = n.add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("sub");
  b.output("y");
  std::string msg = importError(b.save());
  EXPECT_CONTAINS(msg, "Relu 'relu'");
  EXPECT_CONTAINS(msg, "GRAPH");
}

TEST(Importer, UnsupportedTensorTypesAreNamed) {
  ModelBuilder b;
  b.input("x", {2}, onnx::TensorProto::FLOAT16);
  b.node("Relu", {"x"}, {"y"}, "relu");
  b.output("y", onnx::TensorProto::FLOAT16);
  EXPECT_CONTAINS(importError(b.save()), "FLOAT16");

  ModelBuilder c;
  c.input("x", {2});
  auto &k = c.node("Constant", {}, {"k"}, "k");
  auto *a = k.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::UINT8);
  a->mutable_t()->add_dims(1);
  a->mutable_t()->set_raw_data(std::string(1, '\1'));
  c.output("k", onnx::TensorProto::UINT8);
  std::string msg = importError(c.save());
  EXPECT_CONTAINS(msg, "UINT8");
  EXPECT_CONTAINS(msg, "Constant 'k'");
}

// ---- Imports ----------------------------------------------------------------------------------

TEST(Importer, MlpImportsAndRuns) {
  ModelBuilder b(17, "my mlp!");
  b.input("x", {2, 3});
  b.init("w", iota({3, 4}, 0.1f, -0.5f));
  b.init("b", iota({4}, 0.25f));
  b.node("MatMul", {"x", "w"}, {"h"}, "mm");
  b.node("Add", {"h", "b"}, {"a"}, "add");
  b.node("Relu", {"a"}, {"out"}, "relu");
  b.output("out", {2, 4});
  auto m = importVerified(b.save());
  Function &f = *m->main();
  EXPECT_EQ(f.name(), "my_mlp_");
  EXPECT_EQ(m->opsetVersion, 17);
  ASSERT_EQ(f.inputs().size(), 1u);
  ASSERT_EQ(f.params().size(), 2u);
  EXPECT_EQ(f.params()[0]->name(), "w");
  ASSERT_EQ(f.outputs().size(), 1u);
  EXPECT_EQ(f.outputs()[0].name, "out");
  EXPECT_EQ(countOps(f, "MatMul"), 1u);
  for (const auto &op : f.ops()) {
    if (op->opType() == "MatMul") {
      EXPECT_EQ(op->name(), "mm");
    }
  }

  Tensor x = iota({2, 3}, 1.f, -2.f);
  Tensor got = interpret(f, {{"x", x}})[0];
  Tensor w = iota({3, 4}, 0.1f, -0.5f), bias = iota({4}, 0.25f);
  Tensor want(DType::F32, {2, 4});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = bias.data<float>()[j];
      for (int k = 0; k < 3; ++k)
        s += x.data<float>()[i * 3 + k] * w.data<float>()[k * 4 + j];
      want.data<float>()[i * 4 + j] = (float)std::max(0.0, s);
    }
  expectClose(got, want);
}

TEST(Importer, LargeWeightsImport) {
  // Large float initializers are left out of the copy ONNX shape inference sees.
  ModelBuilder b;
  b.input("x", {2, 300});
  Tensor w = iota({300, 200}, 1e-4f);
  b.init("w", w);
  b.node("MatMul", {"x", "w"}, {"y"}, "mm");
  b.output("y", {2, 200});
  auto m = importVerified(b.save());
  EXPECT_TRUE(m->main()->findArg("w")->paramData().identical(w));
}

TEST(Importer, DeclaredOutputShapeMustMatch) {
  // ONNX shape inference cannot see through Shape → Reshape; the importer's types can.
  ModelBuilder b;
  b.input("x", {2, 6});
  b.node("Shape", {"x"}, {"s"}, "shape");
  b.node("Reshape", {"x", "s"}, {"y"}, "reshape");
  b.output("y", {2, 7});
  std::string msg = importError(b.save());
  EXPECT_CONTAINS(msg, "graph output 'y'");
}

TEST(Importer, InitializerListedAsInputIsAParameter) {
  ModelBuilder b;
  b.m.set_ir_version(3);
  b.input("x", {2});
  b.input("w", {2});
  b.init("w", iota({2}));
  b.node("Mul", {"x", "w"}, {"y"}, "mul");
  b.output("y");
  auto m = importVerified(b.save());
  ASSERT_EQ(m->main()->inputs().size(), 1u);
  EXPECT_EQ(m->main()->inputs()[0]->name(), "x");
  ASSERT_EQ(m->main()->params().size(), 1u);
  EXPECT_EQ(m->main()->params()[0]->name(), "w");
}

TEST(Importer, IntegerInitializersBecomeConstants) {
  ModelBuilder b;
  b.input("x", {2, 6});
  b.init("shape", Tensor::fromVector<int64_t>({2}, {3, 4}));
  b.node("Reshape", {"x", "shape"}, {"y"}, "reshape");
  b.output("y");
  auto m = importVerified(b.save());
  Function &f = *m->main();
  EXPECT_TRUE(f.params().empty());
  EXPECT_EQ(countOps(f, "Constant"), 1u);
  EXPECT_EQ(f.outputs()[0].value->shape(), (Shape{3, 4}));
}

TEST(Importer, ConstantShorthandsBecomeValueTensors) {
  ModelBuilder b;
  b.input("x", {2, 6});
  attrInts(b.node("Constant", {}, {"shape"}, "shape_const"), "value_ints", {4, 3});
  b.node("Reshape", {"x", "shape"}, {"r"}, "reshape");
  attrFloat(b.node("Constant", {}, {"two"}, "two"), "value_float", 2.f);
  b.node("Mul", {"r", "two"}, {"y"}, "mul");
  b.output("y");
  auto m = importVerified(b.save());
  Function &f = *m->main();
  EXPECT_EQ(f.outputs()[0].value->shape(), (Shape{4, 3}));
  for (const auto &op : f.ops()) {
    if (op->opType() == "Constant") {
      EXPECT_TRUE(op->hasAttr("value"));
      EXPECT_EQ(op->attrs().size(), 1u);
    }
  }
  Tensor got = interpret(f, {{"x", iota({2, 6})}})[0];
  expectClose(got, iota({4, 3}, 2.f));
}

TEST(Importer, ShapeArithmeticFoldsToConstants) {
  // PyTorch's x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape.
  ModelBuilder b;
  b.input("x", {"batch", 2, 3});
  b.node("Shape", {"x"}, {"s"}, "shape");
  attrTensor(b.node("Constant", {}, {"zero"}, "zero"), "value", Tensor::scalar<int64_t>(0));
  attrInt(b.node("Gather", {"s", "zero"}, {"n"}, "gather"), "axis", 0);
  b.init("axes0", Tensor::fromVector<int64_t>({1}, {0}));
  b.node("Unsqueeze", {"n", "axes0"}, {"n1"}, "unsqueeze");
  attrTensor(b.node("Constant", {}, {"minus1"}, "minus1"), "value",
             Tensor::fromVector<int64_t>({1}, {-1}));
  attrInt(b.node("Concat", {"n1", "minus1"}, {"target"}, "concat"), "axis", 0);
  b.node("Reshape", {"x", "target"}, {"y"}, "reshape");
  b.output("y");
  ImportOptions opts;
  opts.dims["batch"] = 4;
  auto m = importVerified(b.save(), opts);
  Function &f = *m->main();
  EXPECT_EQ(f.outputs()[0].value->shape(), (Shape{4, 6}));
  EXPECT_EQ(countOps(f, "Shape"), 0u);
  EXPECT_EQ(countOps(f, "Concat"), 0u);
  EXPECT_EQ(countOps(f, "Reshape"), 1u);
  EXPECT_EQ(countOps(f, "Constant"), 1u); // the folded target; its operands are gone
  expectClose(interpret(f, {{"x", iota({4, 2, 3})}})[0], iota({4, 6}));

  ImportOptions noFold = opts;
  noFold.foldConstants = false;
  // Without folding, Reshape cannot know its target shape.
  EXPECT_CONTAINS(importError(b.save(), noFold), "Reshape 'reshape'");
}

// Softmax over the flattened d[axis:] block, as opsets < 13 define it.
Tensor coercedSoftmax(const Tensor &x, int64_t axis, bool log) {
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d)
    rows *= x.shape()[d];
  int64_t cols = x.numel() / rows;
  Tensor y(DType::F32, x.shape());
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t c = 0; c < cols; ++c)
      mx = std::max(mx, (double)x.data<float>()[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c)
      sum += std::exp(x.data<float>()[r * cols + c] - mx);
    for (int64_t c = 0; c < cols; ++c) {
      double d = x.data<float>()[r * cols + c] - mx;
      y.data<float>()[r * cols + c] = (float)(log ? d - std::log(sum) : std::exp(d) / sum);
    }
  }
  return y;
}

TEST(Importer, OldSoftmaxCoercesTo2D) {
  Tensor x = iota({2, 3, 4}, 0.37f, -1.f);
  for (const char *type : {"Softmax", "LogSoftmax"})
    for (int64_t axis : {1, 0, 2, -1}) {
      SCOPED_TRACE(std::string(type) + " axis " + std::to_string(axis));
      ModelBuilder b(11);
      b.input("x", {2, 3, 4});
      auto &n = b.node(type, {"x"}, {"y"}, "sm");
      if (axis != 1)
        attrInt(n, "axis", axis);
      b.output("y");
      auto m = importVerified(b.save());
      Function &f = *m->main();
      int64_t a = axis < 0 ? axis + 3 : axis;
      EXPECT_EQ(countOps(f, "Reshape"), a == 2 ? 0u : 2u);
      Tensor got = interpret(f, {{"x", x}})[0];
      expectClose(got, coercedSoftmax(x, a, std::string(type) == "LogSoftmax"));
    }
}

TEST(Importer, NewSoftmaxIsPerAxis) {
  ModelBuilder b(13);
  b.input("x", {2, 3});
  attrInt(b.node("Softmax", {"x"}, {"y"}, "sm"), "axis", 0);
  b.output("y");
  auto m = importVerified(b.save());
  EXPECT_EQ(countOps(*m->main(), "Reshape"), 0u);
  Tensor got = interpret(*m->main(), {{"x", iota({2, 3})}})[0];
  // Column j: softmax of (j, j+3).
  double e = std::exp(3.0);
  EXPECT_NEAR(got.data<float>()[0], 1 / (1 + e), 1e-6);
  EXPECT_NEAR(got.data<float>()[3], e / (1 + e), 1e-6);
}

TEST(Importer, OldAxesAttributesBecomeOperands) {
  ModelBuilder b(11);
  b.input("x", {2, 1, 3});
  attrInts(b.node("Squeeze", {"x"}, {"sq"}, "squeeze"), "axes", {1});               // [2,3]
  attrInts(b.node("Unsqueeze", {"sq"}, {"us"}, "unsqueeze"), "axes", {0});          // [1,2,3]
  auto &rs = b.node("ReduceSum", {"us"}, {"rsum"}, "rsum");                         // [1,2]
  attrInts(rs, "axes", {2});
  attrInt(rs, "keepdims", 0);
  auto &sp = b.node("Split", {"x"}, {"s0", "s1"}, "split");                         // [2,1,1],[2,1,2]
  attrInt(sp, "axis", 2);
  attrInts(sp, "split", {1, 2});
  b.output("rsum");
  b.output("s1");
  auto m = importVerified(b.save());
  Function &f = *m->main();
  EXPECT_EQ(f.outputs()[0].value->shape(), (Shape{1, 2}));
  EXPECT_EQ(f.outputs()[1].value->shape(), (Shape{2, 1, 2}));
  auto out = interpret(f, {{"x", iota({2, 1, 3})}});
  expectClose(out[0], Tensor::fromVector<float>({1, 2}, {3, 12}));
  expectClose(out[1], Tensor::fromVector<float>({2, 1, 2}, {1, 2, 4, 5}));
}

TEST(Importer, OldSliceAndClipAttributesBecomeOperands) {
  ModelBuilder b(9);
  b.input("x", {3, 4});
  auto &sl = b.node("Slice", {"x"}, {"s"}, "slice");
  attrInts(sl, "starts", {1, 1});
  attrInts(sl, "ends", {3, 100});
  attrInts(sl, "axes", {0, 1});
  auto &cl = b.node("Clip", {"s"}, {"y"}, "clip");
  attrFloat(cl, "min", 5.f);
  attrFloat(cl, "max", 9.5f);
  b.output("y");
  auto m = importVerified(b.save());
  Tensor got = interpret(*m->main(), {{"x", iota({3, 4})}})[0];
  expectClose(got, Tensor::fromVector<float>({2, 3}, {5, 6, 7, 9, 9.5f, 9.5f}));
}

TEST(Importer, OldDropoutAndBatchNorm) {
  ModelBuilder b(7);
  b.input("x", {2, 2, 1, 1});
  b.init("scale", Tensor::fromVector<float>({2}, {1, 2}));
  b.init("bias", Tensor::fromVector<float>({2}, {0, 1}));
  b.init("mean", Tensor::fromVector<float>({2}, {0, 1}));
  b.init("var", Tensor::fromVector<float>({2}, {1, 4}));
  auto &bn = b.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"bn"}, "bn");
  attrInt(bn, "spatial", 1);
  attrFloat(bn, "epsilon", 0.f);
  attrFloat(b.node("Dropout", {"bn"}, {"y", "mask"}, "drop"), "ratio", 0.3f);
  b.output("y");
  b.output("mask");
  auto m = importVerified(b.save());
  Function &f = *m->main();
  auto out = interpret(f, {{"x", iota({2, 2, 1, 1})}});
  // Channel 0: x; channel 1: 2 * (x - 1) / 2 + 1 = x.
  expectClose(out[0], iota({2, 2, 1, 1}));
  // Opset 7's mask has the data's type.
  EXPECT_EQ(out[1].dtype(), DType::F32);

  ModelBuilder c(7);
  c.input("x", {2, 2, 1, 1});
  for (const char *p : {"scale", "bias", "mean", "var"})
    c.init(p, Tensor::fromVector<float>({2}, {1, 1}));
  attrInt(c.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"bn"}, "bn"),
          "spatial", 0);
  c.output("bn");
  EXPECT_CONTAINS(importError(c.save()), "spatial=0");
}

TEST(Importer, OldBatchNormTrainingOutputsAreRefusedWhenUsed) {
  ModelBuilder b(9);
  b.input("x", {2, 2});
  for (const char *p : {"scale", "bias", "mean", "var"})
    b.init(p, Tensor::fromVector<float>({2}, {1, 1}));
  b.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y", "rm", "rv"}, "bn");
  b.output("y");
  // Unused extra outputs are fine.
  EXPECT_NO_THROW(importOnnxFile(b.save()));
  b.output("rm");
  std::string msg = importError(b.save());
  EXPECT_CONTAINS(msg, "BatchNormalization 'bn'");
  EXPECT_CONTAINS(msg, "training-mode");
}

TEST(Importer, UnnamedNodesAreNamedByIndexInErrors) {
  ModelBuilder b;
  b.input("x", {2});
  b.node("Relu", {"x"}, {"r"});
  b.node("Relu", {"missing"}, {"y"});
  b.output("y");
  EXPECT_CONTAINS(importError(b.save()), "Relu (node #1)");
}
