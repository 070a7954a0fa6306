// Suspending and resuming threads and capturing their context
// (protect/thread.hpp): a stopped thread stops computing, a thread blocked in a
// system call can be stopped too, the captured stack and registers hold what
// the thread holds, the calling thread's own context can be visited, a thread
// that exited without deregistering fails cleanly, and many stops in a row or
// from two collectors at once do not deadlock. Meant to pass under the asan
// and tsan presets as well.

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/res.hpp"
#include "base/types.hpp"
#include "protect/thread.hpp"

namespace {

using namespace mps::core;
using Clock = std::chrono::steady_clock;

// A word that looks like a heap address and exists only in a thread that
// computes it from two halves: neither the halves nor the test's own frames
// hold the value itself, so finding it in a scan means the scan saw that
// thread's live state.
std::atomic<Word> gSecretHalfA{0x00005a5a12345670u ^ 0x0000300000000000u};
std::atomic<Word> gSecretHalfB{0x0000300000000000u};

// `salt` gives each test its own value: a test's negative control must not
// meet stale copies that earlier tests left in dead stack slots.
MPS_NOINLINE Word secret(Word salt = 0) {
  return gSecretHalfA.load(std::memory_order_relaxed) ^
         gSecretHalfB.load(std::memory_order_relaxed) ^ salt;
}
constexpr Word kCurrentThreadSalt = 0x100;
constexpr Word kSpinningSalt = 0x200;  // (a new thread may get a dead one's stack)

void sleepMicros(long micros) {
  struct timespec pause = {micros / 1000000, (micros % 1000000) * 1000};
  ::nanosleep(&pause, nullptr);
}

// Waits (bounded) for cond; false on timeout.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
  auto until = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() > until) return false;
    sleepMicros(100);
  }
  return true;
}

// Counts occurrences of `value` in [base, limit) through the sanitizer-proof reader.
Size countWord(const void* base, const void* limit, Word value) {
  Size n = 0;
  scanWords(base, limit, [&](Word w) {
    if (w == value) ++n;
    return Res::ok;
  });
  return n;
}

// A thread registered through its own OsThread; `body` runs on it after
// registration and should return once `stop` is set.
class Worker {
 public:
  using Body = std::function<void(Worker&)>;

  explicit Worker(Body body) : body_(std::move(body)) {
    thread_ = std::thread([this] {
      void *low, *cold;
      if (currentStackBounds(&low, &cold)) {
        low_ = low;
        cold_ = cold;
      }
      initRes_ = os.initCurrent();
      ready.store(true, std::memory_order_release);
      if (initRes_ != Res::ok) return;
      body_(*this);
      os.finish();
    });
    EXPECT_TRUE(eventually([&] { return ready.load(std::memory_order_acquire); }));
    EXPECT_EQ(initRes_, Res::ok);
  }
  ~Worker() { join(); }

  void join() {
    stop.store(true, std::memory_order_release);
    cv.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool inStack(const void* p) const { return p >= low_ && p < cold_; }
  // Scans the stopped thread's stack and registers for `value`.
  Size findInContext(Word value) const {
    return countWord(os.stackHot(), cold_, value) +
           countWord(os.registersBase(), os.registersLimit(), value);
  }

  OsThread os;
  std::atomic<bool> ready{false};
  std::atomic<bool> stop{false};
  std::atomic<unsigned long> counter{0};
  std::atomic<int> phase{0};
  std::atomic<const void*> mark{nullptr};  // an address in the body's frame
  std::mutex mutex;
  std::condition_variable cv;
  void* low_ = nullptr;
  void* cold_ = nullptr;

 private:
  Body body_;
  Res initRes_ = Res::fail;
  std::thread thread_;
};

void spin(Worker& w) {
  int local = 0;
  w.mark.store(&local, std::memory_order_relaxed);
  while (!w.stop.load(std::memory_order_relaxed))
    w.counter.fetch_add(1, std::memory_order_relaxed);
}

void napper(Worker& w) {
  int local = 0;
  w.mark.store(&local, std::memory_order_relaxed);
  while (!w.stop.load(std::memory_order_acquire)) {
    sleepMicros(200);
    w.counter.fetch_add(1, std::memory_order_relaxed);
  }
}

// Sleeps a second at a time; a signal ends the sleep early (nanosleep is not
// restarted after a handler, whatever SA_RESTART says).
void longSleeper(Worker& w) {
  int local = 0;
  w.mark.store(&local, std::memory_order_relaxed);
  w.phase.store(1);
  while (!w.stop.load(std::memory_order_acquire))
    sleepMicros(1000 * 1000);
}

void waiter(Worker& w) {
  int local = 0;
  w.mark.store(&local, std::memory_order_relaxed);
  std::unique_lock<std::mutex> guard(w.mutex);
  w.phase.store(1);
  w.cv.wait(guard, [&] { return w.stop.load(std::memory_order_acquire); });
}

TEST(OsThread, InitRecordsTheCallingThread) {
  OsThread os;
  EXPECT_FALSE(os.isCurrent());
  ASSERT_EQ(os.initCurrent(), Res::ok);
  EXPECT_TRUE(os.isInitialised());
  EXPECT_TRUE(os.isCurrent());
  EXPECT_FALSE(os.isSuspended());
  EXPECT_EQ(os.stackHot(), nullptr);
  int local = 0;
  EXPECT_LE(os.stackLow(), static_cast<void*>(&local));
  EXPECT_GT(os.stackCold(), static_cast<void*>(&local));
  bool otherIsCurrent = true;
  std::thread([&] { otherIsCurrent = os.isCurrent(); }).join();
  EXPECT_FALSE(otherIsCurrent);
  os.finish();
  EXPECT_FALSE(os.isCurrent());
}

// SIGXCPU and SIGXFSZ unless the build chose others (MPS_SIGSUSPEND,
// MPS_SIGRESUME); in any case two different signals a handler can catch.
TEST(OsThread, SignalsAreDistinctAndCatchable) {
  EXPECT_NE(suspendSignal(), resumeSignal());
  for (int sig : {suspendSignal(), resumeSignal()}) {
    EXPECT_GT(sig, 0);
    EXPECT_LT(sig, NSIG);
    EXPECT_NE(sig, SIGKILL);
    EXPECT_NE(sig, SIGSTOP);
    EXPECT_NE(sig, SIGSEGV);  // the shield's
  }
}

TEST(OsThread, CurrentStackColdEndIsAboveTheCaller) {
  int local = 0;
  void* cold = currentStackColdEnd();
  ASSERT_NE(cold, nullptr);
  EXPECT_GT(cold, static_cast<void*>(&local));
  void *low, *cold2;
  ASSERT_TRUE(currentStackBounds(&low, &cold2));
  EXPECT_EQ(cold, cold2);
  EXPECT_LT(low, static_cast<void*>(&local));
}

TEST(OsThreadSuspend, SpinningThreadStopsAndContinues) {
  Worker w(spin);
  ASSERT_TRUE(eventually([&] { return w.counter.load() > 1000; }));
  ASSERT_EQ(w.os.suspend(), Res::ok);
  EXPECT_TRUE(w.os.isSuspended());
  unsigned long frozen = w.counter.load();
  sleepMicros(20 * 1000);
  EXPECT_EQ(w.counter.load(), frozen) << "the counter advanced while the thread was suspended";
  w.os.resume();
  EXPECT_FALSE(w.os.isSuspended());
  EXPECT_TRUE(eventually([&] { return w.counter.load() > frozen + 1000; }))
      << "the counter did not advance after resume";
}

TEST(OsThreadSuspend, StackHotLiesInTheTargetStackBelowItsFrames) {
  Worker w(spin);
  ASSERT_TRUE(eventually([&] { return w.mark.load() != nullptr; }));
  ASSERT_EQ(w.os.suspend(), Res::ok);
  void* hot = w.os.stackHot();
  EXPECT_TRUE(w.inStack(hot)) << hot;
  EXPECT_LT(hot, w.mark.load()) << "the hot end is above a live frame of the target";
  EXPECT_EQ(w.os.stackLow(), w.low_);
  EXPECT_EQ(w.os.stackCold(), w.cold_);
  ASSERT_NE(w.os.registersBase(), nullptr);
  EXPECT_GT(w.os.registersLimit(), w.os.registersBase());
  w.os.resume();
  EXPECT_EQ(w.os.stackHot(), nullptr);
}

TEST(OsThreadSuspend, ThreadBlockedInNanosleep) {
  Worker w(longSleeper);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  sleepMicros(2000);  // let it enter the system call
  auto t0 = Clock::now();
  ASSERT_EQ(w.os.suspend(), Res::ok);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500)) << "waited for the sleep to end";
  EXPECT_TRUE(w.inStack(w.os.stackHot()));
  EXPECT_LT(w.os.stackHot(), w.mark.load());
  w.os.resume();
  // Stop it without waiting out its second: one more stop interrupts the sleep.
  w.stop.store(true, std::memory_order_release);
  ASSERT_EQ(w.os.suspend(), Res::ok);
  w.os.resume();
  auto t1 = Clock::now();
  w.join();
  EXPECT_LT(Clock::now() - t1, std::chrono::milliseconds(500));
}

TEST(OsThreadSuspend, ThreadBlockedInConditionWait) {
  Worker w(waiter);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  // Once the lock is free again the waiter is inside the wait.
  { std::lock_guard<std::mutex> sync(w.mutex); }
  sleepMicros(2000);
  ASSERT_EQ(w.os.suspend(), Res::ok);
  EXPECT_TRUE(w.inStack(w.os.stackHot()));
  EXPECT_LT(w.os.stackHot(), w.mark.load());
  w.os.resume();
  {
    std::lock_guard<std::mutex> guard(w.mutex);
    w.stop.store(true, std::memory_order_release);
  }
  w.cv.notify_all();
  w.join();  // the wait still ends normally
}

// A thread waiting for a futex the suspender itself holds: the wait is
// interrupted and restarted. Not under TSan, which defers the signal until the
// thread leaves pthread_mutex_lock (an interceptor it does not treat as
// blocking), which it never does while the suspender holds the mutex.
TEST(OsThreadSuspend, ThreadBlockedOnAContendedMutex) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer delays signals to a thread blocked in pthread_mutex_lock";
#else
  std::mutex contended;
  std::unique_lock<std::mutex> hold(contended);
  Worker w([&](Worker& self) {
    self.phase.store(1);
    std::lock_guard<std::mutex> got(contended);
    self.phase.store(2);
  });
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  sleepMicros(2000);  // into the futex wait
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(w.os.suspend(), Res::ok);
    EXPECT_TRUE(w.inStack(w.os.stackHot()));
    w.os.resume();
  }
  EXPECT_EQ(w.phase.load(), 1);
  hold.unlock();
  EXPECT_TRUE(eventually([&] { return w.phase.load() == 2; }));
#endif
}

// The handler leaves the thread's signal mask as it found it, however the
// signal was delivered (under TSan a nested delivery inside the handler would
// leave every signal blocked, and the next suspend would wait for ever).
TEST(OsThreadSuspend, ResumeRestoresTheSignalMask) {
  std::atomic<bool> sameMask{false};
  Worker w([&](Worker& self) {
    sigset_t before, after;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &before);
    self.phase.store(1);
    while (self.phase.load() == 1)
      self.counter.fetch_add(1, std::memory_order_relaxed);
    ::pthread_sigmask(SIG_BLOCK, nullptr, &after);
    bool same = true;
    for (int sig = 1; sig < NSIG; ++sig)
      same = same && sigismember(&before, sig) == sigismember(&after, sig);
    sameMask.store(same);
    self.phase.store(3);
  });
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(w.os.suspend(), Res::ok);
    w.os.resume();
  }
  w.phase.store(2);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 3; }));
  EXPECT_TRUE(sameMask.load());
}

// Phase 1 spins without the secret, phase 2 spins holding it in a local that
// only registers and the stack can keep.
MPS_NOINLINE void spinWithoutSecret(Worker& w) {
  w.phase.store(1);
  while (w.phase.load(std::memory_order_relaxed) == 1)
    w.counter.fetch_add(1, std::memory_order_relaxed);
}

MPS_NOINLINE void spinHoldingSecret(Worker& w) {
  Word held = secret(kSpinningSalt);
  w.phase.store(3);
  while (!w.stop.load(std::memory_order_relaxed)) {
    w.counter.fetch_add(1, std::memory_order_relaxed);
    asm volatile("" : "+r"(held));  // live in a register through every iteration
  }
  asm volatile("" : : "r"(held));
}

TEST(OsThreadContext, SecretHeldBySpinningThreadIsFoundOnlyAfterItHoldsIt) {
  Worker w([](Worker& self) {
    spinWithoutSecret(self);
    spinHoldingSecret(self);
  });
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  ASSERT_EQ(w.os.suspend(), Res::ok);
  EXPECT_EQ(w.findInContext(secret(kSpinningSalt)), 0u)
      << "negative control: found before it was computed";
  w.os.resume();

  w.phase.store(2);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 3; }));
  sleepMicros(1000);
  for (int i = 0; i < 20; ++i) {  // stop it at different points of the loop
    ASSERT_EQ(w.os.suspend(), Res::ok);
    EXPECT_GE(w.findInContext(secret(kSpinningSalt)), 1u) << "round " << i;
    w.os.resume();
    sleepMicros(100);
  }
}

MPS_NOINLINE void sleepHoldingSecret(Worker& w) {
  Word held = secret();
  w.phase.store(1);
  while (!w.stop.load(std::memory_order_acquire)) {
    sleepMicros(1000);
    asm volatile("" : "+r"(held));  // live across the system call
  }
  asm volatile("" : : "r"(held));
}

TEST(OsThreadContext, SecretHeldBySleepingThreadIsFound) {
  Worker w(sleepHoldingSecret);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(w.os.suspend(), Res::ok);
    EXPECT_GE(w.findInContext(secret()), 1u) << "round " << i;
    w.os.resume();
    sleepMicros(300);
  }
}

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
// The register block itself holds the interrupted registers: a value pinned
// to r12 during a loop with no calls is in the block, whatever the stack holds.
// (Not under TSan, where the handler runs later than the interruption and the
// atomics are calls.)
MPS_NOINLINE void spinWithSecretInR12(Worker& w) {
  register Word held asm("r12") = secret();
  w.phase.store(1);
  while (!w.stop.load(std::memory_order_relaxed)) {
    w.counter.fetch_add(1, std::memory_order_relaxed);
    asm volatile("" : "+r"(held));
  }
  asm volatile("" : : "r"(held));
}

TEST(OsThreadContext, RegisterBlockHoldsInterruptedRegisters) {
  Worker w(spinWithSecretInR12);
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  sleepMicros(1000);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(w.os.suspend(), Res::ok);
    EXPECT_GE(countWord(w.os.registersBase(), w.os.registersLimit(), secret()), 1u)
        << "round " << i;
    w.os.resume();
  }
}
#endif

struct CurrentScan {
  void* cold;
  void* hot = nullptr;
  bool registersGiven = false;
  Size found = 0;
};

void scanCurrent(void* hot, const void* regsBase, const void* regsLimit, void* closure) {
  auto* scan = static_cast<CurrentScan*>(closure);
  scan->hot = hot;
  scan->registersGiven = regsBase != nullptr && regsBase < regsLimit;
  Word value = secret(kCurrentThreadSalt);  // computed here, below the hot end
  scan->found = countWord(hot, scan->cold, value) + countWord(regsBase, regsLimit, value);
}

MPS_NOINLINE Size scanHoldingSecret(void* cold, void** hotOut) {
  Word held = secret(kCurrentThreadSalt);
  asm volatile("" : "+r"(held));
  CurrentScan scan{cold};
  withCurrentContext(scanCurrent, &scan);
  asm volatile("" : : "r"(held));  // so `held` lives across the call
  *hotOut = scan.hot;
  EXPECT_TRUE(scan.registersGiven);
  return scan.found;
}

MPS_NOINLINE Size scanWithoutSecret(void* cold) {
  CurrentScan scan{cold};
  withCurrentContext(scanCurrent, &scan);
  return scan.found;
}

TEST(OsThreadContext, WithCurrentContextSeesTheCallersRegistersAndStack) {
  void* cold = currentStackColdEnd();
  ASSERT_NE(cold, nullptr);
  EXPECT_EQ(scanWithoutSecret(cold), 0u) << "negative control";
  void* hot = nullptr;
  EXPECT_GE(scanHoldingSecret(cold, &hot), 1u);
  int local = 0;
  EXPECT_LT(hot, static_cast<void*>(&local));
  EXPECT_LT(hot, cold);
}

TEST(OsThreadSuspend, ExitedThreadFails) {
  auto os = std::make_unique<OsThread>();
  Res res = Res::fail;
  std::thread([&] { res = os->initCurrent(); }).join();  // exits still registered
  ASSERT_EQ(res, Res::ok);
  auto t0 = Clock::now();
  EXPECT_EQ(os->suspend(), Res::fail);
  EXPECT_FALSE(os->isSuspended());
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
  os->finish();
}

TEST(OsThreadSuspend, StraySignalsAreIgnored) {
  // Neither signal, sent outside a handshake, stops or kills the thread.
  std::atomic<pthread_t> target{};
  Worker probe([&](Worker& self) {
    target.store(::pthread_self());
    spin(self);
  });
  ASSERT_TRUE(eventually([&] { return probe.counter.load() > 0; }));
  ASSERT_EQ(::pthread_kill(target.load(), suspendSignal()), 0);
  ASSERT_EQ(::pthread_kill(target.load(), resumeSignal()), 0);
  unsigned long before = probe.counter.load();
  EXPECT_TRUE(eventually([&] { return probe.counter.load() > before + 1000; }));
  ASSERT_EQ(probe.os.suspend(), Res::ok);  // and the handshake still works
  probe.os.resume();
}

TEST(OsThreadSuspend, SecondRegistrationSharesTheStop) {
  OsThread second;
  Worker w([&](Worker& self) {
    ASSERT_EQ(second.initCurrent(), Res::ok);
    self.phase.store(1);
    spin(self);
    second.finish();
  });
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1 && w.counter.load() > 0; }));
  for (int order = 0; order < 2; ++order) {
    ASSERT_EQ(w.os.suspend(), Res::ok);
    ASSERT_EQ(second.suspend(), Res::ok);  // would hang if it signalled again
    EXPECT_TRUE(second.isSuspended());
    EXPECT_EQ(second.stackHot(), w.os.stackHot());
    EXPECT_EQ(second.registersBase(), w.os.registersBase());
    OsThread& first = order == 0 ? w.os : second;
    OsThread& last = order == 0 ? second : w.os;
    first.resume();
    unsigned long frozen = w.counter.load();
    sleepMicros(5000);
    EXPECT_EQ(w.counter.load(), frozen) << "ran while still suspended through the other record";
    EXPECT_TRUE(last.isSuspended());
    // Suspending the resumed record again while the stop holds shares it too.
    ASSERT_EQ(first.suspend(), Res::ok);
    first.resume();
    last.resume();
    EXPECT_TRUE(eventually([&] { return w.counter.load() > frozen + 1000; }));
  }
  w.join();
}

// A thousand stop-the-world rounds over four threads, `spinners` of them
// spinning and the rest napping. One spinner: with the test thread that keeps
// two cores busy; more spinners than cores would measure the scheduler (each
// handshake can then wait a time slice), not the handshake. `batch` stops them
// through a SuspendBatch, otherwise one by one.
void thousandRounds(bool batch, int spinners) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 4; ++i)
    workers.push_back(std::make_unique<Worker>(i < spinners ? spin : napper));
  auto t0 = Clock::now();
  for (int round = 0; round < 1000; ++round) {
    if (batch) {
      SuspendBatch stopAll;
      for (auto& w : workers)
        stopAll.add(&w->os);
      ASSERT_EQ(stopAll.run(), workers.size()) << "round " << round;
    } else {
      for (auto& w : workers)
        ASSERT_EQ(w->os.suspend(), Res::ok) << "round " << round;
    }
    for (auto& w : workers)
      ASSERT_TRUE(w->os.isSuspended() && w->inStack(w->os.stackHot()));
    for (auto& w : workers)
      w->os.resume();
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  ::testing::Test::RecordProperty("elapsed_ms", int(elapsed.count()));
  // Typically 0.2-0.7 s (dev, asan and tsan alike on two cores). The bound only
  // catches a handshake that waits for timeouts; a loaded machine can take
  // seconds, and a deadlock never finishes.
  EXPECT_LT(elapsed, std::chrono::milliseconds(10000));
  for (auto& w : workers)
    w->join();
  for (auto& w : workers)
    EXPECT_GT(w->counter.load(), 0u);
}

TEST(OsThreadSuspend, FourThreadsAThousandTimesInBatches) {
  thousandRounds(true, 1);
}
TEST(OsThreadSuspend, FourThreadsAThousandTimesOneByOne) {
  thousandRounds(false, 1);
}

TEST(OsThreadSuspend, BatchSkipsExitedThreadsAndSharesDuplicates) {
  OsThread second;
  Worker w([&](Worker& self) {
    ASSERT_EQ(second.initCurrent(), Res::ok);
    self.phase.store(1);
    spin(self);
    second.finish();
  });
  ASSERT_TRUE(eventually([&] { return w.phase.load() == 1; }));
  Worker other(napper);
  OsThread gone;
  std::thread([&] { ASSERT_EQ(gone.initCurrent(), Res::ok); }).join();

  SuspendBatch batch;
  batch.add(&w.os);
  batch.add(&gone);
  batch.add(&second);  // the same thread as w: shares its stop
  batch.add(&other.os);
  EXPECT_EQ(batch.run(), 3u);
  EXPECT_TRUE(w.os.isSuspended());
  EXPECT_TRUE(second.isSuspended());
  EXPECT_TRUE(other.os.isSuspended());
  EXPECT_FALSE(gone.isSuspended());
  EXPECT_EQ(second.stackHot(), w.os.stackHot());
  unsigned long frozen = w.counter.load();
  w.os.resume();
  sleepMicros(5000);
  EXPECT_EQ(w.counter.load(), frozen);
  second.resume();
  other.os.resume();
  EXPECT_TRUE(eventually([&] { return w.counter.load() > frozen; }));
  // Batched again, now with one record already suspended by itself: shared.
  ASSERT_EQ(w.os.suspend(), Res::ok);
  SuspendBatch again;
  again.add(&second);
  EXPECT_EQ(again.run(), 1u);
  second.resume();
  w.os.resume();
  gone.finish();
}

// Two collectors at once, each also a registered thread that the other stops,
// and a worker registered with both.
TEST(OsThreadSuspend, TwoCollectorsStopEachOtherAndASharedThread) {
  OsThread workerForB;
  Worker shared([&](Worker& self) {
    ASSERT_EQ(workerForB.initCurrent(), Res::ok);
    self.phase.store(1);
    spin(self);
    workerForB.finish();
  });
  ASSERT_TRUE(eventually([&] { return shared.phase.load() == 1; }));

  OsThread collectorA, collectorB;
  std::atomic<int> registered{0};
  std::atomic<bool> go{false};
  constexpr int kRounds = 200;
  auto collect = [&](OsThread& self, OsThread& worker, OsThread& other) {
    ASSERT_EQ(self.initCurrent(), Res::ok);
    ++registered;
    while (!go.load())
      sleepMicros(100);
    for (int i = 0; i < kRounds; ++i) {
      ASSERT_EQ(worker.suspend(), Res::ok);
      ASSERT_EQ(other.suspend(), Res::ok);
      ASSERT_TRUE(shared.inStack(worker.stackHot()));
      other.resume();
      worker.resume();
    }
    ++registered;
    // Stay registered until the other is done with this thread.
    while (registered.load() < 4)
      sleepMicros(100);
  };
  std::thread a([&] { collect(collectorA, shared.os, collectorB); });
  std::thread b([&] { collect(collectorB, workerForB, collectorA); });
  ASSERT_TRUE(eventually([&] { return registered.load() == 2; }));
  go.store(true);
  a.join();
  b.join();
  collectorA.finish();
  collectorB.finish();
  EXPECT_FALSE(shared.os.isSuspended());
  unsigned long before = shared.counter.load();
  EXPECT_TRUE(eventually([&] { return shared.counter.load() > before; }));
  shared.join();
}

TEST(ScanWords, VisitsAlignedWordsAndStopsOnFailure) {
  Word words[6] = {1, 2, 3, 4, 5, 6};
  std::vector<Word> seen;
  EXPECT_EQ(scanWords(words, words + 6,
                      [&](Word w) {
                        seen.push_back(w);
                        return Res::ok;
                      }),
            Res::ok);
  EXPECT_EQ(seen, (std::vector<Word>{1, 2, 3, 4, 5, 6}));
  seen.clear();
  // Unaligned bounds are rounded inwards.
  const char* base = reinterpret_cast<const char*>(words) + 1;
  const char* limit = reinterpret_cast<const char*>(words + 5) + 3;
  EXPECT_EQ(scanWords(base, limit,
                      [&](Word w) {
                        seen.push_back(w);
                        return w == 4 ? Res::fail : Res::ok;
                      }),
            Res::fail);
  EXPECT_EQ(seen, (std::vector<Word>{2, 3, 4}));
}

}  // namespace
