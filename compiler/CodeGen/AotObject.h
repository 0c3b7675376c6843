#pragma once
// Ahead-of-time code for adjoint-compile: several top-level functions (a training step, its
// evaluation steps) lowered as the JIT lowers them (Lowering.h), each optimized on its own as
// the JIT does (so the code is the same instruction for instruction), then linked into one
// module with the data the runtime reads:
//
//   adj_aot_entries     an array of the entry points, in the order they were added
//   adj_aot_blob        the model description (runtime/aot/AotFormat.h), 64-byte aligned
//   adj_aot_blob_size   its size, u64
//
// The object references the runtime (runtime/adjoint_runtime.h) by name: it is linked with
// libadjoint_runtime.a, not given addresses as the JIT's code is.
#include "CodeGen/Lowering.h"
#include "CodeGen/Target.h"

#include <memory>
#include <string>

namespace adjoint {

enum class AotOutput { Object, Assembly, LlvmIR };

class AotBuilder {
public:
  // Throws Error for an unknown triple or CPU (Target's messages).
  explicit AotBuilder(const TargetOptions &target);
  ~AotBuilder();
  const Target &target() const;

  // Lowers and optimizes fn as the exported symbol `symbol`; its index in adj_aot_entries is the
  // number of functions added before it.
  LoweredFunction add(const Function &fn, const std::string &symbol);

  // Adds the description and the entry table and returns the object file, assembly or (optimized)
  // LLVM IR text. The builder is spent afterwards.
  std::string finish(const std::string &blob, AotOutput output);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace adjoint
