#include "IR/Attribute.h"

#include <functional>

namespace adjoint {

const char *attrKindName(AttrKind k) {
  switch (k) {
  case AttrKind::Int: return "int";
  case AttrKind::Float: return "float";
  case AttrKind::String: return "string";
  case AttrKind::Ints: return "ints";
  case AttrKind::Floats: return "floats";
  case AttrKind::Strings: return "strings";
  case AttrKind::Tensor: return "tensor";
  }
  return "?";
}

bool Attribute::operator==(const Attribute &o) const {
  if (kind() != o.kind())
    return false;
  if (kind() == AttrKind::Tensor)
    return tensor().identical(o.tensor());
  return v_ == o.v_;
}

size_t Attribute::hash() const {
  size_t h = std::hash<int>()((int)kind());
  switch (kind()) {
  case AttrKind::Int: return h ^ std::hash<int64_t>()(i());
  case AttrKind::Float: return h ^ std::hash<double>()(f());
  case AttrKind::String: return h ^ std::hash<std::string>()(s());
  case AttrKind::Ints:
    for (int64_t x : ints())
      h = h * 31 + std::hash<int64_t>()(x);
    return h;
  case AttrKind::Floats:
    for (double x : floats())
      h = h * 31 + std::hash<double>()(x);
    return h;
  case AttrKind::Strings:
    for (const auto &x : strings())
      h = h * 31 + std::hash<std::string>()(x);
    return h;
  case AttrKind::Tensor: return h ^ tensor().hash();
  }
  return h;
}

} // namespace adjoint
