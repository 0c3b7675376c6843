// The C runtime that generated code calls (runtime/adjoint_runtime.h): the thread pool covers
// every iteration exactly once in non-empty chunks, also when calls nest or come from several
// threads at once; the BLAS bridge honours transposes and leading dimensions; adj_ipow wraps.
#include "adjoint_runtime.h"

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

struct Coverage {
  std::vector<std::atomic<int>> hits;
  std::atomic<int> chunks{0}, empty{0};
  explicit Coverage(size_t n) : hits(n) {}
};

void mark(void *ctx, int64_t begin, int64_t end) {
  auto *c = static_cast<Coverage *>(ctx);
  ++c->chunks;
  if (begin >= end)
    ++c->empty;
  for (int64_t i = begin; i < end; ++i)
    ++c->hits[(size_t)i];
}

void expectCovered(Coverage &c) {
  for (auto &h : c.hits)
    ASSERT_EQ(h.load(), 1);
  EXPECT_EQ(c.empty.load(), 0);
}

} // namespace

TEST(JitRuntime, ParallelForCoversEachIterationOnce) {
  for (int threads : {1, 2, 3, 7}) {
    adj_set_num_threads(threads);
    EXPECT_EQ(adj_get_num_threads(), threads);
    for (int64_t n : {1, 2, 5, 100, 1001, 100000}) {
      for (int64_t grain : {1, 7, 1000}) {
        Coverage c((size_t)n);
        adj_parallel_for(mark, &c, n, grain);
        expectCovered(c);
        EXPECT_LE(c.chunks.load(), std::max<int64_t>(1, std::min<int64_t>(threads, n / grain)));
      }
    }
  }
  adj_set_num_threads(0);
  EXPECT_GE(adj_get_num_threads(), 1);
}

namespace {
struct Nested {
  Coverage inner{64 * 100};
};
void outerBody(void *ctx, int64_t begin, int64_t end) {
  auto *n = static_cast<Nested *>(ctx);
  for (int64_t i = begin; i < end; ++i) {
    struct Slice {
      Coverage *c;
      int64_t base;
    } s{&n->inner, i * 100};
    adj_parallel_for(
        [](void *p, int64_t b, int64_t e) {
          auto *s = static_cast<Slice *>(p);
          for (int64_t k = b; k < e; ++k)
            ++s->c->hits[(size_t)(s->base + k)];
        },
        &s, 100, 1);
  }
}
} // namespace

TEST(JitRuntime, NestedAndConcurrentCallsRunSerially) {
  adj_set_num_threads(4);
  Nested n;
  adj_parallel_for(outerBody, &n, 64, 1);
  expectCovered(n.inner);
  std::vector<std::thread> callers;
  std::vector<std::unique_ptr<Coverage>> cov;
  for (int t = 0; t < 4; ++t)
    cov.push_back(std::make_unique<Coverage>(5000));
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        Coverage c(5000);
        adj_parallel_for(mark, &c, 5000, 10);
        for (auto &h : c.hits)
          if (h.load() != 1)
            ++cov[t]->empty;
      }
    });
  for (auto &t : callers)
    t.join();
  for (auto &c : cov)
    EXPECT_EQ(c->empty.load(), 0);
  adj_set_num_threads(0);
}

TEST(JitRuntime, GemmBridgeTransposes) {
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[0,1],[1,1]] (3x2): A*B = [[4,5],[10,11]].
  float a[] = {1, 2, 3, 4, 5, 6}, at[] = {1, 4, 2, 5, 3, 6};
  float b[] = {1, 0, 0, 1, 1, 1}, bt[] = {1, 0, 1, 0, 1, 1};
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      float c[4] = {100, 100, 100, 100};
      adj_sgemm(ta, tb, 2, 2, 3, 1.f, ta ? at : a, ta ? 2 : 3, tb ? bt : b, tb ? 3 : 2, 0.f, c, 2);
      EXPECT_EQ(c[0], 4);
      EXPECT_EQ(c[1], 5);
      EXPECT_EQ(c[2], 10);
      EXPECT_EQ(c[3], 11);
    }
  double da[] = {1, 2, 3, 4, 5, 6}, db[] = {1, 0, 0, 1, 1, 1}, dc[4] = {1, 1, 1, 1};
  adj_dgemm(0, 0, 2, 2, 3, 2.0, da, 3, db, 2, 1.0, dc, 2);
  EXPECT_EQ(dc[3], 23);
}

TEST(JitRuntime, IntegerPowerWraps) {
  EXPECT_EQ(adj_ipow(3, 4), 81);
  EXPECT_EQ(adj_ipow(-2, 3), -8);
  EXPECT_EQ(adj_ipow(7, 0), 1);
  EXPECT_EQ(adj_ipow(2, 64), 0);
  EXPECT_EQ((int32_t)adj_ipow(3, 21), (int32_t)10460353203LL);
}

TEST(JitRuntime, SymbolTableNamesEveryRuntimeFunction) {
  size_t n = 0;
  const adj_symbol *s = adj_runtime_symbols(&n);
  auto has = [&](const char *name) {
    for (size_t i = 0; i < n; ++i)
      if (std::strcmp(s[i].name, name) == 0 && s[i].address)
        return true;
    return false;
  };
  for (const char *name : {"adj_parallel_for", "adj_sgemm", "adj_dgemm", "adj_ipow",
                           "adj_report_error", "expf", "erf", "memcpy"})
    EXPECT_TRUE(has(name)) << name;
}
