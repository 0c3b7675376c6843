#pragma once
// The lowering of one top-level function (Lowering.cpp) and of the kernels in it
// (LowerKernel.cpp): where every value lives (Storage), and the entry function that calls one
// generated function per op or loop nest in schedule order.
#include "CodeGen/Lowering.h"
#include "CodeGen/LoweringContext.h"

#include <unordered_map>
#include <unordered_set>

namespace adjoint {

// Where a value's bytes are: a caller buffer (slot), the workspace, or constant data.
struct Storage {
  enum class Kind { None, Slot, Workspace, Global };
  Kind kind = Kind::None;
  int slot = -1;
  int64_t offset = 0, bytes = 0;
  llvm::GlobalVariable *global = nullptr;

  bool same(const Storage &o) const {
    return kind == o.kind && slot == o.slot && offset == o.offset && global == o.global;
  }
  // Whether the two may share a byte. Distinct slots are distinct buffers (inputs may overlap
  // each other, but those are only read).
  bool overlaps(const Storage &o) const {
    if (kind != o.kind || bytes == 0 || o.bytes == 0 || slot != o.slot || global != o.global)
      return false;
    return offset < o.offset + o.bytes && o.offset < offset + bytes;
  }
};

class FunctionLowering {
public:
  FunctionLowering(const Function &fn, llvm::Module &m, const Target &target,
                   const LoweringOptions &opts);
  LoweredFunction run();

private:
  void assignWithPlan();
  void assignOwn();
  void addSlots();
  Storage &storageOf(const Value *v);
  Storage temp(int64_t bytes);
  int argSlot(const Value *arg) const { return argSlots_.at(arg); }

  llvm::Value *pointerTo(const Storage &s);
  // Emits the op (top level or in a kernel body) once its operands are computed.
  void emitOp(const Op &op, const std::string &stem);
  void emitNest(const std::string &name, const Op &owner, const Shape &domain,
                const std::vector<const Value *> &outputs);
  void emitCall(const std::string &name, const Op &op, const std::vector<const Value *> &operands,
                const std::vector<const Value *> &results, int64_t scratchBytes,
                const std::function<void(OpEmitContext &)> &body);
  // Copies v's bytes to dst as soon as v is computed (now, when it is).
  void copyWhenComputed(const Value *v, const Storage &dst);
  void computed(const Value *v);
  void lowerKernel(const Op &kernel, const std::string &stem); // LowerKernel.cpp

  const Function &fn_;
  const LoweringOptions &opts_;
  CodegenContext cg_;
  LoweredFunction out_;
  std::unordered_map<const Value *, int> argSlots_;
  std::unordered_map<const Value *, Storage> storage_;
  std::unordered_set<const Value *> computed_;
  std::unordered_map<const Value *, std::vector<Storage>> pendingCopies_;
  int64_t arenaBytes_ = 0, tempTop_ = 0, tempMax_ = 0;

  llvm::Function *entry_ = nullptr;
  std::unique_ptr<Builder> b_; // positioned in entry_
  std::vector<llvm::Value *> slotBase_;
};

} // namespace adjoint
