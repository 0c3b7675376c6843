#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <cmath>

#include <gtest/gtest.h>

using namespace adjoint;

namespace {
// y = relu(x * w + b) with w, b as parameters carrying data.
std::unique_ptr<Function> affine() {
  auto f = std::make_unique<Function>("affine");
  Value *x = f->addInput("x", {DType::F32, {2}});
  Value *w = f->addParam("w", {DType::F32, {2}}, Tensor::fromVector<float>({2}, {2.f, -3.f}));
  Value *b = f->addParam("b", {DType::F32, {}}, Tensor::scalar<float>(1.f));
  Value *m = buildOp(*f, "Mul", {x, w})->result();
  Value *a = buildOp(*f, "Add", {m, b})->result();
  f->addOutput("y", buildOp(*f, "Relu", {a})->result());
  f->addOutput("pre", a);
  return f;
}
} // namespace

TEST(Interpreter, RunsWithParameterData) {
  auto f = affine();
  auto outs = interpret(*f, {{"x", Tensor::fromVector<float>({2}, {1.f, 1.f})}});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_FLOAT_EQ(outs[0].data<float>()[0], 3.f);
  EXPECT_FLOAT_EQ(outs[0].data<float>()[1], 0.f);
  EXPECT_FLOAT_EQ(outs[1].data<float>()[1], -2.f);
}

TEST(Interpreter, GivenTensorOverridesParameter) {
  auto f = affine();
  auto outs = interpret(*f, {{"x", Tensor::fromVector<float>({2}, {1.f, 1.f})},
                             {"w", Tensor::fromVector<float>({2}, {1.f, 1.f})}});
  EXPECT_FLOAT_EQ(outs[0].data<float>()[1], 2.f);
}

TEST(Interpreter, MissingInputIsNamed) {
  auto f = affine();
  try {
    interpret(*f, {});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos) << e.what();
  }
}

TEST(Interpreter, WrongInputTypeIsNamed) {
  auto f = affine();
  try {
    interpret(*f, {{"x", Tensor::fromVector<float>({3}, {1.f, 1.f, 1.f})}});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("f32[3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("f32[2]"), std::string::npos) << msg;
  }
}

TEST(Interpreter, UnknownInputIsAnError) {
  auto f = affine();
  EXPECT_THROW(interpret(*f, {{"x", Tensor::fromVector<float>({2}, {1.f, 1.f})},
                              {"nope", Tensor::scalar<float>(0.f)}}),
               Error);
}

TEST(Interpreter, AfterOpSeesEveryOp) {
  auto f = affine();
  std::vector<std::string> seen;
  InterpreterOptions opts;
  opts.afterOp = [&](const Op &op, const std::vector<Tensor> &) { seen.push_back(op.opType()); };
  interpret(*f, {{"x", Tensor::fromVector<float>({2}, {1.f, 1.f})}}, opts);
  EXPECT_EQ(seen, (std::vector<std::string>{"Mul", "Add", "Relu"}));
}

TEST(Interpreter, RunsInDoublePrecision) {
  Function f("d");
  Value *x = f.addInput("x", {DType::F64, {1}});
  f.addOutput("y", buildOp(f, "Exp", {x})->result());
  auto outs = interpret(f, {{"x", Tensor::fromVector<double>({1}, {1.0})}});
  EXPECT_DOUBLE_EQ(outs[0].data<double>()[0], std::exp(1.0));
}
