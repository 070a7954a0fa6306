// LO: leaf objects (pools-lo.md). Objects hold no references: they are kept
// alive by references from elsewhere, never scanned and never moved. The
// mark-sweep machinery is the tracer's (tracer/marksweep.hpp).
#pragma once

#include "tracer/marksweep.hpp"

namespace mps::core {

extern const PoolClass kPoolClassLO;

class LOPool final : public MarkSweepPool {
 public:
  LOPool(Arena* arena, const PoolClass* poolClass) : MarkSweepPool(arena, poolClass) {}
  // FORMAT (skip), CHAIN, GEN (default 1 on the default chain).
  Res init(const mps_arg_s* args);
  // Leaf objects: the allocation point has no rank (any given is ignored).
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;

  static void varargs(mps_arg_s* args, va_list ap);
};

}  // namespace mps::core
