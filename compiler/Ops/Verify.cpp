#include "Ops/Verify.h"
#include "IR/Verifier.h"
#include "Ops/Build.h"

namespace adjoint {

void verifyFunction(const Function &fn) {
  verifyStructure(fn);
  for (const auto &op : fn.ops()) {
    std::vector<TensorType> types;
    try {
      types = inferResultTypes(*op);
    } catch (const Error &e) {
      fail("in @", fn.name(), ": ", e.what());
    }
    for (size_t i = 0; i < op->numResults(); ++i)
      if (types[i] != op->result(i)->type())
        fail("in @", fn.name(), ": ", op->describe(), ": result ", i, " is declared ",
             op->result(i)->type().str(), " but inference gives ", types[i].str());
  }
}

void verifyModule(const Module &m) {
  for (const auto &f : m.functions())
    verifyFunction(*f);
}

} // namespace adjoint
