#include "IR/Printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace adjoint;

namespace {

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

// The op's printed line (without indentation) for one attribute value.
std::string attrText(Attribute a) {
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  fn.createOp("Foo", {x}, {f32({})}, {{"a", std::move(a)}});
  std::string s = toString(fn);
  size_t b = s.find("{a = ") + 5, e = s.find("} : ");
  return s.substr(b, e - b);
}

} // namespace

TEST(Printer, PrintsTheGrammarExample) {
  Function fn("mlp");
  Value *x = fn.addInput("x", f32({64, 784}));
  Value *w1 = fn.addParam("w1", f32({784, 512}), Tensor());
  Value *b = fn.addParam("b", f32({2}), Tensor::fromVector<float>({2}, {0.5f, 1.0f}));
  Value *c = fn.addInput("c", {DType::I64, {2}});
  Op *mm = fn.createOp("MatMul", {x, w1}, {f32({64, 512})});
  Op *split = fn.createOp("Split", {mm->result(), c}, {f32({64, 256}), f32({64, 256})},
                          {{"axis", 1}});
  Op *clip = fn.createOp("Clip", {split->result(0), nullptr, b}, {f32({64, 256})});
  clip->setName("/clip");
  Op *adam = fn.createOp("Adam", {clip->result()}, {f32({64, 256})},
                         {{"epsilon", 1e-5}, {"alpha", 0.9}});
  adam->setDomain("ai.onnx.preview.training");
  fn.addOutput("y", clip->result());
  fn.addOutput("odd name", adam->result());

  EXPECT_EQ(toString(fn),
            "func @mlp(%x: f32[64,784], %w1: f32[784,512] {param}, %b: f32[2] {param = "
            "dense<f32[2], [0.5, 1.0]>}, %c: i64[2]) -> (y: f32[64,256], \"odd name\": "
            "f32[64,256]) {\n"
            "  %0 = MatMul(%x, %w1) : f32[64,512]\n"
            "  %1, %2 = Split(%0, %c) {axis = 1} : f32[64,256], f32[64,256]\n"
            "  %3 = Clip(%1, _, %b) : f32[64,256] loc(\"/clip\")\n"
            "  %4 = ai.onnx.preview.training.Adam(%3) {alpha = 0.9, epsilon = 1e-05} : "
            "f32[64,256]\n"
            "  return %3, %4\n"
            "}\n");
}

TEST(Printer, FloatsAreShortestAndNeverLookLikeInts) {
  EXPECT_EQ(attrText(1.0), "1.0");
  EXPECT_EQ(attrText(-2.0), "-2.0");
  EXPECT_EQ(attrText(0.1), "0.1");
  EXPECT_EQ(attrText(1e-5), "1e-05");
  EXPECT_EQ(attrText(1e22), "1e+22");
  EXPECT_EQ(attrText(123456.0), "123456.0");
  EXPECT_EQ(attrText(-0.0), "-0.0");
  EXPECT_EQ(attrText(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(attrText(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(attrText(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(attrText(-std::numeric_limits<double>::quiet_NaN()), "-nan");
  // An f32 constant converted to double keeps its f32 digits in the attribute...
  EXPECT_EQ(attrText((double)0.1f), "0.10000000149011612");
  // ...but f32 tensor elements print as the shortest f32.
  EXPECT_EQ(attrText(Tensor::fromVector<float>({3}, {0.1f, 1.f, -0.f})),
            "dense<f32[3], [0.1, 1.0, -0.0]>");
  EXPECT_EQ(attrText(Tensor::fromVector<double>({2}, {0.1, 1e300})),
            "dense<f64[2], [0.1, 1e+300]>");
}

TEST(Printer, AttributeKinds) {
  EXPECT_EQ(attrText(int64_t{-7}), "-7");
  EXPECT_EQ(attrText(std::vector<int64_t>{1, -2}), "[1, -2]");
  EXPECT_EQ(attrText(std::vector<double>{1.0, 2.5}), "[1.0, 2.5]");
  EXPECT_EQ(attrText(std::vector<std::string>{"a", "b c"}), "[\"a\", \"b c\"]");
  EXPECT_EQ(attrText(std::vector<int64_t>{}), "ints[]");
  EXPECT_EQ(attrText(std::vector<double>{}), "floats[]");
  EXPECT_EQ(attrText(std::vector<std::string>{}), "strings[]");
  EXPECT_EQ(attrText(Tensor::fromVector<bool>({2}, {true, false})),
            "dense<bool[2], [true, false]>");
  EXPECT_EQ(attrText(Tensor::fromVector<int32_t>({2, 1}, {-1, 2})), "dense<i32[2,1], [-1, 2]>");
  EXPECT_EQ(attrText(Tensor::scalar<int64_t>(5)), "dense<i64[], [5]>");
  EXPECT_EQ(attrText(Tensor(DType::F32, {0, 3})), "dense<f32[0,3], []>");
  EXPECT_EQ(attrText(Tensor::placeholder(DType::F32, {2})), "dense<f32[2], elided>");
}

TEST(Printer, StringsUseCEscapes) {
  EXPECT_EQ(attrText(std::string("a\"b\\c\nd\te\r") + '\x01' + "\x7f\xc3\xa9"),
            "\"a\\\"b\\\\c\\nd\\te\\r\\x01\\x7f\xc3\xa9\"");
}

TEST(Printer, LargeTensorsPrintAsLittleEndianHex) {
  std::vector<int32_t> v(257, 0);
  v[0] = 0x01020304;
  std::string s = attrText(Tensor::fromVector<int32_t>({257}, v));
  EXPECT_EQ(s.substr(0, 26), "dense<i32[257], 0x04030201");
  EXPECT_EQ(s.size(), std::string("dense<i32[257], 0x>").size() + 257 * 8);
  // 256 elements still print as a list.
  EXPECT_EQ(attrText(Tensor(DType::Bool, {256})).substr(0, 23), "dense<bool[256], [false");
}

TEST(Printer, ElideAboveDropsLargeData) {
  Function fn("f");
  fn.addParam("small", f32({2}), Tensor::fromVector<float>({2}, {1, 2}));
  Value *big = fn.addParam("big", f32({3}), Tensor::fromVector<float>({3}, {1, 2, 3}));
  fn.createOp("Foo", {big}, {f32({3})}, {{"t", Tensor::fromVector<float>({3}, {1, 2, 3})}});
  fn.addOutput("y", fn.ops().back()->result());
  PrintOptions opts;
  opts.elideAbove = 2;
  EXPECT_EQ(toString(fn, opts),
            "func @f(%small: f32[2] {param = dense<f32[2], [1.0, 2.0]>}, %big: f32[3] {param}) "
            "-> (y: f32[3]) {\n"
            "  %0 = Foo(%big) {t = dense<f32[3], elided>} : f32[3]\n"
            "  return %0\n"
            "}\n");
}

TEST(Printer, QuotesNamesThatAreNotBare) {
  Function fn("odd fn");
  fn.addInput("3", f32({}));
  fn.addInput("", f32({}));
  fn.addInput("a.b$c-1", f32({}));
  fn.addInput("onnx::Gemm_0", f32({}));
  Op *op = fn.createOp("Foo", {fn.args()[0].get()}, {f32({})}, {{"weird key", 1}});
  fn.addOutput("0", op->result());
  fn.addOutput("out.1", op->result());
  EXPECT_EQ(toString(fn),
            "func @\"odd fn\"(%\"3\": f32[], %\"\": f32[], %a.b$c-1: f32[], %\"onnx::Gemm_0\": "
            "f32[]) -> (\"0\": f32[], out.1: f32[]) {\n"
            "  %0 = Foo(%\"3\") {\"weird key\" = 1} : f32[]\n"
            "  return %0, %0\n"
            "}\n");
}

TEST(Printer, ModuleSeparatesFunctionsAndEmptyFunctionPrints) {
  Module m;
  m.addFunction("a");
  m.addFunction("b");
  std::ostringstream os;
  printModule(os, m);
  EXPECT_EQ(os.str(), "func @a() -> () {\n  return\n}\n\nfunc @b() -> () {\n  return\n}\n");
}

TEST(Printer, BrokenGraphsStillPrint) {
  Function other("other");
  Value *foreign = other.addInput("z", f32({}));
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("A", {x}, {f32({})});
  Op *b = fn.createOp("B", {x}, {f32({})});
  a->setOperand(0, b->result()); // use before definition
  b->setOperand(0, foreign);
  fn.addOutput("y", nullptr);
  EXPECT_EQ(toString(fn), "func @f(%x: f32[]) -> (y: <null>) {\n"
                          "  %0 = A(%1) : f32[]\n"
                          "  %1 = B(<undefined>) : f32[]\n"
                          "  return <null>\n"
                          "}\n");
}
