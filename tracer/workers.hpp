// The threads that mark in parallel: a oneTBB task arena of the collector's
// width. Kept apart from the trace so that its threads outlive collections.
#pragma once

#include <oneapi/tbb/task_arena.h>

namespace mps::core {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned width) : arena_(int(width)), width_(width) {}
  tbb::task_arena& arena() { return arena_; }
  unsigned width() const { return width_; }

 private:
  tbb::task_arena arena_;
  unsigned width_;
};

}  // namespace mps::core
