#pragma once
// Tokens of the textual IR (.adj), and the spelling rules the printer shares with the parser so
// that what one writes the other reads back.
#include <cstdint>
#include <string>
#include <string_view>

namespace adjoint {

enum class TokKind {
  Eof,
  Ident,     // func, f32, MatMul, ai.onnx.preview.training.Adam, _, true, inf, ...
  ValueName, // %x, %0, %"odd name"
  FuncName,  // @mlp, @"odd name"
  String,    // "..." (C escapes decoded into Token::str)
  Number,    // 12, -3, 1.5, 1e-05 (integer unless Token::isFloat)
  Hex,       // 0x0a1b... (raw tensor bytes)
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Less, Greater,
  Comma, Colon, Equal, Arrow, Minus,
};

struct Token {
  TokKind kind = TokKind::Eof;
  std::string_view text; // as written in the source
  std::string str;       // decoded name for String / ValueName / FuncName
  bool quoted = false;   // ValueName / FuncName written as %"..." / @"..."
  bool isFloat = false;  // Number has '.', 'e' or 'E'
  int line = 1, col = 1;

  // `%12`: the printer's numbering of op results, a namespace apart from argument names.
  bool isNumberedValue() const;
  // For messages: "'('", "'MatMul'", "end of file".
  std::string describe() const;
};

class Lexer {
public:
  Lexer(std::string_view text, std::string filename);
  Token next(); // throws Error("file:line:col: ...") on malformed input
  const std::string &filename() const { return filename_; }

private:
  [[noreturn]] void errorAt(int line, int col, const std::string &msg) const;
  char peek(size_t ahead = 0) const;
  void advance();
  void skipTrivia();
  std::string lexQuoted(); // at '"'; returns the decoded contents

  std::string_view text_;
  std::string filename_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

// Identifier characters after the first: [A-Za-z0-9_.$-].
bool isIdentChar(char c);
// A bare identifier: [A-Za-z_][A-Za-z0-9_.$-]*.
bool isBareIdentifier(std::string_view s);
// A name that may follow % or @ unquoted: [A-Za-z0-9_.$-]+, not all digits (those are results).
bool isBareValueName(std::string_view s);
// "s" with C escapes: \\ \" \n \t \r and \xHH for other control bytes; UTF-8 passes through.
std::string quoteString(std::string_view s);

} // namespace adjoint
