#include "FuzzTarget.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace adjoint::fuzz {

const std::string &emptyBaseDir() {
  static const std::string dir = [] {
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "adjoint-fuzz-XXXXXX").string();
    if (ec || !::mkdtemp(tmpl.data()))
      std::abort(); // no temporary folder: nothing this harness can test
    return tmpl;
  }();
  return dir;
}

void expectedError(const std::exception &e) {
  static const bool verbose = std::getenv("ADJOINT_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "expected error: %s\n", e.what());
}

} // namespace adjoint::fuzz
