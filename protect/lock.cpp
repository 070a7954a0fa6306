#include "protect/lock.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mps::core {

namespace {

void futexWait(std::atomic<int>* word, int expected) {
  ::syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void futexWake(std::atomic<int>* word) {
  ::syscall(SYS_futex, reinterpret_cast<int*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

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
  // Spin a little: most holders leave within a few hundred cycles.
  for (int spin = 0; spin < 100; ++spin) {
    int expected = kFree;
    if (state_.load(std::memory_order_relaxed) == kFree &&
        state_.compare_exchange_weak(expected, kHeld, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      noteOwner();
      return;
    }
    cpuRelax();
  }
  // Then sleep. Marking the word contended makes the holder's release wake us.
  while (state_.exchange(kContended, std::memory_order_acquire) != kFree)
    futexWait(&state_, kContended);
  noteOwner();
}

void Lock::wakeOne() { futexWake(&state_); }

}  // namespace mps::core
