#include "IR/Lexer.h"
#include "Support/Error.h"

#include <cctype>

namespace adjoint {

static bool isDigit(char c) { return c >= '0' && c <= '9'; }
static bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool isHexDigit(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool isIdentChar(char c) {
  return isAlpha(c) || isDigit(c) || c == '_' || c == '.' || c == '$' || c == '-';
}

bool isBareIdentifier(std::string_view s) {
  if (s.empty() || !(isAlpha(s[0]) || s[0] == '_'))
    return false;
  for (char c : s)
    if (!isIdentChar(c))
      return false;
  return true;
}

bool isBareValueName(std::string_view s) {
  bool allDigits = true;
  for (char c : s) {
    if (!isIdentChar(c))
      return false;
    allDigits = allDigits && isDigit(c);
  }
  return !s.empty() && !allDigits;
}

std::string quoteString(std::string_view s) {
  static const char *hex = "0123456789abcdef";
  std::string r = "\"";
  for (char ch : s) {
    unsigned char c = (unsigned char)ch;
    switch (c) {
    case '\\': r += "\\\\"; break;
    case '"': r += "\\\""; break;
    case '\n': r += "\\n"; break;
    case '\t': r += "\\t"; break;
    case '\r': r += "\\r"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        r += "\\x";
        r += hex[c >> 4];
        r += hex[c & 15];
      } else {
        r += ch;
      }
    }
  }
  return r + "\"";
}

bool Token::isNumberedValue() const {
  if (kind != TokKind::ValueName || quoted || str.empty())
    return false;
  for (char c : str)
    if (!isDigit(c))
      return false;
  return true;
}

std::string Token::describe() const {
  if (kind == TokKind::Eof)
    return "end of file";
  std::string t(text.substr(0, 40));
  if (text.size() > 40)
    t += "...";
  return "'" + t + "'";
}

Lexer::Lexer(std::string_view text, std::string filename)
    : text_(text), filename_(std::move(filename)) {}

void Lexer::errorAt(int line, int col, const std::string &msg) const {
  fail(filename_, ":", line, ":", col, ": ", msg);
}

char Lexer::peek(size_t ahead) const {
  return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
}

void Lexer::advance() {
  if (text_[pos_] == '\n') {
    ++line_;
    col_ = 1;
  } else {
    ++col_;
  }
  ++pos_;
}

void Lexer::skipTrivia() {
  while (pos_ < text_.size()) {
    char c = peek();
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      advance();
    } else if (c == '/' && peek(1) == '/') {
      while (pos_ < text_.size() && peek() != '\n')
        advance();
    } else {
      break;
    }
  }
}

std::string Lexer::lexQuoted() {
  int line = line_, col = col_;
  advance(); // opening quote
  std::string r;
  while (true) {
    if (pos_ >= text_.size() || peek() == '\n')
      errorAt(line, col, "unterminated string");
    char c = peek();
    if (c == '"') {
      advance();
      return r;
    }
    if (c != '\\') {
      r += c;
      advance();
      continue;
    }
    int eline = line_, ecol = col_;
    advance();
    char e = peek();
    if (pos_ < text_.size())
      advance();
    switch (e) {
    case '\\': r += '\\'; break;
    case '"': r += '"'; break;
    case '\'': r += '\''; break;
    case 'n': r += '\n'; break;
    case 't': r += '\t'; break;
    case 'r': r += '\r'; break;
    case 'a': r += '\a'; break;
    case 'b': r += '\b'; break;
    case 'f': r += '\f'; break;
    case 'v': r += '\v'; break;
    case '0': r += '\0'; break;
    case 'x': {
      if (!isHexDigit(peek()) || !isHexDigit(peek(1)))
        errorAt(eline, ecol, "expected two hex digits after \\x");
      r += (char)std::stoi(std::string(text_.substr(pos_, 2)), nullptr, 16);
      advance();
      advance();
      break;
    }
    default:
      errorAt(eline, ecol, std::string("invalid escape sequence '\\") + e + "'");
    }
  }
}

Token Lexer::next() {
  skipTrivia();
  Token t;
  t.line = line_;
  t.col = col_;
  size_t start = pos_;
  auto finish = [&](TokKind k) {
    t.kind = k;
    t.text = text_.substr(start, pos_ - start);
    return t;
  };
  if (pos_ >= text_.size())
    return finish(TokKind::Eof);

  char c = peek();
  auto single = [&](TokKind k) {
    advance();
    return finish(k);
  };
  switch (c) {
  case '(': return single(TokKind::LParen);
  case ')': return single(TokKind::RParen);
  case '[': return single(TokKind::LBracket);
  case ']': return single(TokKind::RBracket);
  case '{': return single(TokKind::LBrace);
  case '}': return single(TokKind::RBrace);
  case '<': return single(TokKind::Less);
  case '>': return single(TokKind::Greater);
  case ',': return single(TokKind::Comma);
  case ':': return single(TokKind::Colon);
  case '=': return single(TokKind::Equal);
  default: break;
  }

  if (c == '%' || c == '@') {
    TokKind k = c == '%' ? TokKind::ValueName : TokKind::FuncName;
    advance();
    if (peek() == '"') {
      t.str = lexQuoted();
      t.quoted = true;
      return finish(k);
    }
    size_t nameStart = pos_;
    while (pos_ < text_.size() && isIdentChar(peek()))
      advance();
    if (pos_ == nameStart)
      errorAt(t.line, t.col, std::string("expected a name after '") + c + "'");
    t.str = std::string(text_.substr(nameStart, pos_ - nameStart));
    return finish(k);
  }

  if (c == '"') {
    t.str = lexQuoted();
    return finish(TokKind::String);
  }

  if (c == '-' && peek(1) == '>') {
    advance();
    advance();
    return finish(TokKind::Arrow);
  }

  if (c == '0' && (peek(1) == 'x' || peek(1) == 'X')) {
    advance();
    advance();
    while (isHexDigit(peek()))
      advance();
    return finish(TokKind::Hex);
  }

  if (isDigit(c) || (c == '-' && isDigit(peek(1)))) {
    advance();
    while (isDigit(peek()))
      advance();
    if (peek() == '.' && isDigit(peek(1))) {
      t.isFloat = true;
      advance();
      while (isDigit(peek()))
        advance();
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (isDigit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && isDigit(peek(2))))) {
      t.isFloat = true;
      advance();
      advance();
      while (isDigit(peek()))
        advance();
    }
    return finish(TokKind::Number);
  }

  if (c == '-')
    return single(TokKind::Minus);

  if (isAlpha(c) || c == '_') {
    while (pos_ < text_.size() && isIdentChar(peek()))
      advance();
    return finish(TokKind::Ident);
  }

  if (std::isprint((unsigned char)c))
    errorAt(t.line, t.col, std::string("unexpected character '") + c + "'");
  std::string q = quoteString({&c, 1}); // "\xHH"
  errorAt(t.line, t.col, "unexpected byte " + q.substr(1, q.size() - 2));
}

} // namespace adjoint
