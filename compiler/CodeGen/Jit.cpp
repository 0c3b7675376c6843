#include "CodeGen/Jit.h"
#include "CodeGen/Optimize.h"
#include "Support/Error.h"
#include "adjoint_runtime.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

namespace adjoint {

namespace {

// Bumped whenever generated code changes for the same IR (runtime ABI, lowering conventions).
constexpr const char *kCacheVersion = "adjoint-jit-1";

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T> T unwrap(llvm::Expected<T> e, const char *what) {
  if (!e)
    fail("JIT: ", what, ": ", llvm::toString(e.takeError()));
  return std::move(*e);
}

void unwrap(llvm::Error e, const char *what) {
  if (e)
    fail("JIT: ", what, ": ", llvm::toString(std::move(e)));
}

std::string cacheKey(const llvm::Module &m, const Target &t) {
  std::string ir;
  llvm::raw_string_ostream os(ir);
  m.print(os, nullptr);
  os << "\n" << t.fingerprint() << "\n" << kCacheVersion;
  os.flush();
  std::array<uint8_t, 32> hash = llvm::SHA256::hash(
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(ir.data()), ir.size()));
  static const char *hex = "0123456789abcdef";
  std::string key;
  for (uint8_t b : hash) {
    key += hex[b >> 4];
    key += hex[b & 15];
  }
  return key;
}

bool readCache(const std::string &path, std::string &object) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  object = ss.str();
  return !object.empty();
}

// Written to a temporary name and renamed, so a concurrent reader never sees half a file.
void writeCache(const std::string &dir, const std::string &path, const std::string &object) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  check(!ec, "--cache-dir: cannot create '", dir, "': ", ec.message());
  std::string tmp = path + ".tmp" + std::to_string((long long)getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    check(out.good(), "--cache-dir: cannot write '", tmp, "'");
    out.write(object.data(), (std::streamsize)object.size());
    check(out.good(), "--cache-dir: cannot write '", tmp, "'");
  }
  std::filesystem::rename(tmp, path, ec);
  check(!ec, "--cache-dir: cannot rename '", tmp, "': ", ec.message());
}

struct ArgInfo {
  std::string name;
  TensorType type;
  Tensor data; // parameters' own data (may be empty)
  bool isParam = false;
};

// ADJOINT_PERF_MAP=1: every function the JIT links goes into /tmp/perf-<pid>.map (address, size,
// name), the file `perf report` reads to name JIT code, so a profile shows op functions instead
// of bare addresses (docs/bench.md).
bool isNamedCode(const llvm::jitlink::Symbol *sym) {
  return sym->hasName() && sym->isDefined() && sym->getSize() > 0 &&
         ((unsigned)sym->getBlock().getSection().getMemProt() & (unsigned)llvm::orc::MemProt::Exec);
}

// Calls to internal functions are relocated against their section, so their own symbols would
// be pruned as unreferenced before the addresses are known.
llvm::Error keepCodeSymbols(llvm::jitlink::LinkGraph &g) {
  for (llvm::jitlink::Symbol *sym : g.defined_symbols())
    if (isNamedCode(sym))
      sym->setLive(true);
  return llvm::Error::success();
}

llvm::Error writePerfMap(llvm::jitlink::LinkGraph &g) {
  std::ofstream out("/tmp/perf-" + std::to_string((long long)getpid()) + ".map", std::ios::app);
  for (llvm::jitlink::Symbol *sym : g.defined_symbols())
    if (isNamedCode(sym))
      out << std::hex << sym->getAddress().getValue() << " " << sym->getSize() << " "
          << sym->getName().str() << "\n";
  return llvm::Error::success();
}

class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility &, llvm::jitlink::LinkGraph &,
                        llvm::jitlink::PassConfiguration &config) override {
    config.PrePrunePasses.emplace_back(&keepCodeSymbols);
    config.PostFixupPasses.emplace_back(&writePerfMap);
  }
  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility &) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib &, llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib &, llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}
};

struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};

} // namespace

struct CompiledFunction::Impl {
  std::string name;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  void (*entry)(void **) = nullptr;
  BufferLayout layout;
  CompileStats stats;
  std::vector<std::string> errorMessages;
  std::vector<ArgInfo> args; // in slot order: inputs, then parameters
  std::vector<std::pair<std::string, size_t>> argOrder; // fn.args() order -> index into args
  mutable std::mutex mutex;
  mutable std::unique_ptr<uint8_t, FreeDeleter> workspace;
};

CompiledFunction::CompiledFunction(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledFunction::~CompiledFunction() = default;
const BufferLayout &CompiledFunction::layout() const { return impl_->layout; }
const CompileStats &CompiledFunction::stats() const { return impl_->stats; }
const std::string &CompiledFunction::name() const { return impl_->name; }
void CompiledFunction::call(void **buffers) const { impl_->entry(buffers); }

std::vector<Tensor> CompiledFunction::run(const std::map<std::string, Tensor> &inputs) const {
  const Impl &f = *impl_;
  const BufferLayout &l = f.layout;
  std::vector<Tensor> held(f.args.size());
  // Checked in argument order, with interpret()'s messages.
  for (const auto &[name, i] : f.argOrder) {
    const ArgInfo &a = f.args[i];
    auto it = inputs.find(name);
    if (it == inputs.end()) {
      if (a.isParam && !a.data.empty()) {
        held[i] = a.data;
        continue;
      }
      fail("input '", name, "' of function @", f.name, " was not given",
           a.isParam ? " (a parameter without data)" : "");
    }
    const Tensor &t = it->second;
    if (t.dtype() != a.type.dtype || t.shape() != a.type.shape)
      fail("input '", name, "' has type ", TensorType{t.dtype(), t.shape()}.str(),
           " but the function expects ", a.type.str());
    held[i] = t;
  }
  for (const auto &name_t : inputs) {
    bool known = false;
    for (const ArgInfo &a : f.args)
      known |= a.name == name_t.first;
    if (!known)
      fail("function @", f.name, " has no input named '", name_t.first, "'");
  }

  std::vector<void *> buffers(l.slots.size(), nullptr);
  for (size_t i = 0; i < f.args.size(); ++i)
    buffers[i] = const_cast<uint8_t *>(held[i].bytes());
  std::vector<Tensor> outs;
  for (size_t k = 0; k + l.firstOutput < (size_t)l.workspaceSlot; ++k) {
    const BufferSlot &s = l.slots[l.firstOutput + k];
    if (s.inPlaceOf >= 0) {
      // The update goes into a private copy: the caller's tensor stays as it was.
      const Tensor &old = held[(size_t)s.inPlaceOf];
      Tensor t(s.type.dtype, s.type.shape);
      if (old.byteSize())
        std::memcpy(t.mutableBytes(), old.bytes(), old.byteSize());
      buffers[(size_t)s.inPlaceOf] = t.mutableBytes();
      outs.push_back(std::move(t));
      continue;
    }
    outs.emplace_back(s.type.dtype, s.type.shape);
    buffers[l.firstOutput + k] = outs.back().mutableBytes();
  }
  std::lock_guard<std::mutex> lock(f.mutex);
  if (!f.workspace && l.workspaceBytes > 0) {
    size_t bytes = (size_t)(l.workspaceBytes + 63) / 64 * 64;
    f.workspace.reset(static_cast<uint8_t *>(std::aligned_alloc(64, bytes)));
    check(f.workspace != nullptr, "@", f.name, ": cannot allocate a workspace of ", bytes, " bytes");
  }
  buffers[(size_t)l.workspaceSlot] = f.workspace.get();
  f.entry(buffers.data());
  adj_error err;
  if (adj_take_error(&err)) {
    std::string msg = err.site >= 0 && (size_t)err.site < f.errorMessages.size()
                          ? f.errorMessages[(size_t)err.site]
                          : "unknown error";
    for (int i = 0; i < 3; ++i)
      for (size_t at; (at = msg.find(std::string("{").append(std::to_string(i)).append("}"))) !=
                      std::string::npos;)
        msg.replace(at, 3, std::to_string(err.values[i]));
    fail(msg);
  }
  return outs;
}

std::unique_ptr<CompiledFunction> compileFunction(const Function &fn, const JitOptions &opts) {
  initializeNativeTarget();
  check(opts.target.triple.empty() || llvm::Triple::normalize(opts.target.triple) ==
                                          llvm::Triple::normalize(llvm::sys::getProcessTriple()),
        "the JIT runs code for this machine only; target '", opts.target.triple, "' is not it");
  std::unique_ptr<Target> target = createTarget(opts.target);
  auto impl = std::make_unique<CompiledFunction::Impl>();
  impl->name = fn.name();
  CompileStats &st = impl->stats;

  auto t0 = std::chrono::steady_clock::now();
  llvm::LLVMContext ctx;
  auto mod = std::make_unique<llvm::Module>(fn.name(), ctx);
  LoweredFunction lowered = lowerFunction(fn, *mod, *target, opts.lowering);
  impl->layout = lowered.layout;
  impl->errorMessages = lowered.errorMessages;
  st.opFunctions = lowered.opFunctions;
  st.lowerSeconds = secondsSince(t0);

  std::string object, cachePath;
  if (!opts.cacheDir.empty()) {
    cachePath = (std::filesystem::path(opts.cacheDir) / (cacheKey(*mod, *target) + ".o")).string();
    st.cacheHit = readCache(cachePath, object);
  }
  if (!st.cacheHit) {
    t0 = std::chrono::steady_clock::now();
    optimizeModule(*mod, *target);
    st.optimizeSeconds = secondsSince(t0);
    t0 = std::chrono::steady_clock::now();
    object = emitMachineCode(*mod, *target, /*assembly=*/false);
    st.codegenSeconds = secondsSince(t0);
    if (!cachePath.empty())
      writeCache(opts.cacheDir, cachePath, object);
  }

  t0 = std::chrono::steady_clock::now();
  auto jtmb = unwrap(llvm::orc::JITTargetMachineBuilder::detectHost(), "detecting the host");
  impl->jit = unwrap(
      llvm::orc::LLJITBuilder()
          .setJITTargetMachineBuilder(std::move(jtmb))
          .setObjectLinkingLayerCreator([](llvm::orc::ExecutionSession &es, const llvm::Triple &) {
            auto layer = std::make_unique<llvm::orc::ObjectLinkingLayer>(es);
            if (const char *map = std::getenv("ADJOINT_PERF_MAP"); map && *map && *map != '0')
              layer->addPlugin(std::make_unique<PerfMapPlugin>());
            return layer;
          })
          .create(),
      "creating the JIT");
  llvm::orc::LLJIT &jit = *impl->jit;
  llvm::orc::JITDylib &main = jit.getMainJITDylib();
  // The runtime's functions by address: the executable need not export them (-rdynamic).
  llvm::orc::SymbolMap symbols;
  size_t count = 0;
  const adj_symbol *table = adj_runtime_symbols(&count);
  for (size_t i = 0; i < count; ++i)
    symbols[jit.mangleAndIntern(table[i].name)] = {
        llvm::orc::ExecutorAddr::fromPtr(table[i].address),
        llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  unwrap(main.define(llvm::orc::absoluteSymbols(std::move(symbols))), "defining runtime symbols");
  // Anything else (libc, libm) from the process's shared libraries.
  main.addGenerator(unwrap(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                               jit.getDataLayout().getGlobalPrefix()),
                           "searching the process for symbols"));
  unwrap(jit.addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(object, fn.name() + ".o")),
         "adding the object");
  auto addr = unwrap(jit.lookup(lowered.entry), "looking up the entry point");
  impl->entry = addr.toPtr<void (*)(void **)>();
  st.linkSeconds = secondsSince(t0);

  std::unordered_map<const Value *, size_t> index;
  for (Value *v : fn.inputs()) {
    index[v] = impl->args.size();
    impl->args.push_back({v->name(), v->type(), Tensor(), false});
  }
  for (Value *v : fn.params()) {
    index[v] = impl->args.size();
    impl->args.push_back({v->name(), v->type(), v->paramData(), true});
  }
  for (const auto &a : fn.args())
    impl->argOrder.push_back({a->name(), index.at(a.get())});
  return std::unique_ptr<CompiledFunction>(new CompiledFunction(std::move(impl)));
}

void setJitThreads(int n) { adj_set_num_threads(n); }
int jitThreads() { return adj_get_num_threads(); }

} // namespace adjoint
