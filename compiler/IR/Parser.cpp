#include "IR/Parser.h"
#include "IR/Lexer.h"
#include "Support/Error.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace adjoint {
namespace {

// Recursive descent with one token of lookahead. Names resolve when they are used, against the
// values defined so far, so a use before the definition (and hence any cycle) cannot be written.
// Ops are created with their declared result types; Ops/Verify checks them against inference.
class Parser {
public:
  Parser(const std::string &text, const std::string &filename) : lex_(text, filename) {
    tok_ = lex_.next();
  }

  std::unique_ptr<Module> parseModule() {
    auto m = std::make_unique<Module>();
    while (tok_.kind != TokKind::Eof)
      parseFunction(*m);
    return m;
  }

private:
  // ---- tokens ----
  [[noreturn]] void errorAt(const Token &t, const std::string &msg) const {
    fail(lex_.filename(), ":", t.line, ":", t.col, ": ", msg);
  }
  [[noreturn]] void expected(const std::string &what) const {
    errorAt(tok_, "expected " + what + ", got " + tok_.describe());
  }
  Token take() {
    Token t = std::move(tok_);
    tok_ = lex_.next();
    return t;
  }
  bool is(TokKind k) const { return tok_.kind == k; }
  bool isKeyword(std::string_view kw) const { return is(TokKind::Ident) && tok_.text == kw; }
  bool accept(TokKind k) {
    if (!is(k))
      return false;
    take();
    return true;
  }
  Token expect(TokKind k, const char *what) {
    if (!is(k))
      expected(what);
    return take();
  }
  void expectKeyword(std::string_view kw) {
    if (!isKeyword(kw))
      expected("'" + std::string(kw) + "'");
    take();
  }

  // ---- values ----
  // %12 (a numbered result) and %"12" (an argument named 12) are different names.
  static std::string key(const Token &t) { return (t.isNumberedValue() ? "#" : "$") + t.str; }

  void define(const Token &t, Value *v) {
    if (!values_.emplace(key(t), v).second)
      errorAt(t, "redefinition of " + std::string(t.text));
  }

  Value *lookup(const Token &t) {
    auto it = values_.find(key(t));
    if (it == values_.end())
      errorAt(t, "use of undefined value " + std::string(t.text));
    return it->second;
  }

  // ---- numbers ----
  int64_t parseInt(const char *what = "integer") {
    if (!is(TokKind::Number) || tok_.isFloat)
      expected(what);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
    if (ec != std::errc() || p != tok_.text.data() + tok_.text.size())
      errorAt(tok_, "integer " + std::string(tok_.text) + " is out of range");
    take();
    return v;
  }

  // A float literal (or an integer, read as a float). T is float for f32 tensor elements so
  // that the shortest f32 spelling reads back to the same f32 without double rounding.
  template <typename T> T parseFloat(const char *what = "float") {
    bool neg = false;
    if (is(TokKind::Minus)) {
      take();
      if (!isKeyword("inf") && !isKeyword("nan"))
        expected("'inf' or 'nan' after '-'");
      neg = true;
    }
    if (isKeyword("inf") || isKeyword("nan")) {
      T v = isKeyword("inf") ? std::numeric_limits<T>::infinity()
                             : std::numeric_limits<T>::quiet_NaN();
      take();
      return neg ? -v : v;
    }
    if (!is(TokKind::Number))
      expected(what);
    T v{};
    const char *b = tok_.text.data(), *e = b + tok_.text.size();
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e)
      errorAt(tok_, "float " + std::string(tok_.text) + " is out of range");
    take();
    return v;
  }

  bool atFloat() const {
    return (is(TokKind::Number) && tok_.isFloat) || is(TokKind::Minus) || isKeyword("inf") ||
           isKeyword("nan");
  }

  // ---- types and tensors ----
  TensorType parseType() {
    if (!is(TokKind::Ident))
      expected("type");
    auto dt = parseDType(tok_.text);
    if (!dt)
      errorAt(tok_, "unknown type '" + std::string(tok_.text) + "'");
    take();
    TensorType t;
    t.dtype = *dt;
    expect(TokKind::LBracket, "'['");
    if (!accept(TokKind::RBracket)) {
      do {
        Token at = tok_;
        int64_t d = parseInt("dimension size");
        if (d < 0)
          errorAt(at, "negative dimension " + std::to_string(d));
        t.shape.push_back(d);
      } while (accept(TokKind::Comma));
      expect(TokKind::RBracket, "',' or ']'");
    }
    return t;
  }

  Tensor parseDense() {
    expectKeyword("dense");
    expect(TokKind::Less, "'<'");
    Token typeTok = tok_;
    TensorType type = parseType();
    int64_t numel = 0;
    try {
      numel = numElements(type.shape);
    } catch (const Error &e) {
      errorAt(typeTok, e.what());
    }
    expect(TokKind::Comma, "','");
    Tensor t;
    if (isKeyword("elided")) {
      take();
      t = Tensor::placeholder(type.dtype, type.shape);
    } else if (is(TokKind::Hex)) {
      t = parseHex(type, numel);
    } else if (is(TokKind::LBracket)) {
      t = parseElements(type, numel);
    } else {
      expected("'[', hex data or 'elided'");
    }
    expect(TokKind::Greater, "'>'");
    return t;
  }

  Tensor parseHex(const TensorType &type, int64_t numel) {
    std::string_view digits = tok_.text.substr(2);
    // numel is checked first: numel * size could overflow.
    size_t bytes = (size_t)numel * dtypeSize(type.dtype);
    if ((size_t)numel > digits.size() || digits.size() != 2 * bytes)
      errorAt(tok_, "expected " + std::to_string(numel) + " elements (" +
                        std::to_string(2 * bytes) + " hex digits) for " + type.str() + ", got " +
                        std::to_string(digits.size()) + " hex digits");
    Tensor t(type.dtype, type.shape);
    uint8_t *out = t.mutableBytes();
    auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (size_t i = 0; i < bytes; ++i) {
      out[i] = (uint8_t)(nibble(digits[2 * i]) << 4 | nibble(digits[2 * i + 1]));
      if (type.dtype == DType::Bool && out[i] > 1)
        errorAt(tok_, "bool tensor data byte " + std::to_string(i) + " is neither 0 nor 1");
    }
    take();
    return t;
  }

  // Elements are collected before the tensor is allocated, so that a huge declared shape with
  // a short list is an error rather than an allocation failure.
  Tensor parseElements(const TensorType &type, int64_t numel) {
    Token open = take();
    return dispatchDType(type.dtype, [&](auto z) {
      using T = decltype(z);
      std::vector<T> v;
      if (!is(TokKind::RBracket)) {
        do {
          v.push_back(parseElement<T>());
        } while (accept(TokKind::Comma));
      }
      expect(TokKind::RBracket, "',' or ']'");
      if ((int64_t)v.size() != numel)
        errorAt(open, "expected " + std::to_string(numel) + " elements for " + type.str() +
                          ", got " + std::to_string(v.size()));
      return Tensor::fromVector<T>(type.shape, v);
    });
  }

  template <typename T> T parseElement() {
    if constexpr (std::is_same_v<T, bool>) {
      if (!isKeyword("true") && !isKeyword("false"))
        expected("'true' or 'false'");
      return take().text == "true";
    } else if constexpr (std::is_floating_point_v<T>) {
      return parseFloat<T>("number");
    } else {
      Token at = tok_;
      int64_t v = parseInt();
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
        errorAt(at, "integer " + std::to_string(v) + " is out of range for " +
                        std::string(dtypeName(dtypeOf<T>())));
      return (T)v;
    }
  }

  // ---- attributes ----
  Attribute parseAttrValue() {
    if (is(TokKind::String))
      return Attribute(take().str);
    if (isKeyword("dense"))
      return Attribute(parseDense());
    if (isKeyword("ints") || isKeyword("floats") || isKeyword("strings")) {
      std::string kw(take().text);
      expect(TokKind::LBracket, "'['");
      expect(TokKind::RBracket, "']' (a typed list prefix is only for empty lists)");
      if (kw == "ints")
        return Attribute(std::vector<int64_t>{});
      if (kw == "floats")
        return Attribute(std::vector<double>{});
      return Attribute(std::vector<std::string>{});
    }
    if (is(TokKind::LBracket))
      return parseList();
    if (atFloat())
      return Attribute(parseFloat<double>());
    if (is(TokKind::Number))
      return Attribute(parseInt());
    expected("attribute value");
  }

  Attribute parseList() {
    Token open = take();
    if (is(TokKind::RBracket))
      errorAt(open, "an empty list needs its type: ints[], floats[] or strings[]");
    if (is(TokKind::String)) {
      std::vector<std::string> v;
      do {
        v.push_back(expect(TokKind::String, "string").str);
      } while (accept(TokKind::Comma));
      expect(TokKind::RBracket, "',' or ']'");
      return Attribute(std::move(v));
    }
    // Numbers: an int list unless some element is written as a float.
    std::vector<double> f;
    std::vector<int64_t> i;
    bool anyFloat = false;
    do {
      if (atFloat()) {
        anyFloat = true;
        f.push_back(parseFloat<double>("number"));
      } else {
        int64_t x = parseInt("number");
        i.push_back(x);
        f.push_back((double)x);
      }
    } while (accept(TokKind::Comma));
    expect(TokKind::RBracket, "',' or ']'");
    return anyFloat ? Attribute(std::move(f)) : Attribute(std::move(i));
  }

  AttrMap parseAttrDict() {
    AttrMap attrs;
    expect(TokKind::LBrace, "'{'");
    if (accept(TokKind::RBrace))
      return attrs;
    do {
      if (!is(TokKind::Ident) && !is(TokKind::String))
        expected("attribute name");
      Token nameTok = take();
      std::string name = nameTok.kind == TokKind::String ? nameTok.str : std::string(nameTok.text);
      expect(TokKind::Equal, "'='");
      Attribute a = parseAttrValue();
      if (!attrs.emplace(name, std::move(a)).second)
        errorAt(nameTok, "duplicate attribute '" + name + "'");
    } while (accept(TokKind::Comma));
    expect(TokKind::RBrace, "',' or '}'");
    return attrs;
  }

  // ---- functions ----
  std::string parseName(const char *what) {
    if (is(TokKind::String))
      return take().str;
    if (is(TokKind::Ident))
      return std::string(take().text);
    expected(what);
  }

  void parseArg(Function &fn) {
    if (!is(TokKind::ValueName))
      expected("argument name");
    Token name = take();
    if (name.isNumberedValue())
      errorAt(name, "argument " + std::string(name.text) +
                        " must be named: numbered values are op results (quote it: %\"" +
                        name.str + "\")");
    expect(TokKind::Colon, "':'");
    TensorType type = parseType();
    Value *v;
    if (accept(TokKind::LBrace)) {
      expectKeyword("param");
      Tensor data;
      if (accept(TokKind::Equal)) {
        Token at = tok_;
        data = parseDense();
        if (data.dtype() != type.dtype || data.shape() != type.shape)
          errorAt(at, "parameter data " + TensorType{data.dtype(), data.shape()}.str() +
                          " does not match the declared type " + type.str());
        if (data.empty()) // dense<..., elided> is the same as no data
          data = Tensor();
      }
      expect(TokKind::RBrace, "'}'");
      v = fn.addParam(name.str, type, std::move(data));
    } else {
      v = fn.addInput(name.str, type);
    }
    define(name, v);
  }

  void parseOp(Function &fn) {
    std::vector<Token> results;
    if (is(TokKind::ValueName)) {
      do {
        if (!is(TokKind::ValueName))
          expected("result name");
        results.push_back(take());
      } while (accept(TokKind::Comma));
      expect(TokKind::Equal, "'='");
    }
    if (!is(TokKind::Ident) && !is(TokKind::String))
      expected(results.empty() ? "operation or 'return'" : "op type");
    Token typeTok = take();
    std::string full = typeTok.kind == TokKind::String ? typeTok.str : std::string(typeTok.text);
    size_t dot = full.rfind('.');
    std::string domain = dot == std::string::npos ? "" : full.substr(0, dot);
    std::string opType = dot == std::string::npos ? full : full.substr(dot + 1);

    expect(TokKind::LParen, "'('");
    std::vector<Value *> operands;
    if (!is(TokKind::RParen)) {
      do {
        if (isKeyword("_")) {
          take();
          operands.push_back(nullptr);
        } else if (is(TokKind::ValueName)) {
          operands.push_back(lookup(take()));
        } else {
          expected("operand (a value or '_')");
        }
      } while (accept(TokKind::Comma));
    }
    expect(TokKind::RParen, "',' or ')'");

    AttrMap attrs;
    if (is(TokKind::LBrace))
      attrs = parseAttrDict();

    std::vector<TensorType> types;
    Token colon = tok_;
    if (accept(TokKind::Colon)) {
      do {
        types.push_back(parseType());
      } while (accept(TokKind::Comma));
    } else if (!results.empty()) {
      expected("':' and result types");
    }
    if (types.size() != results.size())
      errorAt(results.empty() ? colon : results.front(),
              "result count mismatch: " + std::to_string(results.size()) + " results but " +
                  std::to_string(types.size()) + " result types");

    std::string loc;
    if (isKeyword("loc")) {
      take();
      expect(TokKind::LParen, "'('");
      loc = expect(TokKind::String, "string").str;
      expect(TokKind::RParen, "')'");
    }

    Op *op = fn.createOp(opType, std::move(operands), std::move(types), std::move(attrs));
    op->setDomain(domain);
    op->setName(loc);
    for (size_t i = 0; i < results.size(); ++i)
      define(results[i], op->result(i));
  }

  void parseFunction(Module &m) {
    values_.clear();
    expectKeyword("func");
    if (!is(TokKind::FuncName))
      expected("function name");
    Token name = take();
    if (m.find(name.str))
      errorAt(name, "redefinition of " + std::string(name.text));
    Function &fn = *m.addFunction(name.str);

    expect(TokKind::LParen, "'('");
    if (!is(TokKind::RParen)) {
      do {
        parseArg(fn);
      } while (accept(TokKind::Comma));
    }
    expect(TokKind::RParen, "',' or ')'");

    expect(TokKind::Arrow, "'->'");
    expect(TokKind::LParen, "'('");
    std::vector<std::pair<std::string, TensorType>> outs;
    if (!is(TokKind::RParen)) {
      do {
        std::string oname = parseName("output name");
        expect(TokKind::Colon, "':'");
        outs.push_back({std::move(oname), parseType()});
      } while (accept(TokKind::Comma));
    }
    expect(TokKind::RParen, "',' or ')'");

    expect(TokKind::LBrace, "'{'");
    while (!isKeyword("return"))
      parseOp(fn);
    Token ret = take();
    std::vector<Token> rets;
    if (is(TokKind::ValueName)) {
      do {
        if (!is(TokKind::ValueName))
          expected("return value");
        rets.push_back(take());
      } while (accept(TokKind::Comma));
    }
    if (rets.size() != outs.size())
      errorAt(ret, "return count mismatch: the signature declares " + std::to_string(outs.size()) +
                       " outputs but return gives " + std::to_string(rets.size()));
    for (size_t i = 0; i < rets.size(); ++i) {
      Value *v = lookup(rets[i]);
      if (v->type() != outs[i].second)
        errorAt(rets[i], "output '" + outs[i].first + "' is declared " + outs[i].second.str() +
                             " but " + std::string(rets[i].text) + " is " + v->type().str());
      fn.addOutput(outs[i].first, v);
    }
    expect(TokKind::RBrace, "'}'");
  }

  Lexer lex_;
  Token tok_;
  std::unordered_map<std::string, Value *> values_;
};

} // namespace

std::unique_ptr<Module> parseModule(const std::string &text, const std::string &filename) {
  return Parser(text, filename).parseModule();
}

std::unique_ptr<Module> parseModuleFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parseModule(ss.str(), path);
}

} // namespace adjoint
