/* mpsavm.h: MPS++ virtual-memory arena class (arena.md). */

#ifndef mpsavm_h
#define mpsavm_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern mps_arena_class_t mps_arena_class_vm(void);

/* Undocumented in the MPS manual: the preferred and the minimum increment
 * of address space when a VM arena grows. */
extern mps_res_t mps_arena_vm_growth(mps_arena_t, size_t, size_t);

#ifdef __cplusplus
}
#endif

#endif /* mpsavm_h */
