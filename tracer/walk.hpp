// Special traces of a parked arena (walking.md): the walk over every
// reference of every root, and transforms, which replace references to old
// objects by references to new ones throughout the heap and the roots.
//
// Both scan with a diverted scan state (ScanState::divert): its white set
// holds the zones of interest, and every reference that passes stage 1 goes
// to a hook instead of a pool's fix. Nothing is condemned, marked or moved.
// The mutator threads are stopped meanwhile: a parked arena does no
// collection work, but its threads still run (design/tracer.md .walk).
#pragma once

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"

namespace mps::core {

class Collector;
class Root;

// Calls f(location, root, closure) for each reference held by a root of
// `collector` (any rank) that designates an object of an automatic pool:
// lands at its start, in its header or inside it. `location` is where the
// reference is stored, or, for a reference the root holds with a tag or in
// a thread's saved registers, a copy. The arena is parked; f must not call
// the library.
using RootReferenceVisitor = void (*)(Addr* location, Root* root, void* closure);
void walkRootReferences(Collector* collector, RootReferenceVisitor f, void* closure);

// A transform: a table of old → new references, built before it is
// applied. Lives in the arena's control memory.
class Transform {
 public:
  static constexpr Sig kSig = 0x5197A45Fu;

  // An empty transform of `collector`'s arena, which must be parked.
  static Res create(Transform** out, Collector* collector);
  void destroy();
  bool check() const;

  // Makes room for `n` more pairs: Res::commitLimit or Res::memory if the
  // table cannot grow (it is then unchanged).
  Res reserve(Size n);
  // Adds old → new. Res::fail if `oldRef` is in the table already (nothing
  // is changed); Res::commitLimit or Res::memory if the table cannot grow
  // (never after reserve made room).
  Res add(Addr oldRef, Addr newRef);
  // The new reference for `oldRef`, if it is an old one.
  bool lookup(Addr oldRef, Addr* newOut) const;
  Size count() const { return count_; }

  // Applies the transform (walking.md): Res::limit if the arena is not
  // parked, Res::param if it has collected since the transform was made.
  // Otherwise, if some ambiguous reference (a root's or an object's)
  // designates an old object, nothing changes and *appliedOut is false;
  // else every other reference to an old object, in every root and every
  // object of every automatic pool, is replaced, a full collection follows
  // (the arena stays parked) and *appliedOut is true.
  Res apply(bool* appliedOut);
  bool applied() const { return applied_; }
  Collector* collector() const { return collector_; }

  Sig sig = kSig;

 private:
  struct Entry {
    Addr oldRef;  // null: empty slot (an object's address is never null)
    Addr newRef;
  };
  static constexpr Size kInitialSlots = 64;

  explicit Transform(Collector* collector);
  // Empty slots for n entries at p.
  static Entry* emptySlots(void* p, Size n);
  Size slotOf(Addr ref) const;
  Res grow(Size capacity);

  Collector* collector_;
  Word epoch_;  // the arena's collections when the transform was made
  Entry* slots_ = nullptr;
  Size capacity_ = 0;  // a power of two; at most half full
  Size count_ = 0;
  // The zones of the old objects' blocks: references elsewhere cannot
  // designate one (the white set of the passes).
  RefSet zones_ = kRefSetEmpty;
  bool applied_ = false;
};

}  // namespace mps::core
