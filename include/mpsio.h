/* mpsio.h: MPS++ plinth, I/O module (plinth.md, telemetry.md).
 *
 * The telemetry event stream is written through these four functions
 * only. The default ("ANSI") plinth writes to the file named by the
 * environment variable MPS_TELEMETRY_FILENAME (default "mpsio.log"); a
 * client may define its own, which take the place of the default ones. */

#ifndef mpsio_h
#define mpsio_h

#include <stddef.h>
#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Incomplete: a plinth casts its own pointer. */
typedef struct mps_io_s* mps_io_t;

extern mps_res_t mps_io_create(mps_io_t*);
extern void mps_io_destroy(mps_io_t);
extern mps_res_t mps_io_write(mps_io_t, void*, size_t);
extern mps_res_t mps_io_flush(mps_io_t);

#ifdef __cplusplus
}
#endif

#endif /* mpsio_h */
