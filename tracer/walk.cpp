#include "tracer/walk.hpp"

#include <new>

#include "format/format.hpp"
#include "shield/shield.hpp"
#include "tracer/autopool.hpp"
#include "tracer/collector.hpp"
#include "tracer/root.hpp"
#include "tracer/scan.hpp"

namespace mps::core {

namespace {

// The client address of the object of an automatic pool that `ref`
// designates (at its start, in its header or inside it), if any.
bool objectDesignated(Arena* arena, Addr ref, Addr* clientOut) {
  Segment* seg = arena->segmentOf(ref);
  return seg != nullptr && seg->findObject(ref, clientOut);
}

// Stops the mutator threads for the lifetime of the object.
class StoppedWorld {
 public:
  explicit StoppedWorld(Collector* collector) : collector_(collector) {
    collector_->stopMutators();
  }
  ~StoppedWorld() { collector_->resumeMutators(); }
  StoppedWorld(const StoppedWorld&) = delete;
  StoppedWorld& operator=(const StoppedWorld&) = delete;

 private:
  Collector* collector_;
};

}  // namespace

// The roots walk -------------------------------------------------------------------

namespace {

struct RootsWalk {
  RootReferenceVisitor f;
  void* closure;
  Root* root;
};

Res visitRootReference(ScanState* ss, Addr* refIO, void* closure) {
  auto* walk = static_cast<RootsWalk*>(closure);
  Addr client;
  if (!objectDesignated(ss->arena(), *refIO, &client)) return Res::ok;
  // The library's area scanners fix a copy: report the word itself.
  Addr* location = ss->areaLocation != nullptr ? static_cast<Addr*>(ss->areaLocation) : refIO;
  walk->f(location, walk->root, walk->closure);
  return Res::ok;
}

}  // namespace

void walkRootReferences(Collector* collector, RootReferenceVisitor f, void* closure) {
  MPS_AVERT(Collector, collector);
  MPS_AVER(collector->isParked());
  Arena* arena = collector->arena();
  RootsWalk walk{f, closure, nullptr};
  ScanState ss(arena, nullptr, nullptr);
  ss.divert(&visitRootReference, &walk);
  // Every reference reaches the hook: stage 1 cannot tell an object's zone
  // from another's.
  ss.c._w = kRefSetUniv;
  StoppedWorld stopped(collector);
  collector->forEachRoot([&](Root* root) {
    walk.root = root;
    (void)root->scan(&ss);
  });
}

// Transforms -----------------------------------------------------------------------

Transform::Entry* Transform::emptySlots(void* p, Size n) {
  // Element by element: an array placement new may ask for more room than
  // the elements (an array cookie).
  auto* slots = static_cast<Entry*>(p);
  for (Size i = 0; i < n; ++i)
    new (&slots[i]) Entry{nullptr, nullptr};
  return slots;
}

Transform::Transform(Collector* collector)
    : collector_(collector), epoch_(collector->collections()) {}

Res Transform::create(Transform** out, Collector* collector) {
  MPS_AVERT(Collector, collector);
  Arena* arena = collector->arena();
  void* p;
  Res res = arena->controlAlloc(&p, sizeof(Transform));
  if (res != Res::ok) return res;
  auto* t = new (p) Transform(collector);
  res = arena->controlAlloc(&p, kInitialSlots * sizeof(Entry));
  if (res != Res::ok) {
    t->~Transform();
    arena->controlFree(t, sizeof(Transform));
    return res;
  }
  t->slots_ = emptySlots(p, kInitialSlots);
  t->capacity_ = kInitialSlots;
  *out = t;
  return Res::ok;
}

void Transform::destroy() {
  MPS_AVERT(Transform, this);
  Arena* arena = collector_->arena();
  arena->controlFree(slots_, capacity_ * sizeof(Entry));
  invalidateSig(sig);
  this->~Transform();
  arena->controlFree(this, sizeof(Transform));
}

bool Transform::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(collector_ != nullptr);
  MPS_CHECKL(slots_ != nullptr && isPowerOfTwo(capacity_));
  MPS_CHECKL(2 * count_ <= capacity_);
  return true;
}

Size Transform::slotOf(Addr ref) const {
  // Fibonacci hashing of the address without its alignment bits: objects
  // are often allocated at a regular stride.
  Word h = (wordOf(ref) >> 3) * Word(0x9E3779B97F4A7C15u);
  return Size(h >> (kWordBits / 2)) & (capacity_ - 1);
}

bool Transform::lookup(Addr oldRef, Addr* newOut) const {
  if (oldRef == nullptr) return false;
  for (Size i = slotOf(oldRef);; i = (i + 1) & (capacity_ - 1)) {
    const Entry& e = slots_[i];
    if (e.oldRef == nullptr) return false;
    if (e.oldRef == oldRef) {
      *newOut = e.newRef;
      return true;
    }
  }
}

Res Transform::grow(Size capacity) {
  Arena* arena = collector_->arena();
  void* p;
  Res res = arena->controlAlloc(&p, capacity * sizeof(Entry));
  if (res != Res::ok) return res;
  Entry* old = slots_;
  Size oldCapacity = capacity_;
  slots_ = emptySlots(p, capacity);
  capacity_ = capacity;
  for (Size i = 0; i < oldCapacity; ++i) {
    if (old[i].oldRef == nullptr) continue;
    Size j = slotOf(old[i].oldRef);
    while (slots_[j].oldRef != nullptr)
      j = (j + 1) & (capacity_ - 1);
    slots_[j] = old[i];
  }
  arena->controlFree(old, oldCapacity * sizeof(Entry));
  return Res::ok;
}

Res Transform::reserve(Size n) {
  MPS_AVERT(Transform, this);
  // At most half full, so that a probe for an absent reference ends soon;
  // and a table whose size in bytes overflows cannot be had.
  constexpr Size kMaxEntries = ~Size(0) / sizeof(Entry) / 4;
  if (n > kMaxEntries - count_) return Res::memory;
  Size capacity = capacity_;
  while (capacity < 2 * (count_ + n))
    capacity *= 2;
  return capacity == capacity_ ? Res::ok : grow(capacity);
}

Res Transform::add(Addr oldRef, Addr newRef) {
  MPS_AVERT(Transform, this);
  MPS_AVER(oldRef != nullptr);
  Addr existing;
  if (lookup(oldRef, &existing)) return Res::fail;
  Res res = reserve(1);
  if (res != Res::ok) return res;
  Size i = slotOf(oldRef);
  while (slots_[i].oldRef != nullptr)
    i = (i + 1) & (capacity_ - 1);
  slots_[i] = Entry{oldRef, newRef};
  ++count_;
  // The zones an ambiguous reference into the old object may lie in.
  Arena* arena = collector_->arena();
  Segment* seg = arena->segmentOf(oldRef);
  Format* format = seg != nullptr ? static_cast<AutoPool*>(seg->pool)->format() : nullptr;
  if (format != nullptr && format->skip != nullptr)
    zones_ |=
        refSetOfRange(format->baseOf(oldRef),
                      format->baseOf(static_cast<Addr>(format->skip(oldRef))), arena->zoneShift());
  else
    zones_ = kRefSetUniv;
  return Res::ok;
}

namespace {

struct TransformPass {
  const Transform* transform;
  bool ambiguousHit = false;  // the first pass found an ambiguous reference
  bool changed = false;       // the second pass replaced a reference
};

// First pass: ambiguous references only. One that designates an old object
// stops the pass (Res::fail ends the scan; ambiguousHit says why).
Res findAmbiguous(ScanState* ss, Addr* refIO, void* closure) {
  auto* pass = static_cast<TransformPass*>(closure);
  if (ss->rank() != Rank::ambig) return Res::ok;
  Addr client, replacement;
  if (!objectDesignated(ss->arena(), *refIO, &client)) return Res::ok;
  if (!pass->transform->lookup(client, &replacement)) return Res::ok;
  pass->ambiguousHit = true;
  return Res::fail;
}

// Second pass: every reference of another rank (exact or weak) to an old
// object is replaced.
Res replaceOld(ScanState* ss, Addr* refIO, void* closure) {
  auto* pass = static_cast<TransformPass*>(closure);
  if (ss->rank() == Rank::ambig) return Res::ok;
  Addr replacement;
  if (!pass->transform->lookup(*refIO, &replacement)) return Res::ok;
  *refIO = replacement;
  pass->changed = true;
  return Res::ok;
}

}  // namespace

Res Transform::apply(bool* appliedOut) {
  MPS_AVERT(Transform, this);
  MPS_AVER_ALWAYS(!applied_ && "a transform is applied at most once");
  if (!collector_->isParked()) return Res::limit;
  if (collector_->collections() != epoch_) return Res::param;
  Arena* arena = collector_->arena();

  TransformPass pass{this};
  ScanState ss(arena, nullptr, nullptr);
  ss.c._w = zones_;
  {
    StoppedWorld stopped(collector_);
    // Pass 1: the ambiguous roots (thread stacks and registers, ambiguous
    // tables) and the segments holding ambiguous references.
    ss.divert(&findAmbiguous, &pass);
    collector_->forEachRoot([&](Root* root) {
      if (!pass.ambiguousHit && root->rank() == Rank::ambig) (void)root->scan(&ss);
    });
    forEachAutoPool(arena, [&](AutoPool* pool) {
      pool->forEachSegment([&](Segment* seg) {
        if (pass.ambiguousHit || seg->rankSet == kRankSetEmpty ||
            rankSetLowest(seg->rankSet) != Rank::ambig)
          return;
        Shield::expose(seg);
        (void)seg->scan(&ss);
        Shield::cover(seg);
      });
    });
    if (pass.ambiguousHit) {
      *appliedOut = false;
      return Res::ok;
    }
    // Pass 2: everything else. A segment with a reference replaced leaves
    // the write barrier (its summary becomes universal) until the
    // collection below rebuilds its summary.
    ss.divert(&replaceOld, &pass);
    forEachAutoPool(arena, [&](AutoPool* pool) {
      pool->forEachSegment([&](Segment* seg) {
        if (seg->rankSet == kRankSetEmpty || rankSetLowest(seg->rankSet) == Rank::ambig) return;
        Shield::expose(seg);
        pass.changed = false;
        (void)seg->scan(&ss);
        if (pass.changed) Shield::dropBarrier(seg);
        Shield::cover(seg);
      });
    });
    collector_->forEachRoot([&](Root* root) {
      if (root->rank() != Rank::ambig) (void)root->scan(&ss);
    });
  }
  applied_ = true;
  // walking.md: the old objects are garbage now (unless something else
  // holds them); the collection reclaims them and leaves the arena parked.
  // Should it fail, the references are replaced all the same.
  (void)collector_->collect("An MPS extension (a transform) started the collection.");
  *appliedOut = true;
  return Res::ok;
}

}  // namespace mps::core
