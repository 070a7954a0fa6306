#include "pools/amc/amc.hpp"

#include <cstring>
#include <new>
#include <thread>

#include "base/keys.hpp"
#include "mpscamc.h"
#include "shield/shield.hpp"

namespace mps::core {

namespace {

Res createAMC(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<AMCPool>(poolOut, arena, &kPoolClassAMC, args);
}

Res createAMCZ(Pool** poolOut, Arena* arena, const mps_arg_s* args) {
  return Pool::make<AMCPool>(poolOut, arena, &kPoolClassAMCZ, args);
}

// Waits for another worker to finish copying an object it claimed: a
// memcpy and the client's fwd, so a short spin, then give the CPU away in
// case that worker is not running.
void waitForCopier(unsigned* spins) {
  if (++*spins > 64) std::this_thread::yield();
}

// Words of a copied object examined for references to prefetch.
constexpr Size kPrefetchWords = 8;

Size segmentBytes(Size grains) {
  return alignUp(sizeof(AMCSegment) + grains, sizeof(Word));
}

}  // namespace

const PoolClass kPoolClassAMC = {
    PoolClass::kSig,  "AMC",  kPoolAttrBuffer | kPoolAttrGC | kPoolAttrMoving, createAMC,
    AMCPool::varargs, nullptr};
const PoolClass kPoolClassAMCZ = {
    PoolClass::kSig, "AMCZ",           kPoolAttrBuffer | kPoolAttrGC | kPoolAttrMoving,
    createAMCZ,      AMCPool::varargs, nullptr};

// Segments ------------------------------------------------------------------------

AMCSegment::AMCSegment(AMCPool* pool, Addr segBase, Addr segLimit, std::uint8_t* states,
                       Shift alignShift)
    : Segment(pool, segBase, segLimit), amcPool_(pool), states_(states), alignShift_(alignShift) {}

void AMCSegment::pad(Addr from, Addr to) {
  MPS_AVER(base <= from && from < to && to <= limit);
  amcPool_->fmt()->pad(from, Size(to - from));
  std::memset(states_ + indexOf(from), kNone, indexOf(to) - indexOf(from));
  states_[indexOf(from)] = kPad;
  ++layout_;
}

Res AMCSegment::whiten(Trace* trace) {
  MPS_AVER(!toSpace_);
  condemnLimit_ = objectsLimit();
  hasPinned_.store(false, std::memory_order_relaxed);
  moved_.store(false, std::memory_order_relaxed);
#if MPS_CHECKED
  // Fix checks exact references against the block starts: record them now,
  // before any object of the segment is forwarded.
  buildStarts();
#endif
  trace->noteCondemned(Size(condemnLimit_ - base));
  if (buffer != nullptr) trace->noteNotCondemned(Size(limit - condemnLimit_));
  white |= trace->traces();
  return Res::ok;
}

Size AMCSegment::lastStartAtOrBefore(Size i) const {
  Size w = i / kWordBits;
  Word bits = starts_[w] & (~Word(0) >> (kWordBits - 1 - i % kWordBits));
  while (bits == 0) {
    if (w == 0) return kNoStart;
    bits = starts_[--w];
  }
  return w * kWordBits + (kWordBits - 1 - Size(__builtin_clzl(bits)));
}

Addr AMCSegment::blockAt(ScanState* ss, Addr ref) {
  // The start table is built once per layout; workers draining in parallel
  // may meet an ambiguous reference (from an ambiguous AMS object) at once.
  std::unique_lock<std::mutex> guard(ss->trace()->allocLock(), std::defer_lock);
  if (ss->trace()->parallel()) guard.lock();
  buildStarts();
  Size j = lastStartAtOrBefore(indexOf(ref));
  if (j == kNoStart || states_[j] == kPad) return nullptr;
  Addr blockBase = base + (j << alignShift_);
  Format* format = amcPool_->fmt();
  Addr client = format->clientOf(blockBase);
  if (amcPool_->interior()) {
    if (ref >= format->baseOf(static_cast<Addr>(format->skip(client)))) return nullptr;
  } else if (ref != client) {
    return nullptr;
  }
  return blockBase;
}

void AMCSegment::pin(ScanState* ss, Addr blockBase) {
  std::atomic_ref<std::uint8_t> state = stateAt(blockBase);
  unsigned spins = 0;
  for (;;) {
    std::uint8_t s = state.load(std::memory_order_acquire);
    // Already pinned, or (an ambiguous reference found after exact ones
    // moved the object: design/amc.md .amc.late) too late to pin.
    if (s == kPinned || s == kMoved) return;
    if (s == kBusy) {
      waitForCopier(&spins);
      continue;
    }
    std::uint8_t expected = kNone;
    if (state.compare_exchange_strong(expected, kPinned, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
      break;
  }
  kept(ss, blockBase);
}

void AMCSegment::kept(ScanState* ss, Addr blockBase) {
  Worker* worker = ss->worker();
  // The mutator may reach this condemned segment from now on
  // (reachableWhileWhite): its protection may change.
  if (!hasPinned_.load(std::memory_order_relaxed) &&
      !hasPinned_.exchange(true, std::memory_order_relaxed))
    worker->noteModeMayChange(this);
  worker->noteMarked();
  if (rankSet != kRankSetEmpty) worker->push(this, amcPool_->fmt()->clientOf(blockBase));
}

// Marking is over: every surviving white object is either moved or pinned.
Res AMCSegment::fixWeak(ScanState* /*ss*/, Addr* refIO) {
  Addr ref = *refIO;
  Format* format = amcPool_->fmt();
  Addr blockBase = format->baseOf(ref);
  if (blockBase >= condemnLimit_ && blockBase < limit) return Res::ok;  // not condemned
  if (MPS_UNLIKELY(blockBase < base || blockBase >= limit ||
                   !isAligned(Size(blockBase - base), Size(1) << alignShift_))) {
    MPS_AVER(!"ss->rank == RankAMBIG: an exact reference points at an object");
    return Res::ok;
  }
  std::uint8_t s = stateAt(blockBase).load(std::memory_order_acquire);
  if (s == kMoved) {
    *refIO = static_cast<Addr>(format->isfwd(ref));
  } else if (s != kPinned) {
    *refIO = nullptr;  // nothing strong reached it: it dies in this collection
  }
  return Res::ok;
}

bool AMCSegment::isPreserved(Addr ref) const {
  Addr blockBase = amcPool_->fmt()->baseOf(ref);
  if (blockBase < base || blockBase >= condemnLimit_) return true;  // not condemned
  std::uint8_t s = stateAt(blockBase).load(std::memory_order_acquire);
  return s == kMoved || s == kPinned;
}

Res AMCSegment::fix(ScanState* ss, Addr* refIO) {
  Addr ref = *refIO;
  if (ss->rank() == Rank::ambig) {
    // design/amc.md .amc.pin: an ambiguous reference to an object (its base,
    // or with MPS_KEY_INTERIOR any address inside it) pins that object; the
    // segment stays where it is.
    if (ref < base || ref >= condemnLimit_) return Res::ok;
    Addr blockBase = blockAt(ss, ref);
    if (blockBase != nullptr) pin(ss, blockBase);
    return Res::ok;
  }
  Format* format = amcPool_->fmt();
  Addr blockBase = format->baseOf(ref);
  if (MPS_UNLIKELY(blockBase < base || blockBase >= condemnLimit_ ||
                   !isAligned(Size(blockBase - base), Size(1) << alignShift_))) {
    MPS_AVER(!"ss->rank == RankAMBIG: an exact reference points at an object");
    return Res::ok;
  }
#if MPS_CHECKED
  {
    Size i = indexOf(blockBase);
    MPS_AVER(((starts_[i / kWordBits] >> (i % kWordBits)) & 1) != 0 &&
             std::atomic_ref<std::uint8_t>(states_[i]).load(std::memory_order_relaxed) != kPad &&
             "ss->rank == RankAMBIG: an exact reference points at an object");
  }
#endif
  if (large_) {
    // A large object is promoted in place rather than copied.
    pin(ss, blockBase);
    return Res::ok;
  }
  // The object is about to be read (to copy it, or for its forwarding
  // marker) and is seldom in the cache: let that miss overlap the one on
  // its state byte.
  __builtin_prefetch(ref);
  std::atomic_ref<std::uint8_t> state = stateAt(blockBase);
  unsigned spins = 0;
  for (;;) {
    std::uint8_t s = state.load(std::memory_order_acquire);
    if (s == kMoved) {
      *refIO = static_cast<Addr>(format->isfwd(ref));
      MPS_AVER(*refIO != nullptr && "the format's isfwd recognises its forwarding markers");
      return Res::ok;
    }
    if (s == kPinned) return Res::ok;
    if (s == kBusy) {
      waitForCopier(&spins);
      continue;
    }
    MPS_AVER(s == kNone && "ss->rank == RankAMBIG: an exact reference points at an object");
    // .amc.claim: the worker whose compare-and-swap takes the object from
    // white to busy copies it; the others wait for "moved". A lone worker
    // has no one to race with.
    Worker* worker = ss->worker();
    if (worker->concurrent) {
      std::uint8_t expected = kNone;
      if (!state.compare_exchange_strong(expected, kBusy, std::memory_order_acquire,
                                         std::memory_order_relaxed))
        continue;
    }
    AMCSegment* toSeg = nullptr;
    Addr copy = amcPool_->copy(worker, this, ref, &toSeg);
    if (MPS_UNLIKELY(copy == nullptr)) {
      // No to-space (commit limit): keep it in place (design/amc.md .amc.limit).
      state.store(kPinned, std::memory_order_release);
      kept(ss, blockBase);
      return Res::ok;
    }
    // Publish: a worker that sees "moved" finds the forwarding marker.
    state.store(kMoved, std::memory_order_release);
    if (!moved_.load(std::memory_order_relaxed)) moved_.store(true, std::memory_order_relaxed);
    worker->noteMarked();
    if (rankSet != kRankSetEmpty) worker->push(toSeg, copy);
    *refIO = copy;
    return Res::ok;
  }
}

Res AMCSegment::scanObject(ScanState* ss, Addr object) {
  if (object == nullptr) return scanWhole(ss);
  Format* format = amcPool_->fmt();
  ss->setRank(Rank::exact);
  Addr next = static_cast<Addr>(format->skip(object));
  ss->scannedBytes += Size(next - object);
  return Res(format->scan(ss->handle(), object, next));
}

Res AMCSegment::scan(ScanState* ss) {
  // A to-space segment still being filled does not parse yet; every object
  // in it is grey on some worker's stack anyway.
  if (rankSet == kRankSetEmpty || toSpace_) return Res::ok;
  Addr lim = objectsLimit();
  if (lim == base) return Res::ok;
  if (ss->trace() != nullptr && !ss->verifying) {
    // .amc.remembered: the tracer scans the remembered set on the collecting
    // thread alone; as a grey item the segment is scanned by the parallel
    // drain instead, like the objects it leads to.
    ss->worker()->push(this, nullptr);
    return Res::ok;
  }
  return scanWhole(ss);
}

Res AMCSegment::scanGrey(ScanState* ss) {
  if (rankSet == kRankSetEmpty) return Res::ok;
  Format* format = amcPool_->fmt();
  ss->setRank(Rank::exact);
  if (!isWhite(ss->traces())) {
    // To-space (every copy in it may be grey) or an uncondemned segment of
    // the remembered set: everything that parses.
    Addr lim = toSpace_ ? amcPool_->toSpaceEnd(this) : objectsLimit();
    if (lim == nullptr) lim = objectsLimit();
    ss->scannedBytes += Size(lim - base);
    return Res(format->scan(ss->handle(), format->clientOf(base), format->clientOf(lim)));
  }
  // Condemned: only its pinned objects are grey (the others are white, or
  // forwarding markers).
  if (!hasPinned_.load(std::memory_order_relaxed)) return Res::ok;
  for (Addr p = base; p < condemnLimit_;) {
    Addr client = format->clientOf(p);
    Addr next = static_cast<Addr>(format->skip(client));
    if (states_[indexOf(p)] == kPinned) {
      ss->scannedBytes += Size(next - client);
      Res res = Res(format->scan(ss->handle(), client, next));
      if (res != Res::ok) return res;
    }
    p = format->baseOf(next);
  }
  return Res::ok;
}

Res AMCSegment::scanWhole(ScanState* ss) {
  // A carried to-space segment (.amc.carry): only the objects it had when
  // the trace began; the copies after them are grey on a worker's stack.
  // (Fixed for the whole trace: another worker may be scanning this while
  // the first one copies into the segment, or closes it.)
  Addr lim = oldLimit_ != nullptr ? oldLimit_ : objectsLimit();
  Format* format = amcPool_->fmt();
  ss->setRank(Rank::exact);
  ss->scannedBytes += Size(lim - base);
  ss->rememberedBytes += Size(lim - base);
  return Res(format->scan(ss->handle(), format->clientOf(base), format->clientOf(lim)));
}

bool AMCSegment::reclaim(Trace* trace) {
  MPS_AVER(isWhite(trace->traces()));
  Size condemned = Size(condemnLimit_ - base);
  if (moved_.load(std::memory_order_relaxed))
    trace->noteMoved(refSetOfRange(base, limit, trace->arena()->zoneShift()));
  white &= ~trace->traces();
  moved_.store(false, std::memory_order_relaxed);
  if (!hasPinned_.load(std::memory_order_relaxed)) {
    // Every survivor was copied out.
    trace->noteReclaimed(condemned);
    if (buffer == nullptr) return true;
    // The attached buffer keeps the segment: its condemned head is dead.
    if (condemned > 0) pad(base, condemnLimit_);
    return false;
  }
  // .amc.pin: the segment stays for its pinned objects; everything else in
  // its condemned part (objects copied out, dead objects) becomes padding,
  // one padding object per run, so that walkers never see the dead.
  hasPinned_.store(false, std::memory_order_relaxed);
  Format* format = amcPool_->fmt();
  Size kept = 0;
  Addr deadBase = nullptr;
  for (Addr p = base; p < condemnLimit_;) {
    Addr next = format->baseOf(static_cast<Addr>(format->skip(format->clientOf(p))));
    if (states_[indexOf(p)] == kPinned) {
      if (deadBase != nullptr) pad(deadBase, p);
      deadBase = nullptr;
      states_[indexOf(p)] = kNone;
      kept += Size(next - p);
    } else if (deadBase == nullptr) {
      deadBase = p;
    }
    p = next;
  }
  if (deadBase != nullptr) pad(deadBase, condemnLimit_);
  trace->noteReclaimed(condemned - kept);
  trace->notePreserved(kept);
  if (large_ && buffer == nullptr && kept > 0) {
    // A large object survives by promotion in place: the segment moves to
    // the next generation, as a copy of the object would have.
    gen = amcPool_->promotionOf(gen);
    amcPool_->collector()->noteAllocated(gen, kept);
  }
  return false;
}

void AMCSegment::release() {
  amcPool_->segmentEmptied(this);
}

void AMCSegment::walk(ObjectVisitor f, void* closure) {
  Format* format = amcPool_->fmt();
  Addr lim = objectsLimit();
  for (Addr p = base; p < lim;) {
    Addr client = format->clientOf(p);
    Addr next = format->baseOf(static_cast<Addr>(format->skip(client)));
    MPS_AVER_ALWAYS(next > p && next <= lim &&
                    "format skip method steps to the next object within the segment");
    if (states_[indexOf(p)] == kNone) f(this, client, closure);
    p = next;
  }
}

void AMCSegment::buildStarts() const {
  Addr lim = objectsLimit();
  if (startsLayout_ == layout_ && startsLimit_ == lim) return;
  Addr from = base;
  if (startsLayout_ == layout_ && startsLimit_ != nullptr && startsLimit_ < lim) {
    // The same layout, with objects committed since (mps_finalize after
    // each allocation): objects lie end to end, so only the new ones are
    // walked.
    from = startsLimit_;
  } else {
    Size grains = Size(limit - base) >> alignShift_;
    starts_.assign((grains + kWordBits - 1) / kWordBits, 0);
  }
  Format* format = amcPool_->fmt();
  for (Addr p = from; p < lim;) {
    Size i = indexOf(p);
    starts_[i / kWordBits] |= Word(1) << (i % kWordBits);
    p = format->baseOf(static_cast<Addr>(format->skip(format->clientOf(p))));
  }
  startsLayout_ = layout_;
  startsLimit_ = lim;
}

bool AMCSegment::objectContaining(Addr p, Addr* clientOut) const {
  if (p < base || p >= objectsLimit() || toSpace_) return false;
  buildStarts();
  Size j = lastStartAtOrBefore(indexOf(p));
  if (j == kNoStart) return false;
  Addr blockBase = base + (j << alignShift_);
  if (states_[j] != kNone) return false;
  Format* format = amcPool_->fmt();
  Addr client = format->clientOf(blockBase);
  if (p >= format->baseOf(static_cast<Addr>(format->skip(client)))) return false;
  *clientOut = client;
  return true;
}

bool AMCSegment::isObject(Addr p) const {
  Addr client;
  return objectContaining(p, &client) && client == p;
}

bool AMCSegment::check() const {
  MPS_CHECKL(Segment::check());
  MPS_CHECKL(amcSig == kAMCSig);
  MPS_CHECKL(states_ != nullptr);
  return true;
}

// Pools -----------------------------------------------------------------------------

Res AMCPool::init(const mps_arg_s* args) {
  leaf_ = class_ == &kPoolClassAMCZ;
  // New objects go into generation 0 of the chain (pools-amc.md).
  Res res = initAuto(args, true, 0);
  if (res != Res::ok) return res;
  // Methods missing from the format are reported at their first call
  // (format/format.cpp), not here: a format of an alignment alone serves a
  // pool that never calls them (format.md).
  interior_ = MPS_ARG_OPTIONAL(args, INTERIOR, b, mps_bool_t(1)) != 0;
  Size extendBy = MPS_ARG_OPTIONAL(args, EXTEND_BY, size, kDefaultExtendBy);
  MPS_AVER_ALWAYS(extendBy > 0 && "MPS_KEY_EXTEND_BY is not zero");
  largeSize_ = MPS_ARG_OPTIONAL(args, LARGE_SIZE, size, kDefaultLargeSize);
  MPS_AVER_ALWAYS(largeSize_ >= extendBy && "MPS_KEY_LARGE_SIZE is at least MPS_KEY_EXTEND_BY");
  segSize_ = alignUp(extendBy > kMinSegmentSize ? extendBy : kMinSegmentSize, arena_->grainSize());
  alignShift_ = log2(alignment_);
  generations_ = chain_->count();
  carry_.assign(generations_, ToSpace{});
  return Res::ok;
}

AMCPool::~AMCPool() {
  releaseCached();
  segments_.forEach([&](Segment* seg) { freeSegment(static_cast<AMCSegment*>(seg)); });
}

void AMCPool::varargs(mps_arg_s* args, va_list ap) {
  args[0].key = MPS_KEY_FORMAT;
  args[0].val.format = va_arg(ap, mps_fmt_t);
  args[1].key = MPS_KEY_CHAIN;
  args[1].val.chain = va_arg(ap, mps_chain_t);
  args[2].key = MPS_KEY_ARGS_END;
}

Res AMCPool::bufferInit(Buffer* buffer, const mps_arg_s* args) {
  buffer->rankSet = leaf_ ? kRankSetEmpty : rankSetOf(Rank::exact);
  if (MPS_ARG_OPTIONAL(args, AP_HASH_ARRAYS, b, mps_bool_t(0)) != 0)
    buffer->poolFlags |= kBufferHashArrays;
  return Res::ok;
}

Res AMCPool::newSegment(AMCSegment** segOut, Size size, Generation* gen) {
  Size segSize = alignUp(size, arena_->grainSize());
  Size grains = segSize >> alignShift_;
  bool high = gen->index > 0;
  Ring<Segment>& cache = cache_[high ? 1 : 0];
  if (segSize == segSize_ && !cache.isSingle()) {
    auto* seg = static_cast<AMCSegment*>(cache.first());
    seg->poolRing.remove();
    cachedBytes_ -= segSize;
    std::memset(seg->states_, AMCSegment::kNone, grains);
    seg->summary = kRefSetUniv;
    seg->summaryTraced = false;
    seg->barrierDefer = Segment::kBarrierDeferNew;
    seg->barrierHits = 0;
    seg->barrierProtected = false;
    seg->receiving = false;
    seg->summaryOfOld = false;
    seg->white = seg->grey = 0;
    seg->large_ = seg->toSpace_ = false;
    seg->gen = gen;
    ++seg->layout_;
    addSegment(seg);
    *segOut = seg;
    return Res::ok;
  }
  // .amc.zones: older generations from the top of the arena, the nursery
  // from the bottom, so that references between older objects mostly fail
  // the white-zone test of a nursery collection (fix stage 1) and never
  // reach the segment lookup.
  // .amc.zones.null: and the nursery out of the zone of address 0, which
  // every segment holding a null reference has in its summary: a nursery
  // there would make every older segment meet the white set.
  RefSet avoid = high ? kRefSetEmpty : refSetOfAddr(nullptr, arena_->zoneShift());
  Addr base;
  Res res = arena_->allocGrains(&base, segSize, this, high, avoid);
  if (res != Res::ok && releaseCached() > 0)
    res = arena_->allocGrains(&base, segSize, this, high, avoid);
  if (res != Res::ok) return res;
  void* p;
  res = arena_->controlAlloc(&p, segmentBytes(grains));
  if (res != Res::ok) {
    arena_->freeGrains(base, segSize);
    return res;
  }
  auto* states = reinterpret_cast<std::uint8_t*>(static_cast<AMCSegment*>(p) + 1);
  std::memset(states, AMCSegment::kNone, grains);
  auto* seg = new (p) AMCSegment(this, base, base + segSize, states, alignShift_);
  seg->rankSet = leaf_ ? kRankSetEmpty : rankSetOf(Rank::exact);
  seg->gen = gen;
  seg->high_ = high;
  arena_->setOwner(base, segSize, seg);
  addSegment(seg);
  totalSize_ += segSize;
  *segOut = seg;
  return Res::ok;
}

void AMCPool::freeSegment(AMCSegment* seg) {
  MPS_AVER(seg->buffer == nullptr);
  Addr base = seg->base;
  Size size = seg->size();
  Shield::release(seg);
  removeSegment(seg);
  seg->~AMCSegment();
  arena_->controlFree(seg, segmentBytes(size >> alignShift_));
  arena_->freeGrains(base, size);
  totalSize_ -= size;
}

Size AMCPool::cacheLimit() const {
  // Like the mark-sweep pools (design/ams.md .ms.cache): keep empty
  // segments for the next fills, up to twice what the generation takes
  // before its next collection (its trigger, .chain.pacing), since
  // survivors need to-space as well.
  return arena_->spare() > 0.0 && gen_ != nullptr ? 2 * gen_->trigger() : 0;
}

void AMCPool::segmentEmptied(AMCSegment* seg) {
  MPS_AVER(seg->buffer == nullptr);
  if (seg->size() == segSize_ && cachedBytes_ + seg->size() <= cacheLimit()) {
    removeSegment(seg);
    seg->white = 0;
    cache_[seg->high_ ? 1 : 0].append(&seg->poolRing);
    cachedBytes_ += seg->size();
    return;
  }
  freeSegment(seg);
}

Size AMCPool::releaseCached() {
  Size released = 0;
  for (Ring<Segment>& cache : cache_)
    while (Segment* seg = cache.first()) {
      cachedBytes_ -= seg->size();
      released += seg->size();
      freeSegment(static_cast<AMCSegment*>(seg));  // takes it off the cache's ring
    }
  return released;
}

Res AMCPool::bufferFill(Buffer* buffer, Size size) {
  MPS_AVER(buffer->isReset());
  if (sizeTooLarge(size, arena_->grainSize())) return Res::resource;
  size = alignUp(size, alignment_);
  bool large = size >= largeSize_;
  Size segSize = alignUp(size, arena_->grainSize());
  if (!large && segSize < segSize_) segSize = segSize_;
  AMCSegment* seg;
  Res res = newSegment(&seg, segSize, gen_);
  if (res != Res::ok) return res;
  seg->large_ = large;
  Addr windowLimit = seg->limit;
  if (large) {
    // The window is the large object alone, so the next reserve fills
    // elsewhere and small objects never share its segment; the rest of the
    // segment is padding from the start (.amc.parse).
    windowLimit = seg->base + size;
    if (windowLimit < seg->limit) seg->pad(windowLimit, seg->limit);
  }
  buffer->attach(seg, seg->base, windowLimit);
  if ((buffer->poolFlags & kBufferHashArrays) == 0 && !buffer->inRamp()) {
    collector()->noteAllocated(gen_, segSize);
    buffer->poolFlags |= kBufferWindowCounted;
  } else {
    buffer->poolFlags &= ~kBufferWindowCounted;
  }
  return Res::ok;
}

void AMCPool::bufferEmpty(Buffer* buffer) {
  auto* seg = static_cast<AMCSegment*>(buffer->seg);
  MPS_AVER(seg != nullptr && seg->buffer == buffer);
  Addr init = buffer->init();
  // .amc.parse: the unused tail becomes a padding object.
  if (init < buffer->poolLimit) seg->pad(init, buffer->poolLimit);
  ++seg->layout_;
  if ((buffer->poolFlags & kBufferWindowCounted) != 0) {
    Size unused = Size(buffer->poolLimit - init);
    gen_->newSize = gen_->newSize > unused ? gen_->newSize - unused : 0;
  }
}

Size AMCPool::freeSize() const {
  Size free = cachedBytes_;
  forEachBuffer([&](Buffer* b) {
    if (!b->isReset()) free += Size(b->poolLimit - b->init());
  });
  return free;
}

Generation* AMCPool::promotionOf(const Generation* gen) const {
  Size i = gen->index + 1 < chain_->count() ? gen->index + 1 : gen->index;
  return chain_->gen(i);
}

void AMCPool::traceBegin(Trace* trace) {
  toSpace_.assign(trace->workerCount() * generations_, ToSpace{});
  toSpaceWorstCase_ = kWorstCaseUnknown;
  // .amc.carry: the first worker goes on copying into each generation's
  // to-space segment of the last trace, unless this trace condemns it.
  // Its objects from before are an uncondemned segment's: scanned as the
  // remembered set (its summary is universal: it was never protected).
  for (Size g = 0; g < generations_; ++g) {
    ToSpace carried = carry_[g];
    carry_[g] = ToSpace{};
    AMCSegment* seg = carried.seg;
    if (seg == nullptr) continue;
    seg->receiving = false;
    // Condemned, or a trace that must move nothing (.amc.late): its tail
    // stays padding, and it is an ordinary segment from now on.
    if (seg->isWhite(trace->traces()) || trace->condemnsAmbiguous()) continue;
    MPS_AVER(seg->states_[seg->indexOf(carried.alloc)] == AMCSegment::kPad);
    seg->states_[seg->indexOf(carried.alloc)] = AMCSegment::kNone;
    ++seg->layout_;
    seg->toSpace_ = true;
    seg->oldLimit_ = carried.alloc;
    // Exposed until the end of a stop-the-world trace; an incremental one
    // decides its protection at each yield (.trace.incremental.candidates).
    if (trace->incremental())
      trace->noteModeMayChange(seg);
    else
      Shield::expose(seg);
    seg->beginTracedSummary();
    if (seg->rankSet != kRankSetEmpty && seg->oldLimit_ > seg->base && trace->mayReferToWhite(seg))
      trace->firstWorker()->push(seg, nullptr);
    carried.copied = carried.copiedWithin = 0;
    toSpace_[g] = carried;  // worker 0's slot of generation g
  }
  // .amc.late: with ambiguous-rank segments condemned too, an ambiguous
  // reference may turn up after its object was copied, too late to pin it.
  // Such a trace keeps every survivor in place, as if to-space had run out.
  toSpaceExhausted_.store(trace->condemnsAmbiguous(), std::memory_order_relaxed);
}

void AMCPool::traceGoesParallel(Trace* trace) {
  if (!trace->condemnsAmbiguous()) reserveToSpace(trace);
}

Addr AMCPool::toSpaceEnd(const AMCSegment* seg) const {
  for (const ToSpace& ts : toSpace_)
    if (ts.seg == seg) return ts.alloc;
  return nullptr;
}

void AMCPool::traceYield(Trace* trace) {
  // .trace.incremental: the mutator may parse a to-space segment between
  // increments (mps_addr_object), and the read barrier scans it whole.
  // The next increment copies on into it: grey, so that it is writable
  // then (Trace::resumeFromMutator).
  for (ToSpace& ts : toSpace_) {
    if (ts.seg == nullptr) continue;
    if (ts.alloc < ts.limit) ts.seg->pad(ts.alloc, ts.limit);
    trace->greyForMutator(ts.seg);
  }
}

void AMCPool::traceResume(Trace* trace) {
  for (ToSpace& ts : toSpace_) {
    if (ts.seg == nullptr || ts.alloc >= ts.limit) continue;
    AMCSegment* seg = ts.seg;
    trace->willTouch(seg);
    MPS_AVER(seg->states_[seg->indexOf(ts.alloc)] == AMCSegment::kPad);
    seg->states_[seg->indexOf(ts.alloc)] = AMCSegment::kNone;
    ++seg->layout_;
  }
}

void AMCPool::reserveToSpace(Trace* trace) {
  // .amc.tospace: workers allocate to-space from the arena as they copy,
  // one at a time, but the arena may not add a chunk while others read its
  // tables. Make sure, before any reference is fixed, that the arena has
  // free address space for the worst case (every condemned byte survives,
  // plus a segment per worker). Only address space: nothing is committed
  // until a worker needs it.
  // An incremental trace goes parallel at every increment: the condemned
  // bytes are counted once (they only shrink as the trace goes on).
  Size want = toSpaceWorstCase_;
  if (want == kWorstCaseUnknown) {
    want = 0;
    forEachSegment([&](Segment* s) {
      auto* seg = static_cast<AMCSegment*>(s);
      if (seg->isWhite(trace->traces()) && !seg->large_)
        want += Size(seg->condemnLimit_ - seg->base);
    });
    toSpaceWorstCase_ = want;
  }
  if (want == 0) return;
  want += trace->workerCount() * segSize_;
  (void)arena_->ensureFreeSpace(want);  // short of it, copies pin instead (.amc.limit)
}

void AMCPool::close(ToSpace* ts) {
  if (ts->seg == nullptr) return;
  if (ts->alloc < ts->limit) ts->seg->pad(ts->alloc, ts->limit);
  ++ts->seg->layout_;
  ts->seg->toSpace_ = false;
  ts->seg = nullptr;
  ts->alloc = ts->limit = nullptr;
}

bool AMCPool::refill(ToSpace* ts, Size size, Generation* gen, Worker* worker) {
  Trace* trace = worker->ss.trace();
  close(ts);
  Size segSize = alignUp(size, arena_->grainSize());
  if (segSize < segSize_) segSize = segSize_;
  AMCSegment* seg;
  {
    // Workers copy in parallel: the pool's cache and segment ring, and the
    // arena's tables, are changed by one of them at a time (.amc.tospace).
    std::unique_lock<std::mutex> guard(trace->allocLock(), std::defer_lock);
    if (trace->parallel()) guard.lock();
    if (newSegment(&seg, segSize, gen) != Res::ok) return false;
    seg->toSpace_ = true;
    // Covered at the end of the trace (Trace::settleSegments), with the
    // summary of the copies its workers scanned; an incremental trace
    // decides its protection at each yield instead.
    if (trace->incremental())
      worker->noteModeMayChange(seg);
    else
      Shield::expose(seg);
    seg->beginTracedSummary();
  }
  ts->seg = seg;
  ts->alloc = seg->base;
  ts->limit = seg->limit;
  return true;
}

Addr AMCPool::copy(Worker* worker, AMCSegment* from, Addr ref, AMCSegment** toSegOut) {
  Format* format = format_;
  Addr oldBase = format->baseOf(ref);
  Size size = Size(static_cast<Addr>(format->skip(ref)) - ref);
  Generation* to = promotionOf(from->gen);
  ToSpace* ts = &toSpace_[worker->index * generations_ + to->index];
  if (Size(ts->limit - ts->alloc) < size) {
    // Once to-space has run out it stays out for this trace: do not take
    // the lock again for every object.
    if (toSpaceExhausted_.load(std::memory_order_relaxed)) return nullptr;
    if (!refill(ts, size, to, worker)) {
      toSpaceExhausted_.store(true, std::memory_order_relaxed);
      return nullptr;
    }
  }
  Addr newBase = ts->alloc;
  ts->alloc += size;
  std::memcpy(newBase, oldBase, size);
  // .amc.prefetch: the copy is scanned a few grey objects from now, and its
  // references into white zones are where the next misses are: fetch what
  // they point at now (a prefetch of a word that is not a reference does
  // no harm).
  {
    const Word* words = reinterpret_cast<const Word*>(newBase);
    Size n = size / sizeof(Word);
    if (n > kPrefetchWords) n = kPrefetchWords;
    RefSet white = worker->ss.white();
    Shift zs = worker->ss.zoneShift();
    for (Size i = 0; i < n; ++i) {
      if ((white >> ((words[i] >> zs) & (kWordBits - 1)) & 1) == 0) continue;
      auto* target = reinterpret_cast<Addr>(words[i]);
      __builtin_prefetch(target);
      // And, for an object of this pool, its state byte, for writing: the
      // fix will compare-and-swap it, and a line fetched for reading would
      // have to be fetched again for ownership.
      Segment* seg = arena_->segmentOf(target);
      if (seg != nullptr && seg->pool == this && seg->isWhite(worker->ss.traces())) {
        auto* amcSeg = static_cast<AMCSegment*>(seg);
        __builtin_prefetch(&amcSeg->states_[amcSeg->indexOf(format->baseOf(target))], 1);
      }
    }
  }
  Addr newRef = format->clientOf(newBase);
  format->fwd(ref, newRef);
  ts->copied += size;
  if (to == from->gen) ts->copiedWithin += size;
  *toSegOut = ts->seg;
  return newRef;
}

void AMCPool::traceEnd(Trace* trace, bool abandoned) {
  forEachSegment([](Segment* s) { static_cast<AMCSegment*>(s)->oldLimit_ = nullptr; });
  Size copied = 0;
  for (Size i = 0; i < toSpace_.size(); ++i) {
    ToSpace& ts = toSpace_[i];
    if (i < generations_ && ts.seg != nullptr && Size(ts.limit - ts.alloc) >= kMinCarry &&
        collector()->barrierPolicy) {
      // .amc.carry: the first worker's to-space with room left is kept for
      // the next trace (padded until then), so that a small nursery's few
      // survivors do not start a segment (and a protection change) per
      // collection.
      carry_[i] = ts;
      ts.seg->pad(ts.alloc, ts.limit);
      ts.seg->toSpace_ = false;
      ts.seg->receiving = true;
    } else {
      close(&ts);
    }
    if (ts.copied > 0) {
      // The survivors of each condemned generation (chains.md: its
      // mortality, and what stays live in it).
      Generation* to = chain_->gen(i % generations_);
      if (ts.copiedWithin > 0) trace->noteSurvivors(to, ts.copiedWithin);
      if (ts.copied > ts.copiedWithin)
        trace->noteSurvivors(chain_->gen(to->index > 0 ? to->index - 1 : 0),
                             ts.copied - ts.copiedWithin);
      // Survivors arrive in the next generation as new bytes there.
      collector()->noteAllocated(chain_->gen(i % generations_), ts.copied);
      copied += ts.copied;
    }
  }
  toSpace_.clear();
  trace->notePreserved(copied);
  if (abandoned) {
    // The tracer turns the condemned segments back from white without
    // reclaiming them: forget the pins, which belong to this trace.
    forEachSegment([&](Segment* s) {
      auto* seg = static_cast<AMCSegment*>(s);
      if (!seg->isWhite(trace->traces())) return;
      for (Size i = 0, n = seg->size() >> alignShift_; i < n; ++i)
        if (seg->states_[i] == AMCSegment::kPinned) seg->states_[i] = AMCSegment::kNone;
      seg->hasPinned_.store(false, std::memory_order_relaxed);
    });
  }
  // design/amc.md .amc.abandon: once objects have moved, references not yet
  // updated point at forwarding markers; there is no going back.
  MPS_AVER_ALWAYS((!abandoned || copied == 0) &&
                  "scan methods do not fail during a collection that moves objects");
}

bool AMCPool::check() const {
  MPS_CHECKL(AutoPool::check());
  MPS_CHECKL(format_ != nullptr);
  MPS_CHECKL(segSize_ >= arena_->grainSize());
  return true;
}

}  // namespace mps::core
