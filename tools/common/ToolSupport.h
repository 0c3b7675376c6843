#pragma once
// What every adjoint-* tool shares: loading a model from .onnx or .adj, command-line value
// parsing, and running main() so that every Error becomes one message and a non-zero exit.
#include "Frontend/OnnxImporter.h"
#include "IR/Graph.h"

#include <functional>
#include <memory>
#include <string>

namespace adjoint::tools {

bool hasSuffix(const std::string &s, const std::string &suffix);

// Loads `path` (.onnx imports; anything else, or "-" for stdin, parses as .adj and verifies).
std::unique_ptr<Module> loadModule(const std::string &path, const ImportOptions &opts);

// "--dim batch=64" → opts.dims["batch"] = 64; throws Error on malformed text.
void parseDimBinding(const std::string &text, ImportOptions &opts);
// NAME=VALUE split; throws Error naming `flag` when there is no '='.
std::pair<std::string, std::string> splitAssignment(const std::string &text, const char *flag);
int64_t parseInt(const std::string &text, const char *what);
// "--max-tensor-bytes N[K|M|G]" (binary units): the largest tensor a model or input file may
// declare (Frontend/TensorIO.h's maxTensorBytes); throws Error on malformed text.
void parseMaxTensorBytes(const std::string &text);
// Its --help line, the same in every tool.
extern const char *const kMaxTensorBytesHelp;

// Walks a command line whose flags take values as --flag=VALUE or --flag VALUE.
class ArgCursor {
public:
  ArgCursor(int argc, char **argv) : argc_(argc), argv_(argv) {}
  bool next() { return ++i_ < argc_ && (arg_ = argv_[i_], true); }
  const std::string &arg() const { return arg_; }
  // The current argument is --flag or --flag=...
  bool is(const std::string &flag) const;
  // Its value: after '=' or the next argument (an Error naming the flag when there is none).
  std::string value(const std::string &flag);

private:
  int argc_, i_ = 0;
  char **argv_;
  std::string arg_;
};

// Runs body and turns any Error (or other exception) into "TOOL: error: ..." and exit code 1.
int runTool(const char *tool, const std::function<int()> &body);

} // namespace adjoint::tools
