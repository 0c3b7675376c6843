#include "CodeGen/AotObject.h"
#include "CodeGen/Optimize.h"
#include "Support/Error.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Support/raw_ostream.h>

namespace adjoint {

struct AotBuilder::Impl {
  std::unique_ptr<Target> target;
  llvm::LLVMContext ctx;
  std::unique_ptr<llvm::Module> module;
  std::vector<std::string> entries;
};

AotBuilder::AotBuilder(const TargetOptions &target) : impl_(std::make_unique<Impl>()) {
  impl_->target = createTarget(target);
  impl_->module = std::make_unique<llvm::Module>("adjoint-aot", impl_->ctx);
  impl_->target->configureModule(*impl_->module);
}

AotBuilder::~AotBuilder() = default;

const Target &AotBuilder::target() const { return *impl_->target; }

LoweredFunction AotBuilder::add(const Function &fn, const std::string &symbol) {
  Impl &d = *impl_;
  check(d.module != nullptr, "internal error: AotBuilder used after finish()");
  auto mod = std::make_unique<llvm::Module>(symbol, d.ctx);
  LoweredFunction lowered = lowerFunction(fn, *mod, *d.target);
  llvm::Function *entry = mod->getFunction(lowered.entry);
  check(entry != nullptr, "internal error: @", fn.name(), " has no entry point after lowering");
  check(!d.module->getNamedValue(symbol), "internal error: symbol ", symbol, " added twice");
  entry->setName(symbol);
  lowered.entry = symbol;
  optimizeModule(*mod, *d.target);
  // Internal helpers of different steps may share names; the linker renames them.
  check(!llvm::Linker::linkModules(*d.module, std::move(mod)), "linking the code of @",
        fn.name(), " into the AOT module failed");
  d.entries.push_back(symbol);
  return lowered;
}

std::string AotBuilder::finish(const std::string &blob, AotOutput output) {
  Impl &d = *impl_;
  check(d.module != nullptr, "internal error: AotBuilder::finish() called twice");
  llvm::Module &m = *d.module;
  llvm::Type *ptr = llvm::PointerType::get(d.ctx, 0);
  llvm::Type *i64 = llvm::Type::getInt64Ty(d.ctx);

  auto *data = llvm::ConstantDataArray::getRaw(
      llvm::StringRef(blob.data(), blob.size()), blob.size(), llvm::Type::getInt8Ty(d.ctx));
  auto *blobVar = new llvm::GlobalVariable(m, data->getType(), /*isConstant=*/true,
                                           llvm::GlobalValue::ExternalLinkage, data,
                                           "adj_aot_blob");
  blobVar->setAlignment(llvm::Align(64));
  new llvm::GlobalVariable(m, i64, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, blob.size()), "adj_aot_blob_size");
  std::vector<llvm::Constant *> fns;
  for (const std::string &e : d.entries)
    fns.push_back(m.getFunction(e));
  auto *tableType = llvm::ArrayType::get(ptr, fns.size());
  new llvm::GlobalVariable(m, tableType, true, llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantArray::get(tableType, fns), "adj_aot_entries");

  std::string err;
  llvm::raw_string_ostream es(err);
  check(!llvm::verifyModule(m, &es), "internal error: the AOT module does not verify: ", es.str());
  std::string out;
  if (output != AotOutput::Object) {
    // Text is for reading: the blob (the parameters among it) would print as megabytes of
    // string, so it becomes a declaration and a comment gives its size.
    blobVar->setInitializer(nullptr);
    std::string note = "adj_aot_blob: " + std::to_string(blob.size()) +
                       " bytes of model description (in the object, not printed here)\n";
    if (output == AotOutput::LlvmIR) {
      llvm::raw_string_ostream os(out);
      os << "; " << note;
      m.print(os, nullptr);
      os.flush();
    } else {
      out = "# " + note + emitMachineCode(m, *d.target, /*assembly=*/true);
    }
  } else {
    out = emitMachineCode(m, *d.target, /*assembly=*/false);
  }
  d.module.reset();
  return out;
}

} // namespace adjoint
