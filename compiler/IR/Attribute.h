#pragma once
// Op attributes: the ONNX attribute kinds the op set uses. Floats are held as double so that the
// text form round-trips exactly; ONNX floats (f32) convert losslessly.
#include "IR/Tensor.h"

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace adjoint {

enum class AttrKind { Int, Float, String, Ints, Floats, Strings, Tensor };
const char *attrKindName(AttrKind k);

class Attribute {
public:
  using Storage = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>, Tensor>;
  Attribute() : v_(int64_t{0}) {}
  Attribute(int64_t v) : v_(v) {}
  Attribute(int v) : v_(int64_t{v}) {}
  Attribute(double v) : v_(v) {}
  Attribute(std::string v) : v_(std::move(v)) {}
  Attribute(const char *v) : v_(std::string(v)) {}
  Attribute(std::vector<int64_t> v) : v_(std::move(v)) {}
  Attribute(std::vector<double> v) : v_(std::move(v)) {}
  Attribute(std::vector<std::string> v) : v_(std::move(v)) {}
  Attribute(Tensor v) : v_(std::move(v)) {}

  AttrKind kind() const { return static_cast<AttrKind>(v_.index()); }
  int64_t i() const { return std::get<int64_t>(v_); }
  double f() const { return std::get<double>(v_); }
  const std::string &s() const { return std::get<std::string>(v_); }
  const std::vector<int64_t> &ints() const { return std::get<std::vector<int64_t>>(v_); }
  const std::vector<double> &floats() const { return std::get<std::vector<double>>(v_); }
  const std::vector<std::string> &strings() const {
    return std::get<std::vector<std::string>>(v_);
  }
  const Tensor &tensor() const { return std::get<Tensor>(v_); }

  bool operator==(const Attribute &o) const;
  size_t hash() const;

private:
  Storage v_;
};

// Sorted by name so printing and hashing are deterministic.
using AttrMap = std::map<std::string, Attribute>;

} // namespace adjoint
