// AMS: automatic mark-sweep (pools-ams.md). Non-moving; objects are found by
// exact or ambiguous references and never move, so an AMS object may also
// be referenced from C stacks and registers. The mark-sweep machinery is the
// tracer's (tracer/marksweep.hpp); this class adds the keyword arguments and
// the rules for allocation-point ranks.
#pragma once

#include "tracer/marksweep.hpp"

namespace mps::core {

extern const PoolClass kPoolClassAMS;

// Not final: the debugging class (amsdebug.hpp) derives from it.
class AMSPool : public MarkSweepPool {
 public:
  AMSPool(Arena* arena, const PoolClass* poolClass) : MarkSweepPool(arena, poolClass) {}
  // FORMAT (scan and skip), CHAIN, GEN (default 1 on the default chain),
  // AMS_SUPPORT_AMBIGUOUS (default true).
  Res init(const mps_arg_s* args);
  // RANK: exact (default) or ambiguous (if the pool supports it). Weak is
  // accepted as the reference does, and scanned as exact.
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;

  bool supportsAmbiguous() const { return supportAmbiguous_; }

  static void varargs(mps_arg_s* args, va_list ap);

 private:
  bool supportAmbiguous_ = true;
};

}  // namespace mps::core
