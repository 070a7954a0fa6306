#include "protect/lock.hpp"

#include <sched.h>
#include <time.h>

namespace mps::core {

namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

void Lock::claimSlow() {
  MPS_AVER(!isHeldByCaller());  // the arena lock is not recursive
  auto tryClaim = [this] {
    int expected = kFree;
    return state_.load(std::memory_order_relaxed) == kFree &&
           state_.compare_exchange_weak(expected, kHeld, std::memory_order_acquire,
                                        std::memory_order_relaxed);
  };
  // Spin a little: most holders leave within a few hundred cycles.
  for (int spin = 0; spin < 128; ++spin) {
    if (tryClaim()) return noteOwner();
    cpuRelax();
  }
  // Then let other threads (perhaps the holder) run.
  for (int yield = 0; yield < 16; ++yield) {
    if (tryClaim()) return noteOwner();
    ::sched_yield();
  }
  // Then sleep, backing off to a bound that keeps hand-over latency small.
  long nanos = 1000;
  while (!tryClaim()) {
    struct timespec pause = {0, nanos};
    ::nanosleep(&pause, nullptr);
    if (nanos < 64000) nanos *= 2;
  }
  noteOwner();
}

}  // namespace mps::core
