#include "tracer/marksweep.hpp"

#include <new>

namespace mps::core {

// Segments ------------------------------------------------------------------

MarkSweepSegment::MarkSweepSegment(MarkSweepPool* pool, Addr segBase, Addr segLimit,
                                   Word* tables, Shift alignShift)
    : Segment(pool, segBase, segLimit),
      msPool_(pool),
      alignShift_(alignShift),
      grains_(Size(segLimit - segBase) >> alignShift),
      alloc_(tables, grains_),
      start_(tables + BitTable::wordsFor(grains_), grains_),
      mark_(tables + 2 * BitTable::wordsFor(grains_)),
      freeGrains_(grains_) {
  for (Size w = 0; w < BitTable::wordsFor(grains_); ++w) mark_[w] = 0;
}

bool MarkSweepSegment::testAndMark(Size i) {
  Word bit = Word(1) << (i % kWordBits);
  std::atomic_ref<Word> word(mark_[i / kWordBits]);
  // Most fixes find the object already marked: read before writing.
  if ((word.load(std::memory_order_relaxed) & bit) != 0) return false;
  return (word.fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
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

bool MarkSweepSegment::findFreeRun(Size n, Size* firstOut, Size* limitOut) const {
  if (freeGrains_ < n) return false;
  Size first;
  if (!alloc_.findResetRun(&first, 0, grains_, n, false)) return false;
  *firstOut = first;
  *limitOut = alloc_.nextSet(first + n, grains_);
  return true;
}

void MarkSweepSegment::recordObjects(Addr limit) {
  if (buffer == nullptr || walkedTo_ == nullptr) return;
  Format* format = msPool_->fmt();
  Addr p = walkedTo_;
  MPS_AVER(p <= limit && limit <= buffer->poolLimit);
  while (p < limit) {
    Addr client = format->clientOf(p);
    Addr next = format->baseOf(static_cast<Addr>(format->skip(client)));
    MPS_AVER_ALWAYS(next > p && next <= limit &&
                    "format skip method steps to the next object within the buffer");
    start_.set(indexOf(p));
    p = next;
  }
  walkedTo_ = limit;
}

void MarkSweepSegment::bufferFlipped(Buffer* b) {
  MPS_AVER(b == buffer);
  recordObjects(b->scanLimit());
}

Res MarkSweepSegment::whiten(Trace* trace) {
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  for (Size w = 0; w < BitTable::wordsFor(grains_); ++w) mark_[w] = 0;
  // The attached buffer's unfilled part (and an object reserved there but not
  // yet committed) holds no objects: it is neither condemned nor reported as
  // not condemned, so a full collection reports (almost) nothing not condemned,
  // as messages.md expects.
  Size bufferBytes = 0;
  if (buffer != nullptr) bufferBytes = Size(buffer->poolLimit - walkedTo_);
  condemnedBytes_ = ((grains_ - freeGrains_) << alignShift_) - bufferBytes;
  trace->noteCondemned(condemnedBytes_);
  white |= trace->traces();
  return Res::ok;
}

Res MarkSweepSegment::fix(ScanState* ss, Addr* refIO) {
  Format* format = msPool_->fmt();
  Addr blockBase = format->baseOf(*refIO);
  bool exact = ss->rank() != Rank::ambig;
  if (blockBase < base || blockBase >= limit ||
      !isAligned(Size(blockBase - base), Size(1) << alignShift_) ||
      !start_.get(indexOf(blockBase))) {
    // Not an object: harmless for an ambiguous reference (free space, an
    // interior or an uncommitted block); a client bug for an exact one.
    MPS_AVER(!exact || !"ss->rank == RankAMBIG: an exact reference points at an object");
    (void)exact;
    return Res::ok;
  }
  if (testAndMark(indexOf(blockBase))) {
    ss->trace()->noteMarked();
    if (rankSet != kRankSetEmpty) ss->worker()->push(this, *refIO);
  }
  return Res::ok;
}

Res MarkSweepSegment::fixWeak(ScanState* /*ss*/, Addr* refIO) {
  // Weak references are exact: one that is not to an object is the client's
  // bug, reported as for an exact fix.
  MPS_AVER(isObject(*refIO) || !"ss->rank == RankAMBIG: an exact reference points at an object");
  if (!isObject(*refIO) || !isMarked(indexOf(msPool_->fmt()->baseOf(*refIO)))) *refIO = nullptr;
  return Res::ok;
}

Res MarkSweepSegment::scanObject(ScanState* ss, Addr object) {
  Format* format = msPool_->fmt();
  ss->setRank(rankSetLowest(rankSet));
  Addr next = static_cast<Addr>(format->skip(object));
  ss->scannedBytes += Size(next - object);
  return Res(format->scan(ss->handle(), object, next));
}

Res MarkSweepSegment::scan(ScanState* ss) {
  if (rankSet == kRankSetEmpty) return Res::ok;
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
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
    Res res = Res(format->scan(ss->handle(), runBase, p));
    if (res != Res::ok) return res;
    i = start_.nextSet(j < grains_ ? j : grains_, grains_);
  }
  return Res::ok;
}

bool MarkSweepSegment::reclaim(Trace* trace) {
  MPS_AVER(isWhite(trace->traces()));
  Format* format = msPool_->fmt();
  Size words = BitTable::wordsFor(grains_);
  const Word* startWords = start_.words();
  Size freedGrains = 0;
  for (Size w = 0; w < words; ++w) {
    Word dead = startWords[w] & ~mark_[w];
    while (dead != 0) {
      Size i = w * kWordBits + Size(__builtin_ctzl(dead));
      dead &= dead - 1;
      Addr blockBase = addrOfIndex(i);
      Size size = format->sizeOf(format->clientOf(blockBase));
      Size n = size >> alignShift_;
      start_.reset(i);
      freeRange(i, i + n);
      freedGrains += n;
    }
  }
  Size freed = freedGrains << alignShift_;
  trace->noteReclaimed(freed);
  trace->notePreserved(condemnedBytes_ - freed);
  white &= ~trace->traces();
  condemnedBytes_ = 0;
  return freeGrains_ == grains_ && buffer == nullptr;
}

void MarkSweepSegment::release() { msPool_->freeSegment(this); }

void MarkSweepSegment::walk(ObjectVisitor f, void* closure) {
  if (buffer != nullptr) recordObjects(buffer->scanLimit());
  Format* format = msPool_->fmt();
  for (Size i = start_.nextSet(0, grains_); i < grains_; i = start_.nextSet(i + 1, grains_))
    f(this, format->clientOf(addrOfIndex(i)), closure);
}

bool MarkSweepSegment::isObject(Addr p) const {
  Addr blockBase = msPool_->fmt()->baseOf(p);
  return blockBase >= base && blockBase < limit &&
         isAligned(Size(blockBase - base), Size(1) << alignShift_) &&
         start_.get(indexOf(blockBase));
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
  MPS_AVER_ALWAYS(format_->hasSkip() && "the pool's format has a skip method");
  if (!leaf) MPS_AVER_ALWAYS(format_->hasScan() && "the pool's format has a scan method");
  leaf_ = leaf;
  alignShift_ = log2(alignment_);
  return Res::ok;
}

MarkSweepPool::~MarkSweepPool() {
  segments_.forEach([&](Segment* seg) { freeSegment(static_cast<MarkSweepSegment*>(seg)); });
}

Res MarkSweepPool::newSegment(MarkSweepSegment** segOut, Size size, RankSet rankSet) {
  Size segSize = alignUp(size > kDefaultSegmentSize ? size : kDefaultSegmentSize,
                         arena_->grainSize());
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
  for (Size w = 0; w < MarkSweepSegment::tableWords(grains); ++w) tables[w] = 0;
  auto* seg = new (p) MarkSweepSegment(this, base, base + segSize, tables, alignShift_);
  seg->rankSet = rankSet;
  seg->gen = gen_;
  arena_->setOwner(base, segSize, seg);
  addSegment(seg);
  totalSize_ += segSize;
  *segOut = seg;
  return Res::ok;
}

void MarkSweepPool::freeSegment(MarkSweepSegment* seg) {
  MPS_AVER(seg->buffer == nullptr);
  Addr base = seg->base;
  Size size = seg->size();
  Size bytes =
      sizeof(MarkSweepSegment) + MarkSweepSegment::tableWords(seg->grains()) * sizeof(Word);
  removeSegment(seg);
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
  MarkSweepSegment* found = nullptr;
  Size first = 0, limit = 0;
  segments_.forEach([&](Segment* s) {
    auto* seg = static_cast<MarkSweepSegment*>(s);
    if (found == nullptr && seg->buffer == nullptr && seg->rankSet == buffer->rankSet &&
        seg->white == 0 && seg->findFreeRun(n, &first, &limit))
      found = seg;
  });
  if (found == nullptr) {
    Res res = newSegment(&found, size, buffer->rankSet);
    if (res != Res::ok) return res;
    first = 0;
    limit = found->grains();
  }
  found->allocRange(first, limit);
  found->walkedTo_ = found->addrOfIndex(first);
  buffer->attach(found, found->addrOfIndex(first), found->addrOfIndex(limit));
  collector()->noteAllocated(gen_, (limit - first) << alignShift_);
  return Res::ok;
}

void MarkSweepPool::bufferEmpty(Buffer* buffer) {
  auto* seg = static_cast<MarkSweepSegment*>(buffer->seg);
  MPS_AVER(seg != nullptr && seg->buffer == buffer);
  seg->recordObjects(buffer->init());
  if (buffer->init() < buffer->poolLimit)
    seg->freeRange(seg->indexOf(buffer->init()), seg->indexOf(buffer->poolLimit));
  seg->walkedTo_ = nullptr;
  // Unused new memory does not count as allocation.
  Size unused = Size(buffer->poolLimit - buffer->init());
  gen_->newSize = gen_->newSize > unused ? gen_->newSize - unused : 0;
}

Size MarkSweepPool::freeSize() const {
  Size free = 0;
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
