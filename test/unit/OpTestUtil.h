#pragma once
// Helpers for op unit tests: build a one-op function over given tensors, run it through the
// interpreter, and compare the result with expected values.
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace adjoint::test {

// "x0", "x1", ... (appending avoids GCC 12's false -Wrestrict on `"x" + std::to_string(i)`).
inline std::string inputName(size_t i) {
  std::string s = "x";
  s.append(std::to_string(i));
  return s;
}

// Runs `opType` on `ins` (nullopt = absent optional operand) and returns its first result.
inline Tensor runOp(const std::string &opType, const std::vector<std::optional<Tensor>> &ins,
                    AttrMap attrs = {}) {
  Function f("t");
  std::map<std::string, Tensor> feeds;
  std::vector<Value *> operands;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i]) {
      operands.push_back(nullptr);
      continue;
    }
    std::string name = inputName(i);
    operands.push_back(f.addInput(name, {ins[i]->dtype(), ins[i]->shape()}));
    feeds[name] = *ins[i];
  }
  Op *op = buildOp(f, opType, operands, std::move(attrs));
  f.addOutput("y", op->result());
  return interpret(f, feeds).at(0);
}

// Only builds the op (for inference errors); returns the message of the Error it throws, or ""
// when it builds.
inline std::string buildError(const std::string &opType, const std::vector<TensorType> &types,
                              AttrMap attrs = {}) {
  Function f("t");
  std::vector<Value *> operands;
  for (size_t i = 0; i < types.size(); ++i)
    operands.push_back(f.addInput(inputName(i), types[i]));
  try {
    buildOp(f, opType, operands, std::move(attrs));
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

template <typename T> Tensor tensor(Shape s, std::vector<T> v) {
  return Tensor::fromVector<T>(std::move(s), v);
}

// Checks dtype, shape and values; floats within a relative tolerance, NaN equal to NaN.
template <typename T>
void expectTensor(const Tensor &t, const Shape &shape, const std::vector<T> &want,
                  double rtol = 1e-6, double atol = 1e-7) {
  ASSERT_EQ(t.dtype(), dtypeOf<T>()) << dtypeName(t.dtype());
  ASSERT_EQ(t.shape(), shape) << shapeStr(t.shape());
  ASSERT_EQ((size_t)t.numel(), want.size());
  const T *got = t.data<T>();
  for (size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << "element " << i << " = " << got[i];
      } else if (std::isinf(want[i])) {
        EXPECT_EQ(got[i], want[i]) << "element " << i;
      } else {
        EXPECT_NEAR(got[i], want[i], atol + rtol * std::fabs(want[i])) << "element " << i;
      }
    } else {
      EXPECT_EQ(got[i], want[i]) << "element " << i;
    }
  }
}

} // namespace adjoint::test
