#include "protect/thread.hpp"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <mutex>

#include "base/check.hpp"
#include "protect/lock.hpp"

// The reference's configuration names, so a build script written for it works here.
#ifndef CONFIG_PTHREADEXT_SIGSUSPEND
#define CONFIG_PTHREADEXT_SIGSUSPEND SIGXCPU
#endif
#ifndef CONFIG_PTHREADEXT_SIGRESUME
#define CONFIG_PTHREADEXT_SIGRESUME SIGXFSZ
#endif

namespace mps::core {

int suspendSignal() { return CONFIG_PTHREADEXT_SIGSUSPEND; }
int resumeSignal() { return CONFIG_PTHREADEXT_SIGRESUME; }

namespace {

static_assert(CONFIG_PTHREADEXT_SIGSUSPEND != CONFIG_PTHREADEXT_SIGRESUME,
              "suspend and resume need two different signals");

// Bytes below the stack pointer that compiled code may use without moving it:
// the x86-64 System V ABI grants leaf code 128; AArch64 grants none.
#if defined(__x86_64__)
constexpr Size kRedZone = 128;
#else
constexpr Size kRedZone = 0;
#endif

// What the handler copies out of the interrupted context.
struct RegisterImage {
  mcontext_t context;
#if defined(__x86_64__)
  // On x86-64 the SSE registers live outside mcontext_t (it holds a pointer to
  // them, in the kernel's signal frame). Compilers move pointers through them
  // (copying a pair of pointers, say), so they are copied too.
  struct _libc_fpstate fp;
#endif
};

// Under ThreadSanitizer the handler may run long after the signal arrived (TSan
// defers asynchronous signals to the next interceptor or atomic operation) with
// a copy of the context taken on arrival: its registers are stale and its
// pointer to the SSE state points into a signal frame that is gone. The stack
// scan from the handler's frame covers the thread's live state anyway.
#if defined(__SANITIZE_THREAD__)
constexpr bool kContextIsCurrent = false;
#else
constexpr bool kContextIsCurrent = true;
#endif

// Word copy without sanitizer checks or a call to memcpy (the kernel's signal
// frame is not memory the sanitizers know about, and this runs in a signal
// handler). The volatile store keeps the compiler from turning it into memcpy.
MPS_NO_SANITIZE_STACK_SCAN void copyWords(void* to, const void* from, Size bytes) {
  volatile Word* d = static_cast<volatile Word*>(to);
  const Word* s = static_cast<const Word*>(from);
  for (Size i = 0; i < bytes / sizeof(Word); ++i) d[i] = s[i];
}

// Copies the interrupted registers into `block`; returns the bytes used.
Size captureRegisters(std::byte* block, const ucontext_t* uc) {
  auto* image = reinterpret_cast<RegisterImage*>(block);
  copyWords(&image->context, &uc->uc_mcontext, sizeof(image->context));
#if defined(__x86_64__)
  if (kContextIsCurrent && uc->uc_mcontext.fpregs != nullptr) {
    copyWords(&image->fp, uc->uc_mcontext.fpregs, sizeof(image->fp));
    return sizeof(RegisterImage);
  }
  return offsetof(RegisterImage, fp);
#else
  return sizeof(RegisterImage);
#endif
}

// The stack pointer of the interrupted code, or null where unknown.
void* interruptedStackPointer(const ucontext_t* uc) {
#if defined(__x86_64__)
  return reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return reinterpret_cast<void*>(uc->uc_mcontext.sp);
#else
  (void)uc;
  return nullptr;
#endif
}

bool stackBoundsOf(pthread_t thread, void** low, void** cold) {
  pthread_attr_t attr;
  if (::pthread_getattr_np(thread, &attr) != 0) return false;
  void* base = nullptr;
  size_t size = 0;
  int err = ::pthread_attr_getstack(&attr, &base, &size);
  ::pthread_attr_destroy(&attr);
  if (err != 0 || base == nullptr || size == 0) return false;
  *low = base;
  *cold = static_cast<std::byte*>(base) + size;
  return true;
}

bool threadExists(int tid) {
  // Signal 0 checks the target without sending anything. The kernel id of an
  // exited thread is gone (until reused, which takes a trip round pid_max),
  // whereas a stale pthread_t may even name a new thread.
  return ::tgkill(::getpid(), tid, 0) == 0 || errno != ESRCH;
}

}  // namespace

// The signal handlers and everything they share with suspend() and resume().
struct ThreadSignals {
  static_assert(sizeof(RegisterImage) <= OsThread::kRegisterBytes,
                "OsThread::registers_ too small for this platform's context");

  // Serialises every suspend and resume in the process: the handlers find
  // their records in `pending`, which one batch publishes at a time, and the
  // ring of suspended records is shared by all collectors. A Lock rather than a
  // mutex because its waiters spin on atomics and sleep in nanosleep: a waiter
  // that is itself about to be suspended by the holder then still takes the
  // signal under ThreadSanitizer, which delays signals across a blocked
  // pthread_mutex_lock.
  static Lock lock;
  // Every record that is suspended or whose handler holds its thread stopped.
  static Ring<OsThread> suspended;
  // The records being stopped now, linked through nextInBatch_; searched by
  // the handlers for their own thread.
  static std::atomic<OsThread*> pending;

  static bool install();
  static void onSuspend(int sig, siginfo_t* info, void* context);
  static void onResume(int, siginfo_t*, void*) {}  // only ends sigsuspend
  static void park(OsThread* t, const ucontext_t* uc);
  static OsThread* findParking(int tid);
  static bool awaitStop(OsThread* t);
  static void share(OsThread* t, OsThread* parking);
  static void restart(OsThread* t);

  static void beforeFork() { lock.claim(); }
  static void afterForkInParent() { lock.release(); }
  static void afterForkInChild();
};

Lock ThreadSignals::lock;
Ring<OsThread> ThreadSignals::suspended;
std::atomic<OsThread*> ThreadSignals::pending{nullptr};

bool ThreadSignals::install() {
  static std::once_flag once;
  static bool installed = false;
  std::call_once(once, [] {
    struct sigaction sa = {};
    // Every signal is blocked in the handlers: a client handler that ran on a
    // thread after it reported itself stopped could touch the heap while the
    // collector works. The resume signal is let through only in sigsuspend.
    sigfillset(&sa.sa_mask);
    // SA_RESTART so that most system calls the signal interrupts carry on
    // afterwards instead of failing with EINTR in the client.
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = onSuspend;
    bool ok = ::sigaction(suspendSignal(), &sa, nullptr) == 0;
    sa.sa_sigaction = onResume;
    ok = ok && ::sigaction(resumeSignal(), &sa, nullptr) == 0;
    // A fork while another thread is half way through a handshake would leave
    // the child's lock held for ever.
    ok = ok && ::pthread_atfork(beforeFork, afterForkInParent, afterForkInChild) == 0;
    installed = ok;
  });
  return installed;
}

// Async-signal-safe from here to the end of park(): atomics, gettid, sem_post,
// sigfillset/sigdelset, sigsuspend, and errno is put back.
void ThreadSignals::onSuspend(int, siginfo_t*, void* context) {
  int savedErrno = errno;
  // A suspend signal that is not ours (raised by RLIMIT_CPU, or sent by hand)
  // is ignored: the handshake only stops threads that `pending` names.
  OsThread* t = pending.load(std::memory_order_acquire);
  if (t != nullptr) {
    int self = ::gettid();
    while (t != nullptr && t->tid_ != self) t = t->nextInBatch_.load(std::memory_order_relaxed);
  }
  if (t != nullptr) {
    // Spill the callee-saved registers into this frame, which is above park's
    // and so inside the scanned stack. Under TSan the handler runs from the
    // runtime rather than at the interruption, and these registers are then the
    // only copy of what the interrupted code kept in them.
    __builtin_unwind_init();
    park(t, static_cast<const ucontext_t*>(context));
  }
  errno = savedErrno;
}

MPS_NOINLINE void ThreadSignals::park(OsThread* t, const ucontext_t* uc) {
  // The hot end is this frame: below it there is nothing of the client's, above
  // it are the handler's spills, the kernel's signal frame (the whole
  // interrupted context), the red zone and the interrupted frames.
  void* hot = __builtin_frame_address(0);
  auto inStack = [t](void* p) { return p >= t->stackLow_ && p < t->stackCold_; };
  if (!inStack(hot)) {
    // The thread was running on an alternate signal stack (a SIGSEGV handler
    // installed with SA_ONSTACK, say), so this frame is there too. Fall back to
    // the interrupted stack pointer if it is on the thread's stack, else scan
    // the whole recorded stack. Frames on the alternate stack are not scanned.
    std::byte* sp = static_cast<std::byte*>(interruptedStackPointer(uc));
    hot = sp != nullptr && inStack(sp - kRedZone) ? sp - kRedZone : t->stackLow_;
  }
  // The resumer wakes the thread through a flag in this frame, not in the
  // record: after the post below the handler never touches the record again,
  // so resume() need not wait for the thread to leave, and the record may be
  // finished (even by another thread) as soon as resume() returns.
  std::atomic<int> wake{0};
  t->wakeCell_ = &wake;
  t->hot_ = hot;
  t->registerSize_ = captureRegisters(t->registers_, uc);
  ::sem_post(&t->ack_);  // stopped: the suspender may look now

  sigset_t waitMask;
  ::sigfillset(&waitMask);
  ::sigdelset(&waitMask, resumeSignal());
  // The flag is the truth and the signal only the wake-up: a resume signal that
  // arrives before sigsuspend stays pending (blocked here) and ends it at once;
  // a stale one left over from an earlier stop ends it early, and the loop
  // waits again.
  while (wake.load(std::memory_order_acquire) == 0) ::sigsuspend(&waitMask);
}

void ThreadSignals::afterForkInChild() {
  // Only the forking thread exists in the child, and it was not stopped: no
  // thread is, whatever the parent's collectors had stopped, so every record
  // reads as not suspended (the child can then deregister them).
  suspended.forEach([](OsThread* t) {
    t->suspendedRing_.remove();
    t->parker_ = nullptr;
    t->parking_ = false;
    t->sharers_ = 0;
  });
  lock.release();
}

OsThread* ThreadSignals::findParking(int tid) {
  OsThread* found = nullptr;
  suspended.forEach([&](OsThread* t) {
    if (t->parking_ && t->tid_ == tid) found = t;
  });
  return found;
}

// Waits for the signalled thread to answer; false if it has gone.
bool ThreadSignals::awaitStop(OsThread* t) {
  for (;;) {
    // Wait in short slices: a thread that was exiting when the signal came
    // has already blocked signals and will never answer, and only its
    // disappearance tells.
    struct timespec deadline;
    ::clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 10 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000 * 1000 * 1000) {
      deadline.tv_nsec -= 1000 * 1000 * 1000;
      ++deadline.tv_sec;
    }
    if (::sem_timedwait(&t->ack_, &deadline) == 0) return true;
    MPS_AVER(errno == ETIMEDOUT || errno == EINTR);
    if (errno == ETIMEDOUT && !threadExists(t->tid_)) return false;
  }
}

// Suspends t through the stop `parking` holds (possibly its own, kept by
// sharers after t was resumed).
void ThreadSignals::share(OsThread* t, OsThread* parking) {
  if (parking != t) {
    ++parking->sharers_;
    suspended.append(&t->suspendedRing_);
  }
  t->parker_ = parking;
}

void ThreadSignals::restart(OsThread* t) {
  std::atomic<int>* wake = t->wakeCell_;
  t->wakeCell_ = nullptr;
  // No waiting for the thread to leave the handler: on a busy machine that
  // costs a scheduling round trip per thread (measured: milliseconds each with
  // more runnable threads than cores). A suspend that follows at once finds the
  // suspend signal blocked until the old handler returns, then parks afresh.
  wake->store(1, std::memory_order_release);
  // From here the frame holding `wake` may be gone, and even the thread, if a
  // stray resume signal woke it first: ESRCH is then no error.
  int err = ::tgkill(::getpid(), t->tid_, resumeSignal());
  MPS_AVER(err == 0 || errno == ESRCH);
  (void)err;
}

Res OsThread::initCurrent() {
  MPS_AVER(!initialised_);
  if (!ThreadSignals::install()) return Res::fail;
  if (!stackBoundsOf(::pthread_self(), &stackLow_, &stackCold_)) return Res::fail;
#if MPS_CHECKED
  sigset_t blocked;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &blocked);
  MPS_AVER(!sigismember(&blocked, suspendSignal()) &&
           "a registered thread does not block the suspend signal");
#endif
  if (::sem_init(&ack_, 0, 0) != 0) return Res::fail;
  id_ = ::pthread_self();
  tid_ = ::gettid();
  wakeCell_ = nullptr;
  parker_ = nullptr;
  parking_ = false;
  sharers_ = 0;
  hot_ = nullptr;
  registerSize_ = 0;
  initialised_ = true;
  return Res::ok;
}

void OsThread::finish() {
  MPS_AVER(initialised_);
  MPS_AVER(!isSuspended() && !parking_ && "a thread is resumed before it is deregistered");
  ::sem_destroy(&ack_);
  initialised_ = false;
  tid_ = 0;
}

bool OsThread::isCurrent() const {
  return initialised_ && ::pthread_equal(::pthread_self(), id_) != 0;
}

Res OsThread::suspend() {
  SuspendBatch batch;
  batch.add(this);
  return batch.run() == 1 ? Res::ok : Res::fail;
}

SuspendBatch::~SuspendBatch() { MPS_AVER(first_ == nullptr && "a batch is run, not dropped"); }

void SuspendBatch::add(OsThread* thread) {
  MPS_AVER(thread->initialised_);
  MPS_AVER(!thread->isCurrent() && "a thread does not suspend itself");
  MPS_AVER(!thread->isSuspended());
  MPS_AVER(!thread->inBatch_);
  thread->inBatch_ = true;
  thread->nextInBatch_.store(first_, std::memory_order_relaxed);
  first_ = thread;
}

Size SuspendBatch::run() {
  using S = ThreadSignals;
  auto next = [](OsThread* t) { return t->nextInBatch_.load(std::memory_order_relaxed); };
  auto link = [](OsThread* t, OsThread* n) { t->nextInBatch_.store(n, std::memory_order_relaxed); };
  auto findIn = [&](OsThread* list, int tid) {
    while (list != nullptr && list->tid_ != tid) list = next(list);
    return list;
  };
  LockGuard guard(S::lock);

  // Sort the records: a thread already stopped (through another registration,
  // or through this one, resumed while others still share the stop) is shared,
  // not signalled again: it blocks the signal and would never answer. Of several
  // records of one thread in the batch, only the first is signalled.
  OsThread* signal = nullptr;  // to signal
  OsThread* follow = nullptr;  // to share the stop of their batchLeader_ in `signal`
  Size stopped = 0;
  for (OsThread *t = first_, *n; t != nullptr; t = n) {
    n = next(t);
    if (OsThread* parking = S::findParking(t->tid_)) {
      S::share(t, parking);
      ++stopped;
      link(t, nullptr);
      t->inBatch_ = false;
    } else if (OsThread* leader = findIn(signal, t->tid_)) {
      t->batchLeader_ = leader;
      link(t, follow);
      follow = t;
    } else {
      link(t, signal);
      signal = t;
    }
  }
  first_ = nullptr;

  if (signal != nullptr) {
    // Publish the list before the first signal: any handler may search it.
    S::pending.store(signal, std::memory_order_release);
    for (OsThread* t = signal; t != nullptr; t = next(t))
      // ESRCH: exited without deregistering. It is not waited for.
      t->stopped_ = ::tgkill(::getpid(), t->tid_, suspendSignal()) == 0;
    for (OsThread* t = signal; t != nullptr; t = next(t))
      if (t->stopped_) t->stopped_ = S::awaitStop(t);
    S::pending.store(nullptr, std::memory_order_release);
  }
  for (OsThread *t = signal, *n; t != nullptr; t = n) {
    n = next(t);
    link(t, nullptr);
    t->inBatch_ = false;
    if (t->stopped_) {
      t->parking_ = true;
      t->parker_ = t;
      S::suspended.append(&t->suspendedRing_);
      ++stopped;
    }
    t->stopped_ = false;
  }
  for (OsThread *t = follow, *n; t != nullptr; t = n) {
    n = next(t);
    link(t, nullptr);
    t->inBatch_ = false;
    if (t->batchLeader_->parking_) {
      S::share(t, t->batchLeader_);
      ++stopped;
    }
    t->batchLeader_ = nullptr;
  }
  return stopped;
}

void OsThread::resume() {
  MPS_AVER(isSuspended());
  LockGuard guard(ThreadSignals::lock);
  OsThread* parking = parker_;
  parker_ = nullptr;
  if (parking != this) {
    MPS_AVER(parking->sharers_ > 0);
    --parking->sharers_;
    suspendedRing_.remove();
  }
  // The thread runs again only when no record is suspended through its stop.
  if (parking->parker_ == nullptr && parking->sharers_ == 0) {
    ThreadSignals::restart(parking);
    parking->parking_ = false;
    parking->suspendedRing_.remove();
  }
}

void* OsThread::stackHot() const { return parker_ != nullptr ? parker_->hot_ : nullptr; }

const void* OsThread::registersBase() const {
  return parker_ != nullptr ? parker_->registers_ : nullptr;
}

const void* OsThread::registersLimit() const {
  return parker_ != nullptr ? parker_->registers_ + parker_->registerSize_ : nullptr;
}

namespace {

// Below withCurrentContext's frame, so the area handed to visit starts under
// the spilled registers and the saved context.
MPS_NOINLINE void visitFromBelow(ContextVisitor visit, const ucontext_t* uc, void* closure) {
  visit(__builtin_frame_address(0), uc, uc + 1, closure);
}

}  // namespace

MPS_NOINLINE void withCurrentContext(ContextVisitor visit, void* closure) {
  ucontext_t uc;
  // Two copies of the callee-saved registers, both needed: the spill puts them
  // in this frame, inside the scanned stack; getcontext puts them in a block
  // the caller scans separately, which still works if the sanitizers move this
  // frame's locals off the stack. (setjmp would do less: glibc mangles the
  // frame pointer it saves, and the frame pointer may hold a pointer.)
  __builtin_unwind_init();
  int err = ::getcontext(&uc);
  MPS_AVER(err == 0);
  (void)err;
  visitFromBelow(visit, &uc, closure);
  // Keep uc and this frame alive across the call (no tail call).
  asm volatile("" : : "r"(&uc) : "memory");
}

bool currentStackBounds(void** low, void** cold) {
  return stackBoundsOf(::pthread_self(), low, cold);
}

void* currentStackColdEnd() {
  void *low, *cold;
  return currentStackBounds(&low, &cold) ? cold : nullptr;
}

}  // namespace mps::core
