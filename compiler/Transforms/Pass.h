#pragma once
// Passes: one per file, registered under a command-line name in PassRegistry.cpp's single table.
#include "IR/Graph.h"

#include <functional>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace adjoint {

class PassContext {
public:
  // Passes named with --debug-only=<name> explain what they decline to do.
  std::set<std::string> debugOnly;
  std::ostream *debugStream = nullptr;
  bool debugging(const std::string &pass) const {
    return debugStream && (debugOnly.count(pass) || debugOnly.count("all"));
  }
  std::ostream &dbgs() const { return *debugStream; }
  // Pass statistics ("cse.eliminated" -> 12), printed by adjoint-opt --stats.
  std::map<std::string, int64_t> stats;
  // Pass options from the command line (--freeze=w1,b1 → options["freeze"] = "w1,b1"). A pass
  // given a value (--optimizer=adam) finds it under its own name (options["optimizer"]).
  std::map<std::string, std::string> options;
  std::string option(const std::string &name, const std::string &dflt = "") const {
    auto it = options.find(name);
    return it == options.end() ? dflt : it->second;
  }
};

struct PassInfo {
  std::string name;        // command-line name: --cse
  std::string description; // one line for --help
  // Returns true when the function changed.
  std::function<bool(Function &, PassContext &)> run;
  // Options the pass reads from PassContext::options, with one line of help each.
  std::vector<std::pair<std::string, std::string>> options = {};
};

const std::vector<PassInfo> &allPasses();
const PassInfo *findPass(const std::string &name);

// Each pass file defines one of these.
bool runCanonicalize(Function &f, PassContext &ctx);
bool runCSE(Function &f, PassContext &ctx);
bool runDCE(Function &f, PassContext &ctx);
bool runAutodiff(Function &f, PassContext &ctx);
bool runOptimizerStep(Function &f, PassContext &ctx);
bool runExpandGradient(Function &f, PassContext &ctx);
bool runAttachLoss(Function &f, PassContext &ctx);
bool runTrainMode(Function &f, PassContext &ctx);
bool runFusion(Function &f, PassContext &ctx);

} // namespace adjoint
