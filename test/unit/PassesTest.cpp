// Pass behaviour the lit tests cannot show: results stay numerically identical.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

using namespace adjoint;

TEST(Passes, PipelinePreservesResults) {
  Function f("p");
  Value *x = f.addInput("x", {DType::F32, {2, 3}});
  Value *zero = buildConstant(f, Tensor::scalar<float>(0.f));
  Value *two = buildConstant(f, Tensor::scalar<float>(2.f));
  Value *four = buildOp(f, "Mul", {two, two})->result();
  Value *a = buildOp(f, "Add", {x, zero})->result();
  Value *b = buildOp(f, "Mul", {a, four})->result();
  Value *c = buildOp(f, "Mul", {a, four})->result();
  Value *d = buildOp(f, "Sub", {b, c})->result();
  buildOp(f, "Exp", {x}); // dead
  f.addOutput("y", buildOp(f, "Add", {d, b})->result());

  Tensor in = Tensor::fromVector<float>({2, 3}, {1, 2, 3, -1, -2, -3});
  Tensor before = interpret(f, {{"x", in}})[0];
  PassContext ctx;
  for (const char *p : {"canonicalize", "cse", "dce"}) {
    ASSERT_NE(findPass(p), nullptr) << p;
    findPass(p)->run(f, ctx);
    verifyFunction(f);
  }
  Tensor after = interpret(f, {{"x", in}})[0];
  EXPECT_TRUE(before.identical(after));
  EXPECT_EQ(ctx.stats["cse.eliminated"], 1);
  EXPECT_EQ(ctx.stats["canonicalize.folded"], 1);
  // Constant 4, Mul, Sub, Add remain.
  EXPECT_EQ(f.ops().size(), 4u);
}
