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
