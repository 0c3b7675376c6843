#pragma once
// The textual IR (.adj). print → parse → print is the identity.
//
//   func @mlp(%x: f32[64,784], %w1: f32[784,512] {param = dense<...>}) -> (y: f32[64,10]) {
//     %0 = MatMul(%x, %w1) : f32[64,512]
//     %1, %2 = Split(%0) {axis = 1} : f32[64,256], f32[64,256]
//     %3 = Clip(%1, _, %c) : f32[64,256] loc("/clip")
//     return %3
//   }
#include "IR/Graph.h"

#include <ostream>
#include <string>

namespace adjoint {

struct PrintOptions {
  // Parameters and tensor attributes with more elements than this print without their data
  // ({param} alone, dense<elided>); -1 prints all data.
  int64_t elideAbove = -1;
};

void printFunction(std::ostream &os, const Function &fn, const PrintOptions &opts = {});
void printModule(std::ostream &os, const Module &m, const PrintOptions &opts = {});
std::string toString(const Function &fn, const PrintOptions &opts = {});

} // namespace adjoint
