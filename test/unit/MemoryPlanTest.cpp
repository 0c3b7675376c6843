// The memory planner on random graphs: every plan passes verifyMemoryPlan and a byte-level
// simulation of the schedule, its live peak matches a brute-force count, and its arena lies
// between the live peak and the sum of the buffers (on small graphs also against the optimum
// found by trying every placement order).
#include "Transforms/MemoryPlan.h"
#include "Frontend/OnnxImporter.h"
#include "IR/Parser.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <set>
#include <sstream>

using namespace adjoint;

namespace {

int64_t alignUp(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// Random training-like graphs: elementwise chains, broadcasts, MatMul, Transpose, Reshape,
// reductions, casts, masks, multi-result Split, and updates new.<param> placed at random points
// (so that some parameters are still read after their update and must be refused).
class RandomGraph {
public:
  explicit RandomGraph(unsigned seed) : rng_(seed), f_(std::make_unique<Function>("rand")) {
    pool_.push_back(f_->addInput("x", {DType::F32, {4, 8}}));
    pool_.push_back(f_->addInput("h", {DType::F32, {8, 8}}));
    params_.push_back(f_->addParam("w", {DType::F32, {8, 8}}, Tensor()));
    params_.push_back(f_->addParam("b", {DType::F32, {8}}, Tensor()));
    params_.push_back(f_->addParam("v", {DType::F32, {4, 8}}, Tensor()));
    for (Value *p : params_)
      pool_.push_back(p);
    int n = 2 + pick(24);
    for (int i = 0; i < n; ++i)
      step();
    for (Value *p : params_)
      if (pick(10) < 7)
        update(p);
    int outs = 1 + pick(3);
    for (int i = 0; i < outs; ++i)
      f_->addOutput("o" + std::to_string(i), pool_[(size_t)pick((int)pool_.size())]);
    verifyFunction(*f_);
  }
  Function &function() { return *f_; }

private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  Value *any(DType t = DType::F32) {
    std::vector<Value *> c;
    for (Value *v : pool_)
      if (v->dtype() == t && v->type().rank() > 0)
        c.push_back(v);
    return c.empty() ? nullptr : c[(size_t)pick((int)c.size())];
  }
  Value *matching(const std::function<bool(Value *)> &ok) {
    std::vector<Value *> c;
    for (Value *v : pool_)
      if (ok(v))
        c.push_back(v);
    return c.empty() ? nullptr : c[(size_t)pick((int)c.size())];
  }
  Value *op(const std::string &type, std::vector<Value *> operands, AttrMap attrs = {},
            size_t results = 1) {
    Op *o = buildOp(*f_, type, std::move(operands), std::move(attrs), results);
    for (size_t i = 0; i < o->numResults(); ++i)
      pool_.push_back(o->result(i));
    return o->result(0);
  }

  void step() {
    Value *a = any(pick(6) ? DType::F32 : DType::F64);
    if (!a)
      a = any();
    static const char *unary[] = {"Exp", "Neg", "Relu", "Tanh", "Sigmoid"};
    static const char *binary[] = {"Add", "Sub", "Mul"};
    switch (pick(9)) {
    case 0:
    case 1:
      op(unary[pick(5)], {a});
      break;
    case 2: {
      const Shape &s = a->shape();
      Value *b = matching([&](Value *v) {
        return v->dtype() == a->dtype() &&
               (v->shape() == s || (v->type().rank() == 1 && v->shape()[0] == s.back()));
      });
      if (pick(2))
        std::swap(a, b);
      op(binary[pick(3)], {a, b});
      break;
    }
    case 3: {
      if (a->type().rank() != 2)
        break;
      Value *b = matching([&](Value *v) {
        return v->dtype() == a->dtype() && v->type().rank() == 2 && v->shape()[0] == a->shape()[1];
      });
      if (b)
        op("MatMul", {a, b});
      break;
    }
    case 4:
      if (a->type().rank() == 2)
        op("Transpose", {a});
      break;
    case 5: {
      Value *shape =
          buildConstant(*f_, Tensor::fromVector<int64_t>({1}, {numElements(a->shape())}));
      op("Reshape", {a, shape});
      break;
    }
    case 6:
      if (pick(2))
        op("ReduceSum", {a}, {{"keepdims", Attribute(int64_t(0))}});
      else
        op("Cast", {a}, {{"to", Attribute(int64_t(a->dtype() == DType::F32 ? 11 : 1))}});
      break;
    case 7: {
      Tensor zero(a->dtype(), {});
      Value *mask = op("Greater", {a, buildConstant(*f_, std::move(zero))});
      Value *b = matching([&](Value *v) { return v->type() == a->type(); });
      op("Where", {mask, b, a});
      break;
    }
    case 8:
      if (a->type().rank() >= 1 && a->shape()[0] % 2 == 0)
        op("Split", {a}, {{"axis", Attribute(int64_t(0))}}, 2);
      break;
    }
  }

  // new.<p> from an op at a random point after its operands are defined.
  void update(Value *p) {
    Value *g = matching([&](Value *v) { return v->type() == p->type() && v != p; });
    if (!g)
      return;
    Op *u;
    if (p->type().rank() == 2 && p->shape()[0] == p->shape()[1] && pick(4) == 0)
      u = buildOp(*f_, "MatMul", {pick(2) ? p : g, g}); // not elementwise: refused when it reads p
    else
      u = buildOp(*f_, pick(2) ? "Sub" : "Add", {p, g});
    std::vector<Op *> later;
    bool after = g->isArg();
    for (const auto &o : f_->ops()) {
      if (o.get() == u)
        break;
      if (after)
        later.push_back(o.get());
      after |= o.get() == g->definingOp();
    }
    if (!later.empty() && pick(3))
      f_->moveBefore(u, later[(size_t)pick((int)later.size())]);
    f_->addOutput("new." + p->name(), u->result());
  }

  std::mt19937 rng_;
  std::unique_ptr<Function> f_;
  std::vector<Value *> pool_, params_;
};

// Runs the schedule over tagged bytes: each arena byte and each argument buffer remembers which
// value last wrote it. Every read must find the value it reads; an op's operands must survive
// its own writes unless a result declares it writes over them; outputs must hold at the end.
void simulate(const Function &f, const MemoryPlan &plan) {
  using K = Placement::Kind;
  std::vector<const Value *> arena((size_t)plan.arenaBytes, nullptr);
  std::map<const Value *, const Value *> argHolds;
  for (const auto &a : f.args())
    argHolds[a.get()] = a.get();
  auto holds = [&](const Value *v) {
    const Placement *p = plan.find(v);
    if (!p)
      return false;
    if (p->kind == K::Input)
      return argHolds[v] == v;
    if (p->kind == K::InPlace && !p->inArena)
      return argHolds[p->owner] == v;
    if (!p->inArena)
      return true; // constants and outputs: nobody else writes there
    for (int64_t i = p->offset; i < p->offset + p->bytes; ++i)
      if (arena[(size_t)i] != v)
        return false;
    return true;
  };
  for (const auto &op : f.ops()) {
    for (const Value *u : op->operands())
      ASSERT_TRUE(!u || holds(u)) << op->describe() << " reads a clobbered operand";
    std::set<const Value *> overwritten;
    for (size_t i = 0; i < op->numResults(); ++i) {
      const Value *r = op->result(i);
      const Placement *p = plan.find(r);
      ASSERT_NE(p, nullptr);
      if (p->kind == K::InPlace) {
        overwritten.insert(p->over);
        for (size_t j = 0; j < op->numOperands(); ++j)
          if (op->operand(j) == p->over) {
            ASSERT_TRUE(mayWriteOver(*op, i, j)) << op->describe();
          }
      }
      if (p->inArena)
        std::fill(arena.begin() + p->offset, arena.begin() + p->offset + p->bytes, r);
      else if (p->kind == K::InPlace)
        argHolds[p->owner] = r;
    }
    for (const Value *u : op->operands())
      ASSERT_TRUE(!u || overwritten.count(u) || holds(u))
          << op->describe() << " overwrites an operand it did not declare";
  }
  for (const auto &o : f.outputs())
    ASSERT_TRUE(holds(o.value)) << "output " << o.name << " was clobbered";
}

struct BufferSpan {
  int64_t size, start, end;
};

// Arena buffers: values grouped by the value owning their slot.
std::vector<BufferSpan> buffers(const MemoryPlan &plan) {
  std::map<const Value *, BufferSpan> byOwner;
  for (const Placement &p : plan.values) {
    if (!p.inArena)
      continue;
    const Value *owner = p.kind == Placement::Kind::Arena ? p.value : p.owner;
    auto [it, fresh] =
        byOwner.emplace(owner, BufferSpan{alignUp(p.bytes, plan.alignment), p.start, p.end});
    it->second.start = std::min(it->second.start, p.start);
    it->second.end = std::max(it->second.end, p.end);
  }
  std::vector<BufferSpan> r;
  for (const auto &[v, b] : byOwner)
    r.push_back(b);
  return r;
}

int64_t bruteLivePeak(const std::vector<BufferSpan> &bufs) {
  int64_t peak = 0, last = 0;
  for (const auto &b : bufs)
    last = std::max(last, b.end);
  for (int64_t t = 0; t <= last; ++t) {
    int64_t live = 0;
    for (const auto &b : bufs)
      live += b.start <= t && t <= b.end ? b.size : 0;
    peak = std::max(peak, live);
  }
  return peak;
}

// The least arena over every placement order (lowest-fit): some order reaches the optimum.
int64_t optimalArena(const std::vector<BufferSpan> &bufs) {
  std::vector<size_t> order(bufs.size());
  std::iota(order.begin(), order.end(), 0);
  int64_t best = std::numeric_limits<int64_t>::max();
  do {
    std::vector<int64_t> off(bufs.size(), 0);
    int64_t arena = 0;
    for (size_t k = 0; k < order.size(); ++k) {
      const BufferSpan &b = bufs[order[k]];
      std::vector<std::pair<int64_t, int64_t>> busy;
      for (size_t q = 0; q < k; ++q) {
        const BufferSpan &c = bufs[order[q]];
        if (c.start <= b.end && b.start <= c.end)
          busy.push_back({off[order[q]], off[order[q]] + c.size});
      }
      std::sort(busy.begin(), busy.end());
      int64_t at = 0;
      for (const auto &[lo, hi] : busy) {
        if (lo - at >= b.size)
          break;
        at = std::max(at, hi);
      }
      off[order[k]] = at;
      arena = std::max(arena, at + b.size);
    }
    best = std::min(best, arena);
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

void checkPlan(const Function &f, const MemoryPlan &plan) {
  ASSERT_NO_THROW(verifyMemoryPlan(f, plan)) << [&] {
    try {
      verifyMemoryPlan(f, plan);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  simulate(f, plan);
  std::vector<BufferSpan> bufs = buffers(plan);
  int64_t sum = 0;
  for (const auto &b : bufs)
    sum += b.size;
  EXPECT_EQ(plan.livePeakBytes, bruteLivePeak(bufs));
  EXPECT_LE(plan.livePeakBytes, plan.arenaBytes);
  EXPECT_LE(plan.arenaBytes, sum);
  EXPECT_GT(plan.efficiency(), 0.0);
  EXPECT_LE(plan.efficiency(), 1.0);
}

} // namespace

TEST(MemoryPlan, RandomGraphsVerifyAndStayInBounds) {
  using Order = MemoryPlanOptions::Order;
  double effSum = 0, effMin = 1, ratioSum = 0, ratioMax = 1;
  int plans = 0, small = 0, inPlace = 0, updates = 0, refusals = 0;
  for (unsigned seed = 0; seed < 300; ++seed) {
    RandomGraph g(seed);
    const Function &f = g.function();
    for (Order order : {Order::Best, Order::BySize, Order::ByStart})
      for (bool elementwise : {true, false}) {
        MemoryPlanOptions opts;
        opts.order = order;
        opts.inPlace = elementwise;
        opts.inPlaceUpdates = elementwise || seed % 2;
        opts.alignment = seed % 3 == 0 ? 16 : 64;
        SCOPED_TRACE("seed " + std::to_string(seed));
        MemoryPlan plan = planMemory(f, opts);
        checkPlan(f, plan);
        if (HasFatalFailure())
          return;
        if (plan.arenaBytes == 0)
          continue;
        ++plans;
        effSum += plan.efficiency();
        effMin = std::min(effMin, plan.efficiency());
        if (order == Order::Best && elementwise) {
          inPlace += (int)plan.inPlaceCount;
          updates += (int)plan.inPlaceUpdates;
          refusals += (int)plan.refusals.size();
          std::vector<BufferSpan> bufs = buffers(plan);
          if (bufs.size() <= 7) {
            int64_t opt = optimalArena(bufs);
            EXPECT_LE(plan.livePeakBytes, opt);
            EXPECT_LE(opt, plan.arenaBytes);
            ++small;
            double ratio = double(plan.arenaBytes) / double(opt);
            ratioSum += ratio;
            ratioMax = std::max(ratioMax, ratio);
          }
        }
      }
  }
  // The random graphs must exercise what is tested.
  EXPECT_GT(inPlace, 100);
  EXPECT_GT(updates, 50);
  EXPECT_GT(refusals, 20);
  EXPECT_GT(small, 20);
  std::cout << "memory plan on random graphs: " << plans << " plans, efficiency mean "
            << 100 * effSum / plans << "%, min " << 100 * effMin << "%; " << small
            << " small graphs: arena / optimum mean " << ratioSum / small << ", max " << ratioMax
            << "; " << inPlace << " in place (" << updates << " updates), " << refusals
            << " updates refused\n";
  RecordProperty("mean_efficiency_percent", std::to_string(100 * effSum / plans));
}

TEST(MemoryPlan, MayWriteOverFollowsIndexing) {
  auto m = parseModule(R"(
func @f(%a: f32[4,4], %b: f32[4], %c: bool[4,4], %s: i64[1]) -> (y: f32[4,4]) {
  %0 = Add(%a, %b) : f32[4,4]
  %1 = MatMul(%a, %a) : f32[4,4]
  %2 = Transpose(%a) : f32[4,4]
  %3 = Where(%c, %a, %0) : f32[4,4]
  %4 = Cast(%a) {to = 11} : f64[4,4]
  %5 = Cast(%a) {to = 6} : i32[4,4]
  %6 = Constant() {value = dense<i64[1], [16]>} : i64[1]
  %7 = Reshape(%a, %6) : f32[16]
  %8, %9 = Dropout(%a) : f32[4,4], bool[4,4]
  %10 = adjoint.StopGradient(%a) : f32[4,4]
  return %3
}
)",
                       "test.adj");
  std::vector<Op *> ops;
  for (auto &op : *m->main())
    ops.push_back(op.get());
  EXPECT_TRUE(mayWriteOver(*ops[0], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[0], 0, 1)); // broadcast operand
  EXPECT_FALSE(mayWriteOver(*ops[1], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[2], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[3], 0, 0)); // bool condition: another element size
  EXPECT_TRUE(mayWriteOver(*ops[3], 0, 1));
  EXPECT_TRUE(mayWriteOver(*ops[3], 0, 2));
  EXPECT_FALSE(mayWriteOver(*ops[4], 0, 0)); // wider result
  EXPECT_TRUE(mayWriteOver(*ops[5], 0, 0));
  EXPECT_TRUE(mayWriteOver(*ops[7], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[7], 0, 1));
  EXPECT_TRUE(mayWriteOver(*ops[8], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[8], 1, 0)); // the mask is not the data
  EXPECT_TRUE(mayWriteOver(*ops[9], 0, 0));
  EXPECT_FALSE(mayWriteOver(*ops[0], 1, 0)); // out of range
  EXPECT_FALSE(mayWriteOver(*ops[0], 0, 5));
}

TEST(MemoryPlan, VerifierCatchesBadPlans) {
  auto m = parseModule(R"(
func @f(%x: f32[16], %w: f32[16] {param}) -> (y: f32[], new.w: f32[16]) {
  %0 = Exp(%x) : f32[16]
  %1 = Transpose(%0) : f32[16]
  %2 = Add(%1, %0) : f32[16]
  %3 = ReduceSum(%2) {keepdims = 0} : f32[]
  %4 = Sub(%w, %2) : f32[16]
  return %3, %4
}
)",
                       "test.adj");
  const Function &f = *m->main();
  MemoryPlan good = planMemory(f);
  ASSERT_NO_THROW(verifyMemoryPlan(f, good));
  EXPECT_EQ(good.inPlaceUpdates, 1);
  const Value *v0 = f.ops().front()->result(), *v1 = (*std::next(f.ops().begin()))->result();

  MemoryPlan overlap = good; // %1 moved onto %0 while both are live
  overlap.values[overlap.index.at(v1)].offset = overlap.values[overlap.index.at(v0)].offset;
  EXPECT_THROW(verifyMemoryPlan(f, overlap), Error);

  MemoryPlan fakeInPlace = overlap; // declaring it in place does not make Transpose elementwise
  Placement &p = fakeInPlace.values[fakeInPlace.index.at(v1)];
  p.kind = Placement::Kind::InPlace;
  p.over = p.owner = v0;
  EXPECT_THROW(verifyMemoryPlan(f, fakeInPlace), Error);

  MemoryPlan misaligned = good;
  misaligned.values[misaligned.index.at(v0)].offset += 4;
  EXPECT_THROW(verifyMemoryPlan(f, misaligned), Error);

  MemoryPlan shortLived = good;
  shortLived.values[shortLived.index.at(v0)].end = 1;
  EXPECT_THROW(verifyMemoryPlan(f, shortLived), Error);

  MemoryPlanOptions odd;
  odd.alignment = 48;
  EXPECT_THROW(planMemory(f, odd), Error);
}

TEST(MemoryPlan, EmptyTensorsAndAlignment) {
  auto m = parseModule(R"(
func @f(%x: f32[0,3], %y: f32[5]) -> (a: f32[], b: f32[]) {
  %0 = Exp(%x) : f32[0,3]
  %1 = Exp(%y) : f32[5]
  %2 = ReduceSum(%0) {keepdims = 0} : f32[]
  %3 = ReduceSum(%1) {keepdims = 0} : f32[]
  return %2, %3
}
)",
                       "test.adj");
  MemoryPlanOptions opts;
  opts.alignment = 128;
  MemoryPlan plan = planMemory(*m->main(), opts);
  checkPlan(*m->main(), plan);
  EXPECT_EQ(plan.arenaBytes, 128);
  for (const Placement &p : plan.values)
    if (p.inArena) {
      EXPECT_EQ(p.offset % 128, 0);
    }
}

TEST(MemoryPlan, FashionMlpAdamStep) {
  ImportOptions io;
  io.dims["batch"] = 64;
  auto m = importOnnxFile(std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx", io);
  Function &f = *m->main();
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy:logits";
  ctx.options["optimizer"] = "adam";
  for (const char *p : {"attach-loss", "autodiff", "optimizer"}) {
    ASSERT_NE(findPass(p), nullptr) << p;
    findPass(p)->run(f, ctx);
  }
  MemoryPlan plan = planMemory(f);
  checkPlan(f, plan);
  // Every parameter and every Adam moment is updated where it lives.
  EXPECT_EQ(plan.inPlaceUpdates, 18);
  EXPECT_TRUE(plan.refusals.empty());
  std::ostringstream os;
  printMemoryPlan(os, f, plan);
  std::string text = os.str();
  EXPECT_TRUE(std::regex_search(
      text, std::regex("memory plan @\\w+: arena [0-9.]+ [KMG]iB, live peak [0-9.]+ [KMG]iB, "
                       "efficiency [0-9.]+%, [0-9]+ in-place\n$")))
      << text;
  std::cout << text.substr(text.rfind("memory plan @"));
}

TEST(MemoryPlan, FashionMlpFusedAdamStep) {
  if (!findPass("fuse"))
    GTEST_SKIP() << "no fusion pass";
  ImportOptions io;
  io.dims["batch"] = 64;
  auto m = importOnnxFile(std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx", io);
  Function &f = *m->main();
  PassContext ctx;
  ctx.options["attach-loss"] = "cross-entropy:logits";
  ctx.options["optimizer"] = "adam";
  for (const char *p : {"attach-loss", "autodiff", "optimizer", "fuse"})
    findPass(p)->run(f, ctx);
  MemoryPlan plan = planMemory(f);
  checkPlan(f, plan);
  // The weights' updates are GEMM epilogues that read the old weight and moments elementwise.
  EXPECT_GE(plan.inPlaceUpdates, 9);
  std::ostringstream os;
  printMemoryPlan(os, f, plan);
  std::cout << os.str().substr(os.str().rfind("memory plan @"));
}
