// How the memory planner works, and why.
//
// A compiled training step allocates one arena for all of its intermediates and addresses each
// one as arena + offset. This file chooses the offsets.
//
// Lifetimes. The schedule is the function's op order (the IR is topologically sorted and the
// code generator runs ops in that order), so a value's lifetime is an interval of op positions:
// from the op that writes it to the last op that reads it (the op itself when nothing does). The
// interval is inclusive at both ends: at op t its operands and its results are live together, so
// by default a result never shares bytes with an operand, because the op may read the operand
// after it has written part of the result (MatMul reads a row of A for every output row).
//
// Who gets arena bytes. Arguments live in the caller's buffers, Constant results are data in the
// code, and op results the function returns go to the caller's output buffers. Every other op
// result is an intermediate and gets arena bytes.
//
// In place, inside the arena. An elementwise op computes result element i from operand elements
// at index i only; if it is the last reader of an operand of the result's shape and element size,
// it can write the result over that operand: it reads x[i], then writes y[i], and nothing reads
// x[i] afterwards. A broadcast operand is read at many indices and a Cast f32->f64 would overwrite
// elements not yet read, so both are excluded. Reshape-like ops (Reshape, Flatten, Squeeze,
// Unsqueeze) copy the bytes in order, so they qualify too and their copy becomes a no-op; so do
// fused kernels whose body is elementwise ops of the result's shape (one loop over its elements,
// which loads element i of every operand before it stores element i of any result). Values
// chained this way share one buffer, whose interval runs from its first value's definition to its
// last value's last read; the planner forms these buffers first and then places buffers, not
// values. A forward Add -> Relu -> Dropout chain costs one buffer instead of three.
//
// In place over an argument: the parameter update. An output named new.<X>, where X is an input or
// parameter (the optimizer pass returns new.<param> and new.<state>), may be written into X's own
// buffer, so the caller's parameters and optimizer state are updated where they live. That is
// safe exactly when no one reads X's old value once its producing op P starts writing: no op
// after P reads X, X is not itself returned, and if P reads X it writes over it elementwise
// (mayWriteOver), so that every element of X is read before it is overwritten at the same index.
// A MatMul or Transpose that reads X may not write over it. Each refusal is kept with its reason.
//
// Offsets. Placing intervals of given sizes in the least memory is dynamic storage allocation,
// which is NP-hard; on neural-network graphs greedy placement comes within a few percent of the
// live peak, the lower bound (at some op that many bytes are live at once); see Pisarchyk & Lee,
// "Efficient Memory Management for Deep Neural Net Inference" (2020), and TFLite's
// greedy-by-size planner. Buffers are placed one at a time, best fit: among the buffers already
// placed whose intervals overlap this one's, the smallest hole between them that fits, else just
// above the highest. Two orders are tried. By size, largest first (ties: earlier start), lets the
// small values fill the holes the large ones leave; by start time suits long chains of short-lived
// values, such as a backward pass. Each is O(n^2) in the number of buffers; both run and the
// smaller arena is kept (a tie goes to by-size). Every size is rounded up to the alignment (64
// bytes: a cache line and the widest vector load), so every offset is aligned.
//
// What is reported. Live peak is the maximum over ops of the aligned bytes of the buffers live
// there; efficiency = live peak / arena, as Glow reports it. The arena never exceeds the sum of the
// buffers' sizes (each goes at most just above buffers placed before it) and never goes below the
// live peak (buffers live at the same op are disjoint). verifyMemoryPlan rechecks the plan against
// the ops, recomputing lifetimes itself.
#include "Transforms/MemoryPlan.h"
#include "Ops/OpRegistry.h"
#include "IR/Lexer.h"
#include "Support/Error.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>
#include <unordered_set>

namespace adjoint {

namespace {

// Ops whose output is the first operand's bytes in the same order.
const std::set<std::string> kReshapeLike = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"};

bool isConstantOp(const Op &op) { return op.domain().empty() && op.opType() == "Constant"; }

// Result element i from operand elements at index i (ONNX broadcasting aside, which
// mayWriteOver excludes by comparing shapes): the registry says so per op.
bool isElementwiseOp(const Op &op) {
  const OpSchema *s = OpRegistry::instance().find(op);
  return s && s->elementwise;
}

// A fused kernel (adjoint.Kernel, Transforms/Fusion.cpp) is one loop nest over its results'
// shape: elementwise members compute element i from operand elements at i (smaller operands are
// broadcast reads), after the GEMM a kernel may start with (its elementwise consumers are the
// epilogue). When every member that reads the operand, directly or through other members, is
// elementwise at the result's shape, the operand is read at element i only, in the iteration that
// stores element i of the result; the code generator loads an iteration's operands before it
// stores its results, so the kernel may write over the operand as a single op may. Reductions
// (several passes over a row) and a GEMM reading it (every element many times) rule it out.
bool kernelMayWriteOver(const Op &op, size_t operand, const Value *out) {
  const Attribute *name = op.attr("body");
  const Module *m = op.parent() ? op.parent()->module() : nullptr;
  const Function *body =
      m && name && name->kind() == AttrKind::String ? m->find(name->s()) : nullptr;
  if (!body || body == op.parent() || body->args().size() != op.numOperands() ||
      body->outputs().size() != op.numResults())
    return false;
  std::unordered_set<const Value *> reads = {body->args()[operand].get()};
  for (const auto &inner : body->ops()) {
    if (isConstantOp(*inner))
      continue;
    const std::string &t = inner->opType();
    bool gemm = inner->domain().empty() && (t == "MatMul" || t == "Gemm" || t == "Conv");
    bool expand = inner->domain().empty() && t == "Expand";
    if ((!isElementwiseOp(*inner) && !expand && !gemm) || t == "Dropout")
      return false;
    bool dependent = false;
    for (const Value *v : inner->operands())
      dependent |= v && reads.count(v);
    for (size_t i = 0; i < inner->numResults(); ++i) {
      if ((dependent || gemm) && inner->result(i)->shape() != out->shape())
        return false;
      if (dependent)
        reads.insert(inner->result(i));
    }
    if (dependent && gemm)
      return false;
  }
  for (const auto &o : body->outputs())
    if (o.value->shape() != out->shape())
      return false;
  return true;
}

int64_t byteSize(const Value *v) {
  return numElements(v->shape()) * (int64_t)dtypeSize(v->dtype());
}

int64_t alignUp(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// Names as the printer writes them: results %0, %1, ... in op order; arguments by name.
std::unordered_map<const Value *, std::string> valueNames(const Function &f) {
  std::unordered_map<const Value *, std::string> names;
  unsigned n = 0;
  for (const auto &op : f.ops())
    for (size_t i = 0; i < op->numResults(); ++i)
      names[op->result(i)] = std::string("%").append(std::to_string(n++));
  for (const auto &a : f.args())
    names[a.get()] = "%" + (isBareValueName(a->name()) ? a->name() : quoteString(a->name()));
  return names;
}

// The op reads `v` only through operand slots it may write result `result` over.
bool readsOnlyElementwise(const Op &op, size_t result, const Value *v) {
  bool any = false;
  for (size_t j = 0; j < op.numOperands(); ++j)
    if (op.operand(j) == v) {
      if (!mayWriteOver(op, result, j))
        return false;
      any = true;
    }
  return any;
}

struct Schedule {
  std::vector<const Op *> ops;
  std::unordered_map<const Op *, int64_t> pos;
  std::unordered_map<const Value *, int64_t> lastUse; // op results and arguments that are read

  explicit Schedule(const Function &f) {
    for (const auto &op : f.ops()) {
      pos[op.get()] = (int64_t)ops.size();
      for (const Value *v : op->operands())
        if (v)
          lastUse[v] = (int64_t)ops.size();
      ops.push_back(op.get());
    }
  }
  int64_t def(const Value *v) const { return pos.at(v->definingOp()); }
  int64_t last(const Value *v) const {
    auto it = lastUse.find(v);
    return it == lastUse.end() ? def(v) : it->second;
  }
};

// Values sharing one arena slot, in the order they occupy it.
struct Buffer {
  std::vector<const Value *> members;
  int64_t size = 0, start = 0, end = 0, offset = 0;
};

// Best-fit placement of the buffers in `order`; returns the arena size and fills offsets.
int64_t placeBuffers(const std::vector<Buffer> &bufs, const std::vector<size_t> &order,
                     std::vector<int64_t> &offsets) {
  offsets.assign(bufs.size(), 0);
  std::vector<size_t> placed;
  int64_t arena = 0;
  std::vector<std::pair<int64_t, int64_t>> busy; // [offset, end) of conflicting buffers
  for (size_t b : order) {
    const Buffer &buf = bufs[b];
    if (buf.size == 0)
      continue;
    busy.clear();
    for (size_t p : placed)
      if (bufs[p].start <= buf.end && buf.start <= bufs[p].end)
        busy.push_back({offsets[p], offsets[p] + bufs[p].size});
    std::sort(busy.begin(), busy.end());
    int64_t cursor = 0, best = -1, bestGap = std::numeric_limits<int64_t>::max();
    for (const auto &[lo, hi] : busy) {
      int64_t gap = lo - cursor;
      if (gap >= buf.size && gap < bestGap) {
        best = cursor;
        bestGap = gap;
      }
      cursor = std::max(cursor, hi);
    }
    offsets[b] = best >= 0 ? best : cursor;
    arena = std::max(arena, offsets[b] + buf.size);
    placed.push_back(b);
  }
  return arena;
}

// Decides whether output `name` (value v) may be written over argument x; "" when it may.
std::string updateRefusal(const Function &f, const Schedule &s, const Value *v, const Value *x,
                          const std::unordered_map<const Value *, std::string> &names) {
  const std::string &xn = names.at(x);
  if (v->isArg() || isConstantOp(*v->definingOp()))
    return "its value is not computed by the step";
  if (v->type() != x->type())
    return "its type " + v->type().str() + " differs from " + xn + "'s " + x->type().str();
  int outs = 0;
  for (const auto &o : f.outputs()) {
    outs += o.value == v;
    if (o.value == x)
      return xn + "'s old value is returned as output '" + o.name + "'";
  }
  if (outs > 1)
    return "its value is returned more than once";
  const Op *p = v->definingOp();
  int64_t t = s.pos.at(p);
  for (const Use &u : x->uses()) {
    int64_t tu = s.pos.at(u.user);
    if (tu > t)
      return xn + " is read by " + u.user->describe() + " (op " + std::to_string(tu) +
             ") after op " + std::to_string(t) + " writes " + names.at(v);
    if (u.user == p && !readsOnlyElementwise(*p, v->resultIndex(), x))
      return p->describe() + " (op " + std::to_string(t) + ") reads " + xn +
             " and is not elementwise over it";
  }
  return "";
}

} // namespace

bool mayWriteOver(const Op &op, size_t result, size_t operand) {
  if (result >= op.numResults() || operand >= op.numOperands() || !op.operand(operand))
    return false;
  const Value *in = op.operand(operand), *out = op.result(result);
  if (dtypeSize(in->dtype()) != dtypeSize(out->dtype()))
    return false;
  const std::string &t = op.opType();
  if (op.domain() == "adjoint" && t == "Kernel")
    return in->shape() == out->shape() && kernelMayWriteOver(op, operand, out);
  if (isElementwiseOp(op)) {
    // Dropout's mask and its ratio/training-mode operands are not the data.
    if (op.domain().empty() && t == "Dropout" && (result != 0 || operand != 0))
      return false;
    return in->shape() == out->shape();
  }
  if (op.domain().empty() && kReshapeLike.count(t))
    return result == 0 && operand == 0 && numElements(in->shape()) == numElements(out->shape());
  return false;
}

const Placement *MemoryPlan::find(const Value *v) const {
  auto it = index.find(v);
  return it == index.end() ? nullptr : &values[it->second];
}

MemoryPlan planMemory(const Function &f, const MemoryPlanOptions &opts) {
  check(opts.alignment > 0 && (opts.alignment & (opts.alignment - 1)) == 0, "memory plan @",
        f.name(), ": alignment ", opts.alignment, " is not a power of two");
  Schedule s(f);
  auto names = valueNames(f);
  MemoryPlan plan;
  plan.alignment = opts.alignment;

  auto add = [&](const Value *v, Placement::Kind kind) -> Placement & {
    plan.index[v] = plan.values.size();
    Placement &p = plan.values.emplace_back();
    p.value = v;
    p.kind = kind;
    p.bytes = byteSize(v);
    if (!v->isArg() && kind != Placement::Kind::Constant) {
      p.start = s.def(v);
      p.end = s.last(v);
    }
    return p;
  };
  for (const auto &a : f.args())
    add(a.get(), Placement::Kind::Input);

  std::unordered_map<const Value *, std::string> returned; // first output name of each value
  for (const auto &o : f.outputs())
    returned.emplace(o.value, o.name);
  for (const Op *op : s.ops)
    for (size_t i = 0; i < op->numResults(); ++i) {
      const Value *r = op->result(i);
      Placement::Kind kind = isConstantOp(*op)   ? Placement::Kind::Constant
                             : returned.count(r) ? Placement::Kind::Output
                                                 : Placement::Kind::Arena;
      Placement &p = add(r, kind);
      if (kind == Placement::Kind::Output)
        p.output = returned.at(r);
    }

  // Outputs new.<X> over argument X.
  std::unordered_set<const Value *> taken;
  for (const auto &o : f.outputs()) {
    if (!opts.inPlaceUpdates || o.name.rfind("new.", 0) != 0)
      continue;
    const Value *x = f.findArg(o.name.substr(4));
    if (!x || o.value == x)
      continue;
    std::string why = taken.count(x) ? "another output already took over " + names.at(x)
                                     : updateRefusal(f, s, o.value, x, names);
    if (why.empty() && plan.find(o.value)->kind != Placement::Kind::Output)
      why = "its value is already placed over another buffer";
    if (!why.empty()) {
      plan.refusals.push_back(o.name + " not over " + names.at(x) + ": " + why);
      continue;
    }
    Placement &p = plan.values[plan.index.at(o.value)];
    p.kind = Placement::Kind::InPlace;
    p.over = p.owner = x;
    p.output = o.name;
    taken.insert(x);
    ++plan.inPlaceCount;
    ++plan.inPlaceUpdates;
  }

  // Group arena values into buffers, chaining elementwise writes over dying operands.
  std::vector<Buffer> bufs;
  std::unordered_map<const Value *, size_t> bufferOf;
  for (const Op *op : s.ops) {
    int64_t t = s.pos.at(op);
    for (size_t i = 0; i < op->numResults(); ++i) {
      const Value *r = op->result(i);
      Placement &p = plan.values[plan.index.at(r)];
      if (p.kind != Placement::Kind::Arena)
        continue;
      size_t target = bufs.size();
      for (size_t j = 0; opts.inPlace && j < op->numOperands() && target == bufs.size(); ++j) {
        const Value *u = op->operand(j);
        auto b = u ? bufferOf.find(u) : bufferOf.end();
        if (b != bufferOf.end() && bufs[b->second].members.back() == u && s.last(u) == t &&
            byteSize(u) == p.bytes && readsOnlyElementwise(*op, i, u))
          target = b->second;
      }
      if (target == bufs.size()) {
        Buffer nb;
        nb.size = alignUp(p.bytes, opts.alignment);
        nb.start = p.start;
        bufs.push_back(std::move(nb));
      } else {
        p.kind = Placement::Kind::InPlace;
        p.over = bufs[target].members.back();
        p.owner = bufs[target].members.front();
        ++plan.inPlaceCount;
      }
      bufs[target].members.push_back(r);
      bufs[target].end = std::max(bufs[target].end, p.end);
      bufferOf[r] = target;
    }
  }

  std::vector<size_t> bySize(bufs.size()), byStart(bufs.size());
  for (size_t b = 0; b < bufs.size(); ++b)
    bySize[b] = byStart[b] = b;
  // Ties broken by index: the order stable_sort gave, without libstdc++'s temporary buffer
  // (deprecated, a warning under clang).
  std::sort(bySize.begin(), bySize.end(), [&](size_t a, size_t b) {
    if (bufs[a].size != bufs[b].size)
      return bufs[a].size > bufs[b].size;
    return bufs[a].start != bufs[b].start ? bufs[a].start < bufs[b].start : a < b;
  });
  // Buffers are created in schedule order: byStart is already sorted by start.
  std::vector<int64_t> offsets, other;
  using Order = MemoryPlanOptions::Order;
  if (opts.order == Order::ByStart) {
    plan.arenaBytes = placeBuffers(bufs, byStart, offsets);
    plan.order = "by-start";
  } else {
    plan.arenaBytes = placeBuffers(bufs, bySize, offsets);
    plan.order = "by-size";
    if (opts.order == Order::Best) {
      int64_t alt = placeBuffers(bufs, byStart, other);
      if (alt < plan.arenaBytes) {
        plan.arenaBytes = alt;
        offsets.swap(other);
        plan.order = "by-start";
      }
    }
  }

  std::vector<int64_t> delta(s.ops.size() + 1, 0);
  for (size_t b = 0; b < bufs.size(); ++b) {
    delta[(size_t)bufs[b].start] += bufs[b].size;
    delta[(size_t)bufs[b].end + 1] -= bufs[b].size;
    for (const Value *v : bufs[b].members) {
      Placement &p = plan.values[plan.index.at(v)];
      p.offset = offsets[b];
      p.inArena = true;
    }
  }
  int64_t live = 0;
  for (int64_t d : delta)
    plan.livePeakBytes = std::max(plan.livePeakBytes, live += d);
  return plan;
}

void verifyMemoryPlan(const Function &f, const MemoryPlan &plan) {
  Schedule s(f);
  auto names = valueNames(f);
  auto bad = [&](const Value *v, const auto &...what) {
    fail("memory plan @", f.name(), ": ", names.count(v) ? names.at(v) : "?", " ", what...);
  };
  using K = Placement::Kind;
  std::unordered_set<const Value *> returned;
  for (const auto &o : f.outputs())
    returned.insert(o.value);

  std::vector<const Placement *> arena;
  std::unordered_set<const Value *> argsTaken;
  auto checkValue = [&](const Value *v) {
    const Placement *p = plan.find(v);
    if (!p || p->value != v)
      bad(v, "has no placement");
    if (p->bytes != byteSize(v))
      bad(v, "is ", byteSize(v), " bytes, the plan says ", p->bytes);
    if (v->isArg()) {
      if (p->kind != K::Input)
        bad(v, "is an argument but is not placed as one");
      return;
    }
    if (isConstantOp(*v->definingOp())) {
      if (p->kind != K::Constant)
        bad(v, "is a constant but is not placed as one");
      return;
    }
    if (p->start != s.def(v) || p->end != s.last(v))
      bad(v, "is live over [", s.def(v), ", ", s.last(v), "], the plan says [", p->start, ", ",
          p->end, "]");
    if (returned.count(v)) {
      if (p->kind == K::Output && !p->inArena)
        return;
      if (p->kind != K::InPlace || !p->over || !p->over->isArg() || p->inArena)
        bad(v, "is returned but is neither an output nor written over an argument");
      const Value *x = p->over;
      if (p->output != "new." + x->name() || f.findArg(x->name()) != x)
        bad(v, "is written over ", names.at(x), " but is not its output new.", x->name());
      if (!argsTaken.insert(x).second)
        bad(v, "is written over ", names.at(x), ", which another output already took over");
      if (x->type() != v->type() || returned.count(x))
        bad(v, "may not be written over ", names.at(x));
      for (const Use &u : x->uses())
        if (s.pos.at(u.user) > s.def(v) ||
            (u.user == v->definingOp() && !readsOnlyElementwise(*u.user, v->resultIndex(), x)))
          bad(v, "is written over ", names.at(x), ", whose old value ", u.user->describe(),
              " still reads");
      return;
    }
    if (!p->inArena || (p->kind != K::Arena && p->kind != K::InPlace))
      bad(v, "is an intermediate but is not in the arena");
    if (p->offset < 0 || p->offset % plan.alignment || p->offset + p->bytes > plan.arenaBytes)
      bad(v, "has offset ", p->offset, " (", p->bytes, " bytes), outside an arena of ",
          plan.arenaBytes, " bytes or not aligned to ", plan.alignment);
    if (p->kind == K::InPlace) {
      const Placement *q = p->over ? plan.find(p->over) : nullptr;
      if (!q || !q->inArena || q->offset != p->offset || q->bytes != p->bytes)
        bad(v, "is in place over a value that does not hold the same arena bytes");
    }
    arena.push_back(p);
  };
  for (const auto &a : f.args())
    checkValue(a.get());
  for (const Op *op : s.ops)
    for (size_t i = 0; i < op->numResults(); ++i)
      checkValue(op->result(i));

  // Arena values are in schedule order: b after a overlaps a in time iff b starts by a's end.
  for (size_t i = 0; i < arena.size(); ++i) {
    const Placement *a = arena[i];
    for (size_t j = i + 1; j < arena.size() && arena[j]->start <= a->end; ++j) {
      const Placement *b = arena[j];
      bool disjoint = a->bytes == 0 || b->bytes == 0 || a->offset + a->bytes <= b->offset ||
                      b->offset + b->bytes <= a->offset;
      if (disjoint)
        continue;
      const Op *handover = b->value->definingOp();
      bool legal = b->kind == K::InPlace && b->over == a->value && a->end == b->start &&
                   readsOnlyElementwise(*handover, b->value->resultIndex(), a->value);
      if (!legal)
        bad(a->value, "and ", names.at(b->value), " are both live at op ", b->start,
            " and share arena bytes");
    }
  }
  check(plan.livePeakBytes <= plan.arenaBytes, "memory plan @", f.name(), ": live peak ",
        plan.livePeakBytes, " exceeds the arena's ", plan.arenaBytes, " bytes");
}

std::string formatBytes(int64_t bytes) {
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes / 1024;
  int u = 0;
  for (; v >= 1024 && u < 3; ++u)
    v /= 1024;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

void printMemoryPlan(std::ostream &os, const Function &f, const MemoryPlan &plan) {
  auto names = valueNames(f);
  std::vector<std::vector<std::string>> rows = {{"value", "type", "bytes", "live", "placement"}};
  for (const Placement &p : plan.values) {
    std::string where;
    switch (p.kind) {
    case Placement::Kind::Arena:
      where = "arena " + std::to_string(p.offset);
      break;
    case Placement::Kind::InPlace:
      where = p.inArena
                  ? "arena " + std::to_string(p.offset) + ", in-place over " + names.at(p.over)
                  : "in-place over " + names.at(p.over) + " (" + p.output + ")";
      break;
    case Placement::Kind::Output:
      where = "output " + p.output;
      break;
    case Placement::Kind::Input:
      where = p.value->isParam() ? "param" : "input";
      break;
    case Placement::Kind::Constant:
      where = "constant";
      break;
    }
    std::string live =
        p.start < 0 ? "-" : "[" + std::to_string(p.start) + ", " + std::to_string(p.end) + "]";
    rows.push_back(
        {names.at(p.value), p.value->type().str(), std::to_string(p.bytes), live, where});
  }
  std::vector<size_t> width(5, 0);
  for (const auto &r : rows)
    for (size_t c = 0; c < 5; ++c)
      width[c] = std::max(width[c], r[c].size());
  os << "memory plan @" << f.name() << " (alignment " << plan.alignment << ", " << plan.order
     << " order):\n";
  for (const auto &r : rows) {
    os << " ";
    for (size_t c = 0; c < 5; ++c) {
      bool right = c == 2;
      std::string pad(width[c] - r[c].size(), ' ');
      os << " " << (right ? pad : "") << r[c] << (right || c == 4 ? "" : pad);
    }
    os << "\n";
  }
  for (const std::string &r : plan.refusals)
    os << "  not in place: " << r << "\n";
  char eff[32];
  std::snprintf(eff, sizeof eff, "%.1f%%", 100.0 * plan.efficiency());
  os << "memory plan @" << f.name() << ": arena " << formatBytes(plan.arenaBytes) << ", live peak "
     << formatBytes(plan.livePeakBytes) << ", efficiency " << eff << ", " << plan.inPlaceCount
     << " in-place\n";
}

} // namespace adjoint
