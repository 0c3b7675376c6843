#pragma once
// One error type for the whole compiler. Every message a user sees names the file, node or op it
// is about; the tools catch Error at main() and exit non-zero, so bad input never crashes.
#include <sstream>
#include <stdexcept>
#include <string>

namespace adjoint {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string &msg) : std::runtime_error(msg) {}
};

namespace detail {
inline void appendAll(std::ostringstream &) {}
template <typename T, typename... Rest>
void appendAll(std::ostringstream &os, const T &v, const Rest &...rest) {
  os << v;
  appendAll(os, rest...);
}
} // namespace detail

template <typename... Args> [[noreturn]] void fail(const Args &...args) {
  std::ostringstream os;
  detail::appendAll(os, args...);
  throw Error(os.str());
}

template <typename... Args> void check(bool cond, const Args &...args) {
  if (!cond)
    fail(args...);
}

} // namespace adjoint
