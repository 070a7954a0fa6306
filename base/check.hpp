// Assertions and structure signatures.
//
// MPS_AVER(cond)        checked builds only: an internal invariant or a client
//                       rule that costs something to verify.
// MPS_AVER_ALWAYS(cond) every build: cheap argument checks that protect the
//                       heap from corruption by a client mistake.
// MPS_AVERT(Type, p)    checked builds: p is a valid, initialised Type
//                       (non-null, right signature, check() holds).
//
// A failed assertion goes to the plinth (mps_lib_assert_fail), whose default
// handler prints "file:line: MPS++ ASSERTION FAILED: condition" and aborts. The
// condition text names the violated rule, so tests can expect it.
#pragma once

#include <cstdint>

#include "base/config.hpp"

namespace mps::core {

[[noreturn]] MPS_NOINLINE void assertFail(const char* file, unsigned line, const char* condition);

// A report composed at the point of failure, for client mistakes found at a
// public entry point: the rule, then where it was found and on what, e.g.
//   "thread has no thread roots: ... (in mps_thread_dereg: thread 0x5630a8c0
//    has 1 thread root)".
// Composed in a buffer on the stack (the report handler does not return), with
// no library call: the failing thread may have stopped others inside malloc.
// Text that does not fit is cut short.
class AssertReport {
 public:
  AssertReport() { buf_[0] = '\0'; }
  AssertReport(const AssertReport&) = delete;
  AssertReport& operator=(const AssertReport&) = delete;

  AssertReport& text(const char* s);
  AssertReport& address(const void* p);   // 0x followed by hex digits
  AssertReport& number(std::uint64_t n);  // decimal
  // " (in <function>: <kind> <address>" ending in ")" or continued by the
  // caller's text and a final text(")").
  AssertReport& in(const char* function, const char* kind, const void* object);
  const char* str() const { return buf_; }
  [[noreturn]] MPS_NOINLINE void fail(const char* file, unsigned line) const;

 private:
  static constexpr unsigned kSize = 320;
  char buf_[kSize];
  unsigned len_ = 0;
};

// `rule` broken by the client in the public function `function`, on the
// object `object` (of the kind the reference calls it: "thread", "pool",
// "allocation point").
[[noreturn]] MPS_NOINLINE void misuseFail(const char* file, unsigned line, const char* rule,
                                          const char* function, const char* kind,
                                          const void* object);

// A signature is a 32-bit constant stored first in each core object while it
// is valid and cleared when it is finished, so stale or foreign pointers are
// caught by check() in checked builds.
using Sig = std::uint32_t;
constexpr Sig kSigInvalid = 0x51915BADu;

// Marks an object dead as its life ends. The store is volatile because in a
// destructor the compiler may otherwise drop it as dead (-flifetime-dse), and
// a stale handle would then still pass the signature check.
inline void invalidateSig(Sig& sig) {
  *static_cast<volatile Sig*>(&sig) = kSigInvalid;
}

// A pointer to a live, consistent T: non-null, T's signature, check() holds.
// (A function, not a macro, so `this` can be passed without a warning.)
template <class T>
inline bool isValid(const T* p) {
  return p != nullptr && p->sig == T::kSig && p->check();
}

}  // namespace mps::core

#define MPS_AVER_ALWAYS(cond) \
  (MPS_LIKELY(cond) ? (void)0 : ::mps::core::assertFail(__FILE__, __LINE__, #cond))

#if MPS_CHECKED
#define MPS_AVER(cond) MPS_AVER_ALWAYS(cond)
#define MPS_AVERT(Type, p)                   \
  (MPS_LIKELY(::mps::core::isValid<Type>(p)) \
       ? (void)0                             \
       : ::mps::core::assertFail(__FILE__, __LINE__, "check of " #Type " " #p))
#else
#define MPS_AVER(cond) ((void)0)
#define MPS_AVERT(Type, p) ((void)0)
#endif

// Inside check() methods: returns false (so the caller's MPS_AVERT reports)
// and, in checked builds, reports the exact failing clause first.
#define MPS_CHECKL(cond)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      ::mps::core::assertFail(__FILE__, __LINE__, #cond); \
    }                                                     \
  } while (0)
