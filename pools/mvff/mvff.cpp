#include "pools/mvff/mvff.hpp"

#include "arena/buffer.hpp"
#include "base/keys.hpp"
#include "mpscmvff.h"
#include "mpstd.h"

namespace mps::core {

namespace {

Res createMVFF(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<MVFFPool>(poolOut, arena, &kPoolClassMVFF, args);
}

}  // namespace

const PoolClass kPoolClassMVFF = {PoolClass::kSig, "MVFF",
                                  kPoolAttrAlloc | kPoolAttrFree | kPoolAttrBuffer, createMVFF,
                                  MVFFPool::varargs};

// Node supply ---------------------------------------------------------------------

RangeNode* MVFFPool::NodeStore::allocNode() {
  Size floor = privileged ? 0 : kNodeReserve;
  if (MPS_UNLIKELY(stock_ <= floor) && refill() != Res::ok) return nullptr;
  FreeNode* node = free_;
  free_ = node->next;
  --stock_;
  return reinterpret_cast<RangeNode*>(node);
}

void MVFFPool::NodeStore::freeNode(RangeNode* node) {
  FreeNode* f = reinterpret_cast<FreeNode*>(node);
  f->next = free_;
  free_ = f;
  ++stock_;
}

Res MVFFPool::NodeStore::refill() {
  // A slab is one grain when grains are of a moderate size, so that a pool
  // that has just given a grain back under a commit limit can refill with
  // it; otherwise the largest block the arena's control lists hold.
  Size grain = arena_->grainSize();
  Size bytes = grain >= 2048 && grain <= 16384 ? grain : 2048;
  void* p;
  Res res = arena_->controlAlloc(&p, bytes);
  if (res != Res::ok) return res;
  Slab* slab = static_cast<Slab*>(p);
  slab->next = slabs_;
  slab->bytes = bytes;
  slabs_ = slab;
  Addr first = static_cast<Addr>(p) + alignUp(sizeof(Slab), alignof(RangeNode));
  Size n = Size(static_cast<Addr>(p) + bytes - first) / sizeof(RangeNode);
  // Pushed highest first so that nodes are handed out in address order.
  for (Size i = n; i-- > 0;)
    freeNode(reinterpret_cast<RangeNode*>(first + i * sizeof(RangeNode)));
  return Res::ok;
}

Res MVFFPool::NodeStore::ensure(Size n) {
  while (stock_ < n) {
    Res res = refill();
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

void MVFFPool::NodeStore::release() {
  while (slabs_ != nullptr) {
    Slab* slab = slabs_;
    slabs_ = slab->next;
    arena_->controlFree(slab, slab->bytes);
  }
  free_ = nullptr;
  stock_ = 0;
}

// Creation -----------------------------------------------------------------------------

MVFFPool::MVFFPool(Arena* arena, const PoolClass* poolClass)
    : Pool(arena, poolClass, MPS_PF_ALIGN), nodes_(arena) {}

Res MVFFPool::init(const mps_arg_s* args) {
  Size grain = arena_->grainSize();
  extendBy_ = MPS_ARG_OPTIONAL(args, EXTEND_BY, size, kDefaultExtendBy);
  meanSize_ = MPS_ARG_OPTIONAL(args, MEAN_SIZE, size, kDefaultMeanSize);
  Align align = MPS_ARG_OPTIONAL(args, ALIGN, align, Align(MPS_PF_ALIGN));
  spare_ = MPS_ARG_OPTIONAL(args, SPARE, d, kDefaultSpare);
  slotHigh_ = MPS_ARG_OPTIONAL(args, MVFF_SLOT_HIGH, b, 0) != 0;
  arenaHigh_ = MPS_ARG_OPTIONAL(args, MVFF_ARENA_HIGH, b, 0) != 0;
  firstFit_ = MPS_ARG_OPTIONAL(args, MVFF_FIRST_FIT, b, 1) != 0;

  MPS_AVER_ALWAYS(extendBy_ > 0);
  MPS_AVER_ALWAYS(meanSize_ > 0);
  MPS_AVER_ALWAYS(isPowerOfTwo(align));
  // Blocks on the fallback list hold at least a link word.
  MPS_AVER_ALWAYS(align >= sizeof(void*));
  MPS_AVER_ALWAYS(align <= grain);
  MPS_AVER_ALWAYS(spare_ >= 0.0 && spare_ <= 1.0);
  if (sizeTooLarge(extendBy_, grain)) return Res::resource;
  extendBy_ = alignUp(extendBy_, grain);
  alignment_ = align;
  alignShift_ = log2(align);
  // Memory goes back in runs of at least the increment it comes in (so that
  // giving back and taking again are in proportion), but at least a few grains
  // and at most 1 MiB, so that a huge increment cannot keep a pool from
  // shrinking. SPARE 0.0 gives back every whole free grain.
  Size cap = alignUp(Size(1) << 20, grain);
  minReturn_ = extendBy_ < cap ? extendBy_ : cap;
  if (minReturn_ < kMinRunGrains * grain) minReturn_ = kMinRunGrains * grain;
  if (spare_ == 0.0) minReturn_ = grain;
  // Quick lists. The budget bounds the free memory held uncoalesced: what
  // the lists may keep across an extension, so at most what they add to the
  // pool's footprint (they cannot keep memory from the arena: they are
  // flushed before the pool gives any back). Two increments (2 * extendBy),
  // at least 128 KiB and at most 1 MiB, for the hit rate: with uniformly
  // random sizes over 8-512 bytes (64 lists) and 1000 live blocks, 98% of
  // allocations are served from the lists with 128 KiB, 89% with 64 KiB
  // (then 0.21 tree operations per free and allocation instead of 0.04).
  quickMax_ = align <= kQuickMaxSize ? kQuickMaxSize : 0;
  Size budget = extendBy_ <= kQuickBudgetMax / 2 ? 2 * extendBy_ : kQuickBudgetMax;
  quickBudget_ = budget < kQuickBudgetMin ? kQuickBudgetMin : budget;
  // The free mark: a word no client is likely to leave in a live block's
  // second word, distinct per pool.
  Word mark = wordOf(this) ^ Word(0x9E3779B97F4A7C15ull);
  mark ^= mark >> 29;
  mark *= Word(0xBF58476D1CE4E5B9ull);
  mark ^= mark >> 32;
  quickMark_ = mark | 1;
  updateSpareLimit();
  return Res::ok;
}

MVFFPool::~MVFFPool() {
  // The flush reports double frees the release build missed.
  flushQuickLists();
  // Every owned grain goes back, including blocks clients still hold.
  owned_.forEach([this](Range r) { arena_->freeGrains(r.base, r.size()); });
  free_.clear();
  owned_.clear();
  fallback_ = nullptr;
  fallbackBytes_ = 0;
  nodes_.release();
}

void MVFFPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_EXTEND_BY;
  args[0].val.size = va_arg(ap, size_t);
  args[1].key = MPS_KEY_MEAN_SIZE;
  args[1].val.size = va_arg(ap, size_t);
  args[2].key = MPS_KEY_ALIGN;
  args[2].val.align = va_arg(ap, size_t);
  // mps_bool_t arguments arrive promoted to int.
  args[3].key = MPS_KEY_MVFF_SLOT_HIGH;
  args[3].val.b = va_arg(ap, int);
  args[4].key = MPS_KEY_MVFF_ARENA_HIGH;
  args[4].val.b = va_arg(ap, int);
  args[5].key = MPS_KEY_MVFF_FIRST_FIT;
  args[5].val.b = va_arg(ap, int);
  args[6].key = MPS_KEY_ARGS_END;
}

// Allocation -----------------------------------------------------------------------------

Res MVFFPool::alloc(Addr* pOut, Size size) {
  MPS_AVERT(Pool, this);
  MPS_AVER(size > 0);
  if (MPS_UNLIKELY(sizeTooLarge(size, alignment_))) return Res::resource;
  lastFreedLimit_ = nullptr;  // the last freed block may be allocated now
  Size rounded = alignUp(size, alignment_);
  if (MPS_LIKELY(rounded <= quickMax_)) {
    Size i = rounded >> alignShift_;
    QuickBlock* block = quickHead_[i];
    if (MPS_LIKELY(block != nullptr)) {
      quickHead_[i] = block->next;
      --quickCount_[i];
      quickBytes_ -= rounded;
      Addr p = reinterpret_cast<Addr>(block);
      clearMark(p, rounded);
      *pOut = p;
      return Res::ok;
    }
    if (MPS_LIKELY(free_.takeFirst(pOut, rounded, !firstFit_, slotHigh_))) {
      clearMark(*pOut, rounded);
      return Res::ok;
    }
    return allocSlow(pOut, rounded);
  }
  if (MPS_LIKELY(free_.takeFirst(pOut, rounded, !firstFit_, slotHigh_))) return Res::ok;
  return allocSlow(pOut, rounded);
}

Res MVFFPool::allocSlow(Addr* pOut, Size size) {
  auto take = [&] {
    if (free_.takeFirst(pOut, size, !firstFit_, slotHigh_) ||
        (fallback_ != nullptr && takeFallback(pOut, size))) {
      if (size <= quickMax_) clearMark(*pOut, size);
      return true;
    }
    return false;
  };
  // Coalesced in the tree, quick-listed and fallback blocks may fit where
  // they did not separately; only then does the pool ask the arena. For a
  // small request the lists keep their newest kQuickKeep blocks of each size
  // (the memory they hold back across an extension).
  if (quickBytes_ > 0) {
    trimQuickLists(size <= quickMax_ ? kQuickKeep : 0);
    if (free_.takeFirst(pOut, size, !firstFit_, slotHigh_)) {
      if (size <= quickMax_) clearMark(*pOut, size);
      return Res::ok;
    }
  }
  // Nodes may be available again.
  if (fallback_ != nullptr) drainFallback();
  if (take()) return Res::ok;
  Res res = extend(size);
  if (res == Res::ok) {
    bool taken = take();
    MPS_AVER(taken);
    (void)taken;
    return Res::ok;
  }
  // No more memory: the blocks kept on the lists are all that is left.
  if (quickBytes_ > 0) {
    flushQuickLists();
    if (take()) return Res::ok;
  }
  return res;
}

Res MVFFPool::extend(Size size) {
  Size grain = arena_->grainSize();
  // No address space is half the word range; saying so here keeps the
  // arena's size arithmetic away from overflow.
  if (size > (~Size(0) >> 1) - grain) return Res::resource;
  Size needed = alignUp(size, grain);
  Size request = needed > extendBy_ ? needed : extendBy_;
  // Nodes for recording the extent in both sets, beyond the reserve, so
  // that the reserve survives for giving memory back later.
  Res res = nodes_.ensure(kNodeReserve + 2);
  if (res != Res::ok) return res;
  Addr base;
  res = arena_->allocGrains(&base, request, this, arenaHigh_);
  if (res != Res::ok && request > needed) {
    // Near a commit limit the full increment may not fit when the block does.
    request = needed;
    res = arena_->allocGrains(&base, request, this, arenaHigh_);
  }
  if (res != Res::ok) return res;
  Privileged privileged(nodes_);
  res = owned_.insert(base, base + request);
  MPS_AVER(res == Res::ok);
  res = free_.insert(base, base + request);
  MPS_AVER(res == Res::ok);
  updateSpareLimit();
  noteExtended(base, base + request);
  return Res::ok;
}

// Allocation points ----------------------------------------------------------------------

Res MVFFPool::bufferInit(Buffer*, const mps_arg_s*) {
  // MVFF takes no allocation point keywords; objects hold no references the
  // collector sees, so the buffer's rank set stays empty and flips leave it
  // alone.
  return Res::ok;
}

bool MVFFPool::takeWindow(Range* windowOut, Size size) {
  Range r;
  if (!free_.findLargest(&r) || r.size() < size) return false;
  // Worst fit: the largest range is the one whose use fragments least (what
  // is left of it is still the longest), and it leaves the small ranges to
  // mps_alloc's first fit. A long range is not taken whole, so that one
  // allocation point does not keep the pool's free space to itself.
  Size want = size > windowMax() ? size : windowMax();
  Size take = r.size() < want ? r.size() : want;
  // A prefix of a range: never a split, so never a node.
  Res res = free_.remove(r.base, r.base + take);
  MPS_AVER(res == Res::ok);
  (void)res;
  *windowOut = Range{r.base, r.base + take};
  return true;
}

Res MVFFPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVERT(Pool, this);
  MPS_AVER(buffer->isReset() && size > 0 && isAligned(size, alignment_));
  if (MPS_UNLIKELY(sizeTooLarge(size, arena_->grainSize()))) return Res::resource;
  lastFreedLimit_ = nullptr;  // the last freed block may be handed out now
  Range window;
  bool found = takeWindow(&window, size);
  if (!found) {
    // As for mps_alloc: coalesce what the quick lists and the fallback list
    // hold, and only then ask the arena.
    if (quickBytes_ > 0) trimQuickLists(0);
    if (fallback_ != nullptr) drainFallback();
    found = takeWindow(&window, size);
  }
  if (!found) {
    Res res = extend(size);
    if (res != Res::ok) {
      // The fallback list is all that is left (a starved pool's last
      // resort; the window is then exactly the request).
      Addr p;
      if (fallback_ == nullptr || !takeFallback(&p, size)) return res;
      window = Range{p, p + size};
    } else {
      found = takeWindow(&window, size);
      MPS_AVER(found);
    }
  }
  windowBytes_ += window.size();
  scrubMarks(window);
  buffer->attach(nullptr, window.base, window.limit);
  return Res::ok;
}

void MVFFPool::scrubMarks(Range window) {
  // Free small blocks carry the free mark in their second word, also once
  // coalesced in the tree, and a window is carved from the tree. Blocks
  // reserved in it do not get their marks cleared one by one (reservation
  // is inline), so a block whose second word the client leaves alone would
  // find a stale mark when freed and take the full overlap check every
  // time. Clearing them here costs a read of each word handed out, about
  // what the client's own initialisation costs.
  if (quickMax_ == 0) return;
  Word* w = reinterpret_cast<Word*>(window.base);
  Word* end = reinterpret_cast<Word*>(window.limit);
  const Word mark = quickMark_;
  for (; w < end; ++w)
    if (MPS_UNLIKELY(*w == mark)) *w = 0;
}

void MVFFPool::bufferEmpty(Buffer* buffer) {
  MPS_AVERT(Pool, this);
  MPS_AVER(buffer->seg == nullptr && windowBytes_ >= Size(buffer->poolLimit - buffer->base));
  windowBytes_ -= Size(buffer->poolLimit - buffer->base);
  Addr init = buffer->init();
  if (init == buffer->poolLimit) return;
  // The unused tail is free again, coalescing with its neighbours (among
  // them, blocks of this window already freed).
  insertFree(init, buffer->poolLimit);
  if (fallback_ != nullptr) drainFallback();
  if (freeBytes() > reduceAt_) reduce();
}

Size MVFFPool::freeSize() const {
  Size unused = 0;
  if (windowBytes_ != 0)
    forEachBuffer([&](Buffer* b) {
      if (!b->isReset()) unused += Size(b->poolLimit - b->init());
    });
  return freeBytes() + unused;
}

bool MVFFPool::overlapsWindow(Addr base, Addr limit) const {
  bool meets = false;
  forEachBuffer([&](Buffer* b) {
    if (!b->isReset() && b->init() < limit && base < b->poolLimit) meets = true;
  });
  return meets;
}

// Freeing --------------------------------------------------------------------------------

void MVFFPool::free(Addr p, Size size) {
  MPS_AVERT(Pool, this);
  MPS_AVER(size > 0);
  MPS_AVER_ALWAYS(isAligned(p, alignment_) && "block being freed is aligned to the pool alignment");
  MPS_AVER_ALWAYS(arena_->poolOf(p) == this && "block being freed belongs to the pool");
  // No block is larger than the pool, so this also keeps the rounding and
  // the limit from wrapping around.
  MPS_AVER_ALWAYS(size <= totalSize() && "block being freed lies within the pool's memory");
  Size rounded = alignUp(size, alignment_);
  Addr limit = p + rounded;
  // The last byte needs its own lookup only if it is in another grain.
  MPS_AVER_ALWAYS((((wordOf(p) ^ wordOf(limit - 1)) >> arena_->grainShift()) == 0 ||
                   arena_->poolOf(limit - 1) == this) &&
                  "block being freed lies within the pool's memory");
  // The ends are the pool's; in checked builds, so is all between, and none
  // of it is free (the tree's insertion checks the tree again, cheaply).
  MPS_AVER(owned_.contains(p, limit) && "block being freed lies within the pool's memory");
  MPS_AVER(!overlapsFreeSpace(p, limit) &&
           "block being freed is not already free (double free or wrong size)");
  // A window's unused part is out of the tree: the overlap test above cannot
  // see a free of bytes an allocation point has not handed out.
  MPS_AVER((windowBytes_ == 0 || !overlapsWindow(p, limit)) &&
           "block being freed is not in the unused part of an allocation point's buffer");
  // Every build: not the block freed last, if nothing was allocated since.
  MPS_AVER_ALWAYS(!(p < lastFreedLimit_ && lastFreedBase_ < limit) &&
                  "block being freed is not already free (double free or wrong size)");
  lastFreedBase_ = p;
  lastFreedLimit_ = limit;
  if (MPS_LIKELY(rounded <= quickMax_)) {
    if (MPS_UNLIKELY(hasMark(p, rounded))) checkMarkedFree(p, limit);
    Size i = rounded >> alignShift_;
    QuickBlock* head = quickHead_[i];
    QuickBlock* block = reinterpret_cast<QuickBlock*>(p);
    // Also catches the double free of a one-word block, which has no mark.
    MPS_AVER_ALWAYS(block != head &&
                    "block being freed is not already free (double free or wrong size)");
    if (MPS_LIKELY(quickCount_[i] < kQuickDepth && quickBytes_ + rounded <= quickBudget_ &&
                   freeBytes() + rounded <= reduceAt_)) {
      block->next = head;
      setMark(p, rounded);
      quickHead_[i] = block;
      ++quickCount_[i];
      quickBytes_ += rounded;
      return;
    }
    setMark(p, rounded);
  }
  Res res = free_.insert(p, limit);
  if (MPS_LIKELY(res == Res::ok) && MPS_LIKELY(freeBytes() <= reduceAt_) &&
      MPS_LIKELY(fallback_ == nullptr))
    return;
  freeSlow(p, rounded, res);
}

void MVFFPool::checkMarkedFree(Addr base, Addr limit) const {
  MPS_AVER_ALWAYS(!overlapsFreeSpace(base, limit) &&
                  "block being freed is not already free (double free or wrong size)");
}

bool MVFFPool::overlapsFreeSpace(Addr base, Addr limit) const {
  return free_.overlaps(base, limit) || quickOverlaps(base, limit) ||
         (fallback_ != nullptr && fallbackOverlaps(base, limit));
}

void MVFFPool::freeSlow(Addr p, Size size, Res res) {
  MPS_AVER_ALWAYS(res != Res::fail &&
                  "block being freed is not already free (double free or wrong size)");
  if (res == Res::memory && scavengeNodes()) res = free_.insert(p, p + size);
  // Draining retries node allocation, which is pointless just after it
  // failed unless grains have since gone back to the arena.
  bool retry = res == Res::ok || freeWithoutNode(p, size);
  if (fallback_ != nullptr && retry) drainFallback();
  if (freeBytes() > reduceAt_) reduce();
}

bool MVFFPool::freeWithoutNode(Addr p, Size size) {
  Size grain = arena_->grainSize();
  Addr limit = p + size;
  Addr grainBase = alignUp(p, grain), grainLimit = alignDown(limit, grain);
  if (grainBase < grainLimit && freeBytes() + size > spareLimit_ &&
      returnGrains(grainBase, grainLimit)) {
    if (p < grainBase) pushFallback(p, Size(grainBase - p));
    if (grainLimit < limit) pushFallback(grainLimit, Size(limit - grainLimit));
    return true;
  }
  pushFallback(p, size);
  return false;
}

// Giving memory back -------------------------------------------------------------------

bool MVFFPool::returnGrains(Addr base, Addr limit) {
  Privileged privileged(nodes_);
  Res res = owned_.remove(base, limit);
  MPS_AVER(res != Res::fail);
  if (res != Res::ok) return false;
  noteReturning(base, limit);
  arena_->freeGrains(base, Size(limit - base));
  updateSpareLimit();
  return true;
}

void MVFFPool::setReduceAt(Size floor) {
  Size total = owned_.total();
  if (spare_ >= 1.0) {
    reduceAt_ = total;  // free never exceeds the total
    return;
  }
  // Below minReturn_ free bytes there is no run to give back (a pool that
  // has just extended is mostly free), unless the pool is all free.
  if (spare_ > 0.0 && floor < minReturn_) floor = minReturn_;
  Size at = floor > spareLimit_ ? floor : spareLimit_;
  if (at >= total) at = total > 0 ? total - 1 : 0;
  reduceAt_ = at;
}

void MVFFPool::reduce() {
  // Coalesce first: quick-listed blocks may join free ranges into runs.
  flushQuickLists();
  if (fallback_ == nullptr && free_.total() == owned_.total()) {
    returnAll();
    return;
  }
  Size grain = arena_->grainSize();
  if (spare_ == 0.0) {
    returnRuns(0.0, grain);  // every whole free grain
  } else {
    // Long runs, down to half the spare fraction: hysteresis, so that the
    // pool is not back over the threshold after a few more frees.
    returnRuns(spare_ / 2, minReturn_);
    // Free space fragmented into shorter runs goes back only once it is
    // minReturn_ over the limit, and only in runs of several grains.
    if (freeBytes() > spareLimit_ && freeBytes() - spareLimit_ > minReturn_)
      returnRuns(spare_, kMinRunGrains * grain);
  }
  // Try again once another minReturn_ bytes are free (not for SPARE 0.0,
  // which gives back every whole grain as soon as there is one).
  setReduceAt(freeBytes() > spareLimit_ && spare_ > 0.0 ? freeBytes() + minReturn_ : 0);
}

bool MVFFPool::returnRuns(double fraction, Size minRun) {
  Size grain = arena_->grainSize();
  while (double(freeBytes()) > fraction * double(totalSize())) {
    // The largest free range holds the longest run of whole grains but one
    // (a range of under two grains may hold none where a smaller aligned one
    // holds one), so if it is too short, practically all are.
    Range r;
    if (!free_.findLargest(&r)) return false;
    Addr base = alignUp(r.base, grain), limit = alignDown(r.limit, grain);
    if (base >= limit || Size(limit - base) < minRun) return false;
    // The whole run: fewer, larger returns, and no remnant of the run left
    // to go back later in pieces. It may take the fraction well below.
    Privileged privileged(nodes_);
    if (free_.remove(base, limit) != Res::ok) return false;  // no node for a split
    if (!returnGrains(base, limit)) {
      // Put it back; it coalesces with what the removal left, or reuses
      // the node the removal just gave back.
      Res res = free_.insert(base, limit);
      MPS_AVER(res == Res::ok);
      (void)res;
      return false;
    }
  }
  return true;
}

void MVFFPool::returnAll() {
  Range r;
  while (free_.findLargest(&r)) {
    Privileged privileged(nodes_);
    Res res = free_.remove(r.base, r.limit);
    MPS_AVER(res == Res::ok);
    (void)res;
    if (!returnGrains(r.base, r.limit)) {
      // The owned set could not record it (it cannot need a node to remove
      // a whole range, but be safe).
      res = free_.insert(r.base, r.limit);
      MPS_AVER(res == Res::ok);
      return;
    }
  }
}

bool MVFFPool::scavengeNodes() {
  Range r;
  if (!free_.findLargest(&r)) return false;
  Size grain = arena_->grainSize();
  Addr grainBase = alignUp(r.base, grain), grainLimit = alignDown(r.limit, grain);
  if (grainBase >= grainLimit) return false;
  // A grain at an end of the free range if there is one (no split).
  Addr base = grainBase == r.base && grainLimit != r.limit ? grainBase : grainLimit - grain;
  Privileged privileged(nodes_);
  if (free_.remove(base, base + grain) != Res::ok) return false;
  if (!returnGrains(base, base + grain)) {
    Res res = free_.insert(base, base + grain);
    MPS_AVER(res == Res::ok);
    (void)res;
    return false;
  }
  return nodes_.refill() == Res::ok;
}

// The fallback list --------------------------------------------------------------------

Size MVFFPool::fallbackSizeOf(const FallbackBlock* block) {
  return (block->next & 1) != 0 ? sizeof(Word) : block->size;
}

void MVFFPool::pushFallback(Addr base, Size size) {
  MPS_AVER(size >= sizeof(Word) && isAligned(base, sizeof(Word)));
  FallbackBlock* block = reinterpret_cast<FallbackBlock*>(base);
  if (size == sizeof(Word)) {
    block->next = wordOf(fallback_) | 1;
  } else {
    block->next = wordOf(fallback_);
    block->size = size;
  }
  fallback_ = block;
  fallbackBytes_ += size;
}

bool MVFFPool::takeFallback(Addr* pOut, Size size) {
  // First fit over an unordered list: linear, but the list exists only
  // while the pool is starved of nodes.
  FallbackBlock* prev = nullptr;
  for (FallbackBlock* b = fallback_; b != nullptr;) {
    FallbackBlock* next = reinterpret_cast<FallbackBlock*>(b->next & ~Word(1));
    Size blockSize = fallbackSizeOf(b);
    if (blockSize >= size) {
      if (prev == nullptr)
        fallback_ = next;
      else
        prev->next = wordOf(next) | (prev->next & 1);
      fallbackBytes_ -= blockSize;
      Addr base = reinterpret_cast<Addr>(b);
      Size rest = blockSize - size;
      // The list is unordered, so MVFF_FIRST_FIT cannot be honoured; the end
      // used follows MVFF_SLOT_HIGH as for the tree.
      if (slotHigh_) {
        if (rest > 0) pushFallback(base, rest);
        *pOut = base + rest;
      } else {
        if (rest > 0) pushFallback(base + size, rest);
        *pOut = base;
      }
      return true;
    }
    prev = b;
    b = next;
  }
  return false;
}

void MVFFPool::drainFallback() {
  while (fallback_ != nullptr) {
    FallbackBlock* block = fallback_;
    Addr base = reinterpret_cast<Addr>(block);
    Size size = fallbackSizeOf(block);
    FallbackBlock* next = reinterpret_cast<FallbackBlock*>(block->next & ~Word(1));
    Res res = free_.insert(base, base + size);
    if (res == Res::memory && scavengeNodes()) res = free_.insert(base, base + size);
    if (res != Res::ok) {
      MPS_AVER(res == Res::memory);
      return;
    }
    fallback_ = next;
    fallbackBytes_ -= size;
  }
}

bool MVFFPool::fallbackOverlaps(Addr base, Addr limit) const {
  for (const FallbackBlock* b = fallback_; b != nullptr;
       b = reinterpret_cast<const FallbackBlock*>(b->next & ~Word(1))) {
    Addr blockBase = reinterpret_cast<Addr>(const_cast<FallbackBlock*>(b));
    if (blockBase < limit && base < blockBase + fallbackSizeOf(b)) return true;
  }
  return false;
}

// The quick lists -------------------------------------------------------------------

void MVFFPool::insertFree(Addr base, Addr limit) {
  Res res = free_.insert(base, limit);
  if (res == Res::memory && scavengeNodes()) res = free_.insert(base, limit);
  MPS_AVER_ALWAYS(res != Res::fail &&
                  "block being freed is not already free (double free or wrong size)");
  if (res != Res::ok) pushFallback(base, Size(limit - base));
}

void MVFFPool::trimQuickLists(Size keep) {
  if (quickBytes_ == 0) return;
  Size max = quickMax_ >> alignShift_;
  for (Size i = 1; i <= max; ++i) {
    if (quickCount_[i] <= keep) continue;
    Size size = i << alignShift_;
    QuickBlock** link = &quickHead_[i];
    for (Size k = 0; k < keep; ++k)
      link = &(*link)->next;
    QuickBlock* rest = *link;
    *link = nullptr;
    quickBytes_ -= (quickCount_[i] - keep) * size;
    quickCount_[i] = std::uint16_t(keep);
    while (rest != nullptr) {
      Addr base = reinterpret_cast<Addr>(rest);
      rest = rest->next;
      // The block keeps its free mark in the tree.
      insertFree(base, base + size);
    }
  }
  MPS_AVER(keep > 0 || quickBytes_ == 0);
}

bool MVFFPool::quickOverlaps(Addr base, Addr limit) const {
  if (quickBytes_ == 0) return false;
  Size max = quickMax_ >> alignShift_;
  for (Size i = 1; i <= max; ++i) {
    Size size = i << alignShift_;
    for (const QuickBlock* b = quickHead_[i]; b != nullptr; b = b->next) {
      Addr blockBase = reinterpret_cast<Addr>(const_cast<QuickBlock*>(b));
      if (blockBase < limit && base < blockBase + size) return true;
    }
  }
  return false;
}

// Checking -----------------------------------------------------------------------------

bool MVFFPool::check() const {
  MPS_CHECKL(Pool::check());
  Size grain = arena_->grainSize();
  MPS_CHECKL(alignment_ >= sizeof(void*) && alignment_ <= grain);
  MPS_CHECKL(extendBy_ > 0 && isAligned(extendBy_, grain));
  MPS_CHECKL(meanSize_ > 0);
  MPS_CHECKL(spare_ >= 0.0 && spare_ <= 1.0);
  MPS_CHECKL(free_.sig == RangeSet::kSig && owned_.sig == RangeSet::kSig);
  MPS_CHECKL(isAligned(totalSize(), grain));
  MPS_CHECKL(freeSize() <= totalSize());
  MPS_CHECKL((fallback_ == nullptr) == (fallbackBytes_ == 0));
  MPS_CHECKL(quickMax_ == 0 || (quickMax_ == kQuickMaxSize && alignment_ <= quickMax_));
  MPS_CHECKL(quickBytes_ <= quickBudget_);
  MPS_CHECKL(Size(1) << alignShift_ == alignment_);
  MPS_CHECKL(reduceAt_ <= totalSize());
  return true;
}

bool MVFFPool::checkFreeSpace() const {
  MPS_CHECKL(check());
  MPS_CHECKL(free_.check());
  MPS_CHECKL(owned_.check());
  Size grain = arena_->grainSize();
  owned_.forEach([&](Range r) {
    MPS_CHECKL(isAligned(r.base, grain) && isAligned(r.limit, grain));
    MPS_CHECKL(arena_->poolOf(r.base) == this && arena_->poolOf(r.limit - 1) == this);
  });
  free_.forEach([&](Range r) {
    MPS_CHECKL(isAligned(r.base, alignment_) && isAligned(r.limit, alignment_));
    MPS_CHECKL(owned_.contains(r.base, r.limit));
  });
  Size bytes = 0;
  for (const FallbackBlock* b = fallback_; b != nullptr;
       b = reinterpret_cast<const FallbackBlock*>(b->next & ~Word(1))) {
    Addr base = reinterpret_cast<Addr>(const_cast<FallbackBlock*>(b));
    Size size = fallbackSizeOf(b);
    MPS_CHECKL(size > 0 && isAligned(base, alignment_) && isAligned(size, alignment_));
    MPS_CHECKL(owned_.contains(base, base + size));
    MPS_CHECKL(!free_.overlaps(base, base + size));
    bytes += size;
  }
  MPS_CHECKL(bytes == fallbackBytes_);
  // Quick lists: counts and bytes, each block of its list's size, owned,
  // marked, and disjoint from all other free space (the lists are bounded, so
  // the quadratic check is affordable).
  bytes = 0;
  for (Size i = 0; i < kQuickClasses; ++i) {
    Size size = i << alignShift_;
    Size count = 0;
    for (const QuickBlock* b = quickHead_[i]; b != nullptr; b = b->next) {
      MPS_CHECKL(i >= 1 && size <= quickMax_);
      Addr base = reinterpret_cast<Addr>(const_cast<QuickBlock*>(b));
      MPS_CHECKL(isAligned(base, alignment_));
      MPS_CHECKL(owned_.contains(base, base + size));
      MPS_CHECKL(size <= sizeof(Word) || b->mark == quickMark_);
      MPS_CHECKL(!free_.overlaps(base, base + size));
      MPS_CHECKL(!fallbackOverlaps(base, base + size));
      Size meets = 0;
      for (Size j = 1; j < kQuickClasses; ++j) {
        Size otherSize = j << alignShift_;
        for (const QuickBlock* c = quickHead_[j]; c != nullptr; c = c->next) {
          Addr otherBase = reinterpret_cast<Addr>(const_cast<QuickBlock*>(c));
          if (otherBase < base + size && base < otherBase + otherSize) ++meets;
        }
      }
      MPS_CHECKL(meets == 1);  // itself
      ++count;
      MPS_CHECKL(count <= kQuickDepth);
      bytes += size;
    }
    MPS_CHECKL(count == quickCount_[i]);
  }
  MPS_CHECKL(bytes == quickBytes_);
  // Windows: their unused parts in owned memory, out of every kind of free
  // space and disjoint from each other (the blocks committed before init are
  // the client's: they may have been freed, and even given back to the
  // arena), and windowBytes_ the sum of the windows as filled.
  bytes = 0;
  forEachBuffer([&](Buffer* b) {
    if (b->isReset()) return;
    MPS_CHECKL(b->seg == nullptr && b->base < b->poolLimit);
    MPS_CHECKL(isAligned(b->base, alignment_) && isAligned(b->poolLimit, alignment_));
    bytes += Size(b->poolLimit - b->base);
    if (b->init() == b->poolLimit) return;
    MPS_CHECKL(owned_.contains(b->init(), b->poolLimit));
    MPS_CHECKL(!overlapsFreeSpace(b->init(), b->poolLimit));
    Size meets = 0;
    forEachBuffer([&](Buffer* c) {
      if (!c->isReset() && c->init() < b->poolLimit && b->init() < c->poolLimit) ++meets;
    });
    MPS_CHECKL(meets == 1);
  });
  MPS_CHECKL(bytes == windowBytes_);
  return true;
}

}  // namespace mps::core
