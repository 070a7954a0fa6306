#include "pools/mvt/mvt.hpp"

#include <new>

#include "arena/buffer.hpp"
#include "base/keys.hpp"
#include "mpscmvt.h"
#include "mpstd.h"

namespace mps::core {

namespace {

Res createMVT(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<MVTPool>(poolOut, arena, &kPoolClassMVT, args);
}

// a & b, with each operand computed into a register first:
// the compiler would otherwise test them one by one, and where they are
// unpredictable each test is a branch mispredicted (.mvt.free.fast).
inline bool allOf(bool a, bool b) {
  Word x = a, y = b;
  __asm__("" : "+r"(x), "+r"(y));
  return (x & y) != 0;
}

Size roundUpToPowerOfTwo(Size x) {
  return x <= 1 ? 1 : Size(1) << (log2(x - 1) + 1);
}

}  // namespace

const mps_addr_t MVTPool::kNoWindowInit = nullptr;

// No mps_alloc: MVT allocates only through allocation points.
const PoolClass kPoolClassMVT = {PoolClass::kSig, "MVT", kPoolAttrFree | kPoolAttrBuffer, createMVT,
                                 MVTPool::varargs};

// The span table ------------------------------------------------------------------------

Res MVTPool::SpanTable::reserve(Size more) {
  // At most half full: linear probing stays short.
  if (2 * (count_ + more) <= capacity_) return Res::ok;
  Size capacity = capacity_ == 0 ? 64 : capacity_;
  while (2 * (count_ + more) > capacity)
    capacity *= 2;
  void* p;
  Res res = arena_->controlAlloc(&p, capacity * sizeof(Entry));
  if (res != Res::ok) return res;
  // Only now read the old table: the allocation may have made the arena
  // ask the pool for its reserve, which removes entries.
  Entry* old = entries_;
  Size oldCapacity = capacity_;
  entries_ = static_cast<Entry*>(p);
  capacity_ = capacity;
  shift_ = Shift(kWordBits - log2(capacity));
  for (Size i = 0; i < capacity; ++i)
    entries_[i] = Entry{0, nullptr, nullptr, nullptr};
  count_ = 0;
  for (Size i = 0; i < oldCapacity; ++i)
    if (old[i].key != 0) *obtain(old[i].key) = old[i];
  if (old != nullptr) arena_->controlFree(old, oldCapacity * sizeof(Entry));
  return Res::ok;
}

MVTPool::SpanTable::Entry* MVTPool::SpanTable::obtain(Word key) {
  MPS_AVER(key != 0 && capacity_ != 0);
  Size i = slotOf(key);
  while (entries_[i].key != 0) {
    if (entries_[i].key == key) return &entries_[i];
    i = (i + 1) & (capacity_ - 1);
  }
  MPS_AVER(2 * (count_ + 1) <= capacity_);
  entries_[i] = Entry{key, core::addrOf(~Word(0)), nullptr, nullptr};
  ++count_;
  return &entries_[i];
}

void MVTPool::SpanTable::remove(Word key) {
  Size mask = capacity_ - 1;
  Size i = slotOf(key);
  while (entries_[i].key != key) {
    MPS_AVER(entries_[i].key != 0);
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move later entries of the probe sequence into
  // the hole, so that no tombstones are needed and searches stay short.
  for (Size j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (entries_[j].key == 0) break;
    Size home = slotOf(entries_[j].key);
    // Entry j may fill the hole at i if its home is not cyclically in (i, j].
    bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    entries_[i] = entries_[j];
    i = j;
  }
  entries_[i] = Entry{0, nullptr, nullptr, nullptr};
  --count_;
}

void MVTPool::SpanTable::release() {
  if (entries_ != nullptr) arena_->controlFree(entries_, capacity_ * sizeof(Entry));
  entries_ = nullptr;
  capacity_ = count_ = 0;
}

bool MVTPool::SpanTable::check() const {
  MPS_CHECKL(capacity_ == 0 || isPowerOfTwo(capacity_));
  MPS_CHECKL(2 * count_ <= capacity_);
  MPS_CHECKL((capacity_ == 0) == (entries_ == nullptr));
  return true;
}

void MVTPool::registerSpan(Span* span) {
  for (Word k = firstSlot(span->base); k <= lastSlot(span->limit); ++k) {
    SpanTable::Entry* e = table_.obtain(k);
    if (span->base > core::addrOf(k << slotShift_)) {
      // Starts inside the slot.
      MPS_AVER(e->hi == nullptr);
      e->hi = span;
      e->split = span->base;
    } else {
      MPS_AVER(e->lo == nullptr);
      e->lo = span;
    }
  }
}

void MVTPool::unregisterSpan(Span* span) {
  for (Word k = firstSlot(span->base); k <= lastSlot(span->limit); ++k) {
    SpanTable::Entry* e = table_.obtain(k);  // present
    if (e->hi == span) {
      e->hi = nullptr;
      e->split = core::addrOf(~Word(0));
    } else {
      MPS_AVER(e->lo == span);
      e->lo = nullptr;
    }
    if (e->lo == nullptr && e->hi == nullptr) table_.remove(k);
  }
}

// Creation -------------------------------------------------------------------------------

MVTPool::MVTPool(Arena* arena, const PoolClass* poolClass)
    : Pool(arena, poolClass, MPS_PF_ALIGN), table_(arena) {}

Res MVTPool::init(const mps_arg_s* args) {
  Size grain = arena_->grainSize();
  Align align = MPS_ARG_OPTIONAL(args, ALIGN, align, Align(MPS_PF_ALIGN));
  minSize_ = MPS_ARG_OPTIONAL(args, MIN_SIZE, size, Size(MPS_PF_ALIGN));
  meanSize_ = MPS_ARG_OPTIONAL(args, MEAN_SIZE, size, kDefaultMeanSize);
  maxSize_ = MPS_ARG_OPTIONAL(args, MAX_SIZE, size, kDefaultMaxSize);
  reserveDepth_ = MPS_ARG_OPTIONAL(args, MVT_RESERVE_DEPTH, count, kDefaultReserveDepth);
  fragLimit_ = MPS_ARG_OPTIONAL(args, MVT_FRAG_LIMIT, d, kDefaultFragLimit);

  MPS_AVER_ALWAYS(isPowerOfTwo(align) && "MPS_KEY_ALIGN is a power of two");
  MPS_AVER_ALWAYS(align >= sizeof(void*) && "MPS_KEY_ALIGN is at least the size of a pointer");
  MPS_AVER_ALWAYS(align <= grain && "MPS_KEY_ALIGN is at most the arena grain size");
  MPS_AVER_ALWAYS(minSize_ > 0 && "MPS_KEY_MIN_SIZE is greater than zero");
  MPS_AVER_ALWAYS(meanSize_ >= minSize_ && "MPS_KEY_MEAN_SIZE is at least MPS_KEY_MIN_SIZE");
  MPS_AVER_ALWAYS(maxSize_ >= meanSize_ && "MPS_KEY_MAX_SIZE is at least MPS_KEY_MEAN_SIZE");
  // Written so that a NaN fails too.
  MPS_AVER_ALWAYS(fragLimit_ > 0.0 && fragLimit_ <= 1.0 &&
                  "MPS_KEY_MVT_FRAG_LIMIT is in (0.0, 1.0]");

  alignment_ = align;
  alignShift_ = log2(align);
  // Spans hold a few of the largest blocks expected, so that one such
  // block wastes at most a quarter of a span; a power of two so that the
  // free fraction's eighth is a shift; at least a grain, and at least 64
  // units (a word of bitmap, and eighths that are whole units).
  Size want = maxSize_ > kMaxSpanSize / 4 ? kMaxSpanSize : roundUpToPowerOfTwo(4 * maxSize_);
  if (want < kMinSpanSize) want = kMinSpanSize;
  if (want < grain) want = grain;
  if (want < (align << 6)) want = align << 6;
  spanSize_ = want;
  spanUnits_ = spanSize_ >> alignShift_;
  // Every span is longer than a slot: normal spans are two slots, large
  // ones more than one (see SpanTable).
  slotShift_ = log2(spanSize_) - 1;
  bucketShift_ = log2(spanUnits_) - log2(kBuckets);
  // The reserve: reserveDepth blocks of the mean size, saturating.
  reserveLimit_ = reserveDepth_ != 0 && meanSize_ > ~Size(0) / reserveDepth_
                      ? ~Size(0)
                      : Size(reserveDepth_) * meanSize_;
  return Res::ok;
}

MVTPool::~MVTPool() {
  // Every span goes back, with the blocks clients still hold (Pool::destroy
  // has checked that no allocation point is left).
  while (Span* span = spans_.first()) {
    span->allRing.remove();
    span->listRing.remove();
    arena_->freeGrains(span->base, Size(span->limit - span->base));
    Size bytes = span->objectBytes;
    span->~Span();
    arena_->controlFree(span, bytes);
  }
  table_.release();
}

void MVTPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_MIN_SIZE;
  args[0].val.size = va_arg(ap, size_t);
  args[1].key = MPS_KEY_MEAN_SIZE;
  args[1].val.size = va_arg(ap, size_t);
  args[2].key = MPS_KEY_MAX_SIZE;
  args[2].val.size = va_arg(ap, size_t);
  args[3].key = MPS_KEY_MVT_RESERVE_DEPTH;
  args[3].val.count = va_arg(ap, mps_word_t);
  // In this form the fragmentation limit is a percentage (pools-mvt-snc.md).
  args[4].key = MPS_KEY_MVT_FRAG_LIMIT;
  args[4].val.d = double(va_arg(ap, mps_word_t)) / 100.0;
  args[5].key = MPS_KEY_ARGS_END;
}

// Spans ---------------------------------------------------------------------------------

Res MVTPool::newSpan(Span** spanOut, Size size, bool large) {
  MPS_AVER(isAligned(size, arena_->grainSize()));
  Size units = size >> alignShift_;
  Size objectBytes = alignUp(sizeof(Span), alignof(Word)) + (large ? 0 : BitTable::bytesFor(units));
  // The span's header and bitmap, its table entries, then its memory: each
  // step may fail and nothing is left behind. (The control allocations may
  // make the arena ask for the reserve back, which is why the reserve is
  // consulted before a new span is asked for.)
  void* p;
  Res res = arena_->controlAlloc(&p, objectBytes);
  if (res != Res::ok) return res;
  // A span of `size` bytes meets at most floor((size - 1) / slot) + 2
  // slots (its base need not be slot aligned, nor its size a multiple).
  res = table_.reserve(((size - 1) >> slotShift_) + 2);
  if (res == Res::ok) {
    Addr base;
    res = arena_->allocGrains(&base, size, this);
    if (res == Res::ok) {
      Word* bitStorage =
          reinterpret_cast<Word*>(static_cast<Addr>(p) + alignUp(sizeof(Span), alignof(Word)));
      Span* span = new (p) Span(base, base + size, units, large, bitStorage);
      span->objectBytes = objectBytes;
      registerSpan(span);
      spans_.append(&span->allRing);
      if (large) {
        span->list = kListLarge;
        large_.append(&span->listRing);
      }
      updateFreeLimit(span);
      totalSize_ += size;
      holes_ += size;
      ++spansTaken_;
      *spanOut = span;
      return Res::ok;
    }
  }
  arena_->controlFree(p, objectBytes);
  return res;
}

void MVTPool::freeSpan(Span* span) {
  MPS_AVER(span->buffer == nullptr && span->freeUnits == span->units);
  MPS_AVER(span->listRing.isSingle());
  if (lastSpan_ == span) {
    lastSpan_ = nullptr;
    lastBuffer_ = nullptr;
  }
  Size size = Size(span->limit - span->base);
  unregisterSpan(span);
  span->allRing.remove();
  totalSize_ -= size;
  holes_ -= size;
  arena_->freeGrains(span->base, size);
  Size bytes = span->objectBytes;
  span->~Span();
  arena_->controlFree(span, bytes);
}

void MVTPool::unlist(Span* span) {
  if (span->list == kListNone || span->list == kListLarge) return;
  span->listRing.remove();
  if (span->list == kListReserve) {
    Size size = Size(span->limit - span->base);
    reserveBytes_ -= size;
    holes_ += size;
  }
  span->list = kListNone;
  updateFreeLimit(span);
}

void MVTPool::place(Span* span) {
  MPS_AVER(span->buffer == nullptr && !span->large && span->list == kListNone);
  if (span->freeUnits < span->units) {
    unsigned bucket = bucketOf(span);
    span->list = bucket;
    buckets_[bucket].append(&span->listRing);
    updateFreeLimit(span);
    return;
  }
  // Entirely free: kept for reuse while the reserve is short of its depth
  // (.mvt.reserve), given back otherwise.
  Size size = Size(span->limit - span->base);
  if (reserveBytes_ < reserveLimit_) {
    span->list = kListReserve;
    updateFreeLimit(span);
    reserve_.append(&span->listRing);
    reserveBytes_ += size;
    holes_ -= size;
    return;
  }
  freeSpan(span);
}

Size MVTPool::releaseCached() {
  Size released = 0;
  while (Span* span = reserve_.first()) {
    unlist(span);
    released += Size(span->limit - span->base);
    freeSpan(span);
  }
  return released;
}

// Filling --------------------------------------------------------------------------------

Res MVTPool::bufferInit(Buffer*, const mps_arg_s*) {
  // No allocation point keywords. The blocks hold no references the
  // collector sees, so the rank set stays empty and flips leave the buffer
  // alone.
  return Res::ok;
}

bool MVTPool::findRun(const Span* span, Size from, Size n, Size* firstOut, Size* limitOut) const {
  // Word by word, inline: in a fragmented span a sweep's fills find short
  // runs one after another, and this is most of what a fill costs. A normal
  // span's units are a whole number of words.
  const Word* words = span->bits.words();
  const Size wordCount = span->units / kWordBits;
  Size i = from;
  while (i < span->units && span->units - i >= n) {
    Size w = i / kWordBits;
    Word clear = ~words[w] & (~Word(0) << (i % kWordBits));
    while (clear == 0) {
      if (++w == wordCount) return false;
      clear = ~words[w];
    }
    Size first = w * kWordBits + Size(__builtin_ctzl(clear));
    // The run ends at the next set bit (the bits below `first` in its word
    // are masked off: they may be set).
    Word set = words[w] & (~Word(0) << (first % kWordBits));
    while (set == 0 && ++w < wordCount)
      set = words[w];
    Size limit = set == 0 ? span->units : w * kWordBits + Size(__builtin_ctzl(set));
    if (limit - first >= n) {
      *firstOut = first;
      *limitOut = limit;
      return true;
    }
    i = limit;
  }
  return false;
}

bool MVTPool::searchBuckets(unsigned lowest, Size n, Span** spanOut, Size* firstOut,
                            Size* limitOut) {
  unsigned tries = 0;
  for (unsigned b = kBuckets; b-- > lowest && tries < kSearchSpans;) {
    Ring<Span>& bucket = buckets_[b];
    Span* start = bucket.first();
    for (Span* s = start; s != nullptr && tries < kSearchSpans;) {
      ++tries;
      if (n < s->failedUnits) {
        if (findRun(s, 0, n, firstOut, limitOut)) {
          *spanOut = s;
          return true;
        }
        s->failedUnits = n;
      }
      // No run long enough: to the back, so the next search tries others.
      s->listRing.remove();
      bucket.append(&s->listRing);
      s = bucket.first();
      if (s == start) break;
    }
  }
  return false;
}

void MVTPool::attachWindow(Buffer* buffer, Span* span, Size first, Size limit) {
  MPS_AVER(span->buffer == nullptr && first < limit && limit <= span->units);
  unlist(span);
  Size units = limit - first;
  if (!span->large) {
    MPS_AVER(span->bits.isRangeReset(first, limit));
    setUnits(span, first, limit, true);
  }
  MPS_AVER(span->freeUnits >= units);
  span->freeUnits -= units;
  holes_ -= units << alignShift_;
  span->buffer = buffer;
  buffer->attach(nullptr, addrOf(span, first), addrOf(span, limit));
  buffer->poolData = span;
  span->windowLimit = buffer->poolLimit;
  span->windowInit = &buffer->ap.init;
  updateFreeLimit(span);
}

Res MVTPool::fillLarge(Buffer* buffer, Size size) {
  // Its own span: the request rounded up to grains. The rest of the last
  // grain stays in the window for the reservations that follow.
  Size grain = arena_->grainSize();
  if (size > (~Size(0) >> 1) - grain) return Res::resource;
  Span* span;
  Res res = newSpan(&span, alignUp(size, grain), true);
  if (res != Res::ok) return res;
  attachWindow(buffer, span, 0, span->units);
  return Res::ok;
}

void MVTPool::setUnits(Span* span, Size first, Size limit, bool set) {
  // Windows in a fragmented span are a few units, often across one word
  // boundary: masks for the two end words and a loop for the whole words
  // between (.mvt.fill.cost).
  MPS_AVER(first < limit && limit <= span->units);
  Word* words = span->bits.words();
  Size w = first / kWordBits, last = (limit - 1) / kWordBits;
  Word head = ~Word(0) << (first % kWordBits);
  Word tail = ~Word(0) >> (kWordBits - 1 - (limit - 1) % kWordBits);
  if (w == last) head &= tail;
  words[w] = set ? words[w] | head : words[w] & ~head;
  if (w == last) return;
  for (Size i = w + 1; i < last; ++i)
    words[i] = set ? ~Word(0) : 0;
  words[last] = set ? words[last] | tail : words[last] & ~tail;
}

void MVTPool::settlePending() {
  Span* span = lastSpan_;
  lastSpan_ = nullptr;
  lastBuffer_ = nullptr;
  if (span != nullptr && span->list == kListNone && span->buffer == nullptr) place(span);
}

Res MVTPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVERT(Pool, this);
  MPS_AVER(buffer->isReset() && size > 0 && isAligned(size, alignment_));
  if (MPS_UNLIKELY(sizeTooLarge(size, arena_->grainSize()))) return Res::resource;
  ++fills_;
  if (size > largeSize()) {
    settlePending();
    return fillLarge(buffer, size);
  }
  Size n = size >> alignShift_;
  Span* span = nullptr;
  Size first = 0, limit = 0;
  // .mvt.fill.sweep: on from where the buffer's last window began.
  if (lastBuffer_ == buffer && lastSpan_ != nullptr) {
    MPS_AVER(lastSpan_->buffer == nullptr);
    if (findRun(lastSpan_, lastCursor_, n, &first, &limit)) {
      span = lastSpan_;
      lastSpan_ = nullptr;
      lastBuffer_ = nullptr;
    }
  }
  settlePending();
  // .mvt.fill.frag: fragmented, so reuse holes, emptiest span first.
  if (span == nullptr && fragmented()) searchBuckets(1, n, &span, &first, &limit);
  // .mvt.fill.temporal: space freed long ago and coalesced, then the
  // reserve, then new space.
  if (span == nullptr) searchBuckets(kTemporalBucket, n, &span, &first, &limit);
  if (span == nullptr && (span = reserve_.first()) != nullptr) {
    first = 0;
    limit = span->units;
  }
  if (span == nullptr) {
    Res res = newSpan(&span, spanSize_, false);
    if (res == Res::ok) {
      first = 0;
      limit = span->units;
    } else if (!searchBuckets(0, n, &span, &first, &limit)) {
      // .mvt.fill.short: any run at all before failing.
      return res;
    }
  }
  attachWindow(buffer, span, first, limit);
  return Res::ok;
}

void MVTPool::bufferEmpty(Buffer* buffer) {
  MPS_AVERT(Pool, this);
  Span* span = static_cast<Span*>(buffer->poolData);
  MPS_AVER(span != nullptr && span == spanOf(buffer->base));
  MPS_AVER(span->buffer == buffer && buffer->seg == nullptr);
  buffer->poolData = nullptr;
  Addr init = buffer->init();
  if (init < buffer->poolLimit) {
    Size i = unitOf(span, init), j = unitOf(span, buffer->poolLimit);
    if (!span->large) setUnits(span, i, j, false);
    span->freeUnits += j - i;
    span->failedUnits = ~Size(0);
    holes_ += (j - i) << alignShift_;
  }
  span->buffer = nullptr;
  span->windowLimit = nullptr;
  span->windowInit = &kNoWindowInit;
  updateFreeLimit(span);
  if (span->large) {
    if (span->freeUnits == span->units) {
      span->listRing.remove();
      span->list = kListNone;
      freeSpan(span);
    }
    return;
  }
  if (span->freeUnits == span->units) {
    place(span);
    return;
  }
  // .mvt.fill.pending: the next fill of this buffer most likely goes on in
  // this span, from the unused tail just given back (which may have grown by
  // blocks freed after it): the span stays off the lists until then, which
  // saves a list operation each way for every fill of a sweep.
  settlePending();
  lastBuffer_ = buffer;
  lastSpan_ = span;
  lastCursor_ = unitOf(span, init);
}

// Freeing --------------------------------------------------------------------------------

void MVTPool::free(Addr p, Size size) {
  MPS_AVERT(Pool, this);
  MPS_AVER(size > 0);
  MPS_AVER_ALWAYS(isAligned(p, alignment_) && "block being freed is aligned to the pool alignment");
  Span* span = spanOf(p);
  MPS_AVER_ALWAYS(span != nullptr && "block being freed belongs to the pool");
  // Blocks never cross spans; this also keeps the rounding from wrapping.
  MPS_AVER_ALWAYS(size <= Size(span->limit - p) &&
                  "block being freed lies within the pool's memory");
  Size rounded = alignUp(size, alignment_);
  Size n = rounded >> alignShift_;
  // .mvt.free.fast: whether a buffer is in the span is as good as random
  // here, so the window test has no branch on it (an unattached span's
  // window limit is null, which no block is below), and the rare ends of a
  // free are one test below.
  {
    Addr init = static_cast<Addr>(*span->windowInit);
    MPS_AVER_ALWAYS(!allOf(p < span->windowLimit, init < p + rounded) &&
                    "block being freed is not in the unused part of an allocation point's buffer");
  }
  span->failedUnits = ~Size(0);
  if (MPS_LIKELY(!span->large)) {
    Size i = unitOf(span, p);
    Word* words = span->bits.words();
    Size w = i / kWordBits;
    unsigned lo = unsigned(i % kWordBits);
    if (MPS_LIKELY(lo + n <= kWordBits)) {
      // One word: the common case for blocks up to 64 units.
      // n is in [1, 64] here (lo + n <= 64 and n > 0): no test for 64.
      Word mask = (~Word(0) >> (kWordBits - n)) << lo;
      Word v = words[w];
      MPS_AVER_ALWAYS((v & mask) == mask &&
                      "block being freed is not already free (double free or wrong size)");
      words[w] = v & ~mask;
    } else {
      MPS_AVER_ALWAYS(span->bits.isRangeSet(i, i + n) &&
                      "block being freed is not already free (double free or wrong size)");
      span->bits.resetRange(i, i + n);
    }
  } else {
    // A large span counts its free units only (.mvt.large).
    MPS_AVER_ALWAYS(span->units - span->freeUnits >= n &&
                    "block being freed is not already free (double free or wrong size)");
  }
  Size freeUnits = span->freeUnits + n;
  span->freeUnits = freeUnits;
  holes_ += rounded;
  // An attached span is placed when its buffer leaves it. Otherwise a large
  // span may go back to the arena, a normal one to the reserve or the arena
  // if all free, or to another list if it crossed an eighth: all that is
  // one comparison with the span's free limit, rarely true.
  if (MPS_UNLIKELY(freeUnits >= span->freeLimit)) freeSettle(span);
}

void MVTPool::freeSettle(Span* span) {
  MPS_AVER(span->buffer == nullptr);
  if (span->large) {
    if (span->freeUnits == span->units) {
      span->listRing.remove();
      span->list = kListNone;
      freeSpan(span);
    }
    return;
  }
  if (span->freeUnits == span->units) {
    unlist(span);
    place(span);
    return;
  }
  unsigned bucket = bucketOf(span);
  if (bucket != span->list) {
    span->listRing.remove();
    span->list = bucket;
    buckets_[bucket].append(&span->listRing);
    updateFreeLimit(span);
  }
}

// Sizes and checking --------------------------------------------------------------------

Size MVTPool::freeSize() const {
  Size unused = 0;
  forEachBuffer([&](Buffer* b) {
    if (!b->isReset()) unused += Size(b->poolLimit - b->init());
  });
  return holes_ + reserveBytes_ + unused;
}

bool MVTPool::check() const {
  MPS_CHECKL(Pool::check());
  Size grain = arena_->grainSize();
  MPS_CHECKL(alignment_ >= sizeof(void*) && alignment_ <= grain);
  MPS_CHECKL(Size(1) << alignShift_ == alignment_);
  MPS_CHECKL(Size(2) << slotShift_ == spanSize_);
  MPS_CHECKL(minSize_ > 0 && minSize_ <= meanSize_ && meanSize_ <= maxSize_);
  MPS_CHECKL(fragLimit_ > 0.0 && fragLimit_ <= 1.0);
  MPS_CHECKL(isPowerOfTwo(spanSize_) && spanSize_ >= grain && spanSize_ >= kMinSpanSize);
  MPS_CHECKL(spanUnits_ == spanSize_ >> alignShift_ && spanUnits_ >= kWordBits);
  MPS_CHECKL(Size(1) << (bucketShift_ + log2(kBuckets)) == spanUnits_);
  MPS_CHECKL(isAligned(totalSize_, grain));
  MPS_CHECKL(holes_ + reserveBytes_ <= totalSize_);
  MPS_CHECKL(lastSpan_ == nullptr || lastBuffer_ != nullptr);
  MPS_CHECKL(table_.check());
  return true;
}

bool MVTPool::checkSpans() const {
  MPS_CHECKL(check());
  Size total = 0, holes = 0, reserve = 0;
  bool lastFound = lastSpan_ == nullptr;
  spans_.forEach([&](Span* s) {
    Size size = Size(s->limit - s->base);
    MPS_CHECKL(isAligned(s->base, arena_->grainSize()) && isAligned(size, arena_->grainSize()));
    MPS_CHECKL(s->units == size >> alignShift_);
    MPS_CHECKL(s->freeUnits <= s->units);
    MPS_CHECKL(arena_->poolOf(s->base) == this && arena_->poolOf(s->limit - 1) == this);
    // Every slot it meets finds it, at both ends and in the middle.
    for (Word k = firstSlot(s->base); k <= lastSlot(s->limit); ++k) {
      const SpanTable::Entry* e = table_.find(k);
      MPS_CHECKL(e != nullptr && (e->lo == s || e->hi == s));
      MPS_CHECKL(e->hi == nullptr || e->split == e->hi->base);
    }
    MPS_CHECKL(size > (Size(1) << slotShift_));
    MPS_CHECKL(spanOf(s->base) == s && spanOf(s->limit - 1) == s);
    MPS_CHECKL(spanOf(s->base + size / 2) == s);
    MPS_CHECKL(s->base == nullptr || spanOf(s->base - 1) != s);
    if (s->large) {
      MPS_CHECKL(s->list == kListLarge);
    } else {
      MPS_CHECKL(size == spanSize_);
      MPS_CHECKL(s->bits.countSet(0, s->units) == s->units - s->freeUnits);
      if (s->buffer != nullptr) {
        MPS_CHECKL(s->list == kListNone && s->listRing.isSingle());
      } else if (s->list == kListReserve) {
        MPS_CHECKL(s->freeUnits == s->units);
      } else if (s->list == kListNone) {
        // Pending (.mvt.fill.pending): only the span a buffer has just left.
        MPS_CHECKL(s == lastSpan_ && s->freeUnits < s->units);
      } else {
        MPS_CHECKL(s->list < kBuckets && s->list == bucketOf(s));
        MPS_CHECKL(s->freeUnits < s->units);
      }
    }
    if (s->buffer != nullptr) {
      const Buffer* b = s->buffer;
      MPS_CHECKL(!b->isReset() && b->seg == nullptr);
      MPS_CHECKL(s->base <= b->base && b->poolLimit <= s->limit);
      MPS_CHECKL(s->windowLimit == b->poolLimit && s->windowInit == &b->ap.init);
      if (!s->large) MPS_CHECKL(s->bits.isRangeSet(unitOf(s, b->init()), unitOf(s, b->poolLimit)));
    }
    if (s->buffer == nullptr)
      MPS_CHECKL(s->windowLimit == nullptr && s->windowInit == &kNoWindowInit);
    MPS_CHECKL(s->freeLimit == freeLimitOf(s));
    MPS_CHECKL(s->buffer != nullptr || s->freeUnits < s->freeLimit || s->list == kListNone ||
               s->list == kListReserve);
    if (s->list == kListReserve)
      reserve += s->freeUnits << alignShift_;
    else
      holes += s->freeUnits << alignShift_;
    total += size;
    if (s == lastSpan_) lastFound = true;
  });
  MPS_CHECKL(total == totalSize_ && holes == holes_ && reserve == reserveBytes_);
  MPS_CHECKL(lastFound);
  // Each list holds the spans that say they are on it.
  for (unsigned b = 0; b < kBuckets; ++b)
    buckets_[b].forEach([&](Span* s) { MPS_CHECKL(s->list == b && s->buffer == nullptr); });
  reserve_.forEach([&](Span* s) { MPS_CHECKL(s->list == kListReserve); });
  large_.forEach([&](Span* s) { MPS_CHECKL(s->large); });
  // Every attached buffer's window is in a span that names it.
  forEachBuffer([&](Buffer* b) {
    if (b->isReset()) return;
    Span* s = spanOf(b->base);
    MPS_CHECKL(s != nullptr && s->buffer == b && b->poolData == s);
  });
  return true;
}

}  // namespace mps::core
