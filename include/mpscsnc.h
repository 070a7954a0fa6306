/* mpscsnc.h: MPS++ SNC (stack, no checking) pool class (pools-mvt-snc.md). */

#ifndef mpscsnc_h
#define mpscsnc_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern mps_pool_class_t mps_class_snc(void);

#ifdef __cplusplus
}
#endif

#endif /* mpscsnc_h */
