#include "protect/thread.hpp"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
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

// ThreadSanitizer and the handshake.
//
// TSan runs the handler of an asynchronous signal only at the thread's next
// interceptor or atomic operation (at once if the thread is inside a blocking
// call it knows, such as nanosleep or pthread_cond_wait). It does so from a
// routine that clears the thread's "signals pending" flag, blocks every signal
// (saving the old mask in per-thread state), runs the pending handlers and puts
// the saved mask back. Two consequences shape the code below; a third problem
// is worked around in initCurrent().
//
//  * The routine is not reentrant: if the handler calls an interceptor
//    (sem_post, sigsuspend) or an instrumented atomic while the flag is set
//    again (a signal slipped in between the flag being cleared and the mask
//    being set, or the resume signal arrived during the wait), the routine runs
//    nested, overwrites the saved mask with "all blocked", and the thread leaves
//    the outer run with every signal blocked: it can never be suspended again.
//    (Seen here: with sigsuspend almost every time, with sem_post now and
//    then.) So the handler is invisible to TSan: uninstrumented functions,
//    __atomic builtins, raw system calls (futex, rt_sigsuspend). The
//    happens-before edges TSan must see (the mutator's work before the
//    collector's scan, the collector's work before the mutator runs on) are
//    declared with __tsan_release / __tsan_acquire, which deliver no signals
//    and are safe where TSan runs handlers.
//  * The context the handler receives is a copy taken when the signal arrived:
//    its registers are stale and its pointer to the SSE state points into a
//    signal frame that is gone. The stack scan from the handler's frame covers
//    the thread's live state (TSan's frames in between hold any callee-saved
//    register the interrupted code had).
// (MPS_HAPPENS_BEFORE / MPS_HAPPENS_AFTER, base/config.hpp.)

// Code that runs in the handler, or touches what the handler touches: no
// sanitizer instrumentation (see above; ASan gains nothing in a handler).
#define MPS_SIGNAL_CODE MPS_NO_SANITIZE_STACK_SCAN

namespace mps::core {

int suspendSignal() {
  return CONFIG_PTHREADEXT_SIGSUSPEND;
}
int resumeSignal() {
  return CONFIG_PTHREADEXT_SIGRESUME;
}

namespace {

static_assert(CONFIG_PTHREADEXT_SIGSUSPEND != CONFIG_PTHREADEXT_SIGRESUME,
              "suspend and resume need two different signals");

#if MPS_TSAN
constexpr bool kContextIsCurrent = false;
#else
constexpr bool kContextIsCurrent = true;
#endif

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

// The kernel's sigset_t is one bit per signal (8 bytes on Linux), not glibc's.
constexpr size_t kKernelSigsetBytes = (NSIG - 1) / 8;

// Every signal blocked but the resume signal: the mask for the wait, built once
// at installation so that the handler calls nothing to build it.
sigset_t gWaitMask;

template <class T>
MPS_SIGNAL_CODE T* loadAcquire(T* const* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
template <class T>
MPS_SIGNAL_CODE void storeRelease(T** p, T* value) {
  __atomic_store_n(p, value, __ATOMIC_RELEASE);
}
MPS_SIGNAL_CODE int loadAcquire(const int* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
MPS_SIGNAL_CODE void storeRelease(int* p, int value) {
  __atomic_store_n(p, value, __ATOMIC_RELEASE);
}

MPS_SIGNAL_CODE void futexWake(int* word) {
  ::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// Waits while *word == expected, at most `nanos`.
void futexWait(int* word, int expected, long nanos) {
  struct timespec timeout = {0, nanos};
  ::syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, &timeout, nullptr, 0);
}

// Word copy without sanitizer checks or a call to memcpy (this runs in the
// handler, on the kernel's signal frame). The volatile store keeps the compiler
// from turning the loop into memcpy.
MPS_SIGNAL_CODE void copyWords(void* to, const void* from, Size bytes) {
  volatile Word* d = static_cast<volatile Word*>(to);
  const Word* s = static_cast<const Word*>(from);
  for (Size i = 0; i < bytes / sizeof(Word); ++i)
    d[i] = s[i];
}

// Copies the interrupted registers into `block`; returns the bytes used.
MPS_SIGNAL_CODE Size captureRegisters(std::byte* block, const ucontext_t* uc) {
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
MPS_SIGNAL_CODE void* interruptedStackPointer(const ucontext_t* uc) {
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
  // that the holder is about to stop then still takes the signal under TSan,
  // which holds signals back across a blocked pthread_mutex_lock.
  static Lock lock;
  // Every record that is suspended or whose handler holds its thread stopped.
  static Ring<OsThread> suspended;
  // The records being stopped now, linked through nextInBatch_; searched by
  // the handlers for their own thread. Accessed with loadAcquire/storeRelease.
  static OsThread* pending;

  static bool install();
  static void onSuspend(int sig, siginfo_t* info, void* context);
  static void onResume(int, siginfo_t*, void*) {}  // only ends the wait
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
OsThread* ThreadSignals::pending = nullptr;

bool ThreadSignals::install() {
  static std::once_flag once;
  static bool installed = false;
  std::call_once(once, [] {
    sigfillset(&gWaitMask);
    sigdelset(&gWaitMask, resumeSignal());
    struct sigaction sa = {};
    // Every signal is blocked in the handlers: a client handler that ran on a
    // thread after it reported itself stopped could touch the heap while the
    // collector works. The resume signal is let through only in the wait.
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

// Async-signal-safe from here to the end of park(): __atomic builtins, gettid,
// raw futex and rt_sigsuspend system calls; errno is put back.
MPS_SIGNAL_CODE void ThreadSignals::onSuspend(int, siginfo_t*, void* context) {
  int savedErrno = errno;
  // A suspend signal that is not ours (raised by RLIMIT_CPU, or sent by hand)
  // is ignored: the handshake only stops threads that `pending` names.
  OsThread* t = loadAcquire(&pending);
  if (t != nullptr) {
    int self = ::gettid();
    while (t != nullptr && t->tid_ != self)
      t = loadAcquire(&t->nextInBatch_);
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

MPS_NOINLINE MPS_SIGNAL_CODE void ThreadSignals::park(OsThread* t, const ucontext_t* uc) {
  // The hot end is this frame: below it there is nothing of the client's, above
  // it are the handler's spills, the kernel's signal frame (the whole
  // interrupted context), the red zone and the interrupted frames.
  std::byte* hot = static_cast<std::byte*>(__builtin_frame_address(0));
  std::byte* low = static_cast<std::byte*>(t->stackLow_);
  std::byte* cold = static_cast<std::byte*>(t->stackCold_);
  if (!(hot >= low && hot < cold)) {
    // The thread was running on an alternate signal stack (a SIGSEGV handler
    // installed with SA_ONSTACK, say), so this frame is there too. Fall back to
    // the interrupted stack pointer if it is on the thread's stack, else scan
    // the whole recorded stack. Frames on the alternate stack are not scanned.
    std::byte* sp = static_cast<std::byte*>(interruptedStackPointer(uc));
    hot = sp != nullptr && sp - kRedZone >= low && sp < cold ? sp - kRedZone : low;
  }
  // The resumer wakes the thread through a flag in this frame, not in the
  // record: after the store below the handler never touches the record again
  // (but for the futex wake-up, which only names its address), so resume()
  // need not wait for the thread to leave, and the record may be finished,
  // even by another thread, as soon as resume() returns.
  int wake = 0;
  t->wakeCell_ = &wake;
  t->hot_ = hot;
  t->registerSize_ = captureRegisters(t->registers_, uc);
  MPS_HAPPENS_BEFORE(&t->stopWord_);  // this thread's work before the collector's
  storeRelease(&t->stopWord_, 1);     // stopped: the suspender may look now
  futexWake(&t->stopWord_);

  // The flag is the truth and the signal only the wake-up: a resume signal that
  // arrives before the wait stays pending (blocked here) and ends it at once;
  // a stale one left over from an earlier stop ends it early, and the loop
  // waits again. (The raw system call is also no cancellation point.)
  while (loadAcquire(&wake) == 0)
    ::syscall(SYS_rt_sigsuspend, &gWaitMask, kKernelSigsetBytes);
  MPS_HAPPENS_AFTER(&wake);  // the collector's work before this thread's
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
  while (loadAcquire(&t->stopWord_) == 0) {
    // Wait in short slices: a thread that was exiting when the signal came
    // has already blocked signals and will never answer, and only its
    // disappearance tells.
    futexWait(&t->stopWord_, 0, 10 * 1000 * 1000);
    if (loadAcquire(&t->stopWord_) == 0 && !threadExists(t->tid_)) return false;
  }
  MPS_HAPPENS_AFTER(&t->stopWord_);
  return true;
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
  int* wake = t->wakeCell_;
  int tid = t->tid_;
  t->wakeCell_ = nullptr;
  // No waiting for the thread to leave the handler: on a busy machine that
  // costs a scheduling round trip per thread (measured: milliseconds each with
  // more runnable threads than cores). A suspend that follows at once finds the
  // suspend signal blocked until the old handler returns, then parks afresh.
  MPS_HAPPENS_BEFORE(wake);
  storeRelease(wake, 1);
  // Neither *t nor *wake is touched from here: a stray resume signal may
  // already have woken the thread, which may have finished its record, left
  // the handler's frame, or even exited (hence ESRCH is no error).
  int err = ::tgkill(::getpid(), tid, resumeSignal());
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
#if MPS_TSAN
  // TSan allocates its per-thread signal state on first use, and (in gcc 12's
  // runtime at least) not atomically: a signal arriving while a fresh thread
  // allocates it (in its first nanosleep, say) is recorded in a second copy
  // that is then dropped, and the stop is lost. Signal 0 through the
  // intercepted pthread_kill makes the runtime allocate it now, before any
  // collector can signal this thread.
  ::pthread_kill(::pthread_self(), 0);
#endif
  id_ = ::pthread_self();
  tid_ = ::gettid();
  stopWord_ = 0;
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
    // Bookkeeping first: restart()'s release store publishes it to the thread,
    // which may finish its record as soon as it runs.
    parking->parking_ = false;
    parking->suspendedRing_.remove();
    ThreadSignals::restart(parking);
  }
}

void* OsThread::stackHot() const {
  return parker_ != nullptr ? parker_->hot_ : nullptr;
}

const void* OsThread::registersBase() const {
  return parker_ != nullptr ? parker_->registers_ : nullptr;
}

const void* OsThread::registersLimit() const {
  return parker_ != nullptr ? parker_->registers_ + parker_->registerSize_ : nullptr;
}

SuspendBatch::~SuspendBatch() {
  MPS_AVER(first_ == nullptr && "a batch is run, not dropped");
}

void SuspendBatch::add(OsThread* thread) {
  MPS_AVER(thread->initialised_);
  MPS_AVER(!thread->isCurrent() && "a thread does not suspend itself");
  MPS_AVER(!thread->isSuspended());
  MPS_AVER(!thread->inBatch_);
  thread->inBatch_ = true;
  thread->nextInBatch_ = first_;
  first_ = thread;
}

Size SuspendBatch::run() {
  using S = ThreadSignals;
  auto findIn = [](OsThread* list, int tid) {
    while (list != nullptr && list->tid_ != tid)
      list = list->nextInBatch_;
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
  for (OsThread *t = first_, *next; t != nullptr; t = next) {
    next = t->nextInBatch_;
    if (OsThread* parking = S::findParking(t->tid_)) {
      S::share(t, parking);
      ++stopped;
      t->nextInBatch_ = nullptr;
      t->inBatch_ = false;
    } else if (OsThread* leader = findIn(signal, t->tid_)) {
      t->batchLeader_ = leader;
      t->nextInBatch_ = follow;
      follow = t;
    } else {
      t->nextInBatch_ = signal;
      signal = t;
    }
  }
  first_ = nullptr;

  if (signal != nullptr) {
    for (OsThread* t = signal; t != nullptr; t = t->nextInBatch_)
      storeRelease(&t->stopWord_, 0);
    // Publish the list before the first signal: any handler may search it.
    storeRelease(&S::pending, signal);
    for (OsThread* t = signal; t != nullptr; t = t->nextInBatch_)
      // ESRCH: exited without deregistering. It is not waited for.
      t->answered_ = ::tgkill(::getpid(), t->tid_, suspendSignal()) == 0;
    for (OsThread* t = signal; t != nullptr; t = t->nextInBatch_)
      if (t->answered_) t->answered_ = S::awaitStop(t);
    storeRelease(&S::pending, static_cast<OsThread*>(nullptr));
  }
  for (OsThread *t = signal, *next; t != nullptr; t = next) {
    next = t->nextInBatch_;
    storeRelease(&t->nextInBatch_, static_cast<OsThread*>(nullptr));
    t->inBatch_ = false;
    if (t->answered_) {
      t->parking_ = true;
      t->parker_ = t;
      S::suspended.append(&t->suspendedRing_);
      ++stopped;
    }
    t->answered_ = false;
  }
  for (OsThread *t = follow, *next; t != nullptr; t = next) {
    next = t->nextInBatch_;
    t->nextInBatch_ = nullptr;
    t->inBatch_ = false;
    if (t->batchLeader_->parking_) {
      S::share(t, t->batchLeader_);
      ++stopped;
    }
    t->batchLeader_ = nullptr;
  }
  return stopped;
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
