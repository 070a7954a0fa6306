// Segregated allocation caches (sac.md): per-size free lists in front of a
// manual pool (one supporting alloc and free: MFS, MVFF), laid out so that the
// client's inline macros MPS_SAC_ALLOC_FAST and MPS_SAC_FREE_FAST (mps.h) pop
// and push blocks without calling the library. Only when a list is empty
// (fill) or full (empty) does the client call in, and then the cache moves
// about half a list's worth of blocks at once, so that the next calls hit.
//
// One cache is one block of arena control memory:
//
//   [ _mps_sac_lookup_s: _entry[256], _limit, _shift        ]
//   [ _mps_sac_s: _middle, _trapped, _freelists[entries()] ]  <- mps_sac_t
//   [ SegregatedCache: the private part                    ]  <- SegregatedCache*
//   [ Size blockSize[classesCount()]                        ]
//
// The macros index from mps_sac_t: the class table just before it, MPS's
// documented part from it. The array has the entries the class layout needs
// and at least the declared 2 * MPS_SAC_CLASS_LIMIT (it may be longer), so the
// private part sits at a varying offset. To find it from an mps_sac_t,
// the overlarge sentinel's `_blocks`, which the macros never read (its `_count`
// and `_count_max` are 0, so they always call out), points at it.
//
// Encoding of the entries (the binary contract of sac.md): the middle class m
// is where the running total of frequencies reaches half. Entry 2j holds class
// m+1+j (ascending; `_size` its block size), and after the largest comes the
// overlarge sentinel (`_size` SIZE_MAX). Entry 2j+1 holds class m-j
// (descending), but its `_size` is the block size of class m-j-1, the exclusive
// lower bound of its interval (0 for the smallest class).
//
// The class table maps request sizes in slots of 1 << _shift bytes to
// entries, so that the macros find a class without a data-dependent branch;
// sizes outside it (0, and above _limit << _shift) take MPS's search.
//
// Locking: the client serialises use of one cache. create, destroy, flush,
// fill, empty, alloc and free expect the caller to hold the arena lock;
// popCached, pushCached and ofExternal touch only the cache and need no lock,
// so the C entry points can run them first and lock only to call fill/empty.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arena/pool.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"
#include "mps.h"

namespace mps::core {

class SegregatedCache {
 public:
  static constexpr Sig kSig = 0x5195AC0Au;
  // sac.md guarantees MPS_SAC_CLASS_LIMIT; more is allowed. The bound keeps
  // the sentinel search of ofExternal() finite on a corrupted cache.
  static constexpr Size kClassesMax = 64;
  // Entries every cache has at least (the size of the declared array).
  static constexpr Size kFlatEntries = 2 * MPS_SAC_CLASS_LIMIT;
  // Slots of the class table.
  static constexpr Size kLookupSlots = _MPS_SAC_LOOKUP_SLOTS;
  // `_size` of the overlarge sentinel: no request is larger, so the macros'
  // ascending search always stops there.
  static constexpr Size kOverlargeSize = SIZE_MAX;

  using Entry = _mps_sac_freelist_block_s;
  using Lookup = _mps_sac_lookup_s;

  // Builds a cache in front of `pool` from `classesCount` class descriptions
  // (copied). Misuse is an assertion (always checked: a class smaller than a
  // word or misaligned would corrupt the pool): no classes, block sizes not
  // strictly increasing, the smallest below sizeof(void*), a size not a
  // multiple of the pool's alignment, a pool without alloc and free. Returns
  // Res::limit for more than kClassesMax classes, or the result of control
  // allocation (Res::memory, Res::commitLimit). Locked.
  static Res create(SegregatedCache** cacheOut, Pool* pool, Size classesCount,
                    const mps_sac_class_s* classes);
  // Returns every cached block to the pool and frees the cache. Locked.
  void destroy();
  // Returns every cached block to the pool. Locked.
  void flush();

  // The out-of-line half of MPS_SAC_ALLOC_FAST (mps_sac_fill): allocates a
  // block for a request of `size` bytes when its class's list is empty, and
  // refills that list to half its maximum. The block has the class's block
  // size; an overlarge request goes to the pool at `size` rounded up to the
  // pool's alignment. On failure the cache is unchanged. Locked.
  Res fill(Addr* pOut, Size size);
  // The out-of-line half of MPS_SAC_FREE_FAST (mps_sac_empty): frees a block
  // allocated for `size` bytes when its class's list is full, returning it and
  // half the list to the pool. Overlarge blocks go straight back. Locked.
  void empty(Addr p, Size size);

  // What the macros do, for C callers of mps_sac_alloc / mps_sac_free. Locked
  // (the C layer may instead run popCached/pushCached unlocked and lock only
  // for fill/empty).
  Res alloc(Addr* pOut, Size size) {
    if (popCached(external(), size, pOut)) return Res::ok;
    return fill(pOut, size);
  }
  void free(Addr p, Size size) {
    if (!pushCached(external(), p, size)) empty(p, size);
  }

  // Layout invariants (encodings, counts within their maxima) and, in checked
  // builds, that every cached block lies in the pool. Locked.
  bool check() const;

  // The client's handle, at the start of this cache's memory.
  mps_sac_t external() const { return ext_; }
  // The cache whose client handle is `sac`. Unlocked.
  static SegregatedCache* ofExternal(mps_sac_t sac);

  Pool* pool() const { return pool_; }
  Size classesCount() const { return classes_; }
  Size middleClass() const { return middle_; }
  Size entries() const { return entries_; }
  // Sizes up to lookupLimit() (a multiple of the slot, 1 << lookupShift()) go
  // through the class table.
  Size lookupShift() const { return lookupOf(ext_)->_shift; }
  Size lookupLimit() const { return lookupOf(ext_)->_limit << lookupOf(ext_)->_shift; }
  // Block size of class `c` (0 ≤ c < classesCount(), ascending).
  Size blockSize(Size c) const { return blockSizes()[c]; }
  // Blocks currently cached for class `c`, and the most it may hold.
  Size cachedCount(Size c) const { return entryOfClass(c)->_count; }
  Size cachedMax(Size c) const { return entryOfClass(c)->_count_max; }
  // Class of entry `i`, or classesCount() for the overlarge sentinel and
  // for unused entries.
  Size classOfEntry(Size i) const;

  // The entries of a client handle. Reached through a byte pointer rather than
  // `sac->_freelists[i]` because the array may extend past its declared bound.
  static Entry* entriesOf(mps_sac_t sac) {
    return reinterpret_cast<Entry*>(reinterpret_cast<std::byte*>(sac) +
                                    offsetof(_mps_sac_s, _freelists));
  }
  static const Entry* entriesOf(const _mps_sac_s* sac) {
    return entriesOf(const_cast<mps_sac_t>(sac));
  }

  // The class table just before a client handle (mps.h, _mps_sac_lookup_s).
  static Lookup* lookupOf(mps_sac_t sac) {
    return reinterpret_cast<Lookup*>(reinterpret_cast<std::byte*>(sac) - sizeof(Lookup));
  }
  static const Lookup* lookupOf(const _mps_sac_s* sac) {
    return lookupOf(const_cast<mps_sac_t>(sac));
  }

  // What the macros do (mps.h, _mps_SAC_FIND): the index of the entry of the
  // smallest class whose block size is at least `size`, the overlarge
  // sentinel above the largest class, the smallest class for 0. Sizes in the
  // table take one load and no data-dependent branch; the others search.
  static MPS_FORCE_INLINE Size find(const _mps_sac_s* sac, Size size) {
    const Lookup* lookup = lookupOf(sac);
    Size k = (size - 1) >> lookup->_shift;
    if (k < lookup->_limit) return lookup->_entry[k];
    return search(sac, size);
  }
  // MPS's search (sac.md): above the middle, ascend the even entries until
  // one is at least `size`; else descend the odd entries until one's
  // exclusive lower bound is below `size`. 0 searches as 1.
  static Size search(const _mps_sac_s* sac, Size size) {
    const Entry* lists = entriesOf(sac);
    size += Size(size == 0);
    Size i;
    if (size > sac->_middle) {
      for (i = 0; size > lists[i]._size; i += 2) {
      }
    } else {
      for (i = 1; size <= lists[i]._size; i += 2) {
      }
    }
    return i;
  }

  // The inline halves of the macros, for mps_sac_alloc / mps_sac_free: pop a
  // cached block for `size`, or push `p`, and say whether that was possible.
  // The cache is the client's, so they need no lock. A request of 0 bytes
  // is served from the smallest class, as the macros serve it.
  static MPS_FORCE_INLINE bool popCached(mps_sac_t sac, Size size, Addr* pOut) {
    Entry* entry = &entriesOf(sac)[find(sac, size)];
    if (entry->_count == 0) return false;
    void* block = entry->_blocks;
    entry->_blocks = *static_cast<void**>(block);
    --entry->_count;
    *pOut = static_cast<Addr>(block);
    return true;
  }
  static MPS_FORCE_INLINE bool pushCached(mps_sac_t sac, Addr p, Size size) {
    MPS_AVER_ALWAYS(p != nullptr);
    Entry* entry = &entriesOf(sac)[find(sac, size)];
    if (entry->_count >= entry->_count_max) return false;
    *reinterpret_cast<void**>(p) = entry->_blocks;
    entry->_blocks = p;
    ++entry->_count;
    return true;
  }

  Sig sig = kSig;

 private:
  SegregatedCache(Pool* pool, mps_sac_t ext, Size classes, Size middle, Size entries,
                  Size objectSize)
      : pool_(pool),
        ext_(ext),
        classes_(classes),
        middle_(middle),
        entries_(entries),
        objectSize_(objectSize) {}
  ~SegregatedCache() { invalidateSig(sig); }

  // Entries needed for `classes` classes around middle class `middle`: the
  // even side holds the classes above the middle plus the sentinel, the odd
  // side the middle and those below.
  static Size entriesFor(Size classes, Size middle);
  Entry* lists() const { return entriesOf(ext_); }
  Size* blockSizes() const {
    return reinterpret_cast<Size*>(const_cast<SegregatedCache*>(this) + 1);
  }
  Entry* entryOfClass(Size c) { return &lists()[indexOfClass(c)]; }
  const Entry* entryOfClass(Size c) const { return &lists()[indexOfClass(c)]; }
  // Index of class c's entry.
  Size indexOfClass(Size c) const {
    return c > middle_ ? 2 * (c - middle_ - 1) : 2 * (middle_ - c) + 1;
  }
  Size sentinelIndex() const { return 2 * (classes_ - 1 - middle_); }
  // log2 of the class table's slot for these block sizes.
  static Size lookupShiftFor(const Size* blockSizes, Size classes);
  // Writes the class table (the entries must be in place).
  void initLookup();
  bool lockHeld() const;
  // Hands blocks of entry `e` back to the pool, most recently cached first,
  // until it holds `keep`.
  void release(Entry* e, Size blockSize, Size keep);

  Pool* pool_;
  mps_sac_t ext_;
  Size classes_;
  Size middle_;  // index of the middle class
  Size entries_;
  Size objectSize_;  // bytes of control memory holding the whole cache, from
                     // the class table
};

}  // namespace mps::core
