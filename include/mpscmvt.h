/* mpscmvt.h: MPS++ MVT (manual variable temporal) pool class
 * (pools-mvt-snc.md). */

#ifndef mpscmvt_h
#define mpscmvt_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MPS_KEY_MIN_SIZE, MPS_KEY_MEAN_SIZE, MPS_KEY_MAX_SIZE and MPS_KEY_ALIGN,
 * which MVT also takes, are declared in mps.h. */
extern const struct mps_key_s _mps_key_MVT_RESERVE_DEPTH;
#define MPS_KEY_MVT_RESERVE_DEPTH (&_mps_key_MVT_RESERVE_DEPTH)
#define MPS_KEY_MVT_RESERVE_DEPTH_FIELD count
extern const struct mps_key_s _mps_key_MVT_FRAG_LIMIT;
#define MPS_KEY_MVT_FRAG_LIMIT (&_mps_key_MVT_FRAG_LIMIT)
#define MPS_KEY_MVT_FRAG_LIMIT_FIELD d

extern mps_pool_class_t mps_class_mvt(void);

/* Deprecated pool-specific names of the generic size functions; macros
 * only, no functions of these names exist. */
#define mps_mvt_free_size mps_pool_free_size
#define mps_mvt_size mps_pool_total_size

#ifdef __cplusplus
}
#endif

#endif /* mpscmvt_h */
