#include "tracer/marksweep.hpp"

#include <new>

#include "shield/shield.hpp"

namespace mps::core {

// Segments ------------------------------------------------------------------

MarkSweepSegment::MarkSweepSegment(MarkSweepPool* pool, Addr segBase, Addr segLimit, Word* tables,
                                   Shift alignShift)
    : Segment(pool, segBase, segLimit),
      msPool_(pool),
      alignShift_(alignShift),
      grains_(Size(segLimit - segBase) >> alignShift),
      alloc_(tables, grains_),
      start_(tables + BitTable::wordsFor(grains_), grains_),
      mark_(tables + 2 * BitTable::wordsFor(grains_)),
      freeGrains_(grains_) {
  for (Size w = 0; w < BitTable::wordsFor(grains_); ++w)
    mark_[w] = 0;
}

bool MarkSweepSegment::isMarked(Size i) const {
  return ((mark_[i / kWordBits] >> (i % kWordBits)) & 1) != 0;
}

void MarkSweepSegment::allocRange(Size first, Size limit) {
  MPS_AVER(alloc_.isRangeReset(first, limit));
  alloc_.setRange(first, limit);
  freeGrains_ -= limit - first;
}

void MarkSweepSegment::freeRange(Size first, Size limit) {
  MPS_AVER(alloc_.isRangeSet(first, limit));
  alloc_.resetRange(first, limit);
  freeGrains_ += limit - first;
}

bool MarkSweepSegment::findFreeRun(Size n, Size* firstOut, Size* limitOut, Size max) {
  if (freeGrains_ < n || n >= failedSize_) return false;
  Size first;
  if (!alloc_.findResetRun(&first, searchFrom_, grains_, n, false)) {
    failedSize_ = n;
    return false;
  }
  // The run's end, or `max` grains on if it is longer: the caller takes no
  // more, and a long free run is not scanned to its end at every fill.
  Size bound = grains_ - first > max ? first + max : grains_;
  Size limit = alloc_.nextSet(first + n, bound);
  // Keep "every grain before searchFrom_ is allocated": move past the run
  // taken unless the search stepped over a shorter free run, which a later,
  // smaller request may still use.
  Size skipped = alloc_.nextReset(searchFrom_, first);
  searchFrom_ = skipped < first ? skipped : limit;
  *firstOut = first;
  *limitOut = limit;
  return true;
}

bool MarkSweepSegment::hasSpaceLeft() const {
  // Every grain before searchFrom_ is allocated, so the count says it all.
  return freeGrains_ > 0;
}

void MarkSweepSegment::recordObjects(Addr limit) {
  if (buffer == nullptr || walkedTo_ == nullptr) return;
  const Format* format = msPool_->fmt();
  // Only a debugging pool's trailing fencepost takes walkedTo_ past limit.
  MPS_AVER((walkedTo_ <= limit || msPool_->trail_ != 0) && limit <= buffer->poolLimit);
  // Every object allocated passes through here once (GCBench: 17 million
  // per run), so the loop keeps the skip method and header size in locals
  // (the indirect call would otherwise make the compiler reload them) and
  // collects the start bits of a table word before writing it.
  // A debugging pool's blocks have fenceposts around the object (.debug.ams.block):
  // a block is committed once its object's base is below `limit`, and the
  // next begins `trail` bytes after the object's end. Both are 0 otherwise.
  const mps_fmt_skip_t skip = format->skip;
  const Size header = format->headerSize;
  const Size lead = msPool_->lead_, trail = msPool_->trail_;
  Word* starts = start_.words();
  // .trace.incremental.black: objects committed after the flip into a
  // segment condemned before it (the mutator runs between the increments
  // of a trace) are allocated black: marked, never scanned, since the
  // mutator can only have stored references to non-white objects in them.
  // (Those committed before the flip were recorded by bufferFlipped or
  // whiten, before the segment turned white.)
  Word* marks = white != 0 ? mark_ : nullptr;
  Addr p = walkedTo_;
  Size word = ~Size(0);
  Word bits = 0;
  auto flush = [&] {
    if (bits == 0) return;
    starts[word] |= bits;
    if (marks != nullptr) marks[word] |= bits;
  };
  while (p + lead < limit) {
    Addr end = static_cast<Addr>(skip(p + header)) - header + lead;
    MPS_AVER_ALWAYS(end > p && end <= limit &&
                    "format skip method steps to the next object within the buffer");
    Addr next = end + trail;
    Size i = indexOf(p);
    if (i / kWordBits != word) {
      flush();
      word = i / kWordBits;
      bits = 0;
    }
    bits |= Word(1) << (i % kWordBits);
    p = next;
  }
  flush();
  // Past `limit` only by the trailing fencepost of the last block.
  walkedTo_ = p > limit ? p : limit;
}

void MarkSweepSegment::bufferFlipped(Buffer* b) {
  MPS_AVER(b == buffer);
  recordObjects(b->scanLimit());
}

bool MarkSweepSegment::promotesInPlace(const Trace* trace) const {
  if (trace->collector()->stickyMarksLost) return false;  // .ms.sticky.abandon
  const Generation* g = gen;
  if (g == nullptr || g->index + 1 >= g->chain->count()) return false;
  return !trace->condemnsGeneration(g->chain->gen(g->index + 1));
}

bool MarkSweepSegment::marksPersist() const {
  return gen != nullptr && gen->index + 1 < gen->chain->count();
}

bool MarkSweepSegment::holdsYoung() const {
  return young_ && gen != nullptr && gen->index + 1 < gen->chain->count();
}

bool MarkSweepSegment::wantsCondemn(const Trace* trace) const {
  if (!promotesInPlace(trace)) return true;
  // A collection of young objects: a segment without any has nothing to
  // condemn. Segments of ambiguous rank stay out: their old objects would
  // have to be scanned with the ambiguous roots; they are scanned whole
  // there instead, and condemned by the next full collection.
  return young_ && !rankSetHas(rankSet, Rank::ambig);
}

const Generation* MarkSweepSegment::condemningGeneration() const {
  // Old objects only: left alone by collections of the young ones.
  const Generation* g = gen;
  if (g != nullptr && !young_ && g->index + 1 < g->chain->count())
    return g->chain->gen(g->index + 1);
  return g;
}

Generation* MarkSweepSegment::tallyGeneration(const Trace* trace) const {
  // A collection of the next generation too condemns the old objects with
  // the young; what survives is the next generation's.
  const Generation* g = gen;
  if (g != nullptr && g->index + 1 < g->chain->count() && !promotesInPlace(trace))
    return g->chain->gen(g->index + 1);
  return gen;
}

Res MarkSweepSegment::whiten(Trace* trace) {
  if (buffer != nullptr) {
    recordObjects(buffer->scanLimit());
    // Committed before this collection, and condemned by it: not new bytes
    // after it (.buffer.accounting).
    if (walkedTo_ > buffer->accountedTo) buffer->accountedTo = walkedTo_;
  }
  // .ms.sticky: in a collection of the young objects only, the old ones
  // keep their mark bits: they are black, never freed, never scanned
  // through a fix; their references to young objects are found by scanning
  // them as a remembered set (Trace::scanRememberedSet).
  bool keepOld = promotesInPlace(trace);
  if (!keepOld) {
    for (Size w = 0; w < BitTable::wordsFor(grains_); ++w)
      mark_[w] = 0;
  }
  // The attached buffer's unfilled part (and an object reserved there but not
  // yet committed) holds no objects: it is neither condemned nor reported as
  // not condemned, so a full collection reports (almost) nothing not condemned,
  // as messages.md expects.
  Size bufferBytes = 0;
  if (buffer != nullptr) bufferBytes = Size(buffer->poolLimit - walkedTo_);
  condemnedBytes_ = ((grains_ - freeGrains_) << alignShift_) - bufferBytes;
  Size old = keepOld ? oldBytes_ : 0;
  MPS_AVER(old <= condemnedBytes_);
  condemnedBytes_ -= old;
  condemnedYoung = keepOld;
  // Until the old objects are scanned (if ever, in this trace), what they
  // refer to is known only from the segment's summary.
  if (keepOld && old > 0 && rankSet != kRankSetEmpty) traceSummary = summary;
  trace->noteCondemned(condemnedBytes_);
  white |= trace->traces();
  return Res::ok;
}

Res MarkSweepSegment::fix(ScanState* ss, Addr* refIO) {
  Addr blockBase = msPool_->fmt()->baseOf(*refIO);
  if (MPS_UNLIKELY(blockBase < base || blockBase >= limit ||
                   !isAligned(Size(blockBase - base), Size(1) << alignShift_))) {
    notAnObject(ss->rank());
    return Res::ok;
  }
  // The mark and start bits of an object the marker reaches are seldom in
  // the cache (the heap is visited in no useful order): fetch them now and
  // test them a few fixes later. Objects never move, so *refIO stays.
  Size w = indexOf(blockBase) / kWordBits;
  __builtin_prefetch(&mark_[w]);
  __builtin_prefetch(&start_.words()[w]);
  ss->worker()->defer(this, blockBase, ss->rank());
  return Res::ok;
}

Res MarkSweepSegment::fixWeak(ScanState* /*ss*/, Addr* refIO) {
  // Weak references are exact: one that is not to an object is the client's
  // bug, reported as for an exact fix.
  MPS_AVER(isObject(*refIO) || !"ss->rank == RankAMBIG: an exact reference points at an object");
  if (!isObject(*refIO) || !isMarked(indexOf(msPool_->fmt()->baseOf(*refIO)))) *refIO = nullptr;
  return Res::ok;
}

bool MarkSweepSegment::isPreserved(Addr ref) const {
  Addr blockBase = msPool_->fmt()->baseOf(ref);
  // Inside the attached buffer's window past what was recorded: committed
  // after the flip, so not condemned.
  if (!isObject(ref)) return true;
  return isMarked(indexOf(blockBase));
}

void MarkSweepSegment::finishFix(ScanState* ss, Addr blockBase, Rank rank) {
  Size i = indexOf(blockBase);
  Word bit = Word(1) << (i % kWordBits);
  Word* markWord = &mark_[i / kWordBits];
  // Most fixes find the object already marked, and only an object has a
  // mark bit: test it before the start bit, which is then needed only for
  // the first fix of each object.
  if ((std::atomic_ref<Word>(*markWord).load(std::memory_order_relaxed) & bit) != 0) return;
  if (MPS_UNLIKELY(!start_.get(i))) {
    notAnObject(rank);
    return;
  }
  Worker* worker = ss->worker();
  if (worker->concurrent) {
    // Another worker may mark the same object: only one of them scans it.
    if ((std::atomic_ref<Word>(*markWord).fetch_or(bit, std::memory_order_relaxed) & bit) != 0)
      return;
  } else {
    *markWord |= bit;
  }
  worker->noteMarked();
  if (rankSet != kRankSetEmpty) worker->push(this, msPool_->fmt()->clientOf(blockBase));
}

void MarkSweepSegment::notAnObject(Rank rank) {
  // Harmless for an ambiguous reference (free space, an interior or an
  // uncommitted block); a client bug for an exact one.
  MPS_AVER(rank == Rank::ambig || !"ss->rank == RankAMBIG: an exact reference points at an object");
  (void)rank;
}

void MarkSweepSegment::exposeDependentOf(ScanState* ss, Addr object) {
  mps_addr_t dependent = msPool_->findDependent_(object);
  // The heap verifier's scans change nothing (and read what they like).
  if (dependent != nullptr && ss->trace() != nullptr && !ss->verifying)
    ss->trace()->exposeDependent(static_cast<Addr>(dependent));
}

Res MarkSweepSegment::scanEach(ScanState* ss) {
  Format* format = msPool_->fmt();
  ss->setRank(rankSetLowest(rankSet));
  for (Size i = start_.nextSet(0, grains_); i < grains_; i = start_.nextSet(i + 1, grains_)) {
    Addr object = format->clientOf(addrOfIndex(i));
    Addr next = static_cast<Addr>(format->skip(object));
    ss->scannedBytes += Size(next - object);
    ss->rememberedBytes += Size(next - object);
    if (msPool_->findDependent_ != nullptr) exposeDependentOf(ss, object);
    Res res = Res(format->scan(ss->handle(), object, next));
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

Res MarkSweepSegment::scanObject(ScanState* ss, Addr object) {
  // The whole segment, queued by an incremental trace's remembered set.
  if (MPS_UNLIKELY(object == nullptr)) return scan(ss);
  Format* format = msPool_->fmt();
  ss->setRank(rankSetLowest(rankSet));
  if (MPS_UNLIKELY(msPool_->findDependent_ != nullptr)) exposeDependentOf(ss, object);
  Addr next = static_cast<Addr>(format->skip(object));
  ss->scannedBytes += Size(next - object);
  return Res(format->scan(ss->handle(), object, next));
}

Res MarkSweepSegment::scanMarked(ScanState* ss) {
  Format* format = msPool_->fmt();
  ss->setRank(rankSetLowest(rankSet));
  for (Size i = nextStart(0, true); i < grains_; i = nextStart(i + 1, true)) {
    Addr object = format->clientOf(addrOfIndex(i));
    Addr next = static_cast<Addr>(format->skip(object));
    ss->scannedBytes += Size(next - object);
    ss->rememberedBytes += Size(next - object);
    if (msPool_->findDependent_ != nullptr) exposeDependentOf(ss, object);
    Res res = Res(format->scan(ss->handle(), object, next));
    if (res != Res::ok) return res;
  }
  return Res::ok;
}

Res MarkSweepSegment::scanGrey(ScanState* ss) {
  if (rankSet == kRankSetEmpty) return Res::ok;
  if (!isWhite(ss->traces())) return scan(ss);
  // Condemned: its marked objects may be grey; the unmarked ones are white
  // (scanning them would keep what they refer to alive for nothing).
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  return scanMarked(ss);
}

Res MarkSweepSegment::scan(ScanState* ss) {
  if (rankSet == kRankSetEmpty) return Res::ok;
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  // Condemned for its young objects: the old ones are its remembered set.
  if (condemnedYoung && isWhite(ss->traces()) && !ss->verifying) return scanMarked(ss);
  if (msPool_->scanSingly()) return scanEach(ss);
  Format* format = msPool_->fmt();
  ss->setRank(rankSetLowest(rankSet));
  // Scan maximal runs of consecutive objects with one call each.
  Size i = start_.nextSet(0, grains_);
  while (i < grains_) {
    Addr runBase = format->clientOf(addrOfIndex(i));
    Addr p = runBase;
    Size j = i;
    for (;;) {
      Addr nextClient = static_cast<Addr>(format->skip(p));
      Size k = indexOf(format->baseOf(nextClient));
      p = nextClient;
      if (k >= grains_ || !start_.get(k)) {
        j = k;
        break;
      }
    }
    ss->scannedBytes += Size(p - runBase);
    ss->rememberedBytes += Size(p - runBase);
    Res res = Res(format->scan(ss->handle(), runBase, p));
    if (res != Res::ok) return res;
    i = start_.nextSet(j < grains_ ? j : grains_, grains_);
  }
  return Res::ok;
}

Size MarkSweepSegment::nextStart(Size from, bool marked) const {
  if (from >= grains_) return grains_;
  const Word* startWords = start_.words();
  const Word flip = marked ? 0 : ~Word(0);
  Size w = from / kWordBits;
  Word bits = startWords[w] & (mark_[w] ^ flip) & (~Word(0) << (from % kWordBits));
  for (Size words = BitTable::wordsFor(grains_);;) {
    if (bits != 0) {
      Size i = w * kWordBits + Size(__builtin_ctzl(bits));
      return i < grains_ ? i : grains_;
    }
    if (++w >= words) return grains_;
    bits = startWords[w] & (mark_[w] ^ flip);
  }
}

bool MarkSweepSegment::reclaim(Trace* trace) {
  MPS_AVER(isWhite(trace->traces()));
  // Free maximal runs of dead objects with bit operations alone, without
  // asking the format for any size: the objects of a segment lie end to end
  // from each buffer window's base (every committed one has a start bit, and
  // a window's unused tail was freed when it was handed back), so a run of
  // dead objects starting at grain i ends at the first live object's start,
  // the first free grain, or, inside the attached buffer's window, where its
  // recorded objects end (the grains after that are the buffer's, not
  // condemned).
  Size bufferLimit = buffer != nullptr ? indexOf(walkedTo_) : grains_;
  Size freedGrains = 0;
  for (Size i = nextStart(0, false); i < grains_;) {
    Size end = nextStart(i + 1, true);
    Size gap = alloc_.nextReset(i + 1, end);
    if (gap < end) end = gap;
    if (i < bufferLimit && bufferLimit < end) end = bufferLimit;
#if MPS_CHECKED
    {
      // The run is exactly a sequence of dead objects, as the format sees them.
      Format* format = msPool_->fmt();
      Size fences = msPool_->lead_ + msPool_->trail_;
      Size k = i;
      while (k < end) {
        MPS_AVER(start_.get(k) && !isMarked(k));
        k += (format->sizeOf(format->clientOf(addrOfIndex(k))) + fences) >> alignShift_;
      }
      MPS_AVER(k == end);
    }
#endif
    if (MPS_UNLIKELY(msPool_->debugHooks_)) msPool_->reclaimed(addrOfIndex(i), addrOfIndex(end));
    start_.resetRange(i, end);
    freeRange(i, end);
    freedGrains += end - i;
    i = nextStart(end, false);
  }
  Size freed = freedGrains << alignShift_;
  Size survived = condemnedBytes_ - freed;
  trace->noteReclaimed(freed);
  trace->notePreserved(survived);
  // .ms.sticky: every survivor is old now (marked). Young survivors of a
  // collection of young objects are promoted in place: new bytes of the
  // next generation.
  if (promotesInPlace(trace)) {
    oldBytes_ += survived;
    msPool_->collector()->noteAllocated(gen->chain->gen(gen->index + 1), survived);
  } else {
    oldBytes_ = survived;
  }
  young_ = buffer != nullptr;
  condemnedYoung = false;
  white &= ~trace->traces();
  condemnedBytes_ = 0;
  // Free space may have appeared anywhere: search from the start again.
  if (freedGrains > 0) {
    searchFrom_ = 0;
    failedSize_ = ~Size(0);
    msPool_->noteSpace(this);
  }
  return freeGrains_ == grains_ && buffer == nullptr;
}

void MarkSweepSegment::release() {
  msPool_->segmentEmptied(this);
}

void MarkSweepSegment::walk(ObjectVisitor f, void* closure) {
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  Format* format = msPool_->fmt();
  for (Size i = start_.nextSet(0, grains_); i < grains_; i = start_.nextSet(i + 1, grains_))
    f(this, format->clientOf(addrOfIndex(i)), closure);
}

bool MarkSweepSegment::isObjectNow(Addr p) {
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  return isObject(p);
}

bool MarkSweepSegment::findObject(Addr p, Addr* clientOut) {
  if (p < base || p >= limit) return false;
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  // The last object starting at or before p's grain, if p lies inside it:
  // free grains have no start bit and are past the end of the object before.
  Size end = start_.prevSetEnd(0, indexOf(p) + 1);
  if (end == 0) return false;
  const Format* format = msPool_->fmt();
  Addr client = format->clientOf(addrOfIndex(end - 1));
  if (p >= format->baseOf(static_cast<Addr>(format->skip(client))) + msPool_->lead_) return false;
  *clientOut = client;
  return true;
}

bool MarkSweepSegment::isObject(Addr p) const {
  const Format* format = msPool_->fmt();
  Addr blockBase = format->baseOf(p);
  if (blockBase < base || blockBase >= limit ||
      !isAligned(Size(blockBase - base), Size(1) << alignShift_))
    return false;
  if (start_.get(indexOf(blockBase))) return true;
  // Committed by the attached buffer since its objects were last recorded
  // (mps_finalize on a new object): walk them.
  if (buffer == nullptr || walkedTo_ == nullptr || blockBase < walkedTo_) return false;
  Addr committed = buffer->scanLimit();
  const Size lead = msPool_->lead_, fences = lead + msPool_->trail_;
  for (Addr q = walkedTo_; q + lead < committed && q <= blockBase;
       q = static_cast<Addr>(format->skip(q + format->headerSize)) - format->headerSize + fences)
    if (q == blockBase) return true;
  return false;
}

bool MarkSweepSegment::check() const {
  MPS_CHECKL(Segment::check());
  MPS_CHECKL(msSig == kMSSig);
  MPS_CHECKL(freeGrains_ <= grains_);
  return true;
}

// Pools ---------------------------------------------------------------------

Res MarkSweepPool::initMarkSweep(const mps_arg_s* args, bool leaf, unsigned defaultChainGen) {
  Res res = initAuto(args, true, defaultChainGen);
  if (res != Res::ok) return res;
  // A format may lack methods the pool would need (format.md): the pool is
  // created all the same, as in the reference, and the first call of a
  // missing method reports it by name (format/format.cpp); a pool that
  // never allocates never calls one.
  leaf_ = leaf;
  alignShift_ = log2(alignment_);
  segFormat_ = format_;
  return Res::ok;
}

MarkSweepPool::~MarkSweepPool() {
  releaseCached();
  segments_.forEach([&](Segment* seg) { freeSegment(static_cast<MarkSweepSegment*>(seg)); });
}

Res MarkSweepPool::newSegment(MarkSweepSegment** segOut, Size size, RankSet rankSet) {
  Size segSize =
      alignUp(size > kDefaultSegmentSize ? size : kDefaultSegmentSize, arena_->grainSize());
  Addr base;
  Res res = arena_->allocGrains(&base, segSize, this);
  if (res != Res::ok && segSize > alignUp(size, arena_->grainSize())) {
    // Short of memory: a segment just big enough may still fit.
    segSize = alignUp(size, arena_->grainSize());
    res = arena_->allocGrains(&base, segSize, this);
  }
  if (res != Res::ok) return res;
  Size grains = segSize >> alignShift_;
  Size bytes = sizeof(MarkSweepSegment) + MarkSweepSegment::tableWords(grains) * sizeof(Word);
  void* p;
  res = arena_->controlAlloc(&p, bytes);
  if (res != Res::ok) {
    arena_->freeGrains(base, segSize);
    return res;
  }
  Word* tables = reinterpret_cast<Word*>(static_cast<MarkSweepSegment*>(p) + 1);
  for (Size w = 0; w < MarkSweepSegment::tableWords(grains); ++w)
    tables[w] = 0;
  auto* seg = new (p) MarkSweepSegment(this, base, base + segSize, tables, alignShift_);
  seg->rankSet = rankSet;
  seg->gen = gen_;
  arena_->setOwner(base, segSize, seg);
  addSegment(seg);
  noteSpace(seg);
  totalSize_ += segSize;
  if (debugHooks_) segmentMade(base, base + segSize);
  *segOut = seg;
  return Res::ok;
}

MarkSweepSegment* MarkSweepPool::takeCached(RankSet rankSet) {
  Segment* s = cache_.first();
  if (s == nullptr) return nullptr;
  auto* seg = static_cast<MarkSweepSegment*>(s);
  seg->poolRing.remove();
  cachedBytes_ -= seg->size();
  // A reclaim left it empty: no allocated grain and no start bit, so only
  // the segment's own fields need resetting (the mark table is cleared by
  // the next whiten).
  MPS_AVER(seg->freeGrains_ == seg->grains_ && seg->alloc_.isRangeReset(0, seg->grains_) &&
           seg->start_.isRangeReset(0, seg->grains_));
  seg->rankSet = rankSet;
  seg->gen = gen_;
  seg->summary = kRefSetUniv;
  seg->summaryTraced = false;
  seg->barrierDefer = Segment::kBarrierDeferNew;
  seg->barrierHits = 0;
  seg->barrierProtected = false;
  seg->oldBytes_ = 0;
  seg->young_ = false;
  seg->condemnedYoung = false;
  seg->summaryOfOld = false;
  seg->white = 0;
  seg->grey = 0;
  seg->searchFrom_ = 0;
  seg->failedSize_ = ~Size(0);
  addSegment(seg);
  noteSpace(seg);
  return seg;
}

Size MarkSweepPool::cacheLimit() const {
  if (arena_->spare() <= 0.0) return 0;
  return gen_ != nullptr ? gen_->trigger() : 0;
}

void MarkSweepPool::segmentEmptied(MarkSweepSegment* seg) {
  MPS_AVER(seg->buffer == nullptr && seg->freeGrains_ == seg->grains_);
  // Only segments of the default size are cached: bigger ones were made for
  // one large object and are unlikely to fit the next request.
  if (seg->size() == alignUp(kDefaultSegmentSize, arena_->grainSize()) &&
      cachedBytes_ + seg->size() <= cacheLimit()) {
    removeSegment(seg);
    seg->spaceRing_.remove();
    seg->white = 0;
    cache_.append(&seg->poolRing);
    cachedBytes_ += seg->size();
    return;
  }
  freeSegment(seg);
}

Size MarkSweepPool::releaseCached() {
  Size released = 0;
  while (Segment* seg = cache_.first()) {
    cachedBytes_ -= seg->size();
    released += seg->size();
    freeSegment(static_cast<MarkSweepSegment*>(seg));  // takes it off the cache's ring
  }
  return released;
}

void MarkSweepPool::freeSegment(MarkSweepSegment* seg) {
  Shield::release(seg);
  MPS_AVER(seg->buffer == nullptr);
  Addr base = seg->base;
  Size size = seg->size();
  Size bytes =
      sizeof(MarkSweepSegment) + MarkSweepSegment::tableWords(seg->grains()) * sizeof(Word);
  removeSegment(seg);
  seg->spaceRing_.remove();
  seg->~MarkSweepSegment();
  arena_->controlFree(seg, bytes);
  arena_->freeGrains(base, size);
  totalSize_ -= size;
}

Res MarkSweepPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVER(buffer->isReset());
  if (sizeTooLarge(size, arena_->grainSize())) return Res::resource;
  size = alignUp(size, alignment_);
  Size n = size >> alignShift_;
  // .ms.sticky.dense: a collection of young objects scans the old objects
  // of every segment it condemns (their references to young objects are
  // not otherwise known), so young objects go only into segments whose old
  // objects fill at most 1/kMaxOldShare of them: the scanning then costs at
  // most about as much as the young objects allocated. Denser segments get
  // new objects again once a full collection has thinned them out.
  const bool generational = gen_ != nullptr && gen_->index + 1 < gen_->chain->count();
  // A window of at most a quarter of the generation's trigger shared out
  // among the pool's allocation points (but at least kMinFillBytes, or the
  // request): a window is counted as new bytes when it is emptied
  // (.buffer.accounting), so the windows held at once are allocation the
  // generation has not counted yet, and many points each holding a whole
  // free run would keep collections far past their due time.
  Size window = ~Size(0);
  if (gen_ != nullptr) {
    Size share = gen_->trigger() / (4 * bufferCount());
    window = share > kMinFillBytes ? share : kMinFillBytes;
  }
  if (exactWindows_) window = 0;
  Size cap = (size > window ? size : window) >> alignShift_;
  MarkSweepSegment* found = nullptr;
  Size first = 0, limit = 0;
  // Segments passed over (attached to another buffer, of other ranks, or
  // without a run this long) go to the back of the ring, so that the next
  // fill looks first at those it has not tried.
  Ring<MarkSweepSegment> passed{nullptr};
  while (MarkSweepSegment* seg = withSpace_.first()) {
    seg->spaceRing_.remove();
    if (!seg->hasSpaceLeft()) continue;  // off the ring until a reclaim frees some
    // Not a segment the collection in progress has still to scan
    // (`grey`, set while an incremental trace yields): attaching a buffer
    // drops its protection, the read barrier with it, and the mutator could
    // then load a reference to a white object from an unscanned one.
    if (seg->buffer == nullptr && seg->rankSet == buffer->rankSet && seg->white == 0 &&
        seg->grey == 0 && !(generational && seg->oldBytes_ > seg->size() / kMaxOldShare) &&
        seg->findFreeRun(n, &first, &limit, cap)) {
      found = seg;
      // First again for the next fill: the buffer's objects stay together
      // rather than spreading over every segment with a free run.
      withSpace_.prepend(&seg->spaceRing_);
      break;
    }
    passed.append(&seg->spaceRing_);
  }
  while (MarkSweepSegment* seg = passed.first()) {
    seg->spaceRing_.remove();
    withSpace_.append(&seg->spaceRing_);
  }
  if (found == nullptr && n <= (kDefaultSegmentSize >> alignShift_)) {
    found = takeCached(buffer->rankSet);
    if (found != nullptr && !found->findFreeRun(n, &first, &limit, cap)) found = nullptr;
  }
  if (found == nullptr) {
    Res res = newSegment(&found, size, buffer->rankSet);
    if (res != Res::ok && releaseCached() > 0) res = newSegment(&found, size, buffer->rankSet);
    if (res != Res::ok) return res;
    bool ok = found->findFreeRun(n, &first, &limit, cap);
    MPS_AVER(ok && first == 0 && (limit == found->grains() || limit == cap));
    (void)ok;
  }
  // The search stopped at `cap` grains: the rest of the run, if any, stays
  // free, and the next search starts there (findFreeRun moved searchFrom_).
  MPS_AVER(limit - first <= cap && found->searchFrom_ <= limit);
  if (limit - first == cap) found->failedSize_ = ~Size(0);
  found->allocRange(first, limit);
  found->young_ = true;
  // The client is about to write into it: lift the barrier now rather
  // than at the first store's fault.
  if (found->protMode != kShieldNone || found->summary != kRefSetUniv) Shield::dropBarrier(found);
  found->walkedTo_ = found->addrOfIndex(first);
  buffer->attach(found, found->addrOfIndex(first), found->addrOfIndex(limit));
  buffer->accountedTo = buffer->base;
  return Res::ok;
}

void MarkSweepPool::bufferEmpty(Buffer* buffer) {
  auto* seg = static_cast<MarkSweepSegment*>(buffer->seg);
  MPS_AVER(seg != nullptr && seg->buffer == buffer);
  seg->recordObjects(buffer->init());
  if (buffer->init() < buffer->poolLimit) {
    Size from = seg->indexOf(buffer->init());
    seg->freeRange(from, seg->indexOf(buffer->poolLimit));
    // The unused tail is free again, and may be longer than a run a request
    // failed to find earlier.
    if (from < seg->searchFrom_) seg->searchFrom_ = from;
    seg->failedSize_ = ~Size(0);
    noteSpace(seg);
  }
  seg->walkedTo_ = nullptr;
  // .buffer.accounting: what the buffer committed since it was counted.
  if (buffer->init() > buffer->accountedTo)
    collector()->noteAllocated(gen_, Size(buffer->init() - buffer->accountedTo));
  buffer->accountedTo = nullptr;
}

Size MarkSweepPool::freeSize() const {
  Size free = cachedBytes_;
  segments_.forEach(
      [&](Segment* s) { free += static_cast<MarkSweepSegment*>(s)->freeGrains() << alignShift_; });
  return free;
}

bool MarkSweepPool::check() const {
  MPS_CHECKL(AutoPool::check());
  MPS_CHECKL(format_ != nullptr);
  return true;
}

}  // namespace mps::core
