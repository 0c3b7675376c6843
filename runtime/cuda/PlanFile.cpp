#include "PlanFile.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace adjoint::gpu {

namespace {

constexpr char kMagic[8] = {'A', 'D', 'J', 'P', 'L', 'A', 'N', '1'};

struct Writer {
  std::string out;
  void i64(int64_t v) { out.append(reinterpret_cast<const char *>(&v), 8); }
  void f64(double v) { out.append(reinterpret_cast<const char *>(&v), 8); }
  void str(const std::string &s) {
    i64((int64_t)s.size());
    out += s;
  }
  void ref(const BufferRef &r) {
    i64(r.slot);
    i64(r.offset);
  }
};

struct Reader {
  const std::string &in;
  const std::string &what;
  size_t at = 0;
  [[noreturn]] void bad(const char *why) const {
    throw std::runtime_error(what + " is damaged: " + why + " at byte " + std::to_string(at));
  }
  int64_t i64() {
    if (in.size() - at < 8)
      bad("truncated");
    int64_t v;
    std::memcpy(&v, in.data() + at, 8);
    at += 8;
    return v;
  }
  double f64() {
    int64_t b = i64();
    double v;
    std::memcpy(&v, &b, 8);
    return v;
  }
  int64_t count(int64_t limit) {
    int64_t n = i64();
    if (n < 0 || n > limit)
      bad("impossible length");
    return n;
  }
  std::string str() {
    int64_t n = count((int64_t)(in.size() - at));
    std::string s = in.substr(at, (size_t)n);
    at += (size_t)n;
    return s;
  }
  BufferRef ref() {
    BufferRef r;
    r.slot = (int)i64();
    r.offset = i64();
    return r;
  }
};

} // namespace

std::string serializePlan(const Plan &p) {
  Writer w;
  w.out.append(kMagic, 8);
  w.str(p.entry);
  w.str(p.arch);
  w.str(p.ptx);
  w.i64((int64_t)p.slots.size());
  for (const Slot &s : p.slots) {
    w.str(s.name);
    w.i64(s.bytes);
    w.i64(s.output);
    w.i64(s.inPlaceOf);
  }
  w.i64(p.workspaceBytes);
  w.str(std::string(p.constants.begin(), p.constants.end()));
  w.i64((int64_t)p.steps.size());
  for (const Step &s : p.steps) {
    w.i64((int64_t)s.kind);
    w.str(s.what);
    switch (s.kind) {
    case Step::Kind::Launch:
      w.str(s.launch.kernel);
      w.i64(s.launch.grid);
      w.i64(s.launch.block);
      w.i64((int64_t)s.launch.args.size());
      for (const BufferRef &r : s.launch.args)
        w.ref(r);
      break;
    case Step::Kind::Gemm: {
      const Gemm &g = s.gemm;
      for (int64_t v : {(int64_t)g.f64, (int64_t)g.transA, (int64_t)g.transB, g.m, g.n, g.k, g.lda, g.ldb, g.ldc,
                        g.batch, g.strideA, g.strideB, g.strideC})
        w.i64(v);
      w.f64(g.alpha);
      w.f64(g.beta);
      w.ref(g.a);
      w.ref(g.b);
      w.ref(g.c);
      break;
    }
    case Step::Kind::Copy:
      w.ref(s.copy.dst);
      w.ref(s.copy.src);
      w.i64(s.copy.bytes);
      break;
    }
  }
  w.i64((int64_t)p.errorMessages.size());
  for (const std::string &m : p.errorMessages)
    w.str(m);
  return w.out;
}

void writePlanFile(const std::string &path, const Plan &p) {
  std::string bytes = serializePlan(p);
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), (std::streamsize)bytes.size());
  if (!f)
    throw std::runtime_error("cannot write plan file '" + path + "'");
}

Plan readPlanFile(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw std::runtime_error("cannot open plan file '" + path + "'");
  std::string in((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parsePlan(in, "plan file '" + path + "'");
}

Plan parsePlan(const std::string &in, const std::string &what) {
  Reader r{in, what};
  if (in.size() < 8 || std::memcmp(in.data(), kMagic, 8) != 0)
    throw std::runtime_error(what + " is not an adjoint plan (version 1)");
  r.at = 8;
  Plan p;
  p.entry = r.str();
  p.arch = r.str();
  p.ptx = r.str();
  int64_t n = r.count(1 << 24);
  for (int64_t i = 0; i < n; ++i) {
    Slot s;
    s.name = r.str();
    s.bytes = r.i64();
    s.output = r.i64() != 0;
    int64_t inPlaceOf = r.i64();
    if (s.bytes < 0 || inPlaceOf < -1 || inPlaceOf >= n)
      r.bad("slot");
    s.inPlaceOf = (int)inPlaceOf;
    p.slots.push_back(s);
  }
  // An in-place output lives in its argument's bytes: it must fit there, and that argument must
  // have bytes of its own.
  for (const Slot &s : p.slots)
    if (s.inPlaceOf >= 0 && (p.slots[(size_t)s.inPlaceOf].inPlaceOf >= 0 ||
                             s.bytes > p.slots[(size_t)s.inPlaceOf].bytes))
      r.bad("in-place slot");
  p.workspaceBytes = r.i64();
  std::string c = r.str();
  p.constants.assign(c.begin(), c.end());
  n = r.count(1 << 24);
  for (int64_t i = 0; i < n; ++i) {
    Step s;
    int64_t kind = r.i64();
    if (kind < 0 || kind > 2)
      r.bad("step kind");
    s.kind = (Step::Kind)kind;
    s.what = r.str();
    switch (s.kind) {
    case Step::Kind::Launch: {
      s.launch.kernel = r.str();
      s.launch.grid = r.i64();
      s.launch.block = (int)r.i64();
      int64_t a = r.count(1 << 16);
      for (int64_t j = 0; j < a; ++j)
        s.launch.args.push_back(r.ref());
      break;
    }
    case Step::Kind::Gemm: {
      Gemm &g = s.gemm;
      g.f64 = r.i64() != 0;
      g.transA = r.i64() != 0;
      g.transB = r.i64() != 0;
      for (int64_t *v : {&g.m, &g.n, &g.k, &g.lda, &g.ldb, &g.ldc, &g.batch, &g.strideA, &g.strideB, &g.strideC})
        *v = r.i64();
      g.alpha = r.f64();
      g.beta = r.f64();
      g.a = r.ref();
      g.b = r.ref();
      g.c = r.ref();
      break;
    }
    case Step::Kind::Copy:
      s.copy.dst = r.ref();
      s.copy.src = r.ref();
      s.copy.bytes = r.i64();
      break;
    }
    p.steps.push_back(std::move(s));
  }
  n = r.count(1 << 24);
  for (int64_t i = 0; i < n; ++i)
    p.errorMessages.push_back(r.str());
  if (r.at != in.size())
    r.bad("trailing bytes");
  return p;
}

std::string formatKernelError(const Plan &plan, const int64_t record[4]) {
  size_t site = (size_t)(record[0] - 1);
  const int64_t *v = record + 1;
  std::string msg = site < plan.errorMessages.size() ? plan.errorMessages[site]
                                                     : "error reported by a kernel of @" + plan.entry;
  std::string out;
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '{' && i + 2 < msg.size() && msg[i + 2] == '}' && msg[i + 1] >= '0' && msg[i + 1] <= '2') {
      out += std::to_string(v[msg[i + 1] - '0']);
      i += 2;
    } else {
      out += msg[i];
    }
  }
  return out;
}

} // namespace adjoint::gpu
