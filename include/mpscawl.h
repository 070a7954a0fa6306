/* mpscawl.h: MPS++ AWL (automatic weak linked) pool class (pools-awl.md). */

#ifndef mpscawl_h
#define mpscawl_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const struct mps_key_s _mps_key_AWL_FIND_DEPENDENT;
#define MPS_KEY_AWL_FIND_DEPENDENT (&_mps_key_AWL_FIND_DEPENDENT)
#define MPS_KEY_AWL_FIND_DEPENDENT_FIELD addr_method

typedef mps_addr_t (*mps_awl_find_dependent_t)(mps_addr_t addr);

extern mps_pool_class_t mps_class_awl(void);

#ifdef __cplusplus
}
#endif

#endif /* mpscawl_h */
