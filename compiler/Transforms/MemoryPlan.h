#pragma once
// The memory planner: places every intermediate value of a function in one arena (offsets a code
// generator adds to the arena's base), lets elementwise ops write over an operand that dies there,
// and lets an output `new.<X>` take over the buffer of input/parameter X (in-place updates).
// MemoryPlan.cpp opens with how and why it works.
#include "IR/Graph.h"

#include <cstdint>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

namespace adjoint {

struct MemoryPlanOptions {
  int64_t alignment = 64;     // every arena offset is a multiple of this (a power of two)
  bool inPlace = true;        // elementwise ops may write over an operand that dies there
  bool inPlaceUpdates = true; // outputs new.<X> may take over the buffer of argument X
  // Which greedy order places the buffers; Best tries both and keeps the smaller arena.
  enum class Order { Best, BySize, ByStart } order = Order::Best;
};

struct Placement {
  enum class Kind {
    Arena,    // its own slot in the arena
    InPlace,  // the buffer of `over`: an arena value that dies at this value's op, or argument X
    Output,   // a result returned by the function: the caller's buffer, not in the arena
    Input,    // a function argument (input or parameter): the caller's buffer
    Constant, // a Constant op's result: data in the code
  };
  const Value *value = nullptr;
  Kind kind = Kind::Arena;
  int64_t bytes = 0;    // the value's size
  int64_t offset = -1;  // arena offset when inArena, else -1
  bool inArena = false; // Arena, or InPlace over a value that is in the arena
  // Schedule positions (indices into the function's op list): defined at `start`, last read at
  // `end` (== start when never read). Arguments and constants: -1, -1.
  int64_t start = -1, end = -1;
  const Value *over = nullptr;  // InPlace: the value whose buffer this one takes over
  const Value *owner = nullptr; // InPlace: the value that owns the buffer (arena slot or argument)
  std::string output;           // Output / InPlace over an argument: the output's name
};

struct MemoryPlan {
  int64_t alignment = 64;
  std::vector<Placement> values; // arguments in order, then op results in schedule order
  int64_t arenaBytes = 0;
  int64_t livePeakBytes = 0;  // max over ops of the aligned bytes of arena buffers live there
  int64_t inPlaceCount = 0;   // values placed over another value's buffer
  int64_t inPlaceUpdates = 0; // of which outputs written over their argument
  std::string order;          // "by-size" or "by-start": the greedy order that was kept
  // Why an output new.<X> was not written over X (one line each, printed with the plan).
  std::vector<std::string> refusals;

  double efficiency() const {
    return arenaBytes ? double(livePeakBytes) / double(arenaBytes) : 1.0;
  }
  const Placement *find(const Value *v) const;
  std::unordered_map<const Value *, size_t> index; // value -> position in `values`
};

MemoryPlan planMemory(const Function &f, const MemoryPlanOptions &opts = {});

// Whether `op` may write its result `result` over the buffer of its operand `operand` while it
// reads that operand: each element of the result is computed from the operand's element at the
// same linear index only, and both have the same element size and count (elementwise ops on
// operands of the result's shape; Reshape-like ops, whose output is the input's bytes; fused
// adjoint.Kernels whose body is elementwise ops of the result's shape: the code generator must
// load an iteration's operand elements before it stores that iteration's results).
bool mayWriteOver(const Op &op, size_t result, size_t operand);

// Checks the plan against the function, recomputing liveness from the ops: no two values live at
// the same op share arena bytes (except an in-place pair at its handover op), offsets are
// aligned and inside the arena, every in-place pair is legal (mayWriteOver, the old value is read
// by nothing later). Throws Error naming the function and the values.
void verifyMemoryPlan(const Function &f, const MemoryPlan &plan);

// A table of every value's placement, then one summary line:
//   memory plan @f: arena 1.5 MiB, live peak 1.4 MiB, efficiency 93.3%, 12 in-place
void printMemoryPlan(std::ostream &os, const Function &f, const MemoryPlan &plan);
// "768 B", "1.5 KiB", "12.0 MiB"
std::string formatBytes(int64_t bytes);

} // namespace adjoint
