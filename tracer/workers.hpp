// The threads that mark in parallel: a oneTBB task arena of the collector's
// width. Kept apart from the trace so that its threads outlive collections.
#pragma once

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace mps::core {

class WorkerPool {
 public:
  // More threads than oneTBB's parallelism limit (by default the hardware
  // threads) cannot run at once anyway, and asking for them makes oneTBB
  // print a warning on stderr, which a library must not. So the task arena
  // is capped there; the trace still keeps `width` workers' state, which the
  // threads that do run share out by slot.
  //
  // The pool is warmed up at once, outside any collection: oneTBB loads its
  // allocator library and starts its threads on first use, and both call
  // malloc (dlopen, pthread_create), which must not happen while mutator
  // threads are stopped, perhaps holding malloc's lock
  // (roots-and-threads.md, .thread.heap).
  explicit WorkerPool(unsigned width) : arena_(threadsFor(width)), width_(width) { warmUp(); }
  tbb::task_arena& arena() { return arena_; }
  unsigned width() const { return width_; }

 private:
  static int threadsFor(unsigned width) {
    auto limit = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return int(std::min<std::size_t>(width, std::max<std::size_t>(limit, 1)));
  }

  // Runs one task per thread of the task arena, each waiting (briefly) for
  // the others to start, so that oneTBB has created every worker thread. The
  // tasks capture nothing (their state is static, one warm-up at a time):
  // ThreadSanitizer cannot see oneTBB hand a task's captures over.
  void warmUp() {
    static std::mutex oneAtATime;
    static std::atomic<int> started;
    static std::atomic<int> threads;
    std::lock_guard<std::mutex> guard(oneAtATime);
    arena_.initialize();
    started.store(0);
    threads.store(arena_.max_concurrency());
    arena_.execute([] {
      auto task = [] {
        started.fetch_add(1);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
        while (started.load() < threads.load() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::yield();
      };
      tbb::task_group group;
      for (int i = 1; i < threads.load(); ++i)
        group.run(task);
      task();
      group.wait();
    });
  }

  tbb::task_arena arena_;
  unsigned width_;
};

}  // namespace mps::core
