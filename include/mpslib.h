/* mpslib.h: MPS++ plinth, library module (plinth.md).
 *
 * The functions through which the library reaches its environment instead
 * of the C library. The default ("ANSI") plinth implements them on the C
 * library; a client may link its own instead. */

#ifndef mpslib_h
#define mpslib_h

#include <stddef.h>
#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern int mps_lib_get_EOF(void);
#define mps_lib_EOF (mps_lib_get_EOF())

/* A structure type, not a pointer: functions take mps_lib_FILE *. */
typedef struct mps_lib_stream_s mps_lib_FILE;

extern mps_lib_FILE *mps_lib_get_stderr(void);
extern mps_lib_FILE *mps_lib_get_stdout(void);
#define mps_lib_stderr (mps_lib_get_stderr())
#define mps_lib_stdout (mps_lib_get_stdout())

extern int mps_lib_fputc(int, mps_lib_FILE *);
extern int mps_lib_fputs(const char *, mps_lib_FILE *);

/* Arguments: source file, line, violated condition. */
extern void mps_lib_assert_fail(const char *, unsigned, const char *);

typedef void (*mps_lib_assert_fail_t)(const char *, unsigned, const char *);

/* Provided by the default plinth only. Returns the previous handler. */
extern mps_lib_assert_fail_t mps_lib_assert_fail_install(mps_lib_assert_fail_t);

/* Names in parentheses so that macros of the same names may coexist. */
extern void *(mps_lib_memset)(void *, int, size_t);
extern void *(mps_lib_memcpy)(void *, const void *, size_t);
extern int (mps_lib_memcmp)(const void *, const void *, size_t);

extern mps_clock_t mps_clock(void);
extern mps_clock_t mps_clocks_per_sec(void);

extern unsigned long mps_lib_telemetry_control(void);

#ifdef __cplusplus
}
#endif

#endif /* mpslib_h */
