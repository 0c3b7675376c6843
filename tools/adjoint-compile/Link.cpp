#include "Link.h"
#include "AotPaths.h"
#include "Support/Error.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace adjoint::compile {

namespace {

namespace fs = std::filesystem;

std::string envOr(const std::string &flag, const char *env, const std::string &dflt) {
  if (!flag.empty())
    return flag;
  const char *v = std::getenv(env);
  return v && *v ? v : dflt;
}

// A runtime library: DIR/<its file name> when a directory is given, else where this build put it.
std::string library(const LinkOptions &o, const std::string &built) {
  std::string dir = envOr(o.runtimeDir, "ADJOINT_RUNTIME_DIR", "");
  std::string path = dir.empty() ? built : (fs::path(dir) / fs::path(built).filename()).string();
  check(fs::is_regular_file(path), "the AOT runtime library '", path, "' is missing",
        dir.empty() ? " (build the adjoint_aot targets, or point --runtime-dir / "
                      "$ADJOINT_RUNTIME_DIR at a folder holding it)"
                    : " (from --runtime-dir / $ADJOINT_RUNTIME_DIR)");
  return path;
}

std::string driver(const LinkOptions &o) {
  std::string cxx = envOr(o.cxx, "ADJOINT_CXX", kAotCxx);
  bool found = cxx.find('/') != std::string::npos ? fs::exists(cxx) : false;
  if (!found && cxx.find('/') == std::string::npos)
    for (const char *p = std::getenv("PATH"); p && *p;) {
      const char *end = std::strchr(p, ':');
      std::string d(p, end ? (size_t)(end - p) : std::strlen(p));
      found |= !d.empty() && fs::exists(fs::path(d) / cxx);
      p = end ? end + 1 : nullptr;
    }
  check(found, "the linker driver '", cxx,
        "' was not found (give one with --cxx=PATH or $ADJOINT_CXX: c++, g++ or clang++-19)");
  return cxx;
}

void run(const std::vector<std::string> &args, const std::string &what, bool verbose) {
  std::string cmd;
  for (const std::string &a : args)
    cmd += (cmd.empty() ? "" : " ") + a;
  if (verbose)
    std::cerr << cmd << "\n";
  std::vector<char *> argv;
  for (const std::string &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  check(pid >= 0, "cannot start the linker for ", what);
  if (pid == 0) {
    execvp(argv[0], argv.data());
    std::perror(argv[0]);
    _exit(127);
  }
  int status = 0;
  check(waitpid(pid, &status, 0) == pid, "waiting for the linker failed");
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "linking ", what, " failed (",
        WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                          : std::string("killed by a signal"),
        "): ", cmd);
}

std::vector<std::string> systemLibraries(const LinkOptions &o) {
  bool staticRuntime = o.staticRuntime;
  std::vector<std::string> libs;
  for (const char *f : kAotLinkFlags)
    if (*f)
      libs.push_back(f);
  std::vector<std::string> blas(std::begin(kAotSystemLibraries), std::end(kAotSystemLibraries));
  if (!o.blas.empty()) {
    check(fs::is_regular_file(o.blas), "--blas: '", o.blas, "' is not a library file");
    blas = {o.blas};
  }
  for (const std::string &l : blas) {
    std::string lib = l;
    if (staticRuntime && fs::path(lib).extension() == ".so") {
      std::string archive = fs::path(lib).replace_extension(".a").string();
      check(fs::exists(archive), "--static-runtime: no static library '", archive, "' beside '", lib, "'");
      lib = archive;
    }
    if (!lib.empty())
      libs.push_back(lib);
  }
  if (staticRuntime)
    libs.insert(libs.end(), {"-Wl,-Bstatic", "-lz", "-lgfortran", "-lquadmath", "-Wl,-Bdynamic",
                             "-static-libstdc++", "-static-libgcc"});
  else
    libs.push_back("-lz");
  libs.insert(libs.end(), {"-pthread", "-lm"});
  return libs;
}

} // namespace

void checkLinkInputs(const LinkOptions &o, bool executable, bool cuda) {
  driver(o);
  if (cuda)
    for (const char *lib : {kAotGpuMainLibrary, kAotGpuLibrary, kAotGpuHostLibrary})
      library(o, lib);
  if (cuda && *kAotCudaLibrary)
    library(o, kAotCudaLibrary);
  for (const char *lib : {kAotLibrary, kAotDataLibrary, kAotRuntimeLibrary})
    library(o, lib);
  for (const char *lib : executable ? std::vector<const char *>{kAotMainLibrary, kAotTrainerLibrary}
                                    : std::vector<const char *>{kAotCApiLibrary})
    library(o, lib);
}

void linkExecutable(const std::string &object, const std::string &out, const LinkOptions &o) {
  std::vector<std::string> args = {driver(o), "-o", out, object,
                                   library(o, kAotMainLibrary), library(o, kAotTrainerLibrary),
                                   library(o, kAotLibrary), library(o, kAotDataLibrary),
                                   library(o, kAotRuntimeLibrary)};
  for (const std::string &l : systemLibraries(o))
    args.push_back(l);
  run(args, out, o.verbose);
}

void linkGpuExecutable(const std::string &object, const std::string &emulatorObject,
                       const std::string &out, const LinkOptions &o) {
  std::vector<std::string> args = {driver(o), "-o", out, object, emulatorObject,
                                   library(o, kAotGpuMainLibrary), library(o, kAotGpuLibrary),
                                   library(o, kAotTrainerLibrary), library(o, kAotLibrary)};
  if (*kAotCudaLibrary)
    args.push_back(library(o, kAotCudaLibrary));
  for (const char *lib : {kAotGpuHostLibrary, kAotDataLibrary, kAotRuntimeLibrary})
    args.push_back(library(o, lib));
  for (const std::string &l : systemLibraries(o))
    args.push_back(l);
  args.push_back("-ldl"); // libcuda and libcublas are opened at run time
  run(args, out, o.verbose);
}

void linkSharedLibrary(const std::string &object, const std::string &out, const LinkOptions &o) {
  // Only the C API is exported; the runtime's C++ stays inside.
  std::string script = out + ".exports.tmp";
  {
    std::ofstream vs(script);
    vs << "{ global: adjoint_*; local: *; };\n";
    check(vs.good(), "cannot write '", script, "'");
  }
  std::vector<std::string> args = {driver(o), "-shared", "-o", out,
                                   "-Wl,-soname," + fs::path(out).filename().string(), object,
                                   "-Wl,--whole-archive", library(o, kAotCApiLibrary),
                                   "-Wl,--no-whole-archive", library(o, kAotLibrary),
                                   library(o, kAotDataLibrary), library(o, kAotRuntimeLibrary),
                                   "-Wl,--version-script=" + script};
  for (const std::string &l : systemLibraries(o))
    args.push_back(l);
  try {
    run(args, out, o.verbose);
  } catch (...) {
    fs::remove(script);
    throw;
  }
  fs::remove(script);
}

std::string libraryHeader(const std::string &modelDefines) {
  return std::string("/* Generated by adjoint-compile --emit=lib. */\n") + kAotApiHeader +
         "\n/* The model this library was compiled from. */\n" + modelDefines;
}

} // namespace adjoint::compile
