#include "pools/mvff/mvff.hpp"

#include "base/keys.hpp"
#include "mpscmvff.h"
#include "mpstd.h"

namespace mps::core {

namespace {

Res createMVFF(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<MVFFPool>(poolOut, arena, &kPoolClassMVFF, args);
}

}  // namespace

const PoolClass kPoolClassMVFF = {PoolClass::kSig, "MVFF", kPoolAttrAlloc | kPoolAttrFree,
                                  createMVFF, MVFFPool::varargs};

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
  updateSpareLimit();
  return Res::ok;
}

MVFFPool::~MVFFPool() {
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
  Size rounded = alignUp(size, alignment_);
  if (MPS_LIKELY(free_.takeFirst(pOut, rounded, slotHigh_, firstFit_))) return Res::ok;
  return allocSlow(pOut, rounded);
}

Res MVFFPool::allocSlow(Addr* pOut, Size size) {
  if (fallback_ != nullptr) {
    // Nodes may be available again: coalesced in the tree, the fallback
    // blocks may fit where they did not separately.
    drainFallback();
    if (free_.takeFirst(pOut, size, slotHigh_, firstFit_)) return Res::ok;
    if (takeFallback(pOut, size)) return Res::ok;
  }
  Res res = extend(size);
  if (res != Res::ok) return res;
  bool found = free_.takeFirst(pOut, size, slotHigh_, firstFit_);
  MPS_AVER(found);
  (void)found;
  return Res::ok;
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
  return Res::ok;
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
  // The ends are the pool's; in checked builds, so is all between.
  MPS_AVER(owned_.contains(p, limit) && "block being freed lies within the pool's memory");
  MPS_AVER((fallback_ == nullptr || !fallbackOverlaps(p, limit)) &&
           "block being freed is not already free (double free or wrong size)");
  Res res = free_.insert(p, limit);
  if (MPS_LIKELY(res == Res::ok) && MPS_LIKELY(freeSize() <= spareLimit_) &&
      MPS_LIKELY(fallback_ == nullptr))
    return;
  freeSlow(p, rounded, res);
}

void MVFFPool::freeSlow(Addr p, Size size, Res res) {
  MPS_AVER_ALWAYS(res != Res::fail &&
                  "block being freed is not already free (double free or wrong size)");
  if (res == Res::memory && scavengeNodes()) res = free_.insert(p, p + size);
  // Draining retries node allocation, which is pointless just after it
  // failed unless grains have since gone back to the arena.
  bool retry = res == Res::ok || freeWithoutNode(p, size);
  if (fallback_ != nullptr && retry) drainFallback();
  if (freeSize() > spareLimit_) reduce();
}

bool MVFFPool::freeWithoutNode(Addr p, Size size) {
  Size grain = arena_->grainSize();
  Addr limit = p + size;
  Addr grainBase = alignUp(p, grain), grainLimit = alignDown(limit, grain);
  if (grainBase < grainLimit && freeSize() + size > spareLimit_ &&
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
  arena_->freeGrains(base, Size(limit - base));
  updateSpareLimit();
  return true;
}

void MVFFPool::reduce() {
  Size grain = arena_->grainSize();
  while (freeSize() > spareLimit_) {
    // The largest free range is the likeliest to hold whole grains; if it
    // holds none, no range does.
    Range r;
    if (!free_.findLargest(&r)) return;
    Addr grainBase = alignUp(r.base, grain), grainLimit = alignDown(r.limit, grain);
    if (grainBase >= grainLimit) return;
    // Return g bytes so that free - g <= spare * (total - g), i.e. keep as
    // much free memory as the spare fraction allows. spare < 1 here, since
    // free <= total.
    double excess = double(freeSize()) - spare_ * double(totalSize());
    double want = excess / (1.0 - spare_);
    Size interior = Size(grainLimit - grainBase);
    Size bytes = want >= double(interior) ? interior : alignUp(Size(want) + 1, grain);
    if (bytes > interior) bytes = interior;
    // Take the part at an end of the free range if the grains reach one
    // (no split); otherwise the part farthest from where allocation starts.
    Addr base, limit;
    if (grainLimit == r.limit || (grainBase != r.base && !arenaHigh_)) {
      base = grainLimit - bytes;
      limit = grainLimit;
    } else {
      base = grainBase;
      limit = grainBase + bytes;
    }
    Privileged privileged(nodes_);
    if (free_.remove(base, limit) != Res::ok) return;  // no node for a split
    if (!returnGrains(base, limit)) {
      // Put it back; it coalesces with what the removal left, or reuses
      // the node the removal just gave back.
      Res res = free_.insert(base, limit);
      MPS_AVER(res == Res::ok);
      (void)res;
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
      // The end used follows MVFF_FIRST_FIT as for the tree.
      if (firstFit_) {
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
  return true;
}

}  // namespace mps::core
