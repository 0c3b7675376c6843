#pragma once
// Lowering a top-level Function to LLVM IR (README.md in this folder describes the files). The
// function becomes
//
//   void <name>(void **buffers)
//
// where buffers[] holds, in this order (BufferLayout lists them):
//   1. its inputs, in Function::inputs() order;
//   2. its parameters, in Function::params() order;
//   3. its outputs, in Function::outputs() order;
//   4. the workspace: BufferLayout::workspaceBytes bytes, 64-byte aligned, for intermediates.
// Inputs and parameters are only read, except a parameter an output `new.<param>` is written over
// (BufferSlot::inPlaceOf: that output's own slot is unused, may be null, and the result is in the
// parameter's buffer). Output buffers must not overlap any other buffer; input buffers may
// overlap each other. The function allocates nothing: intermediates live in the workspace at the
// offsets the memory planner (Transforms/MemoryPlan.h) chose, and it calls one generated LLVM
// function per op or fused kernel. Bad data it cannot compute with (a label out of range) is
// reported through the runtime's adj_report_error; the caller takes it with adj_take_error.
#include "IR/Graph.h"

#include <string>
#include <vector>

namespace llvm {
class Module;
}

namespace adjoint {

class Target;

struct LoweringOptions {
  // Place intermediates with the memory planner (arena reuse, in-place ops and parameter
  // updates); false gives every intermediate its own workspace bytes.
  bool memoryPlan = true;
};

struct BufferSlot {
  enum class Kind { Input, Param, Output, Workspace };
  Kind kind = Kind::Input;
  std::string name; // argument or output name
  TensorType type;
  int inPlaceOf = -1; // Output written into the buffer of argument slot inPlaceOf
};

struct BufferLayout {
  std::vector<BufferSlot> slots;
  int64_t workspaceBytes = 0;
  int64_t arenaBytes = 0; // of the workspace, what the memory plan placed (the rest is scratch)
  int firstOutput = 0;    // index of the first Output slot
  int workspaceSlot = 0;  // index of the workspace slot (the last)
};

struct LoweredFunction {
  std::string entry; // the LLVM symbol
  BufferLayout layout;
  int64_t opFunctions = 0; // generated functions, one per op or fused loop nest
  // Messages of the errors the code may report (adj_report_error's site indexes them; {0} {1}
  // {2} stand for its values). After each call the caller takes the error and throws it.
  std::vector<std::string> errorMessages;
};

// Lowers fn (a top-level function of its module; the kernel bodies it calls are looked up there)
// into m. Throws Error listing every op that cannot be lowered yet, naming each.
LoweredFunction lowerFunction(const Function &fn, llvm::Module &m, const Target &target,
                              const LoweringOptions &opts = {});

// Ops of fn (and of the kernel bodies it calls) the code generator cannot lower, as
// "Conv 'conv1'" or "Softmax (in kernel @main.kernel0)"; empty when all can be.
std::vector<std::string> unloweredOps(const Function &fn);

// Ops the code generator lowers ("Add", "adjoint.Kernel", ...).
std::vector<std::string> loweredOpNames();

// Functions of m that are not the body of a kernel: what the code generator compiles.
std::vector<const Function *> topLevelFunctions(const Module &m);

} // namespace adjoint
