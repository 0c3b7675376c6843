#pragma once
// Linking what adjoint-compile generated into an executable or a shared library with the static
// AOT runtime. The libraries and the linker driver are found where this build put them
// (recorded at configure time, AotPaths.h), unless --runtime-dir / $ADJOINT_RUNTIME_DIR and
// --cxx / $ADJOINT_CXX say otherwise; a missing one is an error naming it.
#include <string>

namespace adjoint::compile {

struct LinkOptions {
  std::string runtimeDir, cxx;
  bool verbose = false;
  // exe: link BLAS (its .a beside the .so), zlib, libgfortran, libquadmath, libstdc++ and libgcc
  // statically, so the trainer runs where they are not installed (a lent GPU machine).
  bool staticRuntime = false;
  std::string blas; // a BLAS library to link instead of this build's (--blas)
};

// Finds the libraries and the driver a link will need, so a missing one is reported before
// anything is compiled.
void checkLinkInputs(const LinkOptions &o, bool executable, bool cuda = false);

void linkExecutable(const std::string &object, const std::string &out, const LinkOptions &o);
// --target=cuda: the description's object and the emulated kernels' object with the GPU runtime.
void linkGpuExecutable(const std::string &object, const std::string &emulatorObject,
                       const std::string &out, const LinkOptions &o);
void linkSharedLibrary(const std::string &object, const std::string &out, const LinkOptions &o);

// The C header of a library: the API (runtime/aot/adjoint_aot.h) and the model's #defines.
std::string libraryHeader(const std::string &modelDefines);

} // namespace adjoint::compile
