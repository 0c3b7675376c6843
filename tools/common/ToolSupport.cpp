#include "common/ToolSupport.h"
#include "Frontend/TensorIO.h"
#include "data/FileBytes.h"
#include "IR/Parser.h"
#include "Ops/Verify.h"
#include "Support/Error.h"

#include <charconv>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <new>

namespace adjoint::tools {

bool hasSuffix(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::unique_ptr<Module> loadModule(const std::string &path, const ImportOptions &opts) {
  if (hasSuffix(path, ".onnx"))
    return importOnnxFile(path, opts);
  std::unique_ptr<Module> m;
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    m = parseModule(text, "<stdin>");
  } else {
    m = parseModuleFile(path);
  }
  verifyModule(*m);
  return m;
}

std::pair<std::string, std::string> splitAssignment(const std::string &text, const char *flag) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(flag, " expects NAME=VALUE, got '", text, "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int64_t parseInt(const std::string &text, const char *what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size())
    fail(what, " expects an integer, got '", text, "'");
  return v;
}

const char *const kMaxTensorBytesHelp =
    "  --max-tensor-bytes=N   refuse any tensor (initializer, input, intermediate) larger than\n"
    "                         N bytes; K, M, G suffixes (binary)           [4G]\n";

void parseMaxTensorBytes(const std::string &text) {
  std::string why;
  std::optional<uint64_t> n = data::parseByteSize(text, &why);
  check(n.has_value(), "--max-tensor-bytes '", text, "' ", why);
  setMaxTensorBytes(*n);
  data::setMaxFileBytes(*n);
}

void parseDimBinding(const std::string &text, ImportOptions &opts) {
  auto [name, value] = splitAssignment(text, "--dim");
  int64_t n = parseInt(value, "--dim");
  check(n > 0, "--dim ", name, " must be positive, got ", n);
  opts.dims[name] = n;
}

bool ArgCursor::is(const std::string &flag) const {
  return arg_ == flag || arg_.compare(0, flag.size() + 1, flag + "=") == 0;
}

std::string ArgCursor::value(const std::string &flag) {
  if (arg_.size() > flag.size() && arg_.compare(0, flag.size() + 1, flag + "=") == 0)
    return arg_.substr(flag.size() + 1);
  check(i_ + 1 < argc_, flag, " expects a value");
  return argv_[++i_];
}

int runTool(const char *tool, const std::function<int()> &body) {
  try {
    return body();
  } catch (const Error &e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
  } catch (const std::bad_alloc &) {
    std::cerr << tool << ": error: out of memory\n";
  } catch (const std::exception &e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
  }
  return 1;
}

} // namespace adjoint::tools
