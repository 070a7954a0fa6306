// The shield (design brief, "Shield"): owns every protection change of
// segment memory. The collector exposes a segment before it reads or
// writes it and covers it afterwards; the shield decides when protection
// actually changes. This first version has no barrier (segments are never
// protected), so expose and cover only keep the books: their depth
// counting and checks are what the protection barrier will build on,
// without any change to the tracer or the pools.
#pragma once

#include "arena/segment.hpp"
#include "base/check.hpp"

namespace mps::core {

// Protection modes a segment may want (a set of access kinds to trap).
enum ShieldMode : unsigned {
  kShieldNone = 0,
  kShieldRead = 1u << 0,
  kShieldWrite = 1u << 1,
};

class Shield {
 public:
  // Whether this platform build has a barrier. Without one the remembered
  // set cannot rely on summaries and collections cannot be incremental.
  static constexpr bool kHasBarrier = false;

  // The collector will access `seg`: its protection is lifted until the
  // matching cover. Nests.
  static void expose(Segment* seg) {
    ++seg->shieldDepth;
    seg->protMode = kShieldNone;
  }
  static void cover(Segment* seg) {
    MPS_AVER(seg->shieldDepth > 0 && "shield: every cover matches an expose");
    --seg->shieldDepth;
    // A barrier would re-apply seg->shieldMode here once depth reaches 0.
  }
  // Sets the protection the segment wants while the mutator runs (e.g. a
  // write barrier after its summary was made exact).
  static void raise(Segment* seg, unsigned mode) { seg->shieldMode |= mode; }
  static void lower(Segment* seg, unsigned mode) { seg->shieldMode &= ~mode; }
  static bool isExposed(const Segment* seg) { return seg->shieldDepth > 0; }
};

}  // namespace mps::core
