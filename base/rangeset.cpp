#include "base/rangeset.hpp"

namespace mps::core {

RangeSet::RangeSet(RangeNodeAllocator* allocator) : root_(&nil_), allocator_(allocator) {
  nil_.base = nil_.limit = nullptr;
  nil_.child[0] = nil_.child[1] = nil_.parent = &nil_;
  nil_.maxSize = 0;
}

// Tree maintenance ---------------------------------------------------------------

MPS_FORCE_INLINE void RangeSet::recompute(RangeNode* n) {
  Size m = n->size();
  Size l = n->child[0]->maxSize, r = n->child[1]->maxSize;
  m = l > m ? l : m;
  m = r > m ? r : m;
  n->maxSize = m;
}

// A 64-bit finaliser (murmur3's): nodes sit 48 bytes apart in slabs, and
// without the mixing their priorities would follow their addresses.
std::uint64_t RangeSet::priority(const RangeNode* n) {
  std::uint64_t x = wordOf(n);
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

RangeNode* RangeSet::leftmost(RangeNode* n) const {
  if (isNil(n)) return n;
  while (!isNil(n->child[0]))
    n = n->child[0];
  return n;
}

RangeNode* RangeSet::successor(RangeNode* n) const {
  if (!isNil(n->child[1])) return leftmost(n->child[1]);
  RangeNode* p = n->parent;
  while (!isNil(p) && p->child[1] == n) {
    n = p;
    p = n->parent;
  }
  return p;
}

// A range grew to `size`: raise maxima until one is already at least that.
// No sibling needs reading.
MPS_FORCE_INLINE void RangeSet::noteGrowth(RangeNode* n, Size size) {
  for (; !isNil(n) && n->maxSize < size; n = n->parent)
    n->maxSize = size;
}

// A range of `oldSize` shrank or left: only nodes whose maximum was exactly
// that size can change, and the walk stops at the first that does not.
MPS_FORCE_INLINE void RangeSet::noteShrink(RangeNode* n, Size oldSize) {
  for (; !isNil(n) && n->maxSize == oldSize; n = n->parent) {
    recompute(n);
    if (n->maxSize == oldSize) return;  // an equal range elsewhere keeps it
  }
}

void RangeSet::replaceChild(RangeNode* parent, RangeNode* old, RangeNode* now) {
  if (isNil(parent))
    root_ = now;
  else
    parent->child[parent->child[1] == old] = now;
  now->parent = parent;  // harmless on the sentinel
}

// Rotates x above its parent p. The subtree x heads afterwards holds exactly
// the ranges p's did, so x inherits p's maximum and only p is recomputed;
// nothing above changes.
void RangeSet::rotateUp(RangeNode* x) {
  RangeNode* p = x->parent;
  int dir = p->child[1] == x;
  RangeNode* inner = x->child[!dir];
  Size pMax = p->maxSize;
  replaceChild(p->parent, p, x);
  p->child[dir] = inner;
  inner->parent = p;
  x->child[!dir] = p;
  p->parent = x;
  recompute(p);
  x->maxSize = pMax;
}

void RangeSet::linkLeaf(RangeNode* node, RangeNode* parent, int dir) {
  node->child[0] = node->child[1] = &nil_;
  node->parent = parent;
  node->maxSize = node->size();
  if (isNil(parent)) {
    root_ = node;
  } else {
    parent->child[dir] = node;
    noteGrowth(parent, node->maxSize);
  }
  std::uint64_t prio = priority(node);
  while (!isNil(node->parent) && prio > priority(node->parent))
    rotateUp(node);
  ++count_;
}

// Rotates n down (raising its higher-priority child each time) until it has
// at most one child, then splices it out. The rotations keep every maximum
// true of a tree that still holds n, so one upward pass from n's last parent
// finishes the job.
void RangeSet::deleteNode(RangeNode* n) {
  while (!isNil(n->child[0]) && !isNil(n->child[1])) {
    RangeNode* c = n->child[priority(n->child[1]) > priority(n->child[0])];
    rotateUp(c);
  }
  RangeNode* only = n->child[isNil(n->child[0])];
  RangeNode* parent = n->parent;
  replaceChild(parent, n, only);
  noteShrink(parent, n->size());
  --count_;
  allocator_->freeNode(n);
}

// Searches ---------------------------------------------------------------------------

// Branch-free descent: the side is chosen by index and the candidate by a
// conditional move, so the loop costs a load per level and no mispredicted
// branches on random addresses.
RangeNode* RangeSet::floorNode(Addr addr, bool strict) const {
  RangeNode* found = &nil_;
  RangeNode* n = root_;
  while (!isNil(n)) {
    int right = strict ? n->base < addr : n->base <= addr;
    found = right ? n : found;
    n = n->child[right];
  }
  return found;
}

// First fit by the maxima: go towards the preferred side while that subtree
// can hold `size`, else stop here if this range can, else go the other way
// (which then must be able to, since this subtree's maximum is big enough).
// The side is an index computed from the comparison and the only branch is
// the exit, so a search mispredicts about once, not once per level.
RangeNode* RangeSet::findFirstNode(Size size, bool high) const {
  RangeNode* n = root_;
  if (n->maxSize < size) return nullptr;
  int near = high ? 1 : 0;
  for (;;) {
    RangeNode* nearChild = n->child[near];
    RangeNode* farChild = n->child[!near];
    bool farther = nearChild->maxSize < size;  // the sentinel's is 0
    if (farther & (n->size() >= size)) return n;
    n = farther ? farChild : nearChild;
    MPS_AVER(!isNil(n) && n->maxSize >= size);
  }
}

bool RangeSet::findFirst(Range* rangeOut, Size size, bool high) const {
  RangeNode* n = findFirstNode(size, high);
  if (n == nullptr) return false;
  *rangeOut = Range{n->base, n->limit};
  return true;
}

bool RangeSet::findLargest(Range* rangeOut) const {
  if (isEmpty()) return false;
  RangeNode* n = findFirstNode(root_->maxSize, false);
  *rangeOut = Range{n->base, n->limit};
  return true;
}

bool RangeSet::findContaining(Range* rangeOut, Addr addr) const {
  RangeNode* n = floorNode(addr, false);
  if (isNil(n) || addr >= n->limit) return false;
  *rangeOut = Range{n->base, n->limit};
  return true;
}

bool RangeSet::overlaps(Addr base, Addr limit) const {
  // Only the last range starting below `limit` can reach past `base`: every
  // earlier one ends before that one starts.
  MPS_AVER(base < limit);
  RangeNode* n = floorNode(limit, true);
  return !isNil(n) && n->limit > base;
}

bool RangeSet::contains(Addr base, Addr limit) const {
  MPS_AVER(base < limit);
  RangeNode* n = floorNode(base, false);
  return !isNil(n) && limit <= n->limit;
}

// Updates --------------------------------------------------------------------------------

Res RangeSet::insert(Addr base, Addr limit) {
  MPS_AVER(base < limit);
  // One descent finds both neighbours: the last node the descent went right
  // of (the greatest base <= base) and the last it went left of.
  RangeNode* below = &nil_;
  RangeNode* above = &nil_;
  RangeNode* parent = &nil_;
  int dir = 0;
  for (RangeNode* n = root_; !isNil(n);) {
    // Both children are loaded with the key (one cache line), so the next
    // node is a conditional move away rather than a dependent indexed load.
    RangeNode* lo = n->child[0];
    RangeNode* hi = n->child[1];
    dir = n->base <= base;
    below = dir ? n : below;
    above = dir ? above : n;
    parent = n;
    n = dir ? hi : lo;
  }
  bool hasBelow = !isNil(below), hasAbove = !isNil(above);
  if (hasBelow && below->limit > base) return Res::fail;
  if (hasAbove && above->base < limit) return Res::fail;

  bool joinBelow = hasBelow && below->limit == base;
  bool joinAbove = hasAbove && above->base == limit;
  if (joinBelow) {
    if (joinAbove) {
      // The new range bridges the gap: `below` swallows `above`.
      Addr aboveLimit = above->limit;
      deleteNode(above);
      below->limit = aboveLimit;
    } else {
      below->limit = limit;
    }
    noteGrowth(below, below->size());
  } else if (joinAbove) {
    above->base = base;
    noteGrowth(above, above->size());
  } else {
    RangeNode* node = allocator_->allocNode();
    if (node == nullptr) return Res::memory;
    node->base = base;
    node->limit = limit;
    linkLeaf(node, parent, dir);
  }
  total_ += Size(limit - base);
  return Res::ok;
}

Res RangeSet::remove(Addr base, Addr limit) {
  MPS_AVER(base < limit);
  RangeNode* n = floorNode(base, false);
  if (isNil(n) || limit > n->limit || base >= n->limit) return Res::fail;
  Size oldSize = n->size();
  if (base == n->base) {
    if (limit == n->limit) {
      deleteNode(n);
    } else {
      n->base = limit;
      noteShrink(n, oldSize);
    }
  } else if (limit == n->limit) {
    n->limit = base;
    noteShrink(n, oldSize);
  } else {
    RangeNode* node = allocator_->allocNode();
    if (node == nullptr) return Res::memory;
    node->base = limit;
    node->limit = n->limit;
    n->limit = base;
    noteShrink(n, oldSize);
    // The new upper part is n's successor: a leaf at the bottom left of
    // n's right subtree, or n's right child if it has none.
    if (isNil(n->child[1])) {
      linkLeaf(node, n, 1);
    } else {
      linkLeaf(node, leftmost(n->child[1]), 0);
    }
  }
  total_ -= Size(limit - base);
  return Res::ok;
}

bool RangeSet::takeFirst(Addr* baseOut, Size size, bool searchHigh, bool fromHighEnd) {
  MPS_AVER(size > 0);
  RangeNode* n = findFirstNode(size, searchHigh);
  if (MPS_UNLIKELY(n == nullptr)) return false;
  Size oldSize = n->size();
  if (oldSize == size) {
    *baseOut = n->base;
    deleteNode(n);
  } else {
    if (fromHighEnd) {
      n->limit -= size;
      *baseOut = n->limit;
    } else {
      *baseOut = n->base;
      n->base += size;
    }
    noteShrink(n, oldSize);
  }
  total_ -= size;
  return true;
}

void RangeSet::clear() {
  // Post-order walk by parent links: free a node once both children are gone.
  RangeNode* n = root_;
  while (!isNil(n)) {
    if (!isNil(n->child[0])) {
      n = n->child[0];
    } else if (!isNil(n->child[1])) {
      n = n->child[1];
    } else {
      RangeNode* p = n->parent;
      if (!isNil(p)) p->child[p->child[1] == n] = &nil_;
      allocator_->freeNode(n);
      n = p;
    }
  }
  root_ = &nil_;
  count_ = 0;
  total_ = 0;
}

RangeSet::~RangeSet() {
  clear();
  invalidateSig(sig);
}

// Checking -----------------------------------------------------------------------------

bool RangeSet::check() const {
  MPS_CHECKL(sig == kSig);
  MPS_CHECKL(allocator_ != nullptr);
  MPS_CHECKL(nil_.maxSize == 0 && isNil(nil_.child[0]) && isNil(nil_.child[1]));
  MPS_CHECKL(isNil(root_) || isNil(root_->parent));
  Size count = 0, total = 0;
  const RangeNode* prev = nullptr;
  for (RangeNode* n = leftmost(root_); !isNil(n); n = successor(n)) {
    MPS_CHECKL(n->base < n->limit);
    // Strictly after the previous range: disjoint and coalesced.
    MPS_CHECKL(prev == nullptr || prev->limit < n->base);
    Size m = n->size();
    for (int d = 0; d < 2; ++d) {
      const RangeNode* c = n->child[d];
      if (isNil(c)) continue;
      MPS_CHECKL(c->parent == n);
      MPS_CHECKL(priority(c) <= priority(n));
      if (c->maxSize > m) m = c->maxSize;
    }
    MPS_CHECKL(n->maxSize == m);
    ++count;
    total += n->size();
    prev = n;
  }
  MPS_CHECKL(count == count_);
  MPS_CHECKL(total == total_);
  return true;
}

}  // namespace mps::core
