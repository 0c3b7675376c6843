#pragma once
// Parser for the textual IR. Errors are Error("file:line:col: expected ...").
#include "IR/Graph.h"

#include <memory>
#include <string>

namespace adjoint {

std::unique_ptr<Module> parseModule(const std::string &text, const std::string &filename);
std::unique_ptr<Module> parseModuleFile(const std::string &path);

} // namespace adjoint
