#include "IR/Parser.h"
#include "IR/Verifier.h"
#include "Support/Error.h"

#include <gtest/gtest.h>

using namespace adjoint;

namespace {

TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

std::string verifyError(const Function &fn) {
  try {
    verifyStructure(fn);
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST(Verifier, AcceptsParsedFunctions) {
  auto m = parseModule("func @f(%x: f32[], %p: f32[2] {param = dense<f32[2], [1.0, 2.0]>})\n"
                       "    -> (y: f32[], z: f32[]) {\n"
                       "  %0, %1 = Two(%x, _, %p) : f32[], f32[]\n"
                       "  %2 = Add(%0, %0) : f32[]\n"
                       "  return %2, %x\n"
                       "}\n",
                       "v.adj");
  EXPECT_EQ(verifyError(*m->functions()[0]), "<no error>");
}

TEST(Verifier, CycleIsAUseBeforeDefinition) {
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("Neg", {x}, {f32({})});
  Op *b = fn.createOp("Neg", {a->result()}, {f32({})});
  b->setName("b");
  fn.addOutput("y", b->result());
  EXPECT_EQ(verifyError(fn), "<no error>");
  a->setOperand(0, b->result()); // a → b → a
  EXPECT_EQ(verifyError(fn),
            "in @f: Neg: operand 0 uses %1 before its definition (a cycle or misordered ops)");
}

TEST(Verifier, SelfUse) {
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("Relu", {x}, {f32({})});
  a->setName("r");
  a->setOperand(0, a->result());
  EXPECT_EQ(verifyError(fn),
            "in @f: Relu 'r': operand 0 uses %0 before its definition (a cycle or misordered ops)");
}

TEST(Verifier, MisorderedOps) {
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("Neg", {x}, {f32({})});
  Op *b = fn.createOp("Abs", {a->result()}, {f32({})});
  fn.moveBefore(b, a);
  EXPECT_EQ(verifyError(fn),
            "in @f: Abs: operand 0 uses %1 before its definition (a cycle or misordered ops)");
}

TEST(Verifier, ValueFromAnotherFunction) {
  Function other("other");
  Value *z = other.addInput("z", f32({}));
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("Add", {x, x}, {f32({})});
  a->setName("add");
  a->setOperand(1, z);
  EXPECT_EQ(verifyError(fn), "in @f: Add 'add': operand 1 is not a value of this function");
  // The other function sees a use by an op that it does not hold.
  EXPECT_EQ(verifyError(other), "in @other: %z lists a use by an op that is not in this function");
}

TEST(Verifier, ArgumentNames) {
  Function fn("f");
  fn.addInput("x", f32({}));
  fn.addParam("x", f32({}), Tensor());
  EXPECT_EQ(verifyError(fn), "in @f: duplicate argument name 'x'");
}

TEST(Verifier, ParamDataMatchesItsType) {
  Function fn("f");
  fn.addParam("w", f32({2}), Tensor::fromVector<float>({3}, {1, 2, 3}));
  EXPECT_EQ(verifyError(fn), "in @f: parameter 'w' is declared f32[2] but its data is f32[3]");
}

TEST(Verifier, Outputs) {
  Function other("other");
  Value *z = other.addInput("z", f32({}));
  {
    Function fn("f");
    Value *x = fn.addInput("x", f32({}));
    fn.addOutput("y", x);
    fn.addOutput("y", x);
    EXPECT_EQ(verifyError(fn), "in @f: duplicate output name 'y'");
  }
  {
    Function fn("f");
    fn.addOutput("", fn.addInput("x", f32({})));
    EXPECT_EQ(verifyError(fn), "in @f: output 0 has no name");
  }
  {
    Function fn("f");
    fn.addOutput("y", nullptr);
    EXPECT_EQ(verifyError(fn), "in @f: output 'y' has no value");
  }
  {
    Function fn("f");
    fn.addOutput("y", z);
    EXPECT_EQ(verifyError(fn), "in @f: output 'y' is not a value of this function");
  }
}

TEST(Verifier, ErasingAnOpWithUsesIsRefusedSoNoValueDangles) {
  Function fn("f");
  Value *x = fn.addInput("x", f32({}));
  Op *a = fn.createOp("Neg", {x}, {f32({})});
  fn.createOp("Neg", {a->result()}, {f32({})});
  EXPECT_THROW(fn.eraseOp(a), Error);
  EXPECT_EQ(verifyError(fn), "<no error>");
}
