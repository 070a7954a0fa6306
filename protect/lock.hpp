// Locks. The arena lock serialises every public entry into one arena.
//
// Entry points are short (a list pop, a tree search), and on them the lock is
// most of the cost: measured here, a compare-and-swap to claim plus an
// exchange to release cost ~12 ns, against ~6 ns when the release is a plain
// store. So the release is a plain release-store and the claim the only
// atomic read-modify-write. The price is that waiters cannot be woken by the
// holder: they spin briefly, then yield, then sleep with a bounded backoff
// (at most 64 us), which keeps a long holder (a collection) from having
// waiters burn a core while adding little latency after it releases.
#pragma once

#include <atomic>
#include <thread>

#include "base/check.hpp"
#include "base/config.hpp"

namespace mps::core {

class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  MPS_FORCE_INLINE void claim() {
    int expected = kFree;
    if (MPS_LIKELY(state_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                                  std::memory_order_relaxed)))
      noteOwner();
    else
      claimSlow();
  }

  // Claims the lock if it is free, without waiting: true if claimed.
  bool tryClaim() {
    int expected = kFree;
    if (!state_.compare_exchange_strong(expected, kHeld, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      return false;
    noteOwner();
    return true;
  }

  MPS_FORCE_INLINE void release() {
    clearOwner();
    state_.store(kFree, std::memory_order_release);
  }

  // The owner is tracked so that re-entry (a callback calling back into the
  // arena) is reported instead of deadlocking, and so that the read
  // barrier knows whether a fault came from inside the arena (the faulting
  // thread holds the lock already) or from the mutator.
  bool isHeldByCaller() const {
    return state_.load(std::memory_order_relaxed) != kFree &&
           owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }

 private:
  static constexpr int kFree = 0, kHeld = 1;

  MPS_NOINLINE void claimSlow();

  void noteOwner() { owner_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  void clearOwner() { owner_.store(std::thread::id(), std::memory_order_relaxed); }

  std::atomic<int> state_{kFree};
  std::atomic<std::thread::id> owner_{};
};

// Scope guard for a Lock.
class LockGuard {
 public:
  explicit LockGuard(Lock& lock) : lock_(lock) { lock_.claim(); }
  ~LockGuard() { lock_.release(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& lock_;
};

}  // namespace mps::core
