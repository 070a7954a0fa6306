// AMS debug (debugging.md; manual/design/debug.md .debug.ams): AMS with
// fenceposts around every object and free space filled with the free
// template.
//
// Each object allocated on an allocation point is a block [lead fencepost]
// [object][trail fencepost] in its segment, and a fill hands out exactly one
// block, with the allocation point's limit at the object's end: the next
// reserve comes back to the pool, which writes the next block's fenceposts.
// The segments know the layout (MarkSweepPool::setBlockFences): a block's
// start bit is at its base, and the format the segments use counts the lead
// fencepost in the header, so marking, sweeping and walking treat the block
// as one unit; scanning calls the client's scan method one object at a time,
// so it never steps onto a fencepost.
//
// Free space: new segments, runs of dead blocks at reclaim (after their
// fenceposts are checked) and the unused part of a window are filled with
// the free template; a fill checks its window still holds it.
#pragma once

#include "arena/pooldebug.hpp"
#include "pools/ams/ams.hpp"

namespace mps::core {

extern const PoolClass kPoolClassAMSDebug;

class AMSDebugPool final : public AMSPool {
 public:
  AMSDebugPool(Arena* arena, const PoolClass* poolClass) : AMSPool(arena, poolClass) {}
  ~AMSDebugPool() override;
  // The AMS keywords and MPS_KEY_POOL_DEBUG_OPTIONS.
  Res init(const mps_arg_s* args);

  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;

  // mps_pool_check_fenceposts / mps_pool_check_free_space: report the
  // first damaged fencepost of a committed object / the first byte of free
  // space not holding the free template. `function` names the entry point.
  void checkFenceposts(const char* check, const char* function);
  void checkFreeSpaceTemplate(const char* check, const char* function);

  const PoolDebug& debug() const { return debug_; }

  static void varargs(mps_arg_s* args, va_list ap);

 private:
  void reclaimed(Addr base, Addr limit) override;
  void segmentMade(Addr base, Addr limit) override;
  // Checks the fenceposts of the object at `client`; returns the base of
  // the next block.
  Addr checkObject(Addr client, const char* check, const char* function) const;

  PoolDebug debug_;
  // The client's format with the lead fencepost added to the header size,
  // in control memory (null without fenceposts).
  Format* blockFormat_ = nullptr;
};

}  // namespace mps::core
