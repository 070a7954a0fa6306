// The threads that mark in parallel: a oneTBB task arena of the collector's
// width. Kept apart from the trace so that its threads outlive collections.
#pragma once

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>

namespace mps::core {

class WorkerPool {
 public:
  // More threads than oneTBB's parallelism limit (by default the hardware
  // threads) cannot run at once anyway, and asking for them makes oneTBB
  // print a warning on stderr, which a library must not. So the task arena
  // is capped there; the trace still keeps `width` workers' state, which the
  // threads that do run share out by slot.
  explicit WorkerPool(unsigned width) : arena_(threadsFor(width)), width_(width) {}
  tbb::task_arena& arena() { return arena_; }
  unsigned width() const { return width_; }

 private:
  static int threadsFor(unsigned width) {
    auto limit = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return int(std::min<std::size_t>(width, std::max<std::size_t>(limit, 1)));
  }

  tbb::task_arena arena_;
  unsigned width_;
};

}  // namespace mps::core
