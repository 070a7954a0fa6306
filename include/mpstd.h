/* mpstd.h: MPS++ platform detection (compat-notes.md, "Platform header").
 *
 * Not part of the manual's interface, but the MMQA test library includes
 * it and tests use MPS_PF_ALIGN, MPS_WORD_WIDTH and the MPS_OS_* macros.
 * The platform is recognised from compiler-predefined macros and named by
 * a six-letter code: OS (li Linux, xc macOS, fr FreeBSD, w3 Windows),
 * architecture (i6 x86-64, a6 ARM64, i3 IA-32) and compiler (gc GCC,
 * ll Clang, mv Microsoft Visual C). Clang also defines __GNUC__, so it is
 * tested first. */

#ifndef mpstd_h
#define mpstd_h

#if defined(__linux__) && defined(__x86_64__) && defined(__clang__)
#define MPS_PF_LII6LL
#define MPS_PF_STRING "lii6ll"
#define MPS_OS_LI
#define MPS_ARCH_I6
#define MPS_BUILD_LL

#elif defined(__linux__) && defined(__x86_64__) && defined(__GNUC__)
#define MPS_PF_LII6GC
#define MPS_PF_STRING "lii6gc"
#define MPS_OS_LI
#define MPS_ARCH_I6
#define MPS_BUILD_GC

#elif defined(__linux__) && defined(__aarch64__) && defined(__clang__)
#define MPS_PF_LIA6LL
#define MPS_PF_STRING "lia6ll"
#define MPS_OS_LI
#define MPS_ARCH_A6
#define MPS_BUILD_LL

#elif defined(__linux__) && defined(__aarch64__) && defined(__GNUC__)
#define MPS_PF_LIA6GC
#define MPS_PF_STRING "lia6gc"
#define MPS_OS_LI
#define MPS_ARCH_A6
#define MPS_BUILD_GC

#elif defined(__linux__) && defined(__i386__) && defined(__GNUC__) \
    && !defined(__clang__)
#define MPS_PF_LII3GC
#define MPS_PF_STRING "lii3gc"
#define MPS_OS_LI
#define MPS_ARCH_I3
#define MPS_BUILD_GC

#elif defined(__APPLE__) && defined(__MACH__) && defined(__x86_64__) \
    && defined(__clang__)
#define MPS_PF_XCI6LL
#define MPS_PF_STRING "xci6ll"
#define MPS_OS_XC
#define MPS_ARCH_I6
#define MPS_BUILD_LL

#elif defined(__APPLE__) && defined(__MACH__) && defined(__aarch64__) \
    && defined(__clang__)
#define MPS_PF_XCA6LL
#define MPS_PF_STRING "xca6ll"
#define MPS_OS_XC
#define MPS_ARCH_A6
#define MPS_BUILD_LL

#elif defined(__FreeBSD__) && defined(__x86_64__) && defined(__clang__)
#define MPS_PF_FRI6LL
#define MPS_PF_STRING "fri6ll"
#define MPS_OS_FR
#define MPS_ARCH_I6
#define MPS_BUILD_LL

#elif defined(__FreeBSD__) && defined(__x86_64__) && defined(__GNUC__)
#define MPS_PF_FRI6GC
#define MPS_PF_STRING "fri6gc"
#define MPS_OS_FR
#define MPS_ARCH_I6
#define MPS_BUILD_GC

#elif defined(__FreeBSD__) && defined(__i386__) && defined(__clang__)
#define MPS_PF_FRI3LL
#define MPS_PF_STRING "fri3ll"
#define MPS_OS_FR
#define MPS_ARCH_I3
#define MPS_BUILD_LL

#elif defined(__FreeBSD__) && defined(__i386__) && defined(__GNUC__)
#define MPS_PF_FRI3GC
#define MPS_PF_STRING "fri3gc"
#define MPS_OS_FR
#define MPS_ARCH_I3
#define MPS_BUILD_GC

#elif defined(_MSC_VER) && defined(_WIN32) && defined(_WIN64) && defined(_M_X64)
#define MPS_PF_W3I6MV
#define MPS_PF_STRING "w3i6mv"
#define MPS_OS_W3
#define MPS_ARCH_I6
#define MPS_BUILD_MV

#elif defined(_MSC_VER) && defined(_WIN32) && defined(_M_IX86)
#define MPS_PF_W3I3MV
#define MPS_PF_STRING "w3i3mv"
#define MPS_OS_W3
#define MPS_ARCH_I3
#define MPS_BUILD_MV

#else
#error "mpstd.h: unrecognised platform"
#endif

/* Word types must agree with mps_word_t in mps.h. */
#if defined(MPS_PF_W3I6MV)
#define MPS_T_WORD unsigned __int64
#define MPS_T_ULONGEST unsigned __int64
#else
#define MPS_T_WORD unsigned long
#define MPS_T_ULONGEST unsigned long
#endif

#if defined(MPS_ARCH_I6) || defined(MPS_ARCH_A6)
#define MPS_WORD_WIDTH 64
#define MPS_WORD_SHIFT 6
#else
#define MPS_WORD_WIDTH 32
#define MPS_WORD_SHIFT 5
#endif

/* Natural alignment: also the default format, MVFF and MVT alignment and
 * the fixed MFS alignment. Windows aligns to 16 on x64 and 8 on IA-32. */
#if defined(MPS_PF_W3I6MV)
#define MPS_PF_ALIGN 16
#elif defined(MPS_PF_W3I3MV) || defined(MPS_ARCH_I6) || defined(MPS_ARCH_A6)
#define MPS_PF_ALIGN 8
#else
#define MPS_PF_ALIGN 4
#endif

#endif /* mpstd_h */
