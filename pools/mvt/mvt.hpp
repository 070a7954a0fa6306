// MVT: manual variable temporal (pools-mvt-snc.md, design/mvt.md).
//
// A manual pool for variable-size blocks allocated through allocation points
// and freed one by one with mps_free. Its policy is temporal fit: blocks
// allocated one after another on an allocation point are placed one after
// another in memory, and freed space is reused as late as the
// fragmentation limit allows, so that neighbours that die together leave
// large free areas behind them instead of holes.
//
// Spans. The pool's memory is a set of spans, runs of arena grains. A normal
// span is spanSize() bytes (a power of two, at least 64 KiB, sized from
// MPS_KEY_MAX_SIZE) and has a bitmap with one bit per alignment unit: set
// for units that are allocated or in a buffer's window, clear for free
// units. A request above half a normal span gets a span of its own (a large
// span), the request rounded up to grains, which keeps only a count of its
// free units: its space is reused only when all of it is free, so a block in
// it can be freed in parts, but a part freed is not reused before the rest
// (as the reference says of blocks above MPS_KEY_MAX_SIZE).
//
// Where spans are. A span is not a segment (it must not be: the tracer
// takes the tract's owner word for a segment), so the pool finds the span of
// an address in its own hash table, keyed by slots of half a normal span
// (see SpanTable): a few entries per span, one probe and one compare per
// lookup.
//
// Fills. Each allocation point has at most one window, in one span, and a
// span has at most one allocation point. A fill takes, in order:
//  1. the next free run of at least the request in the span the buffer has
//     just left, after the window it has just used (the buffer sweeps its
//     span upwards: consecutive blocks stay together);
//  2. when the pool is fragmented (its scattered free space, the holes, is
//     more than MPS_KEY_MVT_FRAG_LIMIT of its total), the span with the most
//     free space that has such a run, swept from its start: reusing holes
//     costs fills (each run is one), so only to bound the waste;
//  3. otherwise, or if none had room, a span at least three quarters free
//     (its free space has coalesced into long runs: temporal fit, reuse of
//     space freed long ago), then an empty span of the reserve (the one
//     emptied first), then a new span from the arena;
//  4. if the arena refuses, any span with a run that fits, whatever the
//     fragmentation, before the failure is returned.
// The window is the whole free run found: in a new or empty span, the whole
// span. Emptying the buffer clears the bits of the unused tail [init,
// limit), which becomes free space of its span again.
//
// Freeing. mps_free finds the span, checks the block's bits are all set
// (double frees and wrong sizes that run into free space are reported in
// every build), clears them and moves the span between lists if its free
// fraction crossed an eighth. A span that becomes entirely free while no
// buffer is in it goes to the reserve, while the reserve holds less than
// MPS_KEY_MVT_RESERVE_DEPTH blocks of MPS_KEY_MEAN_SIZE, or else back to the
// arena. So a free is O(1): a hash probe and a word or two of bitmap.
//
// Accounting. totalSize() is the sum of the spans. freeSize() is the clear
// units of every span (holes, and the reserve's empty spans) plus the unused
// part of every window.
//
// Locking: the caller holds the arena lock for every call.
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "base/bittable.hpp"
#include "base/ring.hpp"

namespace mps::core {

class MVTPool final : public Pool {
 public:
  static constexpr Size kDefaultMeanSize = 32;
  static constexpr Size kDefaultMaxSize = 8192;
  static constexpr Word kDefaultReserveDepth = 1024;
  static constexpr double kDefaultFragLimit = 0.3;
  // Normal spans: 4 * MPS_KEY_MAX_SIZE rounded up to a power of two, within
  // [kMinSpanSize, kMaxSpanSize] (and at least a grain).
  static constexpr Size kMinSpanSize = Size(64) << 10;
  static constexpr Size kMaxSpanSize = Size(1) << 20;
  // Spans are listed by free fraction in eighths.
  static constexpr unsigned kBuckets = 8;
  // Temporal fit reuses a span from this bucket up (at least 3/4 free).
  static constexpr unsigned kTemporalBucket = 6;
  // A fill looks at this many spans for a run before it takes new space.
  static constexpr unsigned kSearchSpans = 8;

  MVTPool(Arena* arena, const PoolClass* poolClass);
  ~MVTPool() override;
  Res init(const mps_arg_s* args);

  // Never fails; misuse (foreign or misaligned address, a block that is not
  // all allocated) is an assertion.
  void free(Addr p, Size size) override;

  Res bufferInit(Buffer* buffer, const mps_arg_s* args) override;
  // Res::resource for an impossible size; otherwise what the arena reports
  // when it cannot supply a span, the pool unchanged.
  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;

  // The reserve (.mvt.reserve) is memory kept only to be reused soon: under
  // a commit limit the arena asks for it back.
  Size releaseCached() override;

  Size totalSize() const override { return totalSize_; }
  // The unused parts of windows are read from the allocation points, whose
  // owners move them without the lock: a snapshot.
  Size freeSize() const override;
  // Cheap: called at every checked entry.
  bool check() const override;
  // Costly: walks every span, its bitmap and the lists, and the hash table.
  // For tests.
  bool checkSpans() const;

  Size minSize() const { return minSize_; }
  Size meanSize() const { return meanSize_; }
  Size maxSize() const { return maxSize_; }
  Word reserveDepth() const { return reserveDepth_; }
  double fragLimit() const { return fragLimit_; }
  Size spanSize() const { return spanSize_; }
  // Requests above this get a large span of their own.
  Size largeSize() const { return spanSize_ / 2; }
  // Free bytes scattered in spans in use (not the reserve's, not in windows).
  Size holeSize() const { return holes_; }
  // Bytes of empty spans kept for reuse, and the most it keeps.
  Size reserveSize() const { return reserveBytes_; }
  Size reserveLimit() const { return reserveLimit_; }
  Size spanCount() const { return spans_.length(); }
  // Whether the next fill may reuse holes (.mvt.fill.frag).
  bool fragmented() const { return double(holes_) > fragLimit_ * double(totalSize_); }
  // Statistics: fills, and those that took a new span from the arena.
  Size fills() const { return fills_; }
  Size spansTaken() const { return spansTaken_; }

  // Deprecated variadic creation: min_size, mean_size, max_size (size_t),
  // reserve_depth, frag_limit (mps_word_t, the latter a percentage).
  static void varargs(mps_arg_s* args, va_list ap);

 private:
  struct Span;
  // What an unattached span's windowInit points at.
  static const mps_addr_t kNoWindowInit;
  // Which list a span is on.
  enum : unsigned {
    kListNone = kBuckets,  // attached to a buffer
    kListReserve,
    kListLarge,
  };

  // Address -> span. The address space is cut into slots of half a normal
  // span (slotShift_); every span is longer than a slot (a large span holds
  // more than half a normal span), so a slot meets at most two spans: one
  // running into it from below (`lo`) and one starting inside it at `split`
  // (`hi`). The table maps the number of each slot a span meets to that
  // pair: a few entries per span, so it stays small enough for the cache
  // however many grains the pool has (the free path's lookup). Open
  // addressing with linear probing, in control memory; key 0 is empty (no
  // arena memory lies in slot 0).
  class SpanTable {
   public:
    struct Entry {
      Word key;
      Addr split;  // hi->base, or the highest address when there is no hi
      Span* lo;
      Span* hi;
    };
    explicit SpanTable(Arena* arena) : arena_(arena) {}
    const Entry* find(Word key) const {
      if (capacity_ == 0) return nullptr;
      for (Size i = slotOf(key);; i = (i + 1) & (capacity_ - 1)) {
        const Entry& e = entries_[i];
        if (e.key == key) return &e;
        if (e.key == 0) return nullptr;
      }
    }
    // Room for `more` new keys, growing the table if needed.
    Res reserve(Size more);
    // The entry of `key`, made (empty) if there is none; room must have
    // been reserved.
    Entry* obtain(Word key);
    // Removes a key that is present.
    void remove(Word key);
    void release();
    Size count() const { return count_; }
    bool check() const;

   private:
    Size slotOf(Word key) const {
      return Size((key * Word(0x9E3779B97F4A7C15ull)) >> shift_) & (capacity_ - 1);
    }
    Arena* arena_;
    Entry* entries_ = nullptr;
    Size capacity_ = 0;  // a power of two, or 0
    Size count_ = 0;
    Shift shift_ = 0;
  };

  struct Span {
    Span(Addr base, Addr limit, Size units, bool large, Word* bitStorage)
        : base(base), limit(limit), units(units), freeUnits(units), large(large) {
      if (!large) bits = BitTable(bitStorage, units);
    }
    Addr base;
    Addr limit;
    Size units;      // (limit - base) >> alignShift
    Size freeUnits;  // clear in the bitmap (large: not allocated, not in a window)
    // A search of the whole span for a run of this many units or more found
    // none, and nothing has been freed in it since: searches for as long a
    // run skip it.
    Size failedUnits = ~Size(0);
    Buffer* buffer = nullptr;
    // The attached buffer's window as the free path reads it without a
    // branch on `buffer` (.mvt.free.fast): its limit (null when no buffer,
    // so that no block is below it) and where its init is (a constant null
    // when no buffer).
    Addr windowLimit = nullptr;
    const mps_addr_t* windowInit = &kNoWindowInit;
    // A free that brings freeUnits to this or more has more to do than
    // count (.mvt.free.fast): see freeLimitOf.
    Size freeLimit = 0;
    // kListNone (attached, or pending: normal spans), a bucket,
    // kListReserve, or kListLarge (large spans are always on the large list).
    unsigned list = kListNone;
    bool large;
    Size objectBytes = 0;  // control memory holding this and its bitmap
    BitTable bits;         // normal spans only: set = allocated or in a window
    Ring<Span> allRing{this};
    Ring<Span> listRing{this};
  };

  // A new span of `size` bytes from the arena, registered and on no list,
  // all free. Res::resource / Res::commitLimit / Res::memory as the arena
  // or control memory report.
  Res newSpan(Span** spanOut, Size size, bool large);
  // Gives an unattached, entirely free span, on no list, back to the arena.
  void freeSpan(Span* span);
  // The span holding `p`, or null. Inline: the free path's lookup.
  Span* spanOf(Addr p) const {
    const SpanTable::Entry* e = table_.find(wordOf(p) >> slotShift_);
    if (MPS_UNLIKELY(e == nullptr)) return nullptr;
    Span* span = p >= e->split ? e->hi : e->lo;
    // Between two spans (grains the pool does not have) there is none.
    if (MPS_UNLIKELY(span == nullptr || p >= span->limit)) return nullptr;
    return span;
  }
  // The slots [first, last] that [base, limit) meets.
  Word firstSlot(Addr base) const { return wordOf(base) >> slotShift_; }
  Word lastSlot(Addr limit) const { return (wordOf(limit) - 1) >> slotShift_; }
  // Enters the span in the table (room reserved) / takes it out.
  void registerSpan(Span* span);
  void unregisterSpan(Span* span);

  // List membership and the holes/reserve accounts. (The small helpers of
  // the fill path are inline, defined in mvt.cpp, where alone they are
  // used: .mvt.fill.cost.)
  MPS_FORCE_INLINE void unlist(Span* span);
  // Puts an unattached span where its free count says: a bucket, the reserve
  // or back to the arena (normal spans); the large list or the arena.
  void place(Span* span);
  unsigned bucketOf(const Span* span) const { return unsigned(span->freeUnits >> bucketShift_); }
  // What Span::freeLimit is for the span's state: never reached while a
  // buffer is in it (placed when the buffer leaves); a large span's units
  // (all free: back to the arena); the first count of the next eighth for a
  // span on a bucket (for the last, all free: the reserve or the arena);
  // 0 for a pending span (any free puts it on its list) and the reserve's.
  // Frees only add free units, so one bound is enough.
  Size freeLimitOf(const Span* span) const {
    if (span->buffer != nullptr) return ~Size(0);
    if (span->large) return span->units;
    if (span->list < kBuckets) return Size(span->list + 1) << bucketShift_;
    return 0;
  }
  // Called wherever a span's list or buffer changes.
  void updateFreeLimit(Span* span) const { span->freeLimit = freeLimitOf(span); }

  // The first run of at least `n` free units at or after `from`, extended to
  // its end.
  bool findRun(const Span* span, Size from, Size n, Size* firstOut, Size* limitOut) const;
  // Looks through buckets [lowest, kBuckets) for a span with a run, emptiest
  // first, trying at most kSearchSpans spans.
  bool searchBuckets(unsigned lowest, Size n, Span** spanOut, Size* firstOut, Size* limitOut);
  // Sets (or clears) the bits [first, limit) of a normal span.
  MPS_FORCE_INLINE static void setUnits(Span* span, Size first, Size limit, bool set);
  // The span a buffer left pending goes to its list (.mvt.fill.pending).
  MPS_FORCE_INLINE void settlePending();
  // Gives the buffer [first, limit) of an unattached span.
  MPS_FORCE_INLINE void attachWindow(Buffer* buffer, Span* span, Size first, Size limit);
  Res fillLarge(Buffer* buffer, Size size);

  Addr addrOf(const Span* span, Size unit) const { return span->base + (unit << alignShift_); }
  Size unitOf(const Span* span, Addr p) const { return Size(p - span->base) >> alignShift_; }
  void updateLimits();
  // The rare ends of a free (.mvt.free.fast): the span (unattached) is
  // large, all free, or in another eighth than its list says.
  MPS_NOINLINE void freeSettle(Span* span);

  // The fields the free path reads come first.
  Shift alignShift_ = 0;
  Shift slotShift_ = 0;    // log2(spanSize_ / 2): see SpanTable
  Shift bucketShift_ = 0;  // bucket = freeUnits >> bucketShift_ (normal spans)
  Size holes_ = 0;         // free bytes of listed and attached spans (not the reserve)
  Size reserveBytes_ = 0;
  Size totalSize_ = 0;
  SpanTable table_;

  Size minSize_ = 0;
  Size meanSize_ = kDefaultMeanSize;
  Size maxSize_ = kDefaultMaxSize;
  Word reserveDepth_ = kDefaultReserveDepth;
  double fragLimit_ = kDefaultFragLimit;
  Size spanSize_ = kMinSpanSize;
  Size spanUnits_ = 0;
  Size reserveLimit_ = 0;  // reserveDepth * meanSize, saturated

  // The span a buffer has just left and where its window's unused tail
  // began, for the buffer's next fill (.mvt.fill.sweep); forgotten when that
  // span goes. Until then the span is on no list if nothing else has put it
  // on one (.mvt.fill.pending).
  Buffer* lastBuffer_ = nullptr;
  Span* lastSpan_ = nullptr;
  Size lastCursor_ = 0;

  Ring<Span> spans_;  // every span
  Ring<Span> buckets_[kBuckets];
  Ring<Span> reserve_;  // empty normal spans, oldest first
  Ring<Span> large_;    // every large span

  Size fills_ = 0;
  Size spansTaken_ = 0;
};

extern const PoolClass kPoolClassMVT;

}  // namespace mps::core
