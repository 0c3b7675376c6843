// Operator fusion: partitions a function's ops into groups that can run as one loop nest and
// replaces each group of two or more ops by an adjoint.Kernel whose body is a new function of the
// module (`@main.kernel0`). What may share a kernel is FusionRules.cpp; this file decides which
// groups form, builds the bodies and keeps the function in topological order.
//
// Partitioning is greedy over producer→consumer edges, in function order: each op tries to merge
// the group of each operand's producer into its own (XLA's instruction fusion, consumers pulling
// producers). A merge is refused, with its reason under --debug-only=fusion, when
//  - the producer is not fusible (shape ops, pooling, random ops; Constants are simply copied
//    into every body that reads them, they are free);
//  - the merged group would break FusionRules' one-loop-nest rules;
//  - it would exceed --fuse-max-ops members (compile time of one kernel stays bounded);
//  - it would create a cycle between groups: some other group lies on a path from the producer's
//    group to the consumer's, so neither kernel could run before the other.
// Nothing is ever duplicated: an op belongs to exactly one group, and a value used outside its
// group becomes a kernel result. Recomputing a cheap elementwise producer in each consumer's
// kernel would save a write and a read, but deciding that needs the code generator's costs; and
// with every op evaluated exactly once, the fused function computes bit for bit what the unfused
// one did.
//
// Groups need not be contiguous in the function, so after the rewrite the ops are put back in
// topological order: each kernel stands where its last member stood unless one of its results
// is needed earlier, in which case it moves up as far as its operands allow (a stable Kahn sort
// keyed on the original positions).
#include "Ops/Build.h"
#include "Transforms/FusionRules.h"
#include "Transforms/Pass.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace adjoint {

using namespace fusion;

namespace {

class Partition {
public:
  Partition(Function &f, PassContext &ctx, int64_t maxOps) : ctx_(ctx), maxOps_(maxOps) {
    for (const auto &op : f.ops()) {
      index_[op.get()] = ops_.size();
      ops_.push_back(op.get());
    }
    for (const auto &o : f.outputs())
      outputs_.insert(o.value);
    parent_.resize(ops_.size());
    std::iota(parent_.begin(), parent_.end(), 0);
    members_.resize(ops_.size());
    for (size_t i = 0; i < ops_.size(); ++i)
      members_[i] = {i};
  }

  void run() {
    for (size_t c = 0; c < ops_.size(); ++c) {
      Op *consumer = ops_[c];
      OpClass cc = classify(*consumer);
      if (cc == OpClass::Opaque || cc == OpClass::Constant)
        continue;
      for (Value *v : consumer->operands()) {
        Op *producer = v ? v->definingOp() : nullptr;
        if (producer && classify(*producer) != OpClass::Constant)
          tryMerge(producer, consumer);
      }
    }
  }

  // Groups of two or more ops, each in function order, in the order their kernels will stand:
  // a stable topological order of the group graph keyed on each group's last member (the order
  // restoreTopologicalOrder gives the rewritten function), so kernel0 comes first.
  std::vector<std::vector<Op *>> groups() {
    std::vector<size_t> key(ops_.size()), pending(ops_.size(), 0);
    std::vector<std::vector<size_t>> next(ops_.size());
    for (size_t i = 0; i < ops_.size(); ++i) {
      size_t r = find(i);
      key[r] = std::max(key[r], i);
      for (Value *v : ops_[i]->operands()) {
        Op *d = v ? v->definingOp() : nullptr;
        if (!d || find(index_[d]) == r)
          continue;
        next[find(index_[d])].push_back(r);
        pending[r]++;
      }
    }
    using Item = std::pair<size_t, size_t>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> ready;
    for (size_t i = 0; i < ops_.size(); ++i)
      if (find(i) == i && pending[i] == 0)
        ready.push({key[i], i});
    std::vector<std::vector<Op *>> r;
    while (!ready.empty()) {
      size_t g = ready.top().second;
      ready.pop();
      for (size_t h : next[g])
        if (--pending[h] == 0)
          ready.push({key[h], h});
      if (members_[g].size() < 2)
        continue;
      std::vector<size_t> m = members_[g];
      std::sort(m.begin(), m.end());
      r.emplace_back();
      for (size_t k : m)
        r.back().push_back(ops_[k]);
    }
    return r;
  }

  size_t position(const Op *op) const { return index_.at(op); }

private:
  size_t find(size_t i) {
    while (parent_[i] != i)
      i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  size_t groupOf(const Op *op) { return find(index_.at(op)); }

  void refuse(const Op *producer, const Op *consumer, const std::string &why) {
    if (ctx_.debugging("fusion"))
      ctx_.dbgs() << "fusion: not fusing " << producer->describe() << " into "
                  << consumer->describe() << ": " << why << "\n";
  }

  void tryMerge(Op *producer, Op *consumer) {
    size_t gp = groupOf(producer), gc = groupOf(consumer);
    if (gp == gc)
      return;
    if (classify(*producer) == OpClass::Opaque)
      return refuse(producer, consumer,
                    producer->describe() + " is not fusible (not elementwise, a reduction or a "
                                           "GEMM)");
    size_t n = members_[gp].size() + members_[gc].size();
    if ((int64_t)n > maxOps_)
      return refuse(producer, consumer,
                    "the kernel would have " + std::to_string(n) + " ops, more than --fuse-max-ops=" +
                        std::to_string(maxOps_));
    std::vector<Op *> merged;
    for (size_t g : {gp, gc})
      for (size_t k : members_[g])
        merged.push_back(ops_[k]);
    std::sort(merged.begin(), merged.end(),
              [&](Op *a, Op *b) { return index_[a] < index_[b]; });
    auto escapes = [&](const Value *v) {
      if (outputs_.count(v))
        return true;
      for (const Use &u : v->uses()) {
        size_t g = groupOf(u.user);
        if (g != gp && g != gc)
          return true;
      }
      return false;
    };
    if (auto why = whyNotOneKernel(merged, escapes)) {
      // Say so when the refusal leaves an expensive producer feeding two kernels.
      if (classify(*producer) != OpClass::Elementwise && classify(*consumer) != OpClass::Gemm &&
          escapesGroup(producer, gc))
        *why += "; " + producer->describe() +
                " is used elsewhere too and, not being elementwise, is never duplicated";
      return refuse(producer, consumer, *why);
    }
    if (const Op *via = cycleVia(gp, gc, index_[consumer]))
      return refuse(producer, consumer,
                    "it would create a cycle between kernels: a result of the producer's group "
                    "reaches the consumer's group through " +
                        via->describe() + " outside both");
    parent_[gp] = gc;
    members_[gc].insert(members_[gc].end(), members_[gp].begin(), members_[gp].end());
    members_[gp].clear();
  }

  bool escapesGroup(const Op *op, size_t g) {
    for (size_t i = 0; i < op->numResults(); ++i)
      for (const Use &u : op->result(i)->uses())
        if (groupOf(u.user) != g && u.user != op)
          return true;
    return false;
  }

  // Merging gp into gc (gp feeds gc) makes a cycle iff another group lies on a path from gp to
  // gc. Groups need not be contiguous in the function, so this walks groups, not positions; but
  // while the consumer at position `limit` is processed, every op after it is still a group of
  // its own whose users come later still, so a path that leaves [0, limit] never returns.
  // Returns the first op outside both groups on such a path, or null.
  const Op *cycleVia(size_t gp, size_t gc, size_t limit) {
    std::unordered_set<size_t> seen;
    std::vector<std::pair<size_t, const Op *>> stack;
    auto usersOf = [&](size_t g, auto &&visit) {
      for (size_t k : members_[g])
        for (size_t i = 0; i < ops_[k]->numResults(); ++i)
          for (const Use &u : ops_[k]->result(i)->uses())
            if (index_[u.user] <= limit)
              visit(u.user);
    };
    usersOf(gp, [&](const Op *user) {
      size_t g = groupOf(user);
      if (g != gp && g != gc && seen.insert(g).second)
        stack.push_back({g, user});
    });
    while (!stack.empty()) {
      auto [g, via] = stack.back();
      stack.pop_back();
      bool cycle = false;
      usersOf(g, [&](const Op *user) {
        size_t h = groupOf(user);
        cycle |= h == gc;
        if (h != gp && h != gc && seen.insert(h).second)
          stack.push_back({h, via});
      });
      if (cycle)
        return via;
    }
    return nullptr;
  }

  PassContext &ctx_;
  int64_t maxOps_;
  std::vector<Op *> ops_;
  std::unordered_map<const Op *, size_t> index_;
  std::unordered_set<const Value *> outputs_;
  std::vector<size_t> parent_;
  std::vector<std::vector<size_t>> members_;
};

std::string uniqueName(const std::string &base, std::set<std::string> &taken) {
  std::string name = base;
  for (int k = 1; !taken.insert(name).second; ++k)
    name = base + "_" + std::to_string(k);
  return name;
}

// Moves `group` into a new body function and puts an adjoint.Kernel in its place (before its
// last member). Returns the kernel; the members are left unused, for the caller to erase.
Op *outline(Function &f, const std::vector<Op *> &group, const std::string &bodyName) {
  Function &body = *f.module()->addFunction(bodyName);
  std::unordered_set<const Op *> inGroup(group.begin(), group.end());
  std::unordered_map<const Value *, Value *> inner;
  std::vector<Value *> operands;
  std::set<std::string> argNames;
  for (Op *op : group) {
    for (Value *v : op->operands()) {
      if (!v || inner.count(v) || (v->definingOp() && inGroup.count(v->definingOp())))
        continue;
      Op *d = v->definingOp();
      if (d && classify(*d) == OpClass::Constant) {
        Op *copy = body.createOp("Constant", {}, {v->type()}, d->attrs());
        copy->setName(d->name());
        inner[v] = copy->result();
        continue;
      }
      std::string base = v->isArg() ? v->name() : "in" + std::to_string(operands.size());
      inner[v] = body.addInput(uniqueName(base, argNames), v->type());
      operands.push_back(v);
    }
    std::vector<Value *> ins;
    for (Value *v : op->operands())
      ins.push_back(v ? inner.at(v) : nullptr);
    std::vector<TensorType> types;
    for (size_t i = 0; i < op->numResults(); ++i)
      types.push_back(op->result(i)->type());
    Op *copy = body.createOp(op->opType(), ins, types, op->attrs());
    copy->setDomain(op->domain());
    copy->setName(op->name());
    for (size_t i = 0; i < op->numResults(); ++i)
      inner[op->result(i)] = copy->result(i);
  }

  std::vector<Value *> results;
  std::vector<TensorType> types;
  for (Op *op : group)
    for (size_t i = 0; i < op->numResults(); ++i) {
      Value *v = op->result(i);
      bool needed = f.isOutput(v);
      for (const Use &u : v->uses())
        needed |= !inGroup.count(u.user);
      if (!needed)
        continue;
      body.addOutput("out" + std::to_string(results.size()), inner.at(v));
      results.push_back(v);
      types.push_back(v->type());
    }
  Op *kernel = f.createOp("Kernel", operands, types, {{"body", Attribute(bodyName)}}, group.back());
  kernel->setDomain("adjoint");
  for (size_t i = 0; i < results.size(); ++i)
    f.replaceAllUses(results[i], kernel->result(i));
  return kernel;
}

// A stable topological sort: ready ops go in order of `key` (original positions).
void restoreTopologicalOrder(Function &f, const std::unordered_map<const Op *, size_t> &key) {
  std::vector<Op *> current;
  std::unordered_map<const Op *, size_t> pending;
  using Item = std::pair<size_t, Op *>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> ready;
  for (const auto &op : f.ops()) {
    current.push_back(op.get());
    size_t n = 0;
    for (Value *v : op->operands())
      n += v && v->definingOp();
    pending[op.get()] = n;
    if (n == 0)
      ready.push({key.at(op.get()), op.get()});
  }
  std::vector<Op *> order;
  while (!ready.empty()) {
    Op *op = ready.top().second;
    ready.pop();
    order.push_back(op);
    for (size_t i = 0; i < op->numResults(); ++i)
      for (const Use &u : op->result(i)->uses())
        if (--pending[u.user] == 0)
          ready.push({key.at(u.user), u.user});
  }
  if (order.size() != current.size())
    fail("internal error: fusion left a cycle in @", f.name());
  if (order != current)
    for (Op *op : order)
      f.moveBefore(op, nullptr);
}

bool anyResultNeeded(const Function &f, const std::vector<Op *> &group) {
  std::unordered_set<const Op *> inGroup(group.begin(), group.end());
  for (const Op *op : group)
    for (size_t i = 0; i < op->numResults(); ++i) {
      if (f.isOutput(op->result(i)))
        return true;
      for (const Use &u : op->result(i)->uses())
        if (!inGroup.count(u.user))
          return true;
    }
  return false;
}

bool isKernelBody(const Function &f) {
  for (const auto &g : f.module()->functions())
    for (const auto &op : g->ops())
      if (op->opType() == "Kernel" && op->domain() == "adjoint" &&
          op->stringAttr("body", "") == f.name())
        return true;
  return false;
}

int64_t maxOpsOption(const PassContext &ctx) {
  std::string text = ctx.option("fuse-max-ops", "64");
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used != text.size() || text.empty() || n < 1)
    fail("--fuse-max-ops expects a positive integer, got '", text, "'");
  return n;
}
} // namespace

bool runFusion(Function &f, PassContext &ctx) {
  int64_t maxOps = maxOpsOption(ctx);
  if (!f.module()) {
    if (ctx.debugging("fusion"))
      ctx.dbgs() << "fusion: not fusing @" << f.name() << ": it is not in a module\n";
    return false;
  }
  if (isKernelBody(f))
    return false; // bodies are flat: they never hold kernels themselves

  Partition partition(f, ctx, maxOps);
  partition.run();
  std::vector<std::vector<Op *>> groups = partition.groups();
  if (groups.empty())
    return false;

  std::unordered_map<const Op *, size_t> key;
  for (const auto &op : f.ops())
    key[op.get()] = partition.position(op.get());
  std::set<std::string> taken;
  for (const auto &g : f.module()->functions())
    taken.insert(g->name());
  std::unordered_set<const Op *> fused;
  std::set<Op *> constants; // originals read by a member; erased if nothing else reads them
  int kernelNo = 0;
  for (const auto &group : groups) {
    if (!anyResultNeeded(f, group)) {
      if (ctx.debugging("fusion"))
        ctx.dbgs() << "fusion: not outlining the group of " << group.back()->describe()
                   << ": none of its " << group.size() << " ops has a result in use (dead code)\n";
      continue;
    }
    std::string name;
    do
      name = f.name() + ".kernel" + std::to_string(kernelNo++);
    while (!taken.insert(name).second);
    for (Op *op : group)
      for (Value *v : op->operands())
        if (v && v->definingOp() && classify(*v->definingOp()) == OpClass::Constant)
          constants.insert(v->definingOp());
    Op *kernel = outline(f, group, name);
    key[kernel] = partition.position(group.back());
    fused.insert(group.begin(), group.end());
    if (ctx.debugging("fusion")) {
      ctx.dbgs() << "fusion: @" << name << " fuses " << group.size() << " ops:";
      for (size_t i = 0; i < group.size(); ++i)
        ctx.dbgs() << (i ? ", " : " ") << group[i]->describe();
      ctx.dbgs() << "\n";
    }
    ctx.stats["fusion.kernels"]++;
    ctx.stats["fusion.fused_ops"] += (int64_t)group.size();
  }
  f.eraseOpsIf([&](const Op &op) { return fused.count(&op) != 0; });
  f.eraseOpsIf([&](const Op &op) {
    return constants.count(const_cast<Op *>(&op)) && !op.result()->hasUses() &&
           !f.isOutput(op.result());
  });
  restoreTopologicalOrder(f, key);
  return true;
}

} // namespace adjoint
