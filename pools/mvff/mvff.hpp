// MVFF: manual variable first fit (pools-mvff.md).
//
// Free space is a RangeSet of address-ordered, coalesced free ranges; mps_alloc
// is a first-fit search of it, pruned by the per-subtree largest range, and
// mps_free an insertion that coalesces with the neighbours and detects any
// overlap with free space (double free, wrong size). A second RangeSet holds
// the grains the pool owns, so the pool knows what to give back when it shrinks
// or dies without any record per extent.
//
// Memory needs of the bookkeeping. Tree nodes come from slabs of control
// memory, which the arena may refuse (commit limit). So that freeing never
// fails:
//  * a freed block that would need a new node and cannot have one goes on a
//    fallback list threaded through the free blocks themselves (needing no
//    memory); allocation searches it after the tree, and it drains back into
//    the tree as soon as nodes can be had again;
//  * first, though, a pool that has a whole free grain gives it back to the
//    arena and takes it again as node memory, so the fallback list is only
//    for a pool whose free space is all fragments;
//  * the last kNodeReserve nodes are kept for operations on the owned-grain
//    set (extending, and returning grains to the arena), so that a pool
//    starved of nodes can still give memory back, after which the arena can
//    supply nodes again.
//
// Locking: the caller holds the arena lock for every call.
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "base/rangeset.hpp"

namespace mps::core {

class MVFFPool final : public Pool {
 public:
  static constexpr Size kDefaultExtendBy = 65536;
  static constexpr Size kDefaultMeanSize = 32;
  static constexpr double kDefaultSpare = 0.75;

  MVFFPool(Arena* arena, const PoolClass* poolClass);
  ~MVFFPool() override;
  Res init(const mps_arg_s* args);

  // Res::resource for a size that cannot be rounded or reserved; otherwise
  // what the arena reports when it cannot supply more (Res::commitLimit ...).
  Res alloc(Addr* pOut, Size size) override;
  // Never fails; misuse (foreign or misaligned address, a range that is
  // partly free already or runs past the pool's memory) is an assertion.
  void free(Addr p, Size size) override;

  Size totalSize() const override { return owned_.total(); }
  Size freeSize() const override { return free_.total() + fallbackBytes_; }
  // Cheap: called at every checked entry.
  bool check() const override;
  // Costly: walks both trees and the fallback list and checks that free
  // space lies within owned memory. For tests and describe.
  bool checkFreeSpace() const;

  Size extendBy() const { return extendBy_; }
  Size meanSize() const { return meanSize_; }
  double spare() const { return spare_; }
  bool slotHigh() const { return slotHigh_; }
  bool arenaHigh() const { return arenaHigh_; }
  bool firstFit() const { return firstFit_; }
  // Bytes of free space on the fallback list (non-zero only under memory
  // pressure); exposed so tests can observe the fallback.
  Size fallbackSize() const { return fallbackBytes_; }

  // Deprecated variadic creation: extend_by, mean_size, align (size_t),
  // slot_high, arena_high, first_fit (promoted to int).
  static void varargs(mps_arg_s* args, va_list ap);

 private:
  // Node supply: slabs of control memory carved into RangeNodes. Ordinary
  // requests leave kNodeReserve nodes in stock; `privileged` requests (the
  // owned-grain bookkeeping) may take them.
  class NodeStore final : public RangeNodeAllocator {
   public:
    explicit NodeStore(Arena* arena) : arena_(arena) {}
    RangeNode* allocNode() override;
    void freeNode(RangeNode* node) override;
    // Ensures at least `n` nodes are in stock, or reports why the arena
    // could not supply them.
    Res ensure(Size n);
    // Adds a slab of nodes from control memory.
    Res refill();
    // Gives every slab back to the arena (all nodes must be unused).
    void release();
    Size stock() const { return stock_; }
    bool privileged = false;

   private:
    struct Slab {
      Slab* next;
      Size bytes;
    };
    struct FreeNode {
      FreeNode* next;
    };
    Arena* arena_;
    FreeNode* free_ = nullptr;
    Size stock_ = 0;
    Slab* slabs_ = nullptr;
  };
  // Marks the extent of a privileged operation (they nest).
  class Privileged {
   public:
    explicit Privileged(NodeStore& store) : store_(store), was_(store.privileged) {
      store_.privileged = true;
    }
    ~Privileged() { store_.privileged = was_; }
    Privileged(const Privileged&) = delete;
    Privileged& operator=(const Privileged&) = delete;

   private:
    NodeStore& store_;
    bool was_;
  };
  static constexpr Size kNodeReserve = 2;

  // Fallback free blocks. A block's first word links to the next; a set low
  // bit means the block is one word long (the smallest possible), otherwise
  // its second word holds its size.
  struct FallbackBlock {
    Word next;
    Size size;
  };

  MPS_NOINLINE Res allocSlow(Addr* pOut, Size size);
  MPS_NOINLINE void freeSlow(Addr p, Size size, Res res);
  // A freed block that needs a node and cannot have one: give its whole
  // grains straight back if the pool is over its spare fraction, and put the
  // rest on the fallback list. True if grains went back.
  bool freeWithoutNode(Addr p, Size size);
  // Gets a new extent from the arena holding at least `size` bytes.
  Res extend(Size size);
  // Returns whole free grains to the arena while the free fraction exceeds
  // the spare fraction.
  void reduce();
  // When the arena refuses node memory: gives one whole free grain back to
  // the arena and refills the node store with it. False if the free space
  // holds no whole grain or the arena still refuses.
  bool scavengeNodes();
  // Returns [base, limit) (grain aligned, free, and no longer in free_ or on
  // the fallback list) to the arena, if the owned set can record it.
  bool returnGrains(Addr base, Addr limit);
  void updateSpareLimit() { spareLimit_ = Size(spare_ * double(owned_.total())); }

  void pushFallback(Addr base, Size size);
  bool takeFallback(Addr* pOut, Size size);
  void drainFallback();
  bool fallbackOverlaps(Addr base, Addr limit) const;
  static Size fallbackSizeOf(const FallbackBlock* block);

  Size extendBy_ = kDefaultExtendBy;  // rounded up to grains
  Size meanSize_ = kDefaultMeanSize;
  double spare_ = kDefaultSpare;
  bool slotHigh_ = false;
  bool arenaHigh_ = false;
  bool firstFit_ = true;
  Size spareLimit_ = 0;  // spare_ * totalSize(): free bytes allowed before reducing

  NodeStore nodes_;
  RangeSet free_{&nodes_};   // free space in the tree
  RangeSet owned_{&nodes_};  // grains obtained from the arena
  FallbackBlock* fallback_ = nullptr;
  Size fallbackBytes_ = 0;
};

extern const PoolClass kPoolClassMVFF;

}  // namespace mps::core
