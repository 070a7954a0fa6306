/* mpscmv2.h: the older name of the MVT pool class header. It declares
 * nothing itself: mps_class_mvt and the MVT keywords come from mpscmvt.h
 * (pools-mvt-snc.md). */

#ifndef mpscmv2_h
#define mpscmv2_h

#include "mpscmvt.h"

#endif /* mpscmv2_h */
