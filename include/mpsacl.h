/* mpsacl.h: MPS++ client arena class (arena.md). */

#ifndef mpsacl_h
#define mpsacl_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const struct mps_key_s _mps_key_ARENA_CL_BASE;
#define MPS_KEY_ARENA_CL_BASE (&_mps_key_ARENA_CL_BASE)
#define MPS_KEY_ARENA_CL_BASE_FIELD addr

extern mps_arena_class_t mps_arena_class_cl(void);

#ifdef __cplusplus
}
#endif

#endif /* mpsacl_h */
