/* mmu.h: the minimum mutator utilisation (MMU) of a run, exactly, from its
 * pauses: for a window length w, the least fraction of any w-long window of
 * the run in which the mutator was not paused. mps_demo's; plain C99,
 * header-only (static functions), tested by test/events/mmu_c_test.cpp
 * against the converter's minimumMutatorUtilisation (tools/mps-events). */
#ifndef MPS_EXAMPLES_MMU_H
#define MPS_EXAMPLES_MMU_H

#include <stddef.h>

typedef struct mmu_interval_s {
  double start, end; /* seconds */
} mmu_interval_s;

/* Paused time in [a, b) of pauses p[0..n), disjoint and in order. */
static double mmu_paused_in(const mmu_interval_s* p, size_t n, double a, double b) {
  size_t lo = 0, hi = n;
  double t = 0;
  while (lo < hi) { /* the first pause that ends after a */
    size_t mid = lo + (hi - lo) / 2;
    if (p[mid].end <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < n && p[lo].start < b; ++lo) {
    double s = p[lo].start > a ? p[lo].start : a;
    double e = p[lo].end < b ? p[lo].end : b;
    if (e > s) t += e - s;
  }
  return t;
}

/* MMU over windows of w seconds in the run [s, e], pauses p[0..n) disjoint
 * and in order, in [0, 1]. A window longer than the run is the run. The
 * paused time of a window is piecewise linear in its position and, between
 * the ends of the run, greatest where the window starts at a pause's start
 * or ends at a pause's end: those positions and the ends are tried. */
static double mmu(const mmu_interval_s* p, size_t n, double s, double e, double w) {
  double worst = 0, x;
  size_t i;
  int k;
  if (!(w > 0)) return 1;
  if (w > e - s) w = e - s;
  if (!(w > 0)) return n == 0 ? 1 : 0;
  for (i = 0; i <= n; ++i) {
    for (k = 0; k < 2; ++k) {
      if (i == n)
        x = k == 0 ? s : e - w; /* the ends of the run */
      else
        x = k == 0 ? p[i].start : p[i].end - w;
      if (x < s) x = s;
      if (x > e - w) x = e - w;
      x = mmu_paused_in(p, n, x, x + w);
      if (x > worst) worst = x;
    }
  }
  x = (w - worst) / w;
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

#endif /* MPS_EXAMPLES_MMU_H */
