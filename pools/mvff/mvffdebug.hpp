// MVFF debug (debugging.md, manual/design/debug.md): MVFF with fenceposts
// around every block, a tag per block recording its size, and free space
// filled with the free template.
//
// A block of `size` bytes takes fenceSize() + alignUp(size) + fenceSize()
// bytes of the plain pool: [pre fencepost][client block][rounding and post
// fencepost]. mps_free checks the tag (the size must be the allocation
// size) and both fenceposts, then fills the whole footprint with the free
// template before the plain pool takes it back. Allocation checks that the
// footprint still holds the free template (a write through a dangling
// pointer shows here), and so does giving memory back to the arena.
//
// Recently freed footprints (.debug.mvff.cache). The plain pool's quick
// lists keep their links inside free blocks, so the debugging class turns
// them off; instead it keeps its own LIFO of freed footprints per size, out
// of band (in control memory), bounded like the quick lists. A cached
// footprint is free to the client (filled with the free template, checked
// when reused) and allocated to the plain pool; freeSize() counts it free.
//
// Allocation points hand out one block per fill: the window is exactly the
// reserved block, so the next reserve comes back to the pool, which puts
// fenceposts around every block committed. The client frees them with
// mps_free as any other block.
#pragma once

#include "arena/pooldebug.hpp"
#include "pools/mvff/mvff.hpp"

namespace mps::core {

class MVFFDebugPool final : public MVFFPool {
 public:
  MVFFDebugPool(Arena* arena, const PoolClass* poolClass)
      : MVFFPool(arena, poolClass), tags_(arena) {}
  ~MVFFDebugPool() override;
  // The MVFF keywords and MPS_KEY_POOL_DEBUG_OPTIONS.
  Res init(const mps_arg_s* args);

  Res alloc(Addr* pOut, Size size) override;
  void free(Addr p, Size size) override;
  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;

  // mps_pool_check_fenceposts and mps_pool_check_free_space: report the
  // first damaged fencepost / the first byte of free space that does not
  // hold the free template. `function` names the entry point.
  void checkFenceposts(const char* check, const char* function) const;
  void checkFreeSpaceTemplate(const char* check, const char* function) const;

  Size freeSize() const override { return MVFFPool::freeSize() + cacheBytes_; }

  const PoolDebug& debug() const { return debug_; }
  Size cachedBytes() const { return cacheBytes_; }
  Size liveBlocks() const { return tags_.count(); }

  static void varargs(mps_arg_s* args, va_list ap);

 private:
  void noteExtended(Addr base, Addr limit) override;
  void noteReturning(Addr base, Addr limit) override;
  // Checks the fenceposts of the block [client, client + size).
  void checkBlock(Addr client, Size size, const char* check, const char* function) const;
  Size footprint(Size size) const { return 2 * debug_.fenceSize() + alignUp(size, alignment_); }
  // Frees a block whose tag has been checked and removed.
  void freeBlock(Addr client, Size size);
  // A footprint of `total` bytes from the cache, or null.
  Addr takeCached(Size total);
  // Gives every cached footprint back to the plain pool.
  void flushCache();

  static constexpr Size kCacheMaxSize = 2048;  // largest footprint cached
  static constexpr Size kCacheDepth = 16;      // footprints per size
  struct CacheClass {
    Addr blocks[kCacheDepth];
    Size count;
  };

  PoolDebug debug_;
  BlockTags tags_;
  CacheClass* cache_ = nullptr;  // one per footprint size up to cacheMax_, in control memory
  Size cacheClasses_ = 0;
  Size cacheMax_ = 0;  // 0: no cache
  Shift cacheShift_ = 0;
  Size cacheBytes_ = 0;
};

extern const PoolClass kPoolClassMVFFDebug;

}  // namespace mps::core
