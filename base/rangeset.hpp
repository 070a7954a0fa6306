// Address-ordered sets of disjoint half-open ranges [base, limit).
//
// Adjacent ranges are always coalesced, so a set is the canonical description
// of some set of addresses: pools keep their free space (and the memory they
// own) in one. Every operation is O(log n) expected; none scans.
//
// Representation: a treap (a binary search tree by address that is also a
// heap by a pseudo-random priority) whose nodes also hold the largest range
// size in their subtree, so a search for a range of at least `size` bytes
// prunes every subtree too small to hold it.
//
// Why a treap and not a splay tree: a splay tree restructures itself on every
// search, writing to the nodes it passes and leaving the tree shape to the
// access pattern; the allocator's first-fit search would then dirty a dozen
// cache lines per allocation and an adversarial pattern could make single
// operations linear. A treap writes only the nodes whose ranges or
// maxima change, its expected depth is O(log n) whatever the keys and the
// order of operations, and it needs about two rotations per node inserted.
// The priority is a hash of the node's own address, so it costs no space and
// is independent of the range keys (nodes are handed out in an order that
// has nothing to do with the ranges they come to hold).
//
// Speed: the tree is small enough to sit in cache, so a search costs the
// latency of its chain of dependent loads plus its mispredicted branches.
// The descents therefore choose the next node with a conditional move from
// children loaded along with the key, and a sentinel node (maximum 0)
// stands for every missing child so that no step tests for null. Maxima are
// maintained upwards only as far as they change: growth stops at the first
// ancestor already as large, shrinking at the first whose maximum was not
// the range's old size.
//
// Nodes come from a caller-supplied RangeNodeAllocator. Only two things
// create a node: inserting a range that touches no neighbour, and removing
// the middle of a range (splitting it). When the allocator fails, the
// operation reports Res::memory and leaves the set exactly as it was.
// Deleting a node (an exact-fit removal, a neighbour absorbed by coalescing)
// gives it back at once.
#pragma once

#include <type_traits>

#include "base/check.hpp"
#include "base/res.hpp"
#include "base/types.hpp"

namespace mps::core {

struct Range {
  Addr base;
  Addr limit;
  Size size() const { return Size(limit - base); }
};

// One range and its place in the tree: 48 bytes on 64-bit targets. Children
// are an array so that code names a side by a computed index.
struct RangeNode {
  Addr base;
  Addr limit;
  RangeNode* child[2];  // [0] lower addresses, [1] higher addresses
  RangeNode* parent;    // the set's sentinel at the root; lets updates walk up
  Size maxSize;         // largest limit - base in this subtree
  Size size() const { return Size(limit - base); }
};
static_assert(sizeof(RangeNode) <= 6 * sizeof(void*), "range nodes stay small");

// Supplies and takes back node memory. allocNode may return null, which the
// set reports as Res::memory. Each node is sizeof(RangeNode) bytes, aligned
// like a pointer.
class RangeNodeAllocator {
 public:
  virtual RangeNode* allocNode() = 0;
  virtual void freeNode(RangeNode* node) = 0;

 protected:
  ~RangeNodeAllocator() = default;
};

class RangeSet {
 public:
  static constexpr Sig kSig = 0x5194A9E5u;

  explicit RangeSet(RangeNodeAllocator* allocator);
  // Gives every node back to the allocator, which must still be alive.
  ~RangeSet();
  // Nodes point at the set's own sentinel, so a set never moves.
  RangeSet(const RangeSet&) = delete;
  RangeSet& operator=(const RangeSet&) = delete;

  // Adds [base, limit), coalescing with the ranges on either side. Res::fail
  // if it overlaps a range already present (the set is unchanged); Res::memory
  // if it touches no neighbour and no node can be had.
  Res insert(Addr base, Addr limit);

  // Removes [base, limit), which must lie within one range (Res::fail
  // otherwise). Res::memory if that would split the range in two and no node
  // can be had. The set is unchanged on failure.
  Res remove(Addr base, Addr limit);

  // The lowest (or, with `high`, the highest) range of at least `size` bytes.
  bool findFirst(Range* rangeOut, Size size, bool high = false) const;
  // The largest range (the lowest of equals); false if the set is empty.
  bool findLargest(Range* rangeOut) const;
  // The range containing `addr`, if any.
  bool findContaining(Range* rangeOut, Addr addr) const;

  // Finds as findFirst(size, searchHigh) and removes `size` bytes from the
  // low or the high end of the range found; stores the base of the bytes
  // removed. Never needs a node, so it fails only when nothing fits. This is
  // the allocator's fast path: one descent and an upward fix of the maxima.
  bool takeFirst(Addr* baseOut, Size size, bool searchHigh, bool fromHighEnd);

  // Whether any range meets [base, limit) / one range includes all of it.
  bool overlaps(Addr base, Addr limit) const;
  bool contains(Addr base, Addr limit) const;

  Size total() const { return total_; }  // bytes in all ranges
  Size count() const { return count_; }  // number of ranges
  bool isEmpty() const { return root_ == &nil_; }

  // Calls f(Range) for each range in address order. If f returns bool,
  // false stops the walk; forEach returns false if it was stopped. The set
  // must not change during the walk.
  template <class F>
  bool forEach(F&& f) const;

  // Removes every range, giving the nodes back.
  void clear();

  // Verifies the whole structure: ranges non-empty, ordered, disjoint and
  // not adjacent (coalesced); parent links; the heap order of priorities;
  // every maxSize; count and total. Costly (visits every node): for tests
  // and describe, never on a fast path.
  bool check() const;

  Sig sig = kSig;

 private:
  bool isNil(const RangeNode* n) const { return n == &nil_; }
  static void recompute(RangeNode* n);
  static std::uint64_t priority(const RangeNode* n);
  RangeNode* leftmost(RangeNode* n) const;
  RangeNode* successor(RangeNode* n) const;

  // The node with the greatest base <= addr (or < addr when `strict`), or nil.
  RangeNode* floorNode(Addr addr, bool strict) const;
  RangeNode* findFirstNode(Size size, bool high) const;
  // Maxima upwards from n after a range in its subtree grew to `size`.
  void noteGrowth(RangeNode* n, Size size);
  // Maxima upwards from n after a range of `oldSize` in its subtree shrank
  // or left it.
  void noteShrink(RangeNode* n, Size oldSize);
  void replaceChild(RangeNode* parent, RangeNode* old, RangeNode* now);
  void rotateUp(RangeNode* x);
  // Links a fresh node as child `dir` of `parent` (nil: the root), then
  // restores the maxima and the heap order.
  void linkLeaf(RangeNode* node, RangeNode* parent, int dir);
  // Unlinks and frees `n`.
  void deleteNode(RangeNode* n);

  // The sentinel stands for every missing child (and the root's parent): its
  // maxSize is 0, so searches read a child's maximum without testing for
  // null and choose a side without a branch. Its parent field is scratch.
  mutable RangeNode nil_;
  RangeNode* root_;
  RangeNodeAllocator* allocator_;
  Size count_ = 0;
  Size total_ = 0;
};

template <class F>
bool RangeSet::forEach(F&& f) const {
  for (RangeNode* n = leftmost(root_); !isNil(n); n = successor(n)) {
    if constexpr (std::is_void_v<decltype(f(Range{}))>) {
      f(Range{n->base, n->limit});
    } else {
      if (!f(Range{n->base, n->limit})) return false;
    }
  }
  return true;
}

}  // namespace mps::core
