#include "arena/arena.hpp"

#include <cstring>
#include <new>

#include "arena/segment.hpp"
#include "base/keys.hpp"
#include "event/event.hpp"
#include "mpsacl.h"
#include "mpsavm.h"
#include "protect/vm.hpp"

namespace mps::core {

const ArenaClass kArenaClassVM = {ArenaClass::kSig, "VM", true};
const ArenaClass kArenaClassClient = {ArenaClass::kSig, "CL", false};

namespace {

constexpr Size kDefaultArenaSize = Size(1) << 28;  // 256 MiB of address space
constexpr Size kDefaultClientGrain = 8192;

}  // namespace

Arena::Arena(const ArenaClass* arenaClass, Shift grainShift)
    : class_(arenaClass), grainShift_(grainShift), zoneShift_(grainShift) {
  chunkMap_.setChunks(&chunks_);
}

// Creation ------------------------------------------------------------------

namespace {

// Zones (design brief, "Tracing"): the first chunk is spread over the 64
// zones, a zone being a stripe of at least size/64 bytes (and at least a
// grain), so that segments far apart fall in different zones and the zone
// test of fix stage 1 tells them apart. Rounded up, so that the chunk never
// spans more than 64 stripes: otherwise its two ends would share zones, and
// the nursery (allocated from the bottom) would share them with the older
// generations (from the top).
// Telemetry: the arena's committed memory, spare memory or limit changed.
void commitChanged(const Arena* arena) {
  MPS_EVENT(CommitChange, arena, arena->committed(), arena->spareCommitted(), arena->commitLimit());
}

Shift zoneShiftFor(Size size, Shift grainShift) {
  Shift sizeShift = log2(size);
  if (!isPowerOfTwo(size)) ++sizeShift;
  return sizeShift > 6 + grainShift ? sizeShift - 6 : grainShift;
}

}  // namespace

Res Arena::create(Arena** arenaOut, const ArenaClass* arenaClass, const mps_arg_s* args) {
  MPS_AVERT(ArenaClass, arenaClass);
  bool vmClass = arenaClass->virtualMemory;

  Size grainSize = MPS_ARG_OPTIONAL(args, ARENA_GRAIN_SIZE, size,
                                    vmClass ? vm::pageSize() : kDefaultClientGrain);
  MPS_AVER_ALWAYS(isPowerOfTwo(grainSize));
  if (vmClass && grainSize < vm::pageSize()) grainSize = vm::pageSize();
  if (grainSize < sizeof(void*)) grainSize = sizeof(void*);
  Shift grainShift = log2(grainSize);

  Size commitLimit = MPS_ARG_OPTIONAL(args, COMMIT_LIMIT, size, ~Size(0));
  double spare = 0.75;
  if (const mps_arg_s* a = findArg(args, MPS_KEY_SPARE_COMMIT_LIMIT)) {
    // Deprecated byte form: a fraction of the commit limit.
    spare = commitLimit == 0 ? 1.0 : double(a->val.size) / double(commitLimit);
    if (spare > 1.0) spare = 1.0;
  }
  spare = MPS_ARG_OPTIONAL(args, SPARE, d, spare);
  MPS_AVER_ALWAYS(spare >= 0.0 && spare <= 1.0);

  Addr base;
  Size size;
  bool owns;
  if (vmClass) {
    size = MPS_ARG_OPTIONAL(args, ARENA_SIZE, size, kDefaultArenaSize);
    if (size < kWordBits * grainSize) size = kWordBits * grainSize;
    // Whole granules of the chunk map and whole grains, which may be larger;
    // and the start of a zone's stripe, so that the chunk's stripes are
    // whole and its two ends never share a zone (zoneShiftFor).
    Size align = grainSize > ChunkMap::kGranule ? grainSize : ChunkMap::kGranule;
    if (sizeTooLarge(size, align)) return Res::resource;
    size = alignUp(size, align);
    Size stripe = Size(1) << zoneShiftFor(size, grainShift);
    if (stripe > align) align = stripe;
    Res res = vm::reserve(&base, size, align);
    if (res != Res::ok) return res;
    owns = true;
  } else {
    Addr block = static_cast<Addr>(MPS_ARG_REQUIRED(args, ARENA_CL_BASE, addr));
    Size blockSize = MPS_ARG_REQUIRED(args, ARENA_SIZE, size);
    base = alignUp(block, grainSize);
    if (block + blockSize <= base) return Res::memory;
    size = alignDown(Size(block + blockSize - base), grainSize);
    owns = false;
  }

  Size header = Chunk::headerBytes(size, grainShift, sizeof(Arena));
  auto giveBack = [&] {
    if (owns) vm::release(base, size);
  };
  if (header > commitLimit) {
    giveBack();
    return Res::commitLimit;
  }
  if (header >= size) {
    giveBack();
    return Res::memory;
  }
  if (vmClass) {
    Res res = vm::commit(base, header);
    if (res != Res::ok) {
      giveBack();
      return res;
    }
  }

  Arena* arena = new (Chunk::extraSpace(base)) Arena(arenaClass, grainShift);
  arena->commitLimit_.store(commitLimit, std::memory_order_relaxed);
  arena->spare_ = spare;
  arena->growthDesired_ = size;
  arena->growthMinimum_ = 0;
  arena->zoneShift_ = zoneShiftFor(size, grainShift);
  arena->extended_ =
      reinterpret_cast<ChunkCallback>(MPS_ARG_OPTIONAL(args, ARENA_EXTENDED, fun, nullptr));
  arena->contracted_ =
      reinterpret_cast<ChunkCallback>(MPS_ARG_OPTIONAL(args, ARENA_CONTRACTED, fun, nullptr));

  Chunk* chunk;
  Res res = Chunk::layout(&chunk, arena, base, size, grainShift, sizeof(Arena));
  if (res == Res::ok) res = arena->chunkMap_.insert(chunk);
  if (res != Res::ok) {
    arena->~Arena();
    if (vmClass) vm::decommit(base, header);
    giveBack();
    return res;
  }
  chunk->reservedBase = base;
  chunk->reservedSize = size;
  chunk->ownsAddressSpace = owns;
  arena->chunks_.append(&chunk->arenaRing);
  arena->primary_ = chunk;
  arena->reserved_.store(size, std::memory_order_relaxed);
  arena->committed_.store(header, std::memory_order_relaxed);
  if (arena->extended_ != nullptr)
    arena->extended_(reinterpret_cast<mps_arena_t>(arena), base, size);
  MPS_AVERT(Arena, arena);
  MPS_EVENT(ArenaCreate, arena, size, commitLimit, !vmClass);
  MPS_EVENT(ChunkCreate, arena, base, size);
  commitChanged(arena);
  *arenaOut = arena;
  return Res::ok;
}

void Arena::destroy() {
  MPS_AVERT(Arena, this);
  if (!pools_.isSingle())
    assertFail(__FILE__, __LINE__, "arena has no pools: destroy every pool before its arena");
  // Give back every chunk but the one holding this object, then that one.
  chunks_.forEach([&](Chunk* chunk) {
    if (chunk != primary_) removeChunk(chunk);
  });
  Chunk* primary = primary_;
  Addr base = primary->reservedBase;
  Size size = primary->reservedSize;
  bool owns = primary->ownsAddressSpace;
  if (contracted_ != nullptr) contracted_(reinterpret_cast<mps_arena_t>(this), base, size);
  MPS_EVENT(ChunkDestroy, this, base, size);
  MPS_EVENT(ArenaDestroy, this);
  primary->sig = kSigInvalid;
  // Volatile: a store just before the end of the object's lifetime may be
  // dropped as dead, and a client arena's memory outlives it, so a stale
  // handle would pass the signature check.
  invalidateSig(sig);
  this->~Arena();
  if (owns) vm::release(base, size);
  // telemetry.md: buffered events are written when an arena is destroyed.
  event::flush();
}

bool Arena::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(class_ != nullptr && class_->sig == ArenaClass::kSig);
  MPS_CHECKL(primary_ != nullptr && primary_->sig == Chunk::kSig);
  MPS_CHECKL(spare_ >= 0.0 && spare_ <= 1.0);
  MPS_CHECKL(committed() >= spareCommitted());
  MPS_CHECKL(pools_.check() && chunks_.check());
  chunks_.forEach([](Chunk* chunk) {
    MPS_AVERT(Chunk, chunk);
    (void)chunk;  // unchecked builds compile the check away
  });
  return true;
}

// Chunks ---------------------------------------------------------------------

Res Arena::addChunk(Chunk** chunkOut, Addr base, Size size, bool ownsAddressSpace) {
  Size header = Chunk::headerBytes(size, grainShift_);
  if (header >= size) return Res::memory;
  if (!chargeCommit(header)) {
    releaseSpare(0);
    if (!chargeCommit(header) && !(releasePoolCaches() && (releaseSpare(0), chargeCommit(header))))
      return Res::commitLimit;
  }
  if (isVirtual()) {
    Res res = vm::commit(base, header);
    if (res != Res::ok) {
      committed_.fetch_sub(header, std::memory_order_relaxed);
      return res;
    }
  }
  Chunk* chunk;
  Res res = Chunk::layout(&chunk, this, base, size, grainShift_);
  if (res == Res::ok) res = chunkMap_.insert(chunk);
  if (res != Res::ok) {
    if (isVirtual()) vm::decommit(base, header);
    committed_.fetch_sub(header, std::memory_order_relaxed);
    return res;
  }
  chunk->reservedBase = base;
  chunk->reservedSize = size;
  chunk->ownsAddressSpace = ownsAddressSpace;
  chunks_.append(&chunk->arenaRing);
  reserved_.fetch_add(size, std::memory_order_relaxed);
  if (extended_ != nullptr) extended_(reinterpret_cast<mps_arena_t>(this), base, size);
  MPS_EVENT(ChunkCreate, this, base, size);
  *chunkOut = chunk;
  return Res::ok;
}

void Arena::removeChunk(Chunk* chunk) {
  MPS_AVER(chunk != primary_);
  if (contracted_ != nullptr)
    contracted_(reinterpret_cast<mps_arena_t>(this), chunk->reservedBase, chunk->reservedSize);
  Size committedBytes = chunk->committed.countSet(0, chunk->grains) << grainShift_;
  Size spareBytes = 0;
  for (Size i = chunk->firstUsable; i < chunk->grains;) {
    Size j = chunk->committed.nextSet(i, chunk->grains);
    if (j == chunk->grains) break;
    Size end = chunk->committed.nextReset(j, chunk->grains);
    Size alloc = chunk->allocated.nextSet(j, end);
    if (alloc > j) {
      spareBytes += Size(alloc - j) << grainShift_;
      i = alloc;
    } else {
      i = chunk->allocated.nextReset(j, end);
      if (i == j) i = j + 1;
    }
  }
  chunkMap_.remove(chunk);
  chunk->arenaRing.remove();
  chunk->sig = kSigInvalid;
  committed_.fetch_sub(committedBytes, std::memory_order_relaxed);
  spareCommitted_.fetch_sub(spareBytes, std::memory_order_relaxed);
  reserved_.fetch_sub(chunk->reservedSize, std::memory_order_relaxed);
  MPS_EVENT(ChunkDestroy, this, chunk->reservedBase, chunk->reservedSize);
  if (chunk->ownsAddressSpace) vm::release(chunk->reservedBase, chunk->reservedSize);
}

Res Arena::growBy(Chunk** chunkOut, Size size) {
  MPS_AVER(isVirtual());
  // No chunk can hold more than half the address space: fail before the
  // size arithmetic below can overflow.
  if (size > kMaxChunkRequest) return Res::resource;
  // Big enough for the request plus the chunk's own header and tract table.
  Size overhead = Chunk::headerBytes(size * 2, grainShift_) +
                  alignUp(((size * 2) >> grainShift_) * sizeof(Tract), grainSize()) + grainSize();
  // Chunks are whole granules of the chunk map, and whole grains aligned to
  // the grain, which may be larger (as for the first chunk).
  const Size align = grainSize() > ChunkMap::kGranule ? grainSize() : ChunkMap::kGranule;
  if (sizeTooLarge(size, overhead + align)) return Res::resource;
  Size needed = alignUp(size + overhead, align);
  // The desired increment is any byte count (mps_arena_vm_growth). One too
  // large to round is simply not tried.
  Size desired = sizeTooLarge(growthDesired_, align) ? needed : alignUp(growthDesired_, align);
  Size chunkSize = needed > desired ? needed : desired;
  Addr base;
  Res res = vm::reserve(&base, chunkSize, align);
  if (res != Res::ok && chunkSize > needed) {
    chunkSize = needed > growthMinimum_ ? needed : alignUp(growthMinimum_, align);
    res = vm::reserve(&base, chunkSize, align);
  }
  if (res != Res::ok) return res;
  res = addChunk(chunkOut, base, chunkSize, true);
  if (res != Res::ok) vm::release(base, chunkSize);
  return res;
}

Res Arena::extend(Addr block, Size blockSize) {
  MPS_AVERT(Arena, this);
  MPS_AVER_ALWAYS(blockSize > 0);
  if (isVirtual()) {
    MPS_AVER(!"mps_arena_extend is for client arenas only");
    return Res::unimpl;
  }
  Addr base = alignUp(block, grainSize());
  if (block + blockSize <= base) return Res::memory;
  Size size = alignDown(Size(block + blockSize - base), grainSize());
  // A block (partly) already in the arena would be laid out over live memory
  // and its grains handed out twice.
  bool overlaps = false;
  chunks_.forEach([&](Chunk* chunk) {
    if (chunk->reservedBase < base + size && base < chunk->reservedBase + chunk->reservedSize)
      overlaps = true;
  });
  if (overlaps)
    assertFail(__FILE__, __LINE__, "mps_arena_extend block does not overlap the arena's blocks");
  Chunk* chunk;
  return addChunk(&chunk, base, size, false);
}

void Arena::setGrowth(Size desired, Size minimum) {
  MPS_AVER_ALWAYS(desired >= minimum);
  growthDesired_ = desired;
  growthMinimum_ = minimum;
}

// Commit accounting ------------------------------------------------------------

bool Arena::chargeCommit(Size bytes) {
  Size now = committed_.load(std::memory_order_relaxed);
  if (bytes > commitLimit() || now > commitLimit() - bytes) return false;
  committed_.store(now + bytes, std::memory_order_relaxed);
  return true;
}

Size Arena::spareExcess(Size target) const {
  // Uncommitting E bytes of spare lowers committed by E too, and with it the
  // spare limit, so the fraction holds once spare - E <= spare_ * (committed -
  // E), that is E >= (spare - spare_ * committed) / (1 - spare_). The estimate
  // is then corrected a grain at a time so that rounding can neither leave
  // the limit broken nor release a grain that could have been kept.
  const Size spare = spareCommitted(), committed = this->committed(), grain = grainSize();
  auto fits = [&](Size e) {
    return spare - e <= target && double(spare - e) <= spare_ * double(committed - e);
  };
  if (fits(0)) return 0;
  Size excess = spare > target ? spare - target : 0;
  double over = double(spare) - spare_ * double(committed);
  if (over > 0.0 && spare_ < 1.0) {
    double needed = over / (1.0 - spare_);
    if (needed > double(excess)) excess = needed >= double(spare) ? spare : Size(needed);
  }
  excess = alignUp(excess, grain);
  if (excess >= spare) excess = spare;
  while (excess >= grain && fits(excess - grain))
    excess -= grain;
  while (excess < spare && !fits(excess))
    excess += grain;
  return excess < spare ? excess : spare;
}

void Arena::releaseSpare(Size target) {
  // Uncommit spare grains, from the top of each free run, until no more than
  // `target` bytes of spare remain and the spare fraction holds, and no
  // further: spare memory is kept for reuse up to the limit.
  if (!isVirtual()) return;
  Size excess = spareExcess(target);
  if (excess == 0) return;
  chunks_.forEach([&](Chunk* chunk) {
    for (Size i = chunk->firstUsable; i < chunk->grains && excess > 0;) {
      Size j = chunk->committed.nextSet(i, chunk->grains);
      if (j == chunk->grains) break;
      Size end = chunk->committed.nextReset(j, chunk->grains);
      Size free = chunk->allocated.nextSet(j, end);  // [j, free) is spare
      if (free == j) {
        i = chunk->allocated.nextReset(j, end);
        if (i == j) i = end;
        continue;
      }
      Size take = Size(free - j) < (excess >> grainShift_) ? Size(free - j) : excess >> grainShift_;
      Size from = free - take;
      vm::decommit(chunk->addrOf(from), take << grainShift_);
      chunk->committed.resetRange(from, free);
      noteDecommit(take << grainShift_, true);
      excess -= take << grainShift_;
      i = free;
    }
  });
}

bool Arena::releasePoolCaches() {
  Size released = 0;
  pools_.forEach([&](Pool* pool) { released += pool->releaseCached(); });
  return released > 0;
}

void Arena::noteDecommit(Size bytes, bool wasSpare) {
  committed_.fetch_sub(bytes, std::memory_order_relaxed);
  if (wasSpare) spareCommitted_.fetch_sub(bytes, std::memory_order_relaxed);
}

Res Arena::setCommitLimit(Size limit) {
  MPS_AVERT(Arena, this);
  if (limit < committed()) {
    // Memory pools cache for reuse is given back first if spare memory
    // alone cannot make room (it may be partly decommitted as it goes).
    if (committed() - limit > spareCommitted()) releasePoolCaches();
    Size excess = committed() > limit ? committed() - limit : 0;
    if (excess > spareCommitted()) return Res::fail;
    releaseSpare(spareCommitted() - excess);
    if (limit < committed()) return Res::fail;
  }
  commitLimit_.store(limit, std::memory_order_relaxed);
  commitChanged(this);
  return Res::ok;
}

void Arena::setSpare(double fraction) {
  MPS_AVERT(Arena, this);
  MPS_AVER_ALWAYS(fraction >= 0.0 && fraction <= 1.0);
  spare_ = fraction;
  // No spare memory at all: pools keep no empty memory for reuse either.
  if (fraction <= 0.0) releasePoolCaches();
  releaseSpare(~Size(0));
  commitChanged(this);
}

Res Arena::commitGrainsAhead(Chunk* chunk, Size first, Size limit) {
  // No spare memory wanted (mps_arena_spare_set(arena, 0)): none ahead.
  if (!isVirtual() || kCommitGranule <= grainSize() || spare_ <= 0.0)
    return commitGrains(chunk, first, limit);
  const Size granule = kCommitGranule >> grainShift_;
  Size lo = first - first % granule, hi = limit + (granule - limit % granule) % granule;
  if (lo < chunk->firstUsable) lo = chunk->firstUsable;
  if (hi > chunk->grains) hi = chunk->grains;
  // Only free grains beside the run: allocated ones are committed already,
  // and the run itself was claimed by the caller.
  Size aheadLo = chunk->allocated.prevSetEnd(lo, first);
  Size aheadHi = chunk->allocated.nextSet(limit, hi);
  Size extra = (first - aheadLo) - chunk->committed.countSet(aheadLo, first);
  extra += (aheadHi - limit) - chunk->committed.countSet(limit, aheadHi);
  if (extra == 0) return commitGrains(chunk, first, limit);
  // Charge and commit the whole window at once; if the limit refuses, just
  // the run.
  Size wantedBytes = extra << grainShift_;
  Size before = committed();
  if (commitLimit() - before < wantedBytes + ((limit - first) << grainShift_) ||
      before > commitLimit())
    return commitGrains(chunk, first, limit);
  Size spareBefore =
      chunk->committed.countSet(aheadLo, first) + chunk->committed.countSet(limit, aheadHi);
  Res res = commitGrains(chunk, aheadLo, aheadHi);
  // The free grains beside the run that are committed now are spare, even
  // if the system refused part of the window (what it did commit stays).
  Size spareAfter =
      chunk->committed.countSet(aheadLo, first) + chunk->committed.countSet(limit, aheadHi);
  spareCommitted_.fetch_add((spareAfter - spareBefore) << grainShift_, std::memory_order_relaxed);
  if (res != Res::ok) return commitGrains(chunk, first, limit);
  return Res::ok;
}

Res Arena::commitGrains(Chunk* chunk, Size first, Size limit) {
  Size tableBase = chunk->tableGrainBase(first);
  Size tableLimit = chunk->tableGrainLimit(limit);
  Size need = (limit - first) - chunk->committed.countSet(first, limit);
  need += (tableLimit - tableBase) - chunk->committed.countSet(tableBase, tableLimit);
  Size bytes = need << grainShift_;
  if (bytes == 0) return Res::ok;
  if (!chargeCommit(bytes)) {
    // Spare memory counts against the limit: release some and try again.
    Size room = commitLimit() > committed() ? commitLimit() - committed() : 0;
    Size shortfall = bytes - room;
    if (shortfall <= spareCommitted()) releaseSpare(spareCommitted() - shortfall);
    if (!chargeCommit(bytes)) {
      // Pools may hold empty memory for reuse: it must not stand in the way
      // of a request the limit could otherwise meet.
      if (!releasePoolCaches()) return Res::commitLimit;
      room = commitLimit() > committed() ? commitLimit() - committed() : 0;
      shortfall = bytes > room ? bytes - room : 0;
      if (shortfall <= spareCommitted()) releaseSpare(spareCommitted() - shortfall);
      if (!chargeCommit(bytes)) return Res::commitLimit;
    }
  }
  // Commit each uncommitted run. If the OS refuses, what was committed stays
  // committed and charged (run grains become spare when the caller gives the
  // run back; table grains stay as overhead), and the rest of the charge is
  // returned, so the accounting stays exact.
  Size doneGrains = 0;
  auto commitRuns = [&](Size base, Size lim) -> Res {
    for (Size i = chunk->committed.nextReset(base, lim); i < lim;) {
      Size end = chunk->committed.nextSet(i, lim);
      if (isVirtual()) {
        Res res = vm::commit(chunk->addrOf(i), Size(end - i) << grainShift_);
        if (res != Res::ok) return res;
      }
      chunk->committed.setRange(i, end);
      doneGrains += end - i;
      i = chunk->committed.nextReset(end, lim);
    }
    return Res::ok;
  };
  Res res = commitRuns(tableBase, tableLimit);
  if (res == Res::ok) res = commitRuns(first, limit);
  if (res != Res::ok) committed_.fetch_sub(bytes - (doneGrains << grainShift_));
  return res;
}

// Grains -------------------------------------------------------------------------

Res Arena::allocGrains(Addr* baseOut, Size size, Pool* pool, bool high, Word avoidZones) {
  MPS_AVERT(Arena, this);
  MPS_AVER(size > 0 && isAligned(size, grainSize()));
  Size n = size >> grainShift_;
  Chunk* found = nullptr;
  Size index = 0;
  Size stripe = Size(1) << zoneShift_;
  auto search = [&](Chunk* chunk) {
    if (found != nullptr || chunk->grains <= chunk->firstUsable) return;
    Size from = chunk->firstUsable, to = chunk->grains;
    while (from < to && chunk->allocated.findResetRun(&index, from, to, n, high)) {
      Addr runBase = chunk->addrOf(index), runLimit = chunk->addrOf(index + n);
      if ((refSetOfRange(runBase, runLimit, zoneShift_) & avoidZones) == 0) {
        found = chunk;
        return;
      }
      // The run touches an avoided zone: look again beyond the stripe it
      // starts (or, from the top, ends) in. At most one try per stripe.
      if (!high) {
        Addr next = alignUp(runBase + 1, stripe);
        from = next >= chunk->limit ? to : chunk->indexOf(next);
      } else {
        Addr prev = alignDown(runLimit - 1, stripe);
        to = prev <= chunk->addrOf(from) ? from : chunk->indexOf(prev);
      }
    }
  };
  chunks_.forEach(search);
  if (found == nullptr && avoidZones != 0) {
    // No room outside the avoided zones: anywhere will do.
    avoidZones = 0;
    chunks_.forEach(search);
  }
  Chunk* grown = nullptr;
  if (found == nullptr) {
    // errors.md: a client arena lacks memory (its blocks are full), not
    // address space; but a request no chunk could ever hold is refused as
    // address space in every arena, as growBy refuses it.
    if (!isVirtual()) return size > kMaxChunkRequest ? Res::resource : Res::memory;
    if (concurrentReaders_) return Res::resource;
    Res res = growBy(&grown, size);
    if (res != Res::ok) return res;
    chunks_.forEach(search);
    if (found == nullptr) {
      removeChunk(grown);
      return Res::resource;
    }
  }

  // Claim the run first so that releasing spare memory cannot take it.
  found->allocated.setRange(index, index + n);
  Size reused = found->committed.countSet(index, index + n) << grainShift_;
  spareCommitted_.fetch_sub(reused, std::memory_order_relaxed);
  Res res = pool != nullptr && pool->commitsAhead() ? commitGrainsAhead(found, index, index + n)
                                                    : commitGrains(found, index, index + n);
  if (res != Res::ok) {
    found->allocated.resetRange(index, index + n);
    spareCommitted_.fetch_add(found->committed.countSet(index, index + n) << grainShift_,
                              std::memory_order_relaxed);
    // Leave the arena as it was: give back a chunk added for this request
    // (it holds nothing else: nothing else ran since it was added).
    if (grown != nullptr) removeChunk(grown);
    return res;
  }
  for (Size i = index; i < index + n; ++i)
    found->tracts[i] = Tract{pool, nullptr};
  *baseOut = found->addrOf(index);
  if (pool != nullptr) MPS_EVENT(SegCreate, this, pool, *baseOut, size);
  commitChanged(this);
  return Res::ok;
}

Res Arena::ensureFreeSpace(Size size) {
  MPS_AVERT(Arena, this);
  MPS_AVER(!concurrentReaders_);
  Size freeBytes = 0;
  chunks_.forEach([&](Chunk* chunk) {
    if (chunk->grains > chunk->firstUsable)
      freeBytes += ((chunk->grains - chunk->firstUsable) -
                    chunk->allocated.countSet(chunk->firstUsable, chunk->grains))
                   << grainShift_;
  });
  if (freeBytes >= size || !isVirtual()) return Res::ok;
  Chunk* grown;
  return growBy(&grown, alignUp(size - freeBytes, grainSize()));
}

void Arena::setOwner(Addr base, Size size, void* owner) {
  Chunk* chunk = chunkOf(base);
  MPS_AVER(chunk != nullptr && chunk->contains(base + size - 1));
  Size first = chunk->indexOf(base), limit = first + (size >> grainShift_);
  MPS_AVER(chunk->allocated.isRangeSet(first, limit));
  for (Size i = first; i < limit; ++i)
    chunk->tracts[i].owner = owner;
}

void Arena::freeGrains(Addr base, Size size) {
  MPS_AVERT(Arena, this);
  Chunk* chunk = chunkOf(base);
  MPS_AVER_ALWAYS(chunk != nullptr);
  MPS_AVER(size > 0 && isAligned(base, grainSize()) && isAligned(size, grainSize()));
  Size first = chunk->indexOf(base), limit = first + (size >> grainShift_);
  MPS_AVER(first >= chunk->firstUsable && limit <= chunk->grains);
  MPS_AVER(chunk->allocated.isRangeSet(first, limit));
  if (Pool* pool = chunk->tracts[first].pool; pool != nullptr)
    MPS_EVENT(SegFree, this, pool, base, size);
  for (Size i = first; i < limit; ++i)
    chunk->tracts[i] = Tract{nullptr, nullptr};
  chunk->allocated.resetRange(first, limit);
  if (!isVirtual()) {
    // A client arena keeps no spare memory: free grains are simply unused.
    chunk->committed.resetRange(first, limit);
    noteDecommit(size, false);
    commitChanged(this);
    return;
  }
  spareCommitted_.fetch_add(size, std::memory_order_relaxed);
  if (Size excess = spareExcess(~Size(0)); excess > 0) {
    // Uncommit the excess from the grains just freed first: they are the
    // ones least likely to be wanted again soon, and this avoids a search.
    Size fromFreed = excess < size ? excess : size;
    Size from = limit - (fromFreed >> grainShift_);
    vm::decommit(chunk->addrOf(from), fromFreed);
    chunk->committed.resetRange(from, limit);
    noteDecommit(fromFreed, true);
    if (excess > fromFreed) releaseSpare(~Size(0));
  }
  commitChanged(this);
}

// Control memory ---------------------------------------------------------------------

Res Arena::controlAlloc(void** pOut, Size size) {
  MPS_AVER(size > 0);
  if (size > kControlClassSize * kControlClasses) {
    Addr base;
    Res res = allocGrains(&base, alignUp(size, grainSize()), nullptr);
    if (res != Res::ok) return res;
    *pOut = base;
    return Res::ok;
  }
  Size c = (size - 1) / kControlClassSize;
  if (controlFree_[c] == nullptr) {
    Res res = controlRefill(c);
    if (res != Res::ok) return res;
  }
  void* p = controlFree_[c];
  controlFree_[c] = *static_cast<void**>(p);
  std::memset(p, 0, (c + 1) * kControlClassSize);
  *pOut = p;
  return Res::ok;
}

Res Arena::controlRefill(Size c) {
  Size blockSize = (c + 1) * kControlClassSize;
  Size slab = grainSize() >= 4 * blockSize ? grainSize() : alignUp(4 * blockSize, grainSize());
  Addr base;
  Res res = allocGrains(&base, slab, nullptr);
  if (res != Res::ok) return res;
  for (Size off = 0; off + blockSize <= slab; off += blockSize) {
    *reinterpret_cast<void**>(base + off) = controlFree_[c];
    controlFree_[c] = base + off;
  }
  return Res::ok;
}

void Arena::controlFree(void* p, Size size) {
  MPS_AVER(p != nullptr && size > 0);
  if (size > kControlClassSize * kControlClasses) {
    freeGrains(static_cast<Addr>(p), alignUp(size, grainSize()));
    return;
  }
  Size c = (size - 1) / kControlClassSize;
  *static_cast<void**>(p) = controlFree_[c];
  controlFree_[c] = p;
}

}  // namespace mps::core
