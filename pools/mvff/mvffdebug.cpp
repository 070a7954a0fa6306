#include "pools/mvff/mvffdebug.hpp"

#include "arena/buffer.hpp"
#include "base/keys.hpp"

namespace mps::core {

namespace {

Res createMVFFDebug(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<MVFFDebugPool>(poolOut, arena, &kPoolClassMVFFDebug, args);
}

constexpr const char* kOnFree = PoolDebug::kFenceOnFree;
constexpr const char* kFreeOnReuse = PoolDebug::kFreeOnReuse;
constexpr const char* kFreeOnRelease = PoolDebug::kFreeOnRelease;

}  // namespace

const PoolClass kPoolClassMVFFDebug = {PoolClass::kSig, "MVFF debug",
                                       kPoolAttrAlloc | kPoolAttrFree | kPoolAttrBuffer,
                                       createMVFFDebug, MVFFDebugPool::varargs};

Res MVFFDebugPool::init(const mps_arg_s* args) {
  Res res = MVFFPool::init(args);
  if (res != Res::ok) return res;
  disableQuickLists();
  res = debug_.init(arena_, args, alignment_);
  if (res != Res::ok) return res;
  if (alignment_ <= kCacheMaxSize) {
    cacheShift_ = log2(alignment_);
    cacheMax_ = kCacheMaxSize;
    cacheClasses_ = (kCacheMaxSize >> cacheShift_) + 1;
    void* p;
    res = arena_->controlAlloc(&p, cacheClasses_ * sizeof(CacheClass));
    if (res != Res::ok) return res;
    cache_ = static_cast<CacheClass*>(p);
    for (Size i = 0; i < cacheClasses_; ++i)
      cache_[i].count = 0;
  }
  return Res::ok;
}

MVFFDebugPool::~MVFFDebugPool() {
  // debugging.md: fenceposts are verified when the pool is destroyed, and
  // free space when it goes back to the arena (all of it now).
  checkFenceposts(PoolDebug::kFenceOnDestroy, "mps_pool_destroy");
  checkFreeSpaceTemplate(kFreeOnRelease, "mps_pool_destroy");
  if (cache_ != nullptr) arena_->controlFree(cache_, cacheClasses_ * sizeof(CacheClass));
  tags_.release();
  debug_.finish();
}

void MVFFDebugPool::varargs(mps_arg_s* args, va_list ap) {
  PoolDebug::varargs(args, ap, MVFFPool::varargs);
}

Res MVFFDebugPool::alloc(Addr* pOut, Size size) {
  MPS_AVER(size > 0);
  Size fence = debug_.fenceSize();
  if (sizeTooLarge(size, alignment_) || sizeTooLarge(alignUp(size, alignment_), 2 * fence))
    return Res::resource;
  Size total = footprint(size);
  Addr base = takeCached(total);
  // A block from the fallback list (a pool starved of tree nodes) carries
  // the list's link words; any other free block holds the template. The
  // list is asked before the allocation, which may take its last block.
  bool holdsTemplate = base != nullptr || fallbackSize() == 0;
  if (base == nullptr) {
    Res res = MVFFPool::alloc(&base, total);
    if (res != Res::ok && cacheBytes_ > 0) {
      flushCache();
      res = MVFFPool::alloc(&base, total);
    }
    if (res != Res::ok) return res;
  }
  if (debug_.splats() && holdsTemplate) {
    if (Addr bad = debug_.badFreeByte(base, base + total))
      PoolDebug::freeFail(__FILE__, __LINE__, kFreeOnReuse, bad, base, base + total, "mps_alloc",
                          this);
  }
  Addr client = base + fence;
  Res res = tags_.insert(client, size);
  if (res != Res::ok) {
    MVFFPool::free(base, total);
    return res;
  }
  if (fence != 0) {
    debug_.writeFence(base, fence);
    debug_.writeFence(client + size, Size(base + total - (client + size)));
  }
  *pOut = client;
  return Res::ok;
}

void MVFFDebugPool::free(Addr p, Size size) {
  MPS_AVER_ALWAYS(size > 0);
  // The tag goes now: a report below does not return.
  Size tagged = tags_.remove(p);
  if (tagged == 0) {
    AssertReport()
        .text("block being freed was allocated from the pool (no tag at ")
        .address(p)
        .text("; in mps_free: pool ")
        .address(this)
        .text(")")
        .fail(__FILE__, __LINE__);
  }
  if (tagged != size) {
    AssertReport()
        .text("tag->size == size: block ")
        .address(p)
        .text(" freed with ")
        .number(size)
        .text(" bytes was allocated with ")
        .number(tagged)
        .text(" (in mps_free: pool ")
        .address(this)
        .text(")")
        .fail(__FILE__, __LINE__);
  }
  checkBlock(p, size, kOnFree, "mps_free");
  freeBlock(p, size);
}

void MVFFDebugPool::freeBlock(Addr client, Size size) {
  Size total = footprint(size);
  Addr base = client - debug_.fenceSize();
  if (debug_.splats()) debug_.splat(base, base + total);
  if (total <= cacheMax_ && cacheBytes_ + total <= quickBudget()) {
    CacheClass& c = cache_[total >> cacheShift_];
    if (c.count < kCacheDepth) {
      c.blocks[c.count++] = base;
      cacheBytes_ += total;
      return;
    }
  }
  MVFFPool::free(base, total);
}

Addr MVFFDebugPool::takeCached(Size total) {
  if (total > cacheMax_) return nullptr;
  CacheClass& c = cache_[total >> cacheShift_];
  if (c.count == 0) return nullptr;
  cacheBytes_ -= total;
  return c.blocks[--c.count];
}

void MVFFDebugPool::flushCache() {
  for (Size i = 0; i < cacheClasses_; ++i) {
    Size total = i << cacheShift_;
    while (cache_[i].count > 0) {
      MVFFPool::free(cache_[i].blocks[--cache_[i].count], total);
      cacheBytes_ -= total;
    }
  }
}

void MVFFDebugPool::checkBlock(Addr client, Size size, const char* check,
                               const char* function) const {
  Size fence = debug_.fenceSize();
  if (fence == 0) return;
  Addr bad = debug_.badFenceByte(client - fence, fence);
  Addr post = client + size;
  if (bad == nullptr)
    bad = debug_.badFenceByte(post, Size(client + alignUp(size, alignment_) + fence - post));
  if (bad != nullptr)
    PoolDebug::fenceFail(__FILE__, __LINE__, check, bad, client, size, function, this);
}

Res MVFFDebugPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVER(buffer->isReset() && size > 0 && isAligned(size, alignment_));
  // One block per window: the next reserve comes back here, so every block
  // gets its fenceposts and its tag.
  Addr client;
  Res res = alloc(&client, size);
  if (res != Res::ok) return res;
  windowBytes_ += size;
  buffer->attach(nullptr, client, client + size);
  return Res::ok;
}

void MVFFDebugPool::bufferEmpty(Buffer* buffer) {
  MPS_AVER(buffer->seg == nullptr && windowBytes_ >= Size(buffer->poolLimit - buffer->base));
  Size size = Size(buffer->poolLimit - buffer->base);
  windowBytes_ -= size;
  // The window is one block: committed (the client owns it now) or not.
  if (buffer->init() == buffer->base) {
    checkBlock(buffer->base, size, kOnFree, "mps_ap_destroy");
    tags_.remove(buffer->base);
    freeBlock(buffer->base, size);
  }
  MPS_AVER(buffer->init() == buffer->base || buffer->init() == buffer->poolLimit);
}

void MVFFDebugPool::checkFenceposts(const char* check, const char* function) const {
  tags_.forEach([&](Addr client, Size size) { checkBlock(client, size, check, function); });
}

void MVFFDebugPool::checkFreeSpaceTemplate(const char* check, const char* function) const {
  if (!debug_.splats()) return;
  // The tree's free space (the quick lists are off; blocks on the fallback
  // list hold its links, and are left out).
  auto checkRange = [&](Addr base, Addr limit) {
    if (Addr bad = debug_.badFreeByte(base, limit))
      PoolDebug::freeFail(__FILE__, __LINE__, check, bad, base, limit, function, this);
  };
  forEachFreeRange(checkRange);
  for (Size i = 0; i < cacheClasses_; ++i)
    for (Size k = 0; k < cache_[i].count; ++k)
      checkRange(cache_[i].blocks[k], cache_[i].blocks[k] + (i << cacheShift_));
}

void MVFFDebugPool::noteExtended(Addr base, Addr limit) {
  if (debug_.splats()) debug_.splat(base, limit);
}

void MVFFDebugPool::noteReturning(Addr base, Addr limit) {
  if (!debug_.splats()) return;
  if (Addr bad = debug_.badFreeByte(base, limit))
    PoolDebug::freeFail(__FILE__, __LINE__, kFreeOnRelease, bad, base, limit, "mps_free", this);
}

}  // namespace mps::core
