#include "arena/sac.hpp"

#include <bit>
#include <climits>
#include <new>

#include "arena/arena.hpp"

namespace mps::core {

Size SegregatedCache::entriesFor(Size classes, Size middle) {
  Size even = 2 * (classes - 1 - middle) + 1;  // classes above the middle, then the sentinel
  Size odd = 2 * (middle + 1);                 // the middle class and those below
  Size entries = even > odd ? even : odd;
  // At least the declared array, which code compiled with an earlier mps.h
  // reads whole (it counted over the first kFlatEntries entries).
  return entries > kFlatEntries ? entries : kFlatEntries;
}

Size SegregatedCache::classOfEntry(Size i) const {
  if (i >= entries_) return classes_;
  Size j = i / 2;
  if (i % 2 == 0) return j < classes_ - 1 - middle_ ? middle_ + 1 + j : classes_;
  return j <= middle_ ? middle_ - j : classes_;
}

Size SegregatedCache::lookupShiftFor(const Size* blockSizes, Size classes) {
  // The largest slot that divides every block size, so that no slot straddles
  // two classes, and no larger than keeps a size of 0 ((0 - 1) >> shift)
  // beyond the table.
  constexpr Size kShiftMax = sizeof(Size) * CHAR_BIT - 9;
  static_assert((SIZE_MAX >> kShiftMax) >= kLookupSlots);
  Size shift = kShiftMax;
  for (Size c = 0; c < classes; ++c) {
    Size s = Size(std::countr_zero(blockSizes[c]));
    if (s < shift) shift = s;
  }
  return shift;
}

void SegregatedCache::initLookup() {
  Lookup* lookup = lookupOf(ext_);
  Size shift = lookupShiftFor(blockSizes(), classes_);
  Size slots = blockSize(classes_ - 1) >> shift;
  if (slots > kLookupSlots) slots = kLookupSlots;
  // Slot k holds sizes ((k << shift), (k + 1) << shift]: the smallest class
  // at least (k + 1) << shift.
  // Entry indices are below 2 * kClassesMax, so a byte holds them.
  static_assert(2 * kClassesMax <= UCHAR_MAX + 1);
  Size c = 0;
  for (Size k = 0; k < kLookupSlots; ++k) {
    if (k < slots) {
      while (blockSize(c) < ((k + 1) << shift))
        ++c;
      lookup->_entry[k] = static_cast<unsigned char>(indexOfClass(c));
    } else {
      lookup->_entry[k] = 0;
    }
  }
  lookup->_limit = slots;
  lookup->_shift = shift;
}

bool SegregatedCache::lockHeld() const {
  return pool_->arena()->lock().isHeldByCaller();
}

// Creation and destruction ---------------------------------------------------

Res SegregatedCache::create(SegregatedCache** cacheOut, Pool* pool, Size classesCount,
                            const mps_sac_class_s* classes) {
  MPS_AVER_ALWAYS(cacheOut != nullptr);
  MPS_AVERT(Pool, pool);
  Arena* arena = pool->arena();
  MPS_AVER(arena->lock().isHeldByCaller());
  const PoolClass* poolClass = pool->poolClass();
  MPS_AVER_ALWAYS(poolClass->has(kPoolAttrAlloc) && poolClass->has(kPoolAttrFree));
  MPS_AVER_ALWAYS(classesCount >= 1);
  MPS_AVER_ALWAYS(classes != nullptr);
  if (classesCount > kClassesMax) return Res::limit;
  // A free block holds the list link in its first word.
  MPS_AVER_ALWAYS(classes[0].mps_block_size >= sizeof(void*));
  for (Size c = 0; c < classesCount; ++c) {
    MPS_AVER_ALWAYS(isAligned(classes[c].mps_block_size, pool->alignment()));
    // The overlarge sentinel's size must stay above every class.
    MPS_AVER_ALWAYS(classes[c].mps_block_size < kOverlargeSize);
    if (c > 0) MPS_AVER_ALWAYS(classes[c].mps_block_size > classes[c - 1].mps_block_size);
    // A fixed-size pool (MFS) accepts only its unit size, so a cache on it
    // has one class of exactly that size; anything else would fail at fill.
    if (pool->fixedSize() != 0)
      MPS_AVER_ALWAYS(classes[c].mps_block_size == pool->fixedSize() &&
                      "a cache on a fixed-size pool has one class, of the unit size");
  }

  // The middle class is where the running total of frequencies reaches half:
  // requests at or below it search down the odd entries from it, those above
  // search up the even entries, so frequent classes sit near the start of
  // whichever search finds them. No frequencies at all means equal ones.
  std::uint64_t total = 0;
  for (Size c = 0; c < classesCount; ++c)
    total += classes[c].mps_frequency;
  bool equal = total == 0;
  if (equal) total = classesCount;
  Size middle = 0;
  for (std::uint64_t running = 0;; ++middle) {
    running += equal ? 1 : classes[middle].mps_frequency;
    if (2 * running >= total) break;
  }

  Size entries = entriesFor(classesCount, middle);
  static_assert(sizeof(Lookup) % alignof(_mps_sac_s) == 0);
  Size publicBytes = sizeof(Lookup) + offsetof(_mps_sac_s, _freelists) + entries * sizeof(Entry);
  Size privateOffset = alignUp(publicBytes, alignof(SegregatedCache));
  Size objectSize = privateOffset + sizeof(SegregatedCache) + classesCount * sizeof(Size);
  void* base;
  Res res = arena->controlAlloc(&base, objectSize);
  if (res != Res::ok) return res;

  // Control memory is not necessarily zeroed (large blocks are whole grains,
  // possibly reused), so every entry and every slot is written.
  auto ext = reinterpret_cast<mps_sac_t>(static_cast<std::byte*>(base) + sizeof(Lookup));
  ext->_middle = classes[middle].mps_block_size;
  ext->_trapped = 0;
  Entry* lists = entriesOf(ext);
  // Unused entries continue each side's order so the branch-free search
  // counts past them correctly: even ones as overlarge, odd ones as size 0.
  for (Size i = 0; i < entries; ++i)
    lists[i] = Entry{i % 2 == 0 ? kOverlargeSize : 0, 0, 0, nullptr};
  auto* cache = new (static_cast<std::byte*>(base) + privateOffset)
      SegregatedCache(pool, ext, classesCount, middle, entries, objectSize);
  for (Size c = 0; c < classesCount; ++c) {
    cache->blockSizes()[c] = classes[c].mps_block_size;
    Entry* entry = cache->entryOfClass(c);
    // Above the middle an entry's _size is its own block size (the inclusive
    // upper bound the ascending search compares with); at or below it, the
    // next smaller class's (the exclusive lower bound of the descending one).
    entry->_size = c > middle ? classes[c].mps_block_size
                   : c > 0    ? classes[c - 1].mps_block_size
                              : 0;
    entry->_count_max = classes[c].mps_cached_count;
  }
  lists[cache->sentinelIndex()] = Entry{kOverlargeSize, 0, 0, cache};
  cache->initLookup();

  pool->attachCache();
  MPS_AVERT(SegregatedCache, cache);
  *cacheOut = cache;
  return Res::ok;
}

void SegregatedCache::destroy() {
  MPS_AVERT(SegregatedCache, this);
  MPS_AVER(lockHeld());
  flush();
  Pool* pool = pool_;
  void* base = lookupOf(ext_);
  Size objectSize = objectSize_;
  // A stale handle must no longer lead to a cache.
  lists()[sentinelIndex()]._blocks = nullptr;
  pool->detachCache();
  this->~SegregatedCache();
  pool->arena()->controlFree(base, objectSize);
}

SegregatedCache* SegregatedCache::ofExternal(mps_sac_t sac) {
  MPS_AVER_ALWAYS(sac != nullptr);
  const Entry* lists = entriesOf(sac);
  Size i = 0;
  while (lists[i]._size != kOverlargeSize) {
    i += 2;
    // The sentinel is at most entry 2 * (kClassesMax - 1): past that this is
    // not a cache.
    MPS_AVER_ALWAYS(i < 2 * kClassesMax);
  }
  auto* cache = static_cast<SegregatedCache*>(lists[i]._blocks);
  MPS_AVER(cache != nullptr && cache->sig == kSig && cache->ext_ == sac);
  return cache;
}

// Moving blocks between cache and pool ------------------------------------------

void SegregatedCache::release(Entry* entry, Size blockSize, Size keep) {
  while (entry->_count > keep) {
    Addr block = static_cast<Addr>(entry->_blocks);
    // Read the link before the pool may overwrite it.
    entry->_blocks = *reinterpret_cast<void**>(block);
    --entry->_count;
    // The class block size: what the block was allocated with, whatever the
    // client asked for.
    pool_->free(block, blockSize);
  }
}

void SegregatedCache::flush() {
  MPS_AVERT(SegregatedCache, this);
  MPS_AVER(lockHeld());
  for (Size c = 0; c < classes_; ++c)
    release(entryOfClass(c), blockSize(c), 0);
}

Res SegregatedCache::fill(Addr* pOut, Size size) {
  MPS_AVERT(SegregatedCache, this);
  MPS_AVER(lockHeld());
  MPS_AVER_ALWAYS(pOut != nullptr);
  Size i = find(ext_, size);
  Size c = classOfEntry(i);
  if (c == classes_) {
    // Overlarge: never cached. The same rounding in empty() frees it whole.
    Align align = pool_->alignment();
    if (sizeTooLarge(size, align)) return Res::resource;
    return pool_->alloc(pOut, alignUp(size, align));
  }
  // Only a direct call (not the macro) finds blocks here; serve it as the
  // macro would have.
  if (popCached(ext_, size, pOut)) return Res::ok;

  Entry* entry = &lists()[i];
  Size blockSize = this->blockSize(c);
  Addr p;
  Res res = pool_->alloc(&p, blockSize);
  if (res != Res::ok) return res;

  // Refill to half the maximum, so that about as many allocations as frees
  // can follow on the fast path before the next call out. The new blocks are
  // chained in allocation order, so the client receives them in the order the
  // pool handed them out (usually ascending addresses). The cache is advice:
  // if the pool runs short, keep what was obtained rather than fail a request
  // that succeeded.
  Size target = entry->_count_max / 2;
  void* first = nullptr;
  void** link = &first;
  Size got = 0;
  while (entry->_count + got < target) {
    Addr block;
    if (pool_->alloc(&block, blockSize) != Res::ok) break;
    *link = block;
    link = reinterpret_cast<void**>(block);
    ++got;
  }
  *link = entry->_blocks;
  entry->_blocks = first;
  entry->_count += got;
  *pOut = p;
  return Res::ok;
}

void SegregatedCache::empty(Addr p, Size size) {
  MPS_AVERT(SegregatedCache, this);
  MPS_AVER(lockHeld());
  MPS_AVER_ALWAYS(p != nullptr);
  Size i = find(ext_, size);
  Size c = classOfEntry(i);
  if (c == classes_) {
    Align align = pool_->alignment();
    MPS_AVER_ALWAYS(!sizeTooLarge(size, align));
    pool_->free(p, alignUp(size, align));
    return;
  }
  // Caught here rather than when the block is finally flushed, far from the
  // mistake.
  MPS_AVER(pool_->arena()->poolOf(p) == pool_);
  if (pushCached(ext_, p, size)) return;  // a direct call (not the macro) with room
  // Full: give back the block and half the list, so that about as many frees
  // as allocations can follow on the fast path.
  Size blockSize = this->blockSize(c);
  release(&lists()[i], blockSize, lists()[i]._count_max / 2);
  pool_->free(p, blockSize);
}

// Checking -------------------------------------------------------------------------

bool SegregatedCache::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(pool_ != nullptr && pool_->sig == Pool::kSig);
  MPS_CHECKL(ext_ != nullptr);
  MPS_CHECKL(classes_ >= 1 && classes_ <= kClassesMax);
  MPS_CHECKL(middle_ < classes_);
  MPS_CHECKL(entries_ == entriesFor(classes_, middle_));
  // The private part follows the public one in the same block.
  MPS_CHECKL(reinterpret_cast<const std::byte*>(lists() + entries_) <=
             reinterpret_cast<const std::byte*>(this));
  MPS_CHECKL(reinterpret_cast<const std::byte*>(blockSizes() + classes_) <=
             reinterpret_cast<const std::byte*>(ext_) + objectSize_);
  MPS_CHECKL(ext_->_middle == blockSize(middle_));
  // The class table: every slot in use names the entry the search finds for
  // the slot's largest size (and so, the slot lying within one class, for
  // all its sizes).
  const Lookup* lookup = lookupOf(ext_);
  MPS_CHECKL(lookup->_shift == lookupShiftFor(blockSizes(), classes_));
  MPS_CHECKL(lookup->_limit <= kLookupSlots);
  MPS_CHECKL(lookup->_limit == kLookupSlots ||
             lookup->_limit << lookup->_shift == blockSize(classes_ - 1));
  for (Size k = 0; k < lookup->_limit; ++k)
    MPS_CHECKL(lookup->_entry[k] == search(ext_, (k + 1) << lookup->_shift));
  MPS_CHECKL(ext_->_trapped == 0);

  const Entry* sentinel = &lists()[sentinelIndex()];
  MPS_CHECKL(sentinel->_size == kOverlargeSize);
  MPS_CHECKL(sentinel->_count == 0 && sentinel->_count_max == 0);
  MPS_CHECKL(sentinel->_blocks == this);
  for (Size i = 0; i < entries_; ++i) {
    const Entry* entry = &lists()[i];
    if (classOfEntry(i) == classes_ && i != sentinelIndex())
      MPS_CHECKL(entry->_size == (i % 2 == 0 ? kOverlargeSize : 0) && entry->_count == 0 &&
                 entry->_count_max == 0 && entry->_blocks == nullptr);
  }

  Align align = pool_->alignment();
  for (Size c = 0; c < classes_; ++c) {
    Size size = blockSize(c);
    MPS_CHECKL(isAligned(size, align) && size < kOverlargeSize);
    MPS_CHECKL(c == 0 ? size >= sizeof(void*) : size > blockSize(c - 1));
    const Entry* entry = entryOfClass(c);
    MPS_CHECKL(classOfEntry(indexOfClass(c)) == c);
    MPS_CHECKL(entry->_size == (c > middle_ ? size : c > 0 ? blockSize(c - 1) : 0));
    MPS_CHECKL(entry->_count <= entry->_count_max);
#if MPS_CHECKED
    // Exactly _count blocks, each one the pool handed out, then the null the
    // first push linked to.
    const Arena* arena = pool_->arena();
    const void* block = entry->_blocks;
    for (Size n = 0; n < entry->_count; ++n) {
      MPS_CHECKL(block != nullptr && isAligned(block, align));
      MPS_CHECKL(arena->poolOf(block) == pool_);
      block = *static_cast<void* const*>(block);
    }
    MPS_CHECKL(block == nullptr);
#endif
  }
  return true;
}

}  // namespace mps::core
