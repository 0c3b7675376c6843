// adjoint-compile: an ONNX model to a standalone training executable, a shared library with a C
// API, an object file, LLVM IR or assembly (see --help and docs/compile.md).
#include "AotCompile.h"
#include "Link.h"
#include "Support/Error.h"
#include "common/ToolSupport.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

using namespace adjoint;
using namespace adjoint::compile;

namespace {

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), (std::streamsize)bytes.size());
  out.flush();
  check(out.good(), "cannot write '", path, "'");
}

// The object goes beside the output, under a name no other run uses, and is removed after.
struct TempObject {
  explicit TempObject(const std::string &out)
      : path(out + ".adjoint-" + std::to_string((long long)getpid()) + ".o") {}
  ~TempObject() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  std::string path;
};

std::string headerPath(const CompileOptions &o) {
  if (!o.header.empty())
    return o.header;
  return std::filesystem::path(o.output).replace_extension(".h").string();
}

} // namespace

int main(int argc, char **argv) {
  return tools::runTool("adjoint-compile", [&] {
    CompileOptions o;
    if (!parseCompileOptions(argc, argv, o))
      return 0;
    AotOutput kind = o.emit == Emit::Llvm  ? AotOutput::LlvmIR
                     : o.emit == Emit::Asm ? AotOutput::Assembly
                                           : AotOutput::Object;
    if (o.emit == Emit::Exe || o.emit == Emit::Lib)
      check(o.target.triple.empty(), "--emit=", o.emit == Emit::Exe ? "exe" : "lib",
            " links for this machine; with --mtriple use --emit=obj and link it yourself");
    LinkOptions lo{o.runtimeDir, o.cxx, o.verbose, o.staticRuntime, o.blas};
    if (o.emit == Emit::Exe || o.emit == Emit::Lib)
      checkLinkInputs(lo, o.emit == Emit::Exe, o.cuda);
    CompiledModel m = compileModel(o, kind);
    if (o.emit == Emit::Llvm || o.emit == Emit::Asm || o.emit == Emit::Ptx) {
      const std::string &text = o.emit == Emit::Ptx ? m.ptx : m.bytes;
      if (o.output.empty() || o.output == "-")
        std::cout << text;
      else
        writeFile(o.output, text);
      return 0;
    }
    std::string steps;
    for (const std::string &s : m.steps)
      steps += (steps.empty() ? "" : ", ") + s;
    if (o.emit == Emit::Obj) {
      writeFile(o.output, m.bytes);
    } else {
      TempObject obj(o.output);
      writeFile(obj.path, m.bytes);
      if (o.emit == Emit::Exe && o.cuda) {
        TempObject emu(o.output + ".emu");
        writeFile(emu.path, m.emulatorObject);
        linkGpuExecutable(obj.path, emu.path, o.output, lo);
      } else if (o.emit == Emit::Exe) {
        linkExecutable(obj.path, o.output, lo);
      } else {
        linkSharedLibrary(obj.path, o.output, lo);
        writeFile(headerPath(o), libraryHeader(m.header));
      }
    }
    std::cout << "adjoint-compile: wrote " << o.output;
    if (o.emit == Emit::Lib)
      std::cout << " and " << headerPath(o);
    std::cout << "\n  target: " << m.target << ", -O" << o.target.optLevel
              << "\n  steps:  " << steps << "\n  fixed:  loss " << o.loss << ", optimizer "
              << o.optimizerDescription() << ", batch " << m.batch << "\n";
    return 0;
  });
}
