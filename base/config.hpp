// Build configuration shared by every module.
//
// MPS_CHECKED is defined (to 1) in the checked flavour: structure signatures,
// check() at every public entry and the costly consistency checks are compiled
// in. The release flavour defines it to 0 and keeps only cheap argument checks.
#pragma once

#ifndef MPS_CHECKED
#define MPS_CHECKED 1
#endif

// Fast paths are forced inline and their slow paths kept out of line, so the
// common case is a handful of instructions with no call.
#define MPS_FORCE_INLINE inline __attribute__((always_inline))
#define MPS_NOINLINE __attribute__((noinline))
#define MPS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPS_UNLIKELY(x) __builtin_expect(!!(x), 0)

// ThreadSanitizer builds. TSan sees only the synchronisation it instruments:
// hand-offs made through code it cannot see (an uninstrumented oneTBB's task
// queues, a signal handler's raw futex) are declared to it with these two
// annotations, a release on an address by the giver and an acquire on the same
// address by the taker. Elsewhere they compile to nothing.
#if defined(__SANITIZE_THREAD__)
#define MPS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPS_TSAN 1
#endif
#endif
#ifndef MPS_TSAN
#define MPS_TSAN 0
#endif

#if MPS_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#define MPS_HAPPENS_BEFORE(addr) __tsan_release((void*)(addr))
#define MPS_HAPPENS_AFTER(addr) __tsan_acquire((void*)(addr))
#else
#define MPS_HAPPENS_BEFORE(addr) ((void)(addr))
#define MPS_HAPPENS_AFTER(addr) ((void)(addr))
#endif
