// The runtime's thread pool. Generated code calls adj_parallel_for once per large loop nest, so a
// call must cost little: workers spin briefly after a task, then sleep on a condition variable; a
// call publishes one task (a generation number wakes them), and chunks are handed out by an
// atomic counter, the caller taking chunks too. One call runs at a time; a call made while another
// thread owns the pool, or from inside a chunk, runs serially instead of waiting.
#include "adjoint_runtime.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace {

thread_local bool insideChunk = false;

constexpr int kSpin = 4000; // about 50-100 microseconds of pause instructions

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int32_t defaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? (int32_t)n : 1;
}

class Pool {
public:
  ~Pool() { stopWorkers(); }

  // No lock: BLAS asks from inside a task, while the caller holds owner_.
  int32_t threads() const { return threads_.load(std::memory_order_relaxed); }

  void setThreads(int32_t n) {
    std::lock_guard<std::mutex> lock(owner_);
    n = n > 0 ? n : defaultThreads();
    if (n == threads_)
      return;
    stopWorkers();
    threads_ = n;
  }

  void run(adj_task_fn fn, void *ctx, int64_t n, int64_t grain) {
    grain = std::max<int64_t>(grain, 1);
    if (n <= 0)
      return;
    // Inside a chunk this thread may hold owner_ already: no try_lock on it then.
    std::unique_lock<std::mutex> lock(owner_, std::defer_lock);
    if (!insideChunk)
      (void)lock.try_lock();
    int64_t chunks = lock.owns_lock() ? std::min<int64_t>(threads_.load(), n / grain) : 1;
    if (chunks <= 1) {
      serial(fn, ctx, n);
      return;
    }
    startWorkers();
    Task t{fn, ctx, n, chunks};
    // A worker that woke late may still hold the previous task: let it leave before the chunk
    // counter is reset. The last check and the publication must be one hold of m_: a late worker
    // that took the lock between them would copy the finished task and run it on the new
    // counters.
    for (int i = 0; i < kSpin && active_.load() != 0; ++i)
      cpuRelax();
    {
      std::unique_lock<std::mutex> g(m_);
      done_.wait(g, [&] { return active_.load() == 0; });
      task_ = t;
      next_.store(0);
      pending_.store(chunks);
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    work(t);
    spinThenWait([&] { return pending_.load() == 0; });
  }

private:
  // The workers finish within microseconds of the caller as a rule: sleeping on the condition
  // variable right away cost a futex wake-up per loop nest (LeNet-5's step has dozens).
  template <typename Pred> void spinThenWait(Pred ready) {
    for (int i = 0; i < kSpin && !ready(); ++i)
      cpuRelax();
    if (ready())
      return;
    std::unique_lock<std::mutex> g(m_);
    done_.wait(g, ready);
  }

  static void serial(adj_task_fn fn, void *ctx, int64_t n) {
    bool was = insideChunk;
    insideChunk = true;
    fn(ctx, 0, n);
    insideChunk = was;
  }

  struct Task {
    adj_task_fn fn;
    void *ctx;
    int64_t n, chunks;
  };

  // Takes chunks of task t until none is left.
  void work(const Task &t) {
    bool was = insideChunk;
    insideChunk = true;
    for (int64_t c; (c = next_.fetch_add(1)) < t.chunks;) {
      t.fn(t.ctx, t.n * c / t.chunks, t.n * (c + 1) / t.chunks);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> g(m_);
        done_.notify_all();
      }
    }
    insideChunk = was;
  }

  void workerLoop() {
    uint64_t seen = 0;
    for (;;) {
      // A step's loops follow each other within microseconds: spin a little before sleeping,
      // so that most calls find their workers awake (a futex wake-up costs more than a chunk).
      for (int i = 0; i < kSpin && published_.load(std::memory_order_acquire) == seen &&
                      !stopping_.load(std::memory_order_relaxed);
           ++i)
        cpuRelax();
      Task t;
      {
        std::unique_lock<std::mutex> g(m_);
        wake_.wait(g, [&] { return stop_ || generation_ != seen; });
        if (stop_)
          return;
        seen = generation_;
        t = task_;
        ++active_;
      }
      work(t);
      if (active_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> g(m_);
        done_.notify_all();
      }
    }
  }

  // Called with owner_ held.
  void startWorkers() {
    if (!workers_.empty())
      return;
    stop_ = false;
    stopping_.store(false);
    for (int32_t i = 1; i < threads_; ++i)
      workers_.emplace_back([this] { workerLoop(); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto &t : workers_)
      t.join();
    workers_.clear();
  }

  std::mutex owner_; // held by the thread whose task the pool runs
  std::atomic<int32_t> threads_{defaultThreads()};
  std::vector<std::thread> workers_;

  std::mutex m_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  uint64_t generation_ = 0;
  Task task_{};
  std::atomic<int> active_{0}; // workers holding a task
  std::atomic<int64_t> next_{0}, pending_{0};
  std::atomic<uint64_t> published_{0}; // generation_, for workers spinning without the lock
  std::atomic<bool> stopping_{false};
};

Pool &pool() {
  // BLAS stays on the calling thread: Blas.cpp splits large products across this pool instead.
  // OpenBLAS's pthread build starts its own workers when it loads (one per core, unless
  // OPENBLAS_NUM_THREADS says otherwise) and they outlive openblas_set_num_threads(1): idle, they
  // still poll with sched_yield, and on two cores that took a core from this pool's spinning
  // workers (LeNet-5 at 2 threads: 11.7 ms a step against 4.3 ms without them). Stopping them
  // is safe: OpenBLAS restarts its workers only if asked for more than one thread again.
  static Pool p = [] {
    if (openblas_set_num_threads)
      openblas_set_num_threads(1);
    if (blas_thread_shutdown_)
      blas_thread_shutdown_();
    return Pool();
  }();
  return p;
}

} // namespace

extern "C" {

void adj_parallel_for(adj_task_fn fn, void *ctx, int64_t n, int64_t grain) {
  pool().run(fn, ctx, n, grain);
}

void adj_set_num_threads(int32_t n) { pool().setThreads(n); }

int32_t adj_get_num_threads(void) { return pool().threads(); }

} // extern "C"
