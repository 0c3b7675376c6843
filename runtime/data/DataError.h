#pragma once
// The data library's one error type. It depends on nothing in compiler/, so it does not use
// adjoint::Error; the tools print any std::exception as "TOOL: error: <message>".
#include <sstream>
#include <stdexcept>
#include <string>

namespace adjoint::data {

class DataError : public std::runtime_error {
public:
  explicit DataError(const std::string &msg) : std::runtime_error(msg) {}
};

template <typename... Args> [[noreturn]] void dataFail(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  throw DataError(os.str());
}

template <typename... Args> void dataCheck(bool cond, const Args &...args) {
  if (!cond)
    dataFail(args...);
}

} // namespace adjoint::data
