// The operating-system half of a registered mutator thread (threads.md), for
// POSIX threads on Linux: recording a thread, stopping it with a signal so that
// its registers and stack can be scanned conservatively, and starting it again.
// The registry of threads, thread roots and the decision of whom to stop belong
// to the tracer (tracer/thread.hpp); this file only talks to the OS.
//
// Protocol in one paragraph (manual/design/protect.md, "Threads: suspension and
// context capture", has the details and the reasons). The suspender sends the
// suspend signal to the target's kernel thread id and waits on a futex word in
// the record. The target's handler spills its callee-saved registers, copies
// the interrupted register context, records an address in its own frame as the
// hot end of the stack, sets the word and waits in rt_sigsuspend, every signal
// blocked but the resume signal, until the resumer sets a flag (in the
// handler's frame) and sends the resume signal; it then returns. Suspends and
// resumes are serialised process-wide, and a thread stopped through one
// registration is not signalled again through another: the second registration
// shares the stop.
#pragma once

#include <pthread.h>

#include <cstddef>

#include "base/config.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"

// Functions that read words the sanitizers would call somebody else's: another
// thread's stack (racing, as far as TSan knows, with that thread's own writes),
// ASan's poisoned red zones between locals, and so on. A conservative scan reads
// all of them on purpose. (The two single-purpose attributes, rather than
// no_sanitize("address", "thread"), because every gcc and clang accepts them.)
#if defined(__GNUC__)
#define MPS_NO_SANITIZE_STACK_SCAN \
  __attribute__((no_sanitize_address)) __attribute__((no_sanitize_thread))
#else
#define MPS_NO_SANITIZE_STACK_SCAN
#endif

namespace mps::core {

// The signals used to stop and restart threads. Clients must neither handle nor
// block them in registered threads (threads.md). Chosen, as the reference and
// other collectors do, among signals programs rarely use; a build can pick
// others with -DCONFIG_PTHREADEXT_SIGSUSPEND=<n> / -DCONFIG_PTHREADEXT_SIGRESUME=<n>
// (the reference's names), or the CMake cache variables MPS_SIGSUSPEND and
// MPS_SIGRESUME.
int suspendSignal();
int resumeSignal();

class OsThread {
 public:
  OsThread() = default;
  OsThread(const OsThread&) = delete;             // rings and the handler refer to
  OsThread& operator=(const OsThread&) = delete;  // this address

  // Records the calling thread (its pthread and kernel ids and its stack
  // bounds) and, the first time in the process, installs the signal handlers.
  // Must run on the thread itself: only it can ask for its own stack and id.
  // Res::fail if the OS will not say where the stack is or the handlers cannot
  // be installed.
  Res initCurrent();
  // Forgets the thread. It must not be suspended. May run on any thread (a
  // forked child deregisters threads it does not have).
  void finish();

  bool isInitialised() const { return initialised_; }
  // True on the recorded thread: the tracer scans that one through
  // withCurrentContext instead of stopping it (a thread cannot stop itself).
  bool isCurrent() const;
  // Suspended through this record (perhaps sharing a stop made through
  // another registration of the same thread).
  bool isSuspended() const { return parker_ != nullptr; }

  // Stops the thread, which must not be the caller. On return the thread waits
  // in the signal handler, its register context is in the register block and
  // stackHot() is the hot end of its stack. Works whether the thread computes,
  // spins or blocks in a system call (the call is interrupted; with SA_RESTART
  // most are restarted afterwards). Res::fail if the thread has exited without
  // deregistering: the caller then skips it (there is nothing left to scan).
  // To stop several threads, SuspendBatch is faster.
  Res suspend();
  // Lets the thread continue (once no other registration of it is suspended).
  // Returns without waiting for the thread to run: the handler no longer refers
  // to this record, so it may be finished straight after, and a suspend that
  // follows at once is held back by the OS until the old handler has returned.
  void resume();

  // While suspended: the lowest address of the stack that may hold live data.
  // It lies in the signal handler's own frame, below the interrupted stack
  // pointer, its red zone (on x86-64 the 128 bytes below sp may hold live data)
  // and the kernel's saved context, so scanning [stackHot(), coldEnd) covers
  // all of them, and the handler's spill of the callee-saved registers too
  // (which is what holds them when ThreadSanitizer runs the handler late).
  // Null when not suspended.
  void* stackHot() const;
  // While suspended: a copy of the interrupted register context (integer
  // registers and, on x86-64, the SSE state that compilers also use for
  // pointers). Scanning it as well as the stack makes the scan independent of
  // where the kernel put the signal frame.
  const void* registersBase() const;
  const void* registersLimit() const;

  // The stack the thread had when it was recorded: [stackLow, stackCold).
  void* stackLow() const { return stackLow_; }
  void* stackCold() const { return stackCold_; }

 private:
  friend struct ThreadSignals;  // the signal handlers and the process-wide state
  friend class SuspendBatch;
#if defined(__x86_64__)
  static constexpr Size kRegisterBytes = 768;  // mcontext_t + struct _libc_fpstate
#else
  static constexpr Size kRegisterBytes = 4608;  // mcontext_t (aarch64: 4 KiB reserved)
#endif

  bool initialised_ = false;
  pthread_t id_{};
  int tid_ = 0;  // kernel thread id: the signal target, and exited threads are told apart
  void* stackLow_ = nullptr;
  void* stackCold_ = nullptr;

  // Handshake with the handler: set to 1 (and woken as a futex) when the
  // thread has stopped. A futex rather than a semaphore because the handler
  // must call nothing ThreadSanitizer intercepts (thread.cpp says why).
  int stopWord_ = 0;
  // While parking: the flag, in the handler's frame, that resume() sets.
  int* wakeCell_ = nullptr;

  // Whose stop this record is suspended through: this, another registration of
  // the same thread, or null when not suspended.
  OsThread* parker_ = nullptr;
  bool parking_ = false;                // this record's handler holds the thread stopped
  unsigned sharers_ = 0;                // other records suspended through this one's stop
  Ring<OsThread> suspendedRing_{this};  // in the process-wide ring while parker_ or parking_

  // Links of a SuspendBatch, and of the list the handlers search while it runs
  // (read there with atomic loads).
  OsThread* nextInBatch_ = nullptr;
  OsThread* batchLeader_ = nullptr;  // the record of the same thread that is signalled
  bool inBatch_ = false;
  bool answered_ = false;  // the signalled thread stopped

  // Written by the handler while the thread stops.
  void* hot_ = nullptr;
  Size registerSize_ = 0;
  alignas(16) std::byte registers_[kRegisterBytes];
};

// Stops several threads together: every signal is sent before any answer is
// awaited, so the world stops in about the time the slowest thread needs rather
// than the sum (with more runnable threads than cores, each answer can take a
// scheduling period: milliseconds). Records are linked through themselves, so
// building a batch never allocates. Usage:
//   SuspendBatch batch;
//   for each thread t: batch.add(&t);
//   batch.run();  // then t.isSuspended() unless t had exited (suspend() would fail)
// Each thread is later resumed on its own.
class SuspendBatch {
 public:
  SuspendBatch() = default;
  SuspendBatch(const SuspendBatch&) = delete;
  SuspendBatch& operator=(const SuspendBatch&) = delete;
  ~SuspendBatch();

  // Same preconditions as OsThread::suspend(); a record is added at most once.
  void add(OsThread* thread);
  // Stops them all and empties the batch. Returns how many are now suspended;
  // the others had exited.
  Size run();

 private:
  OsThread* first_ = nullptr;
};

// Runs visit(stackHot, registersBase, registersLimit, closure) on the calling
// thread with its callee-saved registers spilled to the stack and also saved in
// a register block (getcontext), so that scanning [stackHot, cold end) and the
// block sees every pointer the caller and its callers hold, in memory or in
// registers. The frames of visit itself lie below stackHot and are not part of
// the area. (The reference captures this context on entry to the MPS; here the
// tracer chooses the moment.)
using ContextVisitor = void (*)(void* stackHot, const void* registersBase,
                                const void* registersLimit, void* closure);
void withCurrentContext(ContextVisitor visit, void* closure);

// The cold end (highest address) of the calling thread's stack, from
// pthread_getattr_np. Null if the OS does not say. For tests and for the C++
// API, which registers thread roots without asking the client for an address.
void* currentStackColdEnd();
// Both bounds of the calling thread's stack: [*low, *cold). False if unknown.
bool currentStackBounds(void** low, void** cold);

// Calls fn(word) for each aligned word of [base, limit) (base rounded up and
// limit down to a word boundary), stopping at and returning the first result
// other than Res::ok. The words are read without sanitizer checks: stacks of
// stopped threads, register blocks and the caller's own stack, red zones and
// all. fn itself stays instrumented.
template <class Fn>
MPS_NO_SANITIZE_STACK_SCAN Res scanWords(const void* base, const void* limit, Fn&& fn) {
  const Word* p = reinterpret_cast<const Word*>(alignUp(wordOf(base), sizeof(Word)));
  const Word* end = reinterpret_cast<const Word*>(alignDown(wordOf(limit), sizeof(Word)));
  for (; p < end; ++p) {
    Res res = fn(*p);
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

}  // namespace mps::core
