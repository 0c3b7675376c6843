#include "IR/Parser.h"
#include "IR/Printer.h"
#include "IR/Verifier.h"
#include "Support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace adjoint;

namespace {

TensorType ty(DType d, Shape s) { return {d, std::move(s)}; }
TensorType f32(Shape s) { return {DType::F32, std::move(s)}; }

std::string printModuleText(const Module &m, PrintOptions opts = {}) {
  std::ostringstream os;
  printModule(os, m, opts);
  return os.str();
}

// print → parse → print, checking both prints are equal; returns the reparsed module.
std::unique_ptr<Module> roundTrip(const Module &m, PrintOptions opts = {}) {
  std::string a = printModuleText(m, opts);
  std::unique_ptr<Module> parsed = parseModule(a, "rt.adj");
  for (const auto &f : parsed->functions())
    verifyStructure(*f);
  EXPECT_EQ(printModuleText(*parsed, opts), a);
  return parsed;
}

// The message of the Error that parsing `text` throws.
std::string parseError(const std::string &text) {
  try {
    parseModule(text, "t.adj");
  } catch (const Error &e) {
    return e.what();
  }
  return "<no error>";
}

double nan_(bool neg) {
  double v = std::numeric_limits<double>::quiet_NaN();
  return neg ? -v : v;
}

// A function exercising every construct of the grammar.
void buildEverything(Module &m) {
  Function &fn = *m.addFunction("everything");
  Value *x = fn.addInput("x", f32({2, 3}));
  Value *q = fn.addInput("odd \"name\"\n", ty(DType::I64, {}));
  Value *num = fn.addInput("7", ty(DType::Bool, {4}));
  Value *p0 = fn.addParam("p0", f32({2, 3}), Tensor());
  Value *p1 = fn.addParam("p1", ty(DType::F64, {2}), Tensor::fromVector<double>({2}, {0.1, -0.0}));
  std::vector<float> big(300);
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = (float)i * 0.37f - 20.f;
  Value *p2 = fn.addParam("p2", f32({3, 100}), Tensor::fromVector<float>({3, 100}, big));
  Value *p3 = fn.addParam("p3", ty(DType::I32, {0}), Tensor(DType::I32, {0}));

  AttrMap attrs{
      {"i", int64_t{-9223372036854775807LL - 1}},
      {"f", 1e-5},
      {"f_neg_zero", -0.0},
      {"f_inf", -std::numeric_limits<double>::infinity()},
      {"f_nan", nan_(false)},
      {"f_neg_nan", nan_(true)},
      {"f_denorm", std::numeric_limits<double>::denorm_min()},
      {"f_max", std::numeric_limits<double>::max()},
      {"s", std::string("tab\there \"q\" \\ \x01 \xc3\xa9")},
      {"ints", std::vector<int64_t>{1, -2, 3}},
      {"floats", std::vector<double>{1.0, 2.5, -0.0}},
      {"strings", std::vector<std::string>{"a", "", "c,d"}},
      {"ints_empty", std::vector<int64_t>{}},
      {"floats_empty", std::vector<double>{}},
      {"strings_empty", std::vector<std::string>{}},
      {"t_f32", Tensor::fromVector<float>({2, 2}, {0.1f, -0.f, std::numeric_limits<float>::denorm_min(),
                                                    std::numeric_limits<float>::infinity()})},
      {"t_f64", Tensor::fromVector<double>({1}, {nan_(false)})},
      {"t_i32", Tensor::fromVector<int32_t>({2}, {-2147483647 - 1, 2147483647})},
      {"t_i64", Tensor::scalar<int64_t>(42)},
      {"t_bool", Tensor::fromVector<bool>({3}, {true, false, true})},
      {"t_bool_hex", Tensor(DType::Bool, {300})},
      {"t_empty", Tensor(DType::F64, {2, 0})},
      {"t_elided", Tensor::placeholder(DType::I64, {5, 5})},
  };
  Op *a = fn.createOp("Foo", {x, p0}, {f32({2, 3})}, attrs);
  a->setName("/layer.0/Foo \"quoted\"");
  Op *split = fn.createOp("Split", {a->result(), nullptr, q}, {f32({1, 3}), f32({1, 3})},
                          {{"axis", 0}});
  Op *adam = fn.createOp("Adam", {split->result(1), p1, p2, p3, num, nullptr},
                         {f32({1, 3}), ty(DType::F64, {2})});
  adam->setDomain("ai.onnx.preview.training");
  Op *none = fn.createOp("Constant", {}, {ty(DType::I64, {})},
                         {{"value", Tensor::scalar<int64_t>(3)}});
  fn.addOutput("y", split->result(0));
  fn.addOutput("odd output", adam->result(1));
  fn.addOutput("x_again", x);
  fn.addOutput("c", none->result());

  Function &second = *m.addFunction("second fn");
  Value *s = second.addInput("s", ty(DType::F64, {}));
  second.addOutput("s", s);
}

} // namespace

TEST(Parser, RoundTripsEveryConstruct) {
  Module m;
  buildEverything(m);
  std::unique_ptr<Module> parsed = roundTrip(m);
  ASSERT_EQ(parsed->functions().size(), 2u);

  // Not only the text: the parsed IR equals the original, bit for bit.
  const Function &orig = *m.functions()[0], &got = *parsed->functions()[0];
  ASSERT_EQ(got.args().size(), orig.args().size());
  for (size_t i = 0; i < orig.args().size(); ++i) {
    const Value &o = *orig.args()[i], &g = *got.args()[i];
    EXPECT_EQ(g.name(), o.name());
    EXPECT_EQ(g.kind(), o.kind());
    EXPECT_EQ(g.type(), o.type());
    EXPECT_EQ(g.paramData().empty(), o.paramData().empty());
    if (!o.paramData().empty()) {
      EXPECT_TRUE(g.paramData().identical(o.paramData())) << o.name();
    }
  }
  ASSERT_EQ(got.ops().size(), orig.ops().size());
  for (auto oi = orig.ops().begin(), gi = got.ops().begin(); oi != orig.ops().end(); ++oi, ++gi) {
    const Op &o = **oi, &g = **gi;
    EXPECT_EQ(g.opType(), o.opType());
    EXPECT_EQ(g.domain(), o.domain());
    EXPECT_EQ(g.name(), o.name());
    EXPECT_EQ(g.numOperands(), o.numOperands());
    EXPECT_EQ(g.numResults(), o.numResults());
    for (const auto &[name, attr] : o.attrs()) {
      const Attribute *ga = g.attr(name);
      ASSERT_NE(ga, nullptr) << name;
      ASSERT_EQ(ga->kind(), attr.kind()) << name;
      if (attr.kind() == AttrKind::Float) {
        double x = attr.f(), y = ga->f();
        EXPECT_EQ(std::memcmp(&x, &y, sizeof x) == 0 || (std::isnan(x) && std::isnan(y) &&
                                                          std::signbit(x) == std::signbit(y)),
                  true)
            << name;
      } else if (attr.kind() == AttrKind::Tensor && attr.tensor().empty()) {
        EXPECT_TRUE(ga->tensor().empty()) << name;
      } else if (name != "t_f64") { // NaN != NaN bytewise holds, but == of doubles does not
        EXPECT_TRUE(*ga == attr) << name;
      }
    }
  }
  EXPECT_EQ(got.outputs().size(), orig.outputs().size());
  EXPECT_EQ(got.outputs()[2].value, got.args()[0].get());
}

TEST(Parser, RoundTripsWithElision) {
  Module m;
  buildEverything(m);
  PrintOptions opts;
  opts.elideAbove = 3;
  std::unique_ptr<Module> parsed = roundTrip(m, opts);
  EXPECT_TRUE(parsed->functions()[0]->findArg("p1")->paramData().identical(
      m.functions()[0]->findArg("p1")->paramData()));
  EXPECT_TRUE(parsed->functions()[0]->findArg("p2")->paramData().empty());
}

TEST(Parser, RandomDoublesAndFloatsRoundTripBitExactly) {
  std::mt19937_64 rng(7);
  Module m;
  Function &fn = *m.addFunction("r");
  std::vector<double> ds;
  std::vector<float> fs;
  for (int i = 0; i < 200; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    uint32_t fbits = (uint32_t)bits;
    float f;
    std::memcpy(&f, &fbits, sizeof f);
    if (!std::isnan(d))
      ds.push_back(d);
    if (!std::isnan(f))
      fs.push_back(f);
  }
  Value *x = fn.addParam("x", f32({(int64_t)fs.size()}),
                         Tensor::fromVector<float>({(int64_t)fs.size()}, fs));
  Op *op = fn.createOp("Foo", {x}, {f32({})}, {{"ds", ds}});
  fn.addOutput("y", op->result());
  // Below the hex threshold, so the floats go through text.
  ASSERT_LE(fs.size(), 256u);
  std::unique_ptr<Module> parsed = roundTrip(m);
  const Function &g = *parsed->functions()[0];
  EXPECT_TRUE(g.args()[0]->paramData().identical(x->paramData()));
  const auto &gds = g.ops().front()->attr("ds")->floats();
  ASSERT_EQ(gds.size(), ds.size());
  EXPECT_EQ(std::memcmp(gds.data(), ds.data(), ds.size() * sizeof(double)), 0);
}

TEST(Parser, ReadsHandWrittenText) {
  auto m = parseModule(R"(// leading comment
func @f(%a: f32[2], %w: f32[2] {param = dense<f32[2], [1, 2.5]>}) // trailing
    -> (out: f32[2], "z": f32[2]) {
  %t = Add(%a, %w) : f32[2]   // named results are fine
  %u, %v = Two(%t) {k = [1, 2.0], name = "n"} : f32[2], f32[2] loc("two")
  Sink(%u)
  return %v, %"a"
}
func @g() -> () { return }
)",
                       "hand.adj");
  ASSERT_EQ(m->functions().size(), 2u);
  const Function &f = *m->functions()[0];
  verifyStructure(f);
  EXPECT_TRUE(f.args()[1]->paramData().identical(Tensor::fromVector<float>({2}, {1.f, 2.5f})));
  auto it = f.ops().begin();
  EXPECT_EQ((*it)->opType(), "Add");
  ++it;
  EXPECT_EQ((*it)->name(), "two");
  EXPECT_EQ((*it)->attr("k")->floats(), (std::vector<double>{1.0, 2.0}));
  ++it;
  EXPECT_EQ((*it)->numResults(), 0u);
  EXPECT_EQ(f.outputs()[0].name, "out");
  EXPECT_EQ(f.outputs()[1].name, "z");
  EXPECT_EQ(f.outputs()[1].value, f.args()[0].get());
  EXPECT_EQ(printModuleText(*m),
            "func @f(%a: f32[2], %w: f32[2] {param = dense<f32[2], [1.0, 2.5]>}) -> (out: f32[2], "
            "z: f32[2]) {\n"
            "  %0 = Add(%a, %w) : f32[2]\n"
            "  %1, %2 = Two(%0) {k = [1.0, 2.0], name = \"n\"} : f32[2], f32[2] loc(\"two\")\n"
            "  Sink(%1)\n"
            "  return %2, %a\n"
            "}\n\n"
            "func @g() -> () {\n"
            "  return\n"
            "}\n");
}

TEST(Parser, NumberedResultsAndQuotedNumericArgumentsAreDistinct) {
  auto m = parseModule("func @f(%\"0\": f32[]) -> (a: f32[], b: f32[]) {\n"
                       "  %0 = Neg(%\"0\") : f32[]\n"
                       "  return %0, %\"0\"\n"
                       "}\n",
                       "n.adj");
  const Function &f = *m->functions()[0];
  EXPECT_EQ(f.outputs()[0].value, f.ops().front()->result());
  EXPECT_EQ(f.outputs()[1].value, f.args()[0].get());
}

TEST(Parser, ElidedParamDataIsNoData) {
  auto m = parseModule("func @f(%p: f32[2] {param = dense<f32[2], elided>}) -> () { return }",
                       "e.adj");
  EXPECT_TRUE(m->functions()[0]->args()[0]->paramData().empty());
  EXPECT_TRUE(m->functions()[0]->args()[0]->isParam());
}

TEST(Parser, EmptyInputIsAnEmptyModule) {
  EXPECT_TRUE(parseModule("  // nothing\n", "e.adj")->functions().empty());
}

// ---- errors: each names file:line:col and what was expected ----

TEST(ParserErrors, ExpectedToken) {
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  return\n"),
            "t.adj:3:1: expected '}', got end of file");
  EXPECT_EQ(parseError("func @f(%x: f32[2 3]) -> () { return }"),
            "t.adj:1:19: expected ',' or ']', got '3'");
  EXPECT_EQ(parseError("fn @f() -> () { return }"), "t.adj:1:1: expected 'func', got 'fn'");
  EXPECT_EQ(parseError("func f() -> () { return }"),
            "t.adj:1:6: expected function name, got 'f'");
  EXPECT_EQ(parseError("func @f() () { return }"), "t.adj:1:11: expected '->', got '('");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  %0 = Neg(%x) f32[]\n  return\n}"),
            "t.adj:2:16: expected ':' and result types, got 'f32'");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  Sink(%x)\n  3\n}"),
            "t.adj:3:3: expected operation or 'return', got '3'");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  %0 = Neg(%x, 3) : f32[]\n  return\n}"),
            "t.adj:2:16: expected operand (a value or '_'), got '3'");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  %0 = (%x) : f32[]\n  return\n}"),
            "t.adj:2:8: expected op type, got '('");
  EXPECT_EQ(parseError("func @f(x: f32[]) -> () { return }"),
            "t.adj:1:9: expected argument name, got 'x'");
  EXPECT_EQ(parseError("func @f(%x f32[]) -> () { return }"), "t.adj:1:12: expected ':', got 'f32'");
  EXPECT_EQ(parseError("func @f(%x: [2]) -> () { return }"), "t.adj:1:13: expected type, got '['");
}

TEST(ParserErrors, UnknownType) {
  EXPECT_EQ(parseError("func @f(%x: f16[2]) -> () { return }"), "t.adj:1:13: unknown type 'f16'");
}

TEST(ParserErrors, UndefinedValue) {
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (y: f32[]) {\n  %0 = Neg(%5) : f32[]\n  return %0\n}"),
            "t.adj:2:12: use of undefined value %5");
  // A value used before its definition cannot be written, so neither can a cycle.
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (y: f32[]) {\n"
                       "  %0 = Neg(%1) : f32[]\n"
                       "  %1 = Neg(%0) : f32[]\n"
                       "  return %1\n}"),
            "t.adj:2:12: use of undefined value %1");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (y: f32[]) {\n  %0 = Neg(%0) : f32[]\n  return %0\n}"),
            "t.adj:2:12: use of undefined value %0");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (y: f32[]) {\n  return %\"q r\"\n}"),
            "t.adj:2:10: use of undefined value %\"q r\"");
  // Values do not leak from one function into the next.
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () { return }\n"
                       "func @g() -> (y: f32[]) { return %x }"),
            "t.adj:2:34: use of undefined value %x");
}

TEST(ParserErrors, Redefinition) {
  EXPECT_EQ(parseError("func @f(%x: f32[], %x: f32[]) -> () { return }"),
            "t.adj:1:20: redefinition of %x");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  %x = Neg(%x) : f32[]\n  return\n}"),
            "t.adj:2:3: redefinition of %x");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n"
                       "  %0 = Neg(%x) : f32[]\n"
                       "  %1, %0 = Two(%x) : f32[], f32[]\n"
                       "  return\n}"),
            "t.adj:3:7: redefinition of %0");
  EXPECT_EQ(parseError("func @f() -> () { return }\nfunc @f() -> () { return }"),
            "t.adj:2:6: redefinition of @f");
}

TEST(ParserErrors, CountMismatches) {
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  %0, %1 = Two(%x) : f32[]\n  return\n}"),
            "t.adj:2:3: result count mismatch: 2 results but 1 result types");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> () {\n  Sink(%x) : f32[]\n  return\n}"),
            "t.adj:2:12: result count mismatch: 0 results but 1 result types");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (a: f32[], b: f32[]) {\n  return %x\n}"),
            "t.adj:2:3: return count mismatch: the signature declares 2 outputs but return gives 1");
  EXPECT_EQ(parseError("func @f(%x: f32[]) -> (a: f32[2]) {\n  return %x\n}"),
            "t.adj:2:10: output 'a' is declared f32[2] but %x is f32[]");
}

TEST(ParserErrors, Attributes) {
  auto op = [](const std::string &attrs) {
    return parseError("func @f(%x: f32[]) -> () {\n  Sink(%x) {" + attrs + "}\n  return\n}");
  };
  EXPECT_EQ(op("a = 1, a = 2"), "t.adj:2:20: duplicate attribute 'a'");
  EXPECT_EQ(op("a = %x"), "t.adj:2:17: expected attribute value, got '%x'");
  EXPECT_EQ(op("a = []"), "t.adj:2:17: an empty list needs its type: ints[], floats[] or strings[]");
  EXPECT_EQ(op("a = [\"s\", 1]"), "t.adj:2:23: expected string, got '1'");
  EXPECT_EQ(op("a = [1, \"s\"]"), "t.adj:2:21: expected number, got '\"s\"'");
  EXPECT_EQ(op("a = ints[1]"), "t.adj:2:22: expected ']' (a typed list prefix is only for empty "
                               "lists), got '1'");
  EXPECT_EQ(op("a = 99999999999999999999"),
            "t.adj:2:17: integer 99999999999999999999 is out of range");
  EXPECT_EQ(op("a = 1e999"), "t.adj:2:17: float 1e999 is out of range");
  EXPECT_EQ(op("a = -foo"), "t.adj:2:18: expected 'inf' or 'nan' after '-', got 'foo'");
  EXPECT_EQ(op("a 1"), "t.adj:2:15: expected '=', got '1'");
  EXPECT_EQ(op("a = 1 b = 2"), "t.adj:2:19: expected ',' or '}', got 'b'");
}

TEST(ParserErrors, DenseTensors) {
  auto op = [](const std::string &dense) {
    return parseError("func @f(%x: f32[]) -> () {\n  Sink(%x) {t = " + dense + "}\n  return\n}");
  };
  EXPECT_EQ(op("dense<f32[3], [1.0, 2.0]>"), "t.adj:2:31: expected 3 elements for f32[3], got 2");
  EXPECT_EQ(op("dense<bool[1], [1]>"), "t.adj:2:33: expected 'true' or 'false', got '1'");
  EXPECT_EQ(op("dense<i32[1], [3000000000]>"),
            "t.adj:2:32: integer 3000000000 is out of range for i32");
  EXPECT_EQ(op("dense<i64[1], [1.5]>"), "t.adj:2:32: expected integer, got '1.5'");
  EXPECT_EQ(op("dense<i32[2], 0x0100>"),
            "t.adj:2:31: expected 2 elements (16 hex digits) for i32[2], got 4 hex digits");
  EXPECT_EQ(op("dense<bool[2], 0x0102>"),
            "t.adj:2:32: bool tensor data byte 1 is neither 0 nor 1");
  EXPECT_EQ(op("dense<f32[2], 7>"), "t.adj:2:31: expected '[', hex data or 'elided', got '7'");
  EXPECT_EQ(op("dense<f32[-1], elided>"), "t.adj:2:27: negative dimension -1");
  EXPECT_EQ(op("dense<f32[4611686018427387904,4], [1.0]>"),
            "t.adj:2:23: element count of shape [4611686018427387904,4] overflows");
  // A huge declared shape with a short list is an error, not an allocation.
  EXPECT_EQ(op("dense<f32[1000000000000], [1.0]>"),
            "t.adj:2:43: expected 1000000000000 elements for f32[1000000000000], got 1");
  EXPECT_EQ(op("dense<f32[1000000000000], 0x00>"),
            "t.adj:2:43: expected 1000000000000 elements (8000000000000 hex digits) for "
            "f32[1000000000000], got 2 hex digits");
  EXPECT_EQ(parseError("func @f(%p: f32[2] {param = dense<f32[3], elided>}) -> () { return }"),
            "t.adj:1:29: parameter data f32[3] does not match the declared type f32[2]");
  EXPECT_EQ(parseError("func @f(%p: f32[2] {data}) -> () { return }"),
            "t.adj:1:21: expected 'param', got 'data'");
}

TEST(ParserErrors, Lexical) {
  EXPECT_EQ(parseError("func @f() -> () {\n  Sink() {s = \"abc\n}"), "t.adj:2:15: unterminated string");
  EXPECT_EQ(parseError("func @f() -> () {\n  Sink() {s = \"a\\qb\"}\n}"),
            "t.adj:2:17: invalid escape sequence '\\q'");
  EXPECT_EQ(parseError("func @f() -> () {\n  Sink() {s = \"\\x4\"}\n}"),
            "t.adj:2:16: expected two hex digits after \\x");
  EXPECT_EQ(parseError("func @f() -> () {\n  # comment\n}"), "t.adj:2:3: unexpected character '#'");
  EXPECT_EQ(parseError(std::string("func @f() -> () {\n  \x01\n}")), "t.adj:2:3: unexpected byte \\x01");
  EXPECT_EQ(parseError("func @f(% x: f32[]) -> () { return }"),
            "t.adj:1:9: expected a name after '%'");
  EXPECT_EQ(parseError("func @f(%0: f32[]) -> () { return }"),
            "t.adj:1:9: argument %0 must be named: numbered values are op results (quote it: "
            "%\"0\")");
}

// Whatever the damage, parsing throws Error or succeeds: it never crashes or throws anything
// else.
TEST(Parser, MutatedInputOnlyEverThrowsError) {
  Module m;
  buildEverything(m);
  const std::string text = printModuleText(m);
  const std::string alphabet = "%@\"(){}[]<>,:=-_.0123456789eEx fabdnpr\n\\/";
  std::mt19937 rng(1);
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = text;
    int edits = 1 + (int)(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (s.size() + 1);
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
      case 0: s.insert(pos, 1, c); break;
      case 1: if (pos < s.size()) s.erase(pos, 1 + rng() % 8); break;
      case 2: if (pos < s.size()) s[pos] = c; break;
      case 3: s.resize(pos); break;
      }
    }
    try {
      auto got = parseModule(s, "fuzz.adj");
      for (const auto &f : got->functions())
        verifyStructure(*f);
      ++parsed;
    } catch (const Error &) {
    }
  }
  EXPECT_GT(parsed, 0);
}

TEST(Parser, FileErrors) {
  try {
    parseModuleFile("/nonexistent/x.adj");
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()), "cannot open '/nonexistent/x.adj'");
  }
}
