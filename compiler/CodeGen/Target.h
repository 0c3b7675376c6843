#pragma once
// The machine code is generated for. A Target owns the llvm::TargetMachine and says how generated
// functions are configured for it; CpuTarget is the host (or any LLVM CPU triple, for --emit=asm).
// A GPU target (NVPTX) goes beside CpuTarget: createTarget picks by the triple's architecture,
// and the lowering asks the Target, not the triple, what it may emit.
#include <memory>
#include <string>

namespace llvm {
class Function;
class Module;
class TargetMachine;
} // namespace llvm

namespace adjoint {

struct TargetOptions {
  std::string triple;   // empty: the host's
  std::string cpu;      // empty: the host CPU (--mcpu)
  std::string features; // added after the CPU's own (--mattr, "+avx2,-fma"); with neither cpu
                        // nor triple given the host's features come first
  int optLevel = 3;     // 0..3
  // Vector width (bits) the loop vectorizer may use; 0: the widest the CPU has (LLVM otherwise
  // keeps AVX-512 CPUs such as skylake-avx512 to 256 bits).
  int preferVectorWidth = 0;
};

class Target {
public:
  enum class Kind { Cpu, Nvptx };
  virtual ~Target();
  virtual Kind kind() const = 0;
  // The options with triple, CPU and features resolved.
  const TargetOptions &options() const { return opts_; }
  llvm::TargetMachine &machine() const { return *tm_; }
  // Triple and data layout of a module about to be filled.
  void configureModule(llvm::Module &m) const;
  // Attributes every generated function carries (target-cpu, target-features, vector width).
  virtual void configureFunction(llvm::Function &f) const;
  // "x86_64-pc-linux-gnu, cpu znver4, vectors 512 bits"
  std::string describe() const;
  // A string that changes whenever generated code would: for cache keys.
  std::string fingerprint() const;

protected:
  Target(TargetOptions opts, std::unique_ptr<llvm::TargetMachine> tm, int vectorBits);
  TargetOptions opts_;
  std::unique_ptr<llvm::TargetMachine> tm_;
  int vectorBits_ = 0; // the resolved preferred vector width; 0 when it is the CPU's default
};

class CpuTarget : public Target {
public:
  // Throws Error for an unknown triple, CPU or feature.
  static std::unique_ptr<CpuTarget> create(const TargetOptions &opts);
  Kind kind() const override { return Kind::Cpu; }

private:
  using Target::Target;
};

// NVIDIA GPUs through LLVM's NVPTX backend (NvptxTarget.cpp): triple nvptx64-nvidia-cuda, the
// CPU is the GPU architecture (--gpu-arch, "sm_90" by default). Generated code is PTX text that
// the CUDA driver compiles at load time (runtime/cuda).
class NvptxTarget : public Target {
public:
  static constexpr const char *kDefaultArch = "sm_90";
  // Throws Error for an unknown architecture or feature.
  static std::unique_ptr<NvptxTarget> create(const TargetOptions &opts);
  Kind kind() const override { return Kind::Nvptx; }
  void configureFunction(llvm::Function &f) const override;

private:
  using Target::Target;
};

// The target for opts.triple (the host when empty). Throws Error naming what is unknown.
std::unique_ptr<Target> createTarget(const TargetOptions &opts = {});

// Initializes LLVM's targets once (idempotent, thread-safe).
void initializeNativeTarget();

} // namespace adjoint
