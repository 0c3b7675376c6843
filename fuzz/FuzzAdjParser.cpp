// Textual IR → parser → IR verifier (what adjoint-opt does with a .adj file).
#include "FuzzTarget.h"
#include "IR/Parser.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    auto m = adjoint::parseModule(std::string(reinterpret_cast<const char *>(data), size),
                                  "fuzz.adj");
    adjoint::verifyModule(*m);
  } catch (const adjoint::Error &e) {
    adjoint::fuzz::expectedError(e);
  }
  return 0;
}
