// AWL: automatic weak linked (pools-awl.md). Non-moving mark-sweep whose
// allocation points have rank exact or weak, so that a client can build
// weak-key, weak-value and doubly weak tables: keys and values live in two
// objects of the two ranks, and each object may name a dependent object
// (the other one) that its scan method may write while the collector scans
// it, to delete the partner of a splatted reference. The mark-sweep
// machinery, the weak phase and dependent exposure are the tracer's
// (tracer/marksweep.hpp, design/tracer.md .trace.rank); this class adds
// the keyword arguments and the rank rules (design/awl.md).
#pragma once

#include "tracer/marksweep.hpp"

namespace mps::core {

extern const PoolClass kPoolClassAWL;

class AWLPool final : public MarkSweepPool {
 public:
  AWLPool(Arena* arena, const PoolClass* poolClass) : MarkSweepPool(arena, poolClass) {}
  // FORMAT (required: scan and skip), AWL_FIND_DEPENDENT (default: none),
  // CHAIN, GEN (default 1 on the default chain).
  Res init(const mps_arg_s* args);
  // RANK: exact (default) or weak.
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;

  // mps_pool_create(&pool, arena, mps_class_awl(), format, find_dependent).
  static void varargs(mps_arg_s* args, va_list ap);
};

}  // namespace mps::core
