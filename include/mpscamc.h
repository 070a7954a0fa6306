/* mpscamc.h: MPS++ AMC and AMCZ (automatic mostly-copying) pool classes
 * (manual/reference/amc.md). */

#ifndef mpscamc_h
#define mpscamc_h

#include "mps.h"

#ifdef __cplusplus
extern "C" {
#endif

extern mps_pool_class_t mps_class_amc(void);
extern mps_pool_class_t mps_class_amcz(void);

/* Deprecated: calls f(addr, p, s) for every object of an AMC or AMCZ pool
 * (mps_pool_walk is the replacement). */
typedef void (*mps_amc_apply_stepper_t)(mps_addr_t, void*, size_t);
extern void mps_amc_apply(mps_pool_t, mps_amc_apply_stepper_t, void*, size_t);

#ifdef __cplusplus
}
#endif

#endif /* mpscamc_h */
