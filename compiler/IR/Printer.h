#pragma once
// The textual IR (.adj). print → parse → print is the identity.
//
//   func @mlp(%x: f32[64,784], %w1: f32[784,512] {param}, %b: f32[2] {param = dense<f32[2], [0.5, 1.0]>})
//       -> (y: f32[64,10], "odd name": f32[]) {
//     %0 = MatMul(%x, %w1) : f32[64,512]
//     %1, %2 = Split(%0, %c) {axis = 1} : f32[64,256], f32[64,256]
//     %3 = Clip(%1, _, %c) : f32[64,256] loc("/clip")
//     %4 = ai.onnx.preview.training.Adam(...) {...} : ...
//     return %3, %4
//   }
//
// Grammar details (the parser accepts exactly what the printer writes, plus whitespace and
// `//` comments anywhere):
//  - Arguments print by name: %name when the name matches [A-Za-z0-9_.$-]+ and is not all
//    digits, else %"quoted" (%"3" is an argument named 3, %3 an op result).
//    Op results print as %0, %1, ... in order (the parser also accepts other names, e.g. %sum).
//    An op without results prints without `=` and `:`. Output names: bare identifier or "quoted".
//  - An absent optional operand is `_`.
//  - Op type: `Name` in the default domain, `domain.Name` otherwise (last dot-separated part is
//    the name).
//  - Attributes, sorted by name: int `1`; float always with `.`, `e`, `nan` or `inf`
//    (`1.0`, `1e-05`, `-inf`; shortest form that round-trips the double); string `"s"` with C
//    escapes; lists `[1, 2]`, `[1.0, 2.5]`, `["a"]`; empty lists `ints[]`, `floats[]`,
//    `strings[]`; tensors `dense<f32[2,2], [1.0, 2.0, 3.0, 4.0]>` (bools true/false),
//    `dense<f32[784,512], 0x...>` (raw little-endian bytes, used above 256 elements) or
//    `dense<f32[784,512], elided>` (no data).
//  - Parameters: `{param}` when without data (or elided), else `{param = dense<...>}`.
//  - Node names: trailing `loc("name")`.
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
