#include "arena/pooldebug.hpp"

#include <cstring>

#include "arena/arena.hpp"
#include "base/keys.hpp"

namespace mps::core {

namespace {

// debugging.md: the templates when MPS_KEY_POOL_DEBUG_OPTIONS is omitted.
const char kDefaultFence[] = "POST";
const char kDefaultFree[] = "FREE";

void repeat(unsigned char* image, Size imageSize, const void* tmpl, Size tmplSize) {
  for (Size i = 0; i < imageSize; ++i)
    image[i] = static_cast<const unsigned char*>(tmpl)[i % tmplSize];
}

// The first byte of [p, p + n) differing from `image`, or null.
Addr firstDifference(Addr p, const unsigned char* image, Size n) {
  if (std::memcmp(p, image, n) == 0) return nullptr;
  for (Size i = 0;; ++i)
    if (static_cast<unsigned char>(p[i]) != image[i]) return p + i;
}

}  // namespace

Res PoolDebug::init(Arena* arena, const mps_arg_s* args, Align alignment) {
  arena_ = arena;
  mps_pool_debug_option_s defaults = {kDefaultFence, 4, kDefaultFree, 4};
  const mps_pool_debug_option_s* options =
      MPS_ARG_OPTIONAL(args, POOL_DEBUG_OPTIONS, pool_debug_options, &defaults);
  MPS_AVER_ALWAYS(options != nullptr &&
                  "MPS_KEY_POOL_DEBUG_OPTIONS points at a mps_pool_debug_option_s");
  MPS_AVER_ALWAYS((options->fence_size == 0 || options->fence_template != nullptr) &&
                  "debug options: a fence_size needs a fence_template");
  MPS_AVER_ALWAYS((options->free_size == 0 || options->free_template != nullptr) &&
                  "debug options: a free_size needs a free_template");
  MPS_AVER_ALWAYS((options->free_size == 0 || alignment % options->free_size == 0) &&
                  "debug options: free_size divides the pool alignment");
  // No fencepost is longer than the pool: this keeps the rounding in range.
  MPS_AVER_ALWAYS(options->fence_size <= (Size(1) << 30) &&
                  "debug options: fence_size is at most 1 GiB");
  if (options->fence_size != 0) {
    fenceSize_ = alignUp(options->fence_size, alignment);
    // A post fencepost also covers the block's rounding, less than the
    // alignment.
    imageSize_ = fenceSize_ + alignment;
    void* p;
    Res res = arena->controlAlloc(&p, imageSize_);
    if (res != Res::ok) return res;
    fenceImage_ = static_cast<unsigned char*>(p);
    repeat(fenceImage_, imageSize_, options->fence_template, options->fence_size);
  }
  if (options->free_size != 0) {
    freeSize_ = options->free_size;
    freeImageSize_ = alignUp(kFreeImageMin, freeSize_);
    void* p;
    Res res = arena->controlAlloc(&p, freeImageSize_);
    if (res != Res::ok) {
      finish();
      return res;
    }
    freeImage_ = static_cast<unsigned char*>(p);
    repeat(freeImage_, freeImageSize_, options->free_template, freeSize_);
  }
  return Res::ok;
}

void PoolDebug::finish() {
  if (fenceImage_ != nullptr) arena_->controlFree(fenceImage_, imageSize_);
  if (freeImage_ != nullptr) arena_->controlFree(freeImage_, freeImageSize_);
  fenceImage_ = freeImage_ = nullptr;
  fenceSize_ = freeSize_ = 0;
}

void PoolDebug::varargs(mps_arg_s* args, va_list ap, void (*plain)(mps_arg_s*, va_list)) {
  args[0].key = MPS_KEY_POOL_DEBUG_OPTIONS;
  args[0].val.pool_debug_options = va_arg(ap, mps_pool_debug_option_s*);
  plain(args + 1, ap);
}

void PoolDebug::writeFence(Addr base, Size size) const {
  MPS_AVER(size <= imageSize_);
  std::memcpy(base, fenceImage_, size);
}

Addr PoolDebug::badFenceByte(Addr base, Size size) const {
  MPS_AVER(size <= imageSize_);
  return firstDifference(base, fenceImage_, size);
}

void PoolDebug::splat(Addr base, Addr limit) const {
  // base is aligned, so a multiple of free_size: the image starts in phase.
  MPS_AVER(isAligned(base, freeSize_));
  while (base < limit) {
    Size n = Size(limit - base) < freeImageSize_ ? Size(limit - base) : freeImageSize_;
    std::memcpy(base, freeImage_, n);
    base += n;
  }
}

Addr PoolDebug::badFreeByte(Addr base, Addr limit) const {
  MPS_AVER(isAligned(base, freeSize_));
  while (base < limit) {
    Size n = Size(limit - base) < freeImageSize_ ? Size(limit - base) : freeImageSize_;
    if (Addr bad = firstDifference(base, freeImage_, n)) return bad;
    base += n;
  }
  return nullptr;
}

void PoolDebug::fenceFail(const char* file, unsigned line, const char* check, Addr bad, Addr client,
                          Size size, const char* function, const void* pool) {
  AssertReport r;
  r.text(check).text(": fencepost overwritten at ").address(bad);
  r.text(bad < client ? " (before" : " (after").text(" the block ").address(client);
  r.text(" of ").number(size).text(" bytes; in ").text(function).text(": pool ");
  r.address(pool).text(")").fail(file, line);
}

void PoolDebug::freeFail(const char* file, unsigned line, const char* check, Addr bad, Addr base,
                         Addr limit, const char* function, const void* pool) {
  AssertReport r;
  r.text(check).text(": free space overwritten at ").address(bad);
  r.text(" (in the free block ").address(base).text("-").address(limit);
  r.text("; in ").text(function).text(": pool ").address(pool).text(")").fail(file, line);
}

// Block tags --------------------------------------------------------------------------

Res BlockTags::grow() {
  Size capacity = capacity_ == 0 ? 256 : 2 * capacity_;
  void* p;
  Res res = arena_->controlAlloc(&p, capacity * sizeof(Slot));
  if (res != Res::ok) return res;
  Slot* old = slots_;
  Size oldCapacity = capacity_;
  slots_ = static_cast<Slot*>(p);
  capacity_ = capacity;
  shift_ = log2(capacity);
  for (Size i = 0; i < capacity; ++i)
    slots_[i] = Slot{nullptr, 0};
  count_ = 0;
  for (Size i = 0; i < oldCapacity; ++i)
    if (old[i].client != nullptr) {
      res = insert(old[i].client, old[i].size);
      MPS_AVER(res == Res::ok);
    }
  if (old != nullptr) arena_->controlFree(old, oldCapacity * sizeof(Slot));
  return Res::ok;
}

Res BlockTags::insert(Addr client, Size size) {
  MPS_AVER(client != nullptr && size > 0);
  if (2 * (count_ + 1) > capacity_) {
    Res res = grow();
    if (res != Res::ok) return res;
  }
  Size mask = capacity_ - 1;
  Size i = slotOf(client);
  while (slots_[i].client != nullptr) {
    MPS_AVER(slots_[i].client != client);
    i = (i + 1) & mask;
  }
  slots_[i] = Slot{client, size};
  ++count_;
  return Res::ok;
}

Size BlockTags::remove(Addr client) {
  if (capacity_ == 0) return 0;
  Size mask = capacity_ - 1;
  Size i = slotOf(client);
  while (slots_[i].client != client) {
    if (slots_[i].client == nullptr) return 0;
    i = (i + 1) & mask;
  }
  Size size = slots_[i].size;
  // Backward shift: move later entries of the probe run into the hole when
  // their home slot does not lie cyclically in (hole, j].
  Size hole = i;
  for (Size j = (hole + 1) & mask; slots_[j].client != nullptr; j = (j + 1) & mask) {
    Size home = slotOf(slots_[j].client);
    bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (between) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{nullptr, 0};
  --count_;
  return size;
}

void BlockTags::release() {
  if (slots_ != nullptr) arena_->controlFree(slots_, capacity_ * sizeof(Slot));
  slots_ = nullptr;
  capacity_ = count_ = 0;
  shift_ = 0;
}

}  // namespace mps::core
