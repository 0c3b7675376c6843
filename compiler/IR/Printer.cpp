#include "IR/Printer.h"
#include "IR/Lexer.h"

#include <charconv>
#include <sstream>
#include <unordered_map>

namespace adjoint {
namespace {

// Tensors with more elements than this print as raw bytes: a 784x512 weight as a decimal list
// is unreadable anyway, and hex is exact and fast to parse.
constexpr int64_t kListLimit = 256;

// Shortest text that reads back to the same T, marked as a float so that it never reads back as
// an int.
template <typename T> std::string formatFloat(T v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s;
}

std::string valueNameText(const std::string &name) {
  return "%" + (isBareValueName(name) ? name : quoteString(name));
}

std::string identText(const std::string &name) {
  return isBareIdentifier(name) ? name : quoteString(name);
}

class Printer {
public:
  Printer(std::ostream &os, const Function &fn, const PrintOptions &opts)
      : os_(os), fn_(fn), opts_(opts) {
    // Numbered up front so that a use before definition (a broken graph) still prints.
    unsigned n = 0;
    for (const auto &op : fn.ops())
      for (size_t i = 0; i < op->numResults(); ++i)
        names_[op->result(i)] = std::string("%").append(std::to_string(n++));
    for (const auto &a : fn.args())
      names_[a.get()] = valueNameText(a->name());
  }

  void print() {
    os_ << "func @" << (isBareValueName(fn_.name()) ? fn_.name() : quoteString(fn_.name()))
        << "(";
    for (size_t i = 0; i < fn_.args().size(); ++i) {
      const Value &a = *fn_.args()[i];
      os_ << (i ? ", " : "") << names_[&a] << ": " << a.type().str();
      if (a.isParam()) {
        const Tensor &d = a.paramData();
        if (d.empty() || elided(d)) {
          os_ << " {param}";
        } else {
          os_ << " {param = ";
          printDense(d);
          os_ << "}";
        }
      }
    }
    os_ << ") -> (";
    for (size_t i = 0; i < fn_.outputs().size(); ++i) {
      const FunctionOutput &o = fn_.outputs()[i];
      os_ << (i ? ", " : "") << identText(o.name) << ": "
          << (o.value ? o.value->type().str() : std::string("<null>"));
    }
    os_ << ") {\n";
    for (const auto &op : fn_.ops())
      printOp(*op);
    os_ << "  return";
    for (size_t i = 0; i < fn_.outputs().size(); ++i)
      os_ << (i ? ", " : " ") << ref(fn_.outputs()[i].value);
    os_ << "\n}\n";
  }

private:
  bool elided(const Tensor &t) const { return opts_.elideAbove >= 0 && t.numel() > opts_.elideAbove; }

  std::string ref(const Value *v) {
    if (!v)
      return "<null>";
    auto it = names_.find(v);
    return it == names_.end() ? "<undefined>" : it->second;
  }

  void printOp(const Op &op) {
    os_ << "  ";
    for (size_t i = 0; i < op.numResults(); ++i)
      os_ << (i ? ", " : "") << ref(op.result(i));
    if (op.numResults())
      os_ << " = ";
    std::string full = op.domain().empty() ? op.opType() : op.domain() + "." + op.opType();
    os_ << identText(full) << "(";
    for (size_t i = 0; i < op.numOperands(); ++i)
      os_ << (i ? ", " : "") << (op.operand(i) ? ref(op.operand(i)) : "_");
    os_ << ")";
    if (!op.attrs().empty()) {
      os_ << " {";
      bool first = true;
      for (const auto &[name, attr] : op.attrs()) {
        os_ << (first ? "" : ", ") << identText(name) << " = ";
        printAttr(attr);
        first = false;
      }
      os_ << "}";
    }
    for (size_t i = 0; i < op.numResults(); ++i)
      os_ << (i ? ", " : " : ") << op.result(i)->type().str();
    if (!op.name().empty())
      os_ << " loc(" << quoteString(op.name()) << ")";
    os_ << "\n";
  }

  template <typename T, typename F> void printList(const std::vector<T> &v, F &&each) {
    os_ << "[";
    for (size_t i = 0; i < v.size(); ++i) {
      os_ << (i ? ", " : "");
      each(v[i]);
    }
    os_ << "]";
  }

  void printAttr(const Attribute &a) {
    switch (a.kind()) {
    case AttrKind::Int: os_ << a.i(); return;
    case AttrKind::Float: os_ << formatFloat(a.f()); return;
    case AttrKind::String: os_ << quoteString(a.s()); return;
    case AttrKind::Ints:
      if (a.ints().empty())
        os_ << "ints";
      printList(a.ints(), [&](int64_t x) { os_ << x; });
      return;
    case AttrKind::Floats:
      if (a.floats().empty())
        os_ << "floats";
      printList(a.floats(), [&](double x) { os_ << formatFloat(x); });
      return;
    case AttrKind::Strings:
      if (a.strings().empty())
        os_ << "strings";
      printList(a.strings(), [&](const std::string &x) { os_ << quoteString(x); });
      return;
    case AttrKind::Tensor: printDense(a.tensor()); return;
    }
  }

  void printDense(const Tensor &t) {
    os_ << "dense<" << dtypeName(t.dtype()) << shapeStr(t.shape()) << ", ";
    if (t.empty() || elided(t)) {
      os_ << "elided>";
      return;
    }
    if (t.numel() > kListLimit) {
      static const char *hex = "0123456789abcdef";
      std::string s = "0x";
      s.reserve(2 + 2 * t.byteSize());
      const uint8_t *b = t.bytes();
      for (size_t i = 0; i < t.byteSize(); ++i) {
        s += hex[b[i] >> 4];
        s += hex[b[i] & 15];
      }
      os_ << s << ">";
      return;
    }
    os_ << "[";
    dispatchDType(t.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *d = t.data<T>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        os_ << (i ? ", " : "");
        if constexpr (std::is_same_v<T, bool>)
          os_ << (t.bytes()[i] ? "true" : "false"); // a stray byte value must not be UB
        else if constexpr (std::is_floating_point_v<T>)
          os_ << formatFloat(d[i]);
        else
          os_ << (int64_t)d[i];
      }
    });
    os_ << "]>";
  }

  std::ostream &os_;
  const Function &fn_;
  const PrintOptions &opts_;
  std::unordered_map<const Value *, std::string> names_;
};

} // namespace

void printFunction(std::ostream &os, const Function &fn, const PrintOptions &opts) {
  Printer(os, fn, opts).print();
}

void printModule(std::ostream &os, const Module &m, const PrintOptions &opts) {
  for (size_t i = 0; i < m.functions().size(); ++i) {
    if (i)
      os << "\n";
    printFunction(os, *m.functions()[i], opts);
  }
}

std::string toString(const Function &fn, const PrintOptions &opts) {
  std::ostringstream os;
  printFunction(os, fn, opts);
  return os.str();
}

} // namespace adjoint
