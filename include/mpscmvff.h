/* mpscmvff.h: MPS++ MVFF (manual variable first fit) pool class
 * (pools-mvff.md). */

#ifndef mpscmvff_h
#define mpscmvff_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const struct mps_key_s _mps_key_MVFF_SLOT_HIGH;
#define MPS_KEY_MVFF_SLOT_HIGH (&_mps_key_MVFF_SLOT_HIGH)
#define MPS_KEY_MVFF_SLOT_HIGH_FIELD b
extern const struct mps_key_s _mps_key_MVFF_ARENA_HIGH;
#define MPS_KEY_MVFF_ARENA_HIGH (&_mps_key_MVFF_ARENA_HIGH)
#define MPS_KEY_MVFF_ARENA_HIGH_FIELD b
extern const struct mps_key_s _mps_key_MVFF_FIRST_FIT;
#define MPS_KEY_MVFF_FIRST_FIT (&_mps_key_MVFF_FIRST_FIT)
#define MPS_KEY_MVFF_FIRST_FIT_FIELD b

/* Deprecated pool-specific names of the generic size functions; macros
 * only, no functions of these names exist. */
#define mps_mvff_free_size mps_pool_free_size
#define mps_mvff_size mps_pool_total_size

extern mps_pool_class_t mps_class_mvff(void);
extern mps_pool_class_t mps_class_mvff_debug(void);

#ifdef __cplusplus
}
#endif

#endif /* mpscmvff_h */
