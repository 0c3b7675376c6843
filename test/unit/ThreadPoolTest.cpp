// The runtime's thread pool (runtime/ThreadPool.cpp) under stress: many small calls back to back,
// each with its own context, so that a worker waking late for one call overlaps the next. Every
// item of every call must run exactly once, and only with that call's function and context.
// (A late worker once copied the finished task between the caller's last check and the new
// publication, ran stale chunks on the new counters and let the caller return with items unrun.)
#include "adjoint_runtime.h"

#include <gtest/gtest.h>

#include <atomic>

namespace {

struct Call {
  std::atomic<long> id{-1};
  std::atomic<int64_t> covered{0};
  int64_t n = 0;
};

Call calls[16];
std::atomic<long> live{-1};
std::atomic<long> stale{0};

void countItems(void *p, int64_t begin, int64_t end) {
  Call *c = static_cast<Call *>(p);
  if (c->id.load() != live.load() || end > c->n)
    stale++;
  c->covered += end - begin;
}

} // namespace

TEST(ThreadPool, EveryItemRunsOnceWithItsOwnCall) {
  for (int threads : {2, 3, 8}) {
    adj_set_num_threads(threads);
    stale = 0;
    long missing = 0;
    for (long it = 0; it < 200000; ++it) {
      Call &c = calls[it % 16];
      c.n = 40 + it % 17;
      c.covered = 0;
      c.id = it;
      live = it;
      adj_parallel_for(countItems, &c, c.n, 1);
      missing += c.covered.load() != c.n;
    }
    EXPECT_EQ(missing, 0) << threads << " threads: calls returned with items not run";
    EXPECT_EQ(stale.load(), 0) << threads << " threads: chunks ran for a finished call";
  }
  adj_set_num_threads(0);
}

// A loop inside a chunk runs serially on that thread (no second acquisition of the pool).
TEST(ThreadPool, NestedCallsRunInline) {
  adj_set_num_threads(2);
  static std::atomic<int64_t> inner{0};
  inner = 0;
  adj_parallel_for(
      [](void *, int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          adj_parallel_for([](void *, int64_t b, int64_t e) { inner += e - b; }, nullptr, 100, 1);
      },
      nullptr, 8, 1);
  EXPECT_EQ(inner.load(), 800);
  adj_set_num_threads(0);
}
