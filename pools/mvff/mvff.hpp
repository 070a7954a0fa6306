// MVFF: manual variable first fit (pools-mvff.md).
//
// Placement. Free space is a RangeSet of address-ordered, coalesced free
// ranges. As in the reference (poolmvff.c), MVFF_FIRST_FIT chooses WHICH free
// range a block comes from: the lowest-addressed range that fits (true, the
// default) or the highest (false); MVFF_SLOT_HIGH chooses WHICH END of that
// range it is cut from: the low end (false, the default) or the high end
// (true). The defaults are classic address-ordered first fit working upwards;
// ARENA_HIGH + SLOT_HIGH + !FIRST_FIT is first fit working down from the top.
// The search is one descent of the tree, pruned by the per-subtree largest
// range; mps_free is an insertion that coalesces with the neighbours and
// detects any overlap with free space (double free, wrong size). A second
// RangeSet holds the grains the pool owns, so the pool knows what to give back
// when it shrinks or dies without any record per extent.
//
// Quick lists (deferred coalescing, as dlmalloc's fast bins). Small blocks
// (rounded size <= kQuickMaxSize) are freed onto a LIFO list per rounded size,
// threaded through the blocks' first word, instead of into the tree, and
// allocation pops an exact-size block from its list before searching the
// tree: both are O(1). So exact-size reuse of recently freed small blocks is
// LIFO, not address-ordered first fit (the reference departs from first fit
// in the same way for blocks served from allocation buffers); blocks above the
// bound, and every request whose list is empty, follow the placement policy
// above. Quick-listed bytes count as free in freeSize().
//
// The lists are bounded: kQuickDepth blocks each, quickBudget() bytes in all
// (2 * extendBy within [128 KiB, 1 MiB]), and free space below the reduce
// threshold. They are flushed into the tree, coalescing:
//  * when the tree cannot satisfy a request, before the pool asks the arena
//    for more (then the tree is tried again). For a request within the bound
//    each list keeps its kQuickKeep most recently freed blocks: that, at most
//    the budget, is the memory held back across an extension, as glibc keeps
//    its tcache but consolidates its fast bins before growing the heap.
//    Without it the lists soak up all of a pool's slack, the tree runs dry
//    and every few hundred operations a flush empties them. A request above
//    the bound flushes everything, and so does a failure to extend, so the
//    lists never make an allocation fail;
//  * before the pool gives memory back to the arena (reduce());
//  * on flushQuickLists() (consistency walks, describe), and at destroy.
//
// Error detection with quick lists. Checked builds report every free that
// overlaps free space, quick-listed blocks included (the bounded lists are
// scanned). Release builds report, at the free: a free overlapping the block
// freed last if nothing has been allocated since; the double free of the
// block last freed of its size; and the double free of a small block that
// still carries the free mark (a per-pool word written into the second word
// of every free small block, quick-listed or not, and cleared when one is
// allocated, or scrubbed from an allocation point's window when it is
// filled; a mark is confirmed against the free space before anything is
// reported). They may miss, at the free, other double frees of quick-listed
// blocks (of part of a block, or of one whose mark the client overwrote) and
// wrong-size frees overlapping quick-listed blocks; those are reported when
// the lists are next flushed, where the insertion into the tree meets the
// overlap, if the space has not been allocated again by then.
//
// Giving memory back (MPS_KEY_SPARE). When the free fraction passes SPARE,
// the pool flushes its quick lists and returns whole runs of free grains (all
// the whole grains of a free range), largest first, of at least minReturn()
// bytes (extendBy, within [kMinRunGrains grains, 1 MiB]), until the free
// fraction is down to SPARE/2, so that alternating allocation and freeing
// near the threshold does not give memory back and take it again each time.
// Free space in shorter runs goes back only once it is minReturn() over the
// limit, and then in runs of at least kMinRunGrains grains, down to SPARE. So
// SPARE is a soft bound: the free fraction may exceed it by minReturn(), more
// when the free space is fragmented into runs shorter than kMinRunGrains; and
// a pool that could not get below SPARE tries again only once another
// minReturn() bytes have been freed. A pool whose memory is all free gives it
// all back (unless SPARE is 1.0). SPARE 0.0 returns every whole free grain at
// once and keeps no quick lists.
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
// Quick lists need no memory either; a flush that cannot have a node puts the
// block on the fallback list.
//
// Allocation points. A buffer is filled worst-fit: from the low end of the
// largest free range in the tree, taking all of it or, if it is longer, a
// window of max(size, extendBy) bytes (the rest stays free for mps_alloc and
// other buffers). Buffers allocate upwards; MVFF_SLOT_HIGH and MVFF_FIRST_FIT
// do not apply to them. A window is neither free space nor allocated while it
// is attached: it is out of the tree, so mps_alloc never hands out its bytes;
// freeSize() counts its unused part [init, limit) as free. Emptying the
// buffer inserts that unused part into the tree again (coalescing, with the
// same node fallbacks as a free), and the committed blocks before it are
// ordinary allocated blocks that the client frees with mps_free. Buffered and
// unbuffered allocation may be mixed in any order.
//
// Locking: the caller holds the arena lock for every call.
#pragma once

#include "arena/arena.hpp"
#include "arena/pool.hpp"
#include "base/rangeset.hpp"

namespace mps::core {

// Not final: the debugging class (mvffdebug.hpp) derives from it. The
// overrides it does not replace are final, so calls of them within the class
// stay direct.
class MVFFPool : public Pool {
 public:
  static constexpr Size kDefaultExtendBy = 65536;
  static constexpr Size kDefaultMeanSize = 32;
  static constexpr double kDefaultSpare = 0.75;
  // Quick lists: one per alignment step up to kQuickMaxSize bytes, each at
  // most kQuickDepth blocks, kQuickKeep of them kept across an extension. The
  // byte budget is 2 * extendBy within [kQuickBudgetMin, kQuickBudgetMax].
  static constexpr Size kQuickMaxSize = 1024;
  static constexpr Size kQuickDepth = 16;
  static constexpr Size kQuickKeep = 8;
  static constexpr Size kQuickBudgetMin = Size(128) << 10;
  static constexpr Size kQuickBudgetMax = Size(1) << 20;

  MVFFPool(Arena* arena, const PoolClass* poolClass);
  ~MVFFPool() override;
  Res init(const mps_arg_s* args);

  // Res::resource for a size that cannot be rounded or reserved; otherwise
  // what the arena reports when it cannot supply more (Res::commitLimit ...).
  Res alloc(Addr* pOut, Size size) override;
  // Never fails; misuse (foreign or misaligned address, a range that is
  // partly free already or runs past the pool's memory) is an assertion.
  void free(Addr p, Size size) override;

  // Allocation points: no keyword arguments; fills are worst fit (see the
  // header comment). A fill fails, leaving the pool as it was, with the
  // result of the extension that could not be had.
  Res bufferInit(Buffer* buffer, const mps_arg_s* args) final;
  Res bufferFill(Buffer* buffer, Size size) override;
  void bufferEmpty(Buffer* buffer) override;

  Size totalSize() const final { return owned_.total(); }
  // Free and unused buffered bytes (the latter read from the allocation
  // points, whose owners move them without the lock: a snapshot).
  Size freeSize() const override;
  // Cheap: called at every checked entry.
  bool check() const final;
  // Costly: walks both trees, the quick lists and the fallback list, and
  // checks that free space lies within owned memory and is disjoint. For tests
  // and describe; it leaves the quick lists alone.
  bool checkFreeSpace() const;
  // Moves every quick-listed block into the tree, coalescing. Reports a
  // block that overlaps free space there (a double free the release build
  // missed when it happened).
  void flushQuickLists() { trimQuickLists(0); }

  Size extendBy() const { return extendBy_; }
  Size meanSize() const { return meanSize_; }
  double spare() const { return spare_; }
  bool slotHigh() const { return slotHigh_; }
  bool arenaHigh() const { return arenaHigh_; }
  bool firstFit() const { return firstFit_; }
  // Bytes on the quick lists, the most they may hold, and the largest rounded
  // size they take (0 when the alignment is above kQuickMaxSize).
  Size quickSize() const { return quickBytes_; }
  Size quickBudget() const { return quickBudget_; }
  Size quickMaxSize() const { return quickMax_; }
  // The smallest run of whole grains given back to the arena while the pool
  // is in use (see "Giving memory back").
  Size minReturn() const { return minReturn_; }
  // Bytes of free space on the fallback list (non-zero only under memory
  // pressure); exposed so tests can observe the fallback.
  Size fallbackSize() const { return fallbackBytes_; }
  // Bytes in the windows of attached buffers as they were filled (the
  // blocks committed in them included, even those since freed).
  Size windowSize() const { return windowBytes_; }
  // The largest window a fill takes from a longer free range (a request
  // larger than this gets a window of its own size).
  Size windowMax() const { return extendBy_; }

  // Deprecated variadic creation: extend_by, mean_size, align (size_t),
  // slot_high, arena_high, first_fit (promoted to int).
  static void varargs(mps_arg_s* args, va_list ap);

 protected:
  // For the debugging class, on slow paths only: [base, limit) has just
  // been taken from the arena (it is free) / is free and about to go back
  // to the arena.
  virtual void noteExtended(Addr /*base*/, Addr /*limit*/) {}
  virtual void noteReturning(Addr /*base*/, Addr /*limit*/) {}
  // The quick lists write links and marks into free blocks, which the
  // debugging class keeps filled with its free template.
  void disableQuickLists() { quickMax_ = 0; }
  // Calls f(base, limit) for each free range in the tree (not the quick
  // lists or the fallback list).
  template <class F>
  void forEachFreeRange(F&& f) const {
    free_.forEach([&](Range r) { f(r.base, r.limit); });
  }

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
  // The shortest run of grains given back while the pool is in use, unless
  // SPARE is 0.0.
  static constexpr Size kMinRunGrains = 4;

  // Fallback free blocks. A block's first word links to the next; a set low
  // bit means the block is one word long (the smallest possible), otherwise
  // its second word holds its size.
  struct FallbackBlock {
    Word next;
    Size size;
  };

  // A quick-listed block. `mark` exists only in blocks of two words or more.
  struct QuickBlock {
    QuickBlock* next;
    Word mark;
  };
  static constexpr Size kQuickClasses = kQuickMaxSize / sizeof(void*) + 1;

  MPS_NOINLINE Res allocSlow(Addr* pOut, Size size);
  // Free bytes outside the buffers' windows: what the thresholds for giving
  // memory back are measured against (a window is neither free nor
  // allocated while attached, and its unused part is not known under the
  // lock).
  Size freeBytes() const { return free_.total() + fallbackBytes_ + quickBytes_; }
  // Takes a window of at least `size` bytes from the low end of the largest
  // free range: all of it, or max(size, windowMax()) bytes if it is longer.
  // Never needs a node.
  bool takeWindow(Range* windowOut, Size size);
  // Clears every free mark in a window just taken from the tree.
  void scrubMarks(Range window);
  // Whether [base, limit) meets the unused part of a buffer's window.
  bool overlapsWindow(Addr base, Addr limit) const;
  MPS_NOINLINE void freeSlow(Addr p, Size size, Res res);
  // Free small blocks carry quickMark_ in their second word (if they have
  // one); allocation clears it.
  MPS_FORCE_INLINE void setMark(Addr p, Size size) const {
    if (size > sizeof(Word)) reinterpret_cast<QuickBlock*>(p)->mark = quickMark_;
  }
  MPS_FORCE_INLINE static void clearMark(Addr p, Size size) {
    if (size > sizeof(Word)) reinterpret_cast<QuickBlock*>(p)->mark = 0;
  }
  MPS_FORCE_INLINE bool hasMark(Addr p, Size size) const {
    return size > sizeof(Word) && reinterpret_cast<const QuickBlock*>(p)->mark == quickMark_;
  }
  // Whether [base, limit) meets any free space: the tree, the quick lists or
  // the fallback list. Costly (scans the lists).
  bool overlapsFreeSpace(Addr base, Addr limit) const;
  // A small block being freed carries the free mark: reports the double free
  // if the block really is free (else the client's data matched the mark).
  MPS_NOINLINE void checkMarkedFree(Addr base, Addr limit) const;
  bool quickOverlaps(Addr base, Addr limit) const;
  // Flushes each quick list down to its `keep` most recently freed blocks.
  void trimQuickLists(Size keep);
  // Adds a free block to the tree, or to the fallback list if no node can be
  // had; reports an overlap with the tree's free space.
  void insertFree(Addr base, Addr limit);
  // A freed block that needs a node and cannot have one: give its whole
  // grains straight back if the pool is over its spare fraction, and put the
  // rest on the fallback list. True if grains went back.
  bool freeWithoutNode(Addr p, Size size);
  // Gets a new extent from the arena holding at least `size` bytes.
  Res extend(Size size);
  // Gives memory back when the free fraction has passed the spare fraction
  // (see "Giving memory back"), and sets the next threshold.
  void reduce();
  // Returns all the whole grains of the largest free ranges, each run at
  // least `minRun` bytes, while free > `fraction` * total. False if no run
  // could be taken (or recorded) while still above it.
  bool returnRuns(double fraction, Size minRun);
  // Returns every owned range (all of them free, in the tree).
  void returnAll();
  // When the arena refuses node memory: gives one whole free grain back to
  // the arena and refills the node store with it. False if the free space
  // holds no whole grain or the arena still refuses.
  bool scavengeNodes();
  // Returns [base, limit) (grain aligned, free, and no longer in free_ or on
  // the fallback list) to the arena, if the owned set can record it.
  bool returnGrains(Addr base, Addr limit);
  // Recomputes the spare limit after the total changed; the threshold at
  // which freeing calls reduce() goes back to it.
  void updateSpareLimit() {
    spareLimit_ = Size(spare_ * double(owned_.total()));
    setReduceAt(0);
  }
  // reduce() runs when free bytes pass reduceAt_: the spare limit, or `floor`
  // or minReturn_ if higher (SPARE > 0), but always below the total (an
  // entirely free pool gives its memory back) unless SPARE is 1.0.
  void setReduceAt(Size floor);

  void pushFallback(Addr base, Size size);
  bool takeFallback(Addr* pOut, Size size);
  void drainFallback();
  bool fallbackOverlaps(Addr base, Addr limit) const;
  static Size fallbackSizeOf(const FallbackBlock* block);

  // The fields the fast paths read come first, together.
  Shift alignShift_ = 0;  // log2(alignment_): quick list index = rounded size >> alignShift_
  bool slotHigh_ = false;
  bool arenaHigh_ = false;
  bool firstFit_ = true;
  Size quickMax_ = 0;     // largest rounded size quick-listed; 0: none
  Size quickBudget_ = 0;  // most bytes on all the lists together
  Size quickBytes_ = 0;
  Word quickMark_ = 0;
  Size reduceAt_ = 0;  // free bytes above which freeing calls reduce()
  // The block freed last, while nothing has been allocated since (limit null
  // otherwise): a free overlapping it is reported in every build.
  Addr lastFreedBase_ = nullptr;
  Addr lastFreedLimit_ = nullptr;
  FallbackBlock* fallback_ = nullptr;
  Size fallbackBytes_ = 0;

 protected:
  Size windowBytes_ = 0;  // [base, limit) of every attached buffer

 private:
  Size extendBy_ = kDefaultExtendBy;  // rounded up to grains
  Size meanSize_ = kDefaultMeanSize;
  double spare_ = kDefaultSpare;
  Size spareLimit_ = 0;  // spare_ * totalSize(): free bytes allowed before reducing
  Size minReturn_ = 0;   // see minReturn()

  NodeStore nodes_;
  RangeSet free_{&nodes_};   // free space in the tree
  RangeSet owned_{&nodes_};  // grains obtained from the arena

  QuickBlock* quickHead_[kQuickClasses] = {};
  std::uint16_t quickCount_[kQuickClasses] = {};
};

extern const PoolClass kPoolClassMVFF;

}  // namespace mps::core
