// The arena: owns address space in chunks, hands grains to pools, maps any
// address to its owner in O(1), and accounts for committed memory.
//
// Locking: every public C entry claims the arena lock (api/); the methods here
// marked "locked" expect the caller to hold it. Accounting reads are racy by
// design (the reference allows the value to change at any time).
#pragma once

#include <atomic>

#include "arena/chunk.hpp"
#include "arena/pool.hpp"
#include "base/bittable.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/ring.hpp"
#include "base/types.hpp"
#include "mps.h"
#include "protect/lock.hpp"

namespace mps::core {

class Collector;
class Segment;

struct ArenaClass {
  static constexpr Sig kSig = 0x519A6C1Au;
  Sig sig;
  const char* name;
  bool virtualMemory;  // VM: reserve and commit from the OS; else client blocks
  bool check() const { return name != nullptr; }
};
extern const ArenaClass kArenaClassVM;
extern const ArenaClass kArenaClassClient;

using ChunkCallback = void (*)(mps_arena_t, void*, size_t);

class Arena {
 public:
  static constexpr Sig kSig = 0x519A6E4Au;

  // Creates an arena of `arenaClass` configured by keyword arguments
  // (arena.md). The arena lives inside its first chunk.
  static Res create(Arena** arenaOut, const ArenaClass* arenaClass, const mps_arg_s* args);
  // Releases everything. Every pool must have been destroyed first.
  void destroy();
  bool check() const;

  Lock& lock() { return lock_; }
  const ArenaClass* arenaClass() const { return class_; }
  bool isVirtual() const { return class_->virtualMemory; }
  Size grainSize() const { return Size(1) << grainShift_; }
  Shift grainShift() const { return grainShift_; }

  // Memory accounting (arena.md). Setters are locked.
  Size reserved() const { return reserved_.load(std::memory_order_relaxed); }
  Size committed() const { return committed_.load(std::memory_order_relaxed); }
  Size spareCommitted() const { return spareCommitted_.load(std::memory_order_relaxed); }
  Size commitLimit() const { return commitLimit_.load(std::memory_order_relaxed); }
  Res setCommitLimit(Size limit);
  double spare() const { return spare_; }
  void setSpare(double fraction);
  void setGrowth(Size desired, Size minimum);

  // The largest request a chunk could ever serve (a quarter of the address
  // space): beyond it every arena class refuses for want of address space.
  static constexpr Size kMaxChunkRequest = ~Size(0) / 4;

  // Adds a client block (client arenas only). Locked.
  Res extend(Addr base, Size size);

  // Gives `size` bytes (a multiple of the grain size) of fresh committed
  // memory to `pool`, from the lowest (or highest) addresses that fit, in
  // none of the zones of `avoidZones` if there is such room (a set of zones,
  // bit z for zone z: see zoneShift). Fails leaving the arena as it was, with
  // Res::commitLimit (the commit limit), Res::memory (a client arena without
  // room, or the OS refuses to commit) or Res::resource (no address space
  // for a VM arena to grow into, or more than kMaxChunkRequest). Locked.
  Res allocGrains(Addr* baseOut, Size size, Pool* pool, bool high = false, Word avoidZones = 0);
  // Returns grains obtained by allocGrains; they become spare. Locked.
  void freeGrains(Addr base, Size size);

  // While a parallel collection copies, its workers read the tract tables
  // (segmentOf) without any lock, and one at a time may allocate to-space
  // (design/amc.md .amc.tospace). Meanwhile allocGrains never adds a chunk
  // (that would change the chunk map and ring under the readers); the bit
  // tables change word by word, atomically. Locked.
  void setConcurrentReaders(bool on) { concurrentReaders_ = on; }
  // Makes sure at least `size` bytes of free grains exist (free address
  // space: nothing is committed), adding a chunk if not, so that a parallel
  // collection can allocate that much without growing. Locked.
  Res ensureFreeSpace(Size size);

  // Address lookup, O(1): the chunk map, then the chunk's tract table.
  Chunk* chunkOf(const void* p) const { return chunkMap_.lookup(p); }
  bool hasAddr(const void* p) const { return chunkOf(p) != nullptr; }
  // The tract of an allocated grain, or null (free grain or foreign address).
  Tract* tractOf(const void* p) const {
    Chunk* chunk = chunkOf(p);
    return chunk != nullptr ? chunk->allocatedTractOf(p) : nullptr;
  }
  Pool* poolOf(const void* p) const {
    Tract* tract = tractOf(p);
    return tract != nullptr ? tract->pool : nullptr;
  }
  // The segment holding `p`, or null (foreign address, free grain, or
  // memory of a manual pool). Fix stage 2: two loads for the chunk, one bit
  // test and one load for the tract.
  MPS_FORCE_INLINE Segment* segmentOf(const void* p) const {
    Chunk* chunk = chunkMap_.lookup(p);
    if (chunk == nullptr) return nullptr;
    Size i = chunk->indexOf(p);
    if (i < chunk->firstUsable || !chunk->allocated.get(i)) return nullptr;
    return static_cast<Segment*>(chunk->tracts[i].owner);
  }
  // Records `segment` as the owner of its grains (which `pool` holds).
  void setOwner(Addr base, Size size, void* owner);

  // Zones (design brief, "Tracing"): zone(a) = (a >> zoneShift) % 64.
  Shift zoneShift() const { return zoneShift_; }

  // The collector's state for this arena (tracer/), created with the arena
  // by the C interface; opaque here.
  Collector* collector() const { return collector_; }
  void setCollector(Collector* collector) { collector_ = collector; }

  // Memory for core objects (pools, caches), counted as committed. Locked.
  Res controlAlloc(void** pOut, Size size);
  void controlFree(void* p, Size size);

  // Pools. Locked.
  void addPool(Pool* pool) { pools_.append(&pool->arenaRing_); }
  void removePool(Pool* pool) { pool->arenaRing_.remove(); }
  Size poolCount() const { return pools_.length(); }
  template <class F>
  void forEachPool(F&& f) const {
    pools_.forEach(f);
  }

  Sig sig = kSig;

 private:
  Arena(const ArenaClass* arenaClass, Shift grainShift);
  ~Arena() = default;

  Res addChunk(Chunk** chunkOut, Addr base, Size size, bool ownsAddressSpace);
  // Adds a chunk able to hold a run of `size` bytes. Locked.
  Res growBy(Chunk** chunkOut, Size size);
  void removeChunk(Chunk* chunk);
  // Commits grains [first, limit) of `chunk` that are not yet committed,
  // within the commit limit (releasing spare memory to make room if needed).
  Res commitGrains(Chunk* chunk, Size first, Size limit);
  // .arena.commit.ahead: commits [first, limit) and, if the commit limit
  // allows, the free uncommitted grains around it up to the commit granule
  // (they become spare): one system call for the next few segments.
  static constexpr Size kCommitGranule = Size(256) << 10;
  Res commitGrainsAhead(Chunk* chunk, Size first, Size limit);
  // Uncommits free committed grains until spare memory is within `target`
  // and within the spare fraction, and no further.
  void releaseSpare(Size target);
  // Asks every pool to give back the memory it caches for reuse
  // (Pool::releaseCached); true if any did. Locked.
  bool releasePoolCaches();
  // Bytes (whole grains) releaseSpare(target) must uncommit.
  Size spareExcess(Size target) const;
  // Takes committed bytes from the budget; false if that would pass the limit.
  bool chargeCommit(Size bytes);
  void noteDecommit(Size bytes, bool wasSpare);

  Res controlRefill(Size sizeClass);

  const ArenaClass* class_;
  Shift grainShift_;
  Shift zoneShift_;
  bool concurrentReaders_ = false;
  Collector* collector_ = nullptr;
  Lock lock_;
  ChunkMap chunkMap_;
  Ring<Chunk> chunks_;
  Chunk* primary_ = nullptr;  // holds this object; released last
  Ring<Pool> pools_;

  std::atomic<Size> reserved_{0};
  std::atomic<Size> committed_{0};
  std::atomic<Size> spareCommitted_{0};
  std::atomic<Size> commitLimit_{~Size(0)};
  double spare_ = 0.75;
  Size growthDesired_ = 0;
  Size growthMinimum_ = 0;
  ChunkCallback extended_ = nullptr;
  ChunkCallback contracted_ = nullptr;

  // Control memory: segregated free lists of small blocks carved from grains.
  static constexpr Size kControlClassSize = 64;
  static constexpr Size kControlClasses = 32;  // blocks up to 2 KiB; bigger take grains
  void* controlFree_[kControlClasses] = {};
};

}  // namespace mps::core
