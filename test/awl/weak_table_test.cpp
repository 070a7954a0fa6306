// Weak tables on AWL (pools-awl.md): the structure AWL exists for. A table
// is two AWL vectors, keys and values, each naming the other as its
// dependent object (MPS_KEY_AWL_FIND_DEPENDENT); the vector allocated on the
// weak allocation point holds weak references, and when its scan method sees
// one splatted it deletes the partner's slot. Tested here:
//   1. a seeded model of weak-key, weak-value and doubly weak tables whose
//      keys and values live in AMS or AMC (which moves them), under full,
//      nursery, stepped and allocation-triggered collections, with one and
//      two marking workers, checked against a shadow model after every step;
//   2. the scan writing into its dependent object while the write barrier
//      protects it (the collector must expose it, not fault on it);
//   3. weak roots; 4. ambiguous references to AWL objects; 5. misuse, which
//      asserts naming the rule; 6. walking, address queries and the
//      deprecated variadic creation functions.
// Tests 1 and 2 look inside the core (nursery collections, the barrier
// policy, protection modes, fault counts), which the C interface cannot.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "amc_support.hpp"
#include "assertions.hpp"
#include "mpscawl.h"
#include "seed.hpp"
#include "shield/shield.hpp"

namespace mps::test {
namespace {

// The vector format ------------------------------------------------------------------

// The AWL objects of these tests. Their words follow AWL's layout rule
// (pools-awl.md): each is an aligned reference, NULL, or odd.
//   word 0     (length << 8) | kVectorTag, plus kRetired once its table
//              replaced it (its deletions are then not counted)
//   word 1     the vector's id, tagged
//   word 2     the partner vector (the dependent object): a reference, NULL,
//              or the partner's address tagged (a link the collector does not
//              see: the partner is kept alive by other references)
//   words 3..  slots: a reference, NULL, or a tagged integer
constexpr mps_word_t kVectorTag = 0x41;
constexpr mps_word_t kRetired = 0x80;

struct Vector {
  mps_word_t header;
  mps_word_t id;
  mps_addr_t partner;
  mps_addr_t slots[1];  // really lengthOf(this)
};

mps_addr_t tagged(mps_word_t n) {
  return reinterpret_cast<mps_addr_t>((n << 1) | 1);
}
bool isTagged(mps_addr_t p) {
  return (reinterpret_cast<mps_word_t>(p) & 1) != 0;
}
// A slot the mutator emptied (or never used).
const mps_addr_t kEmpty = tagged(0);
// A slot the scan method deleted because its partner slot was splatted.
const mps_addr_t kDeleted = tagged(1);
// What the scan method stores in a deleted slot: kDeleted, or (a client may
// delete by pointing at a tombstone) a reference to a live object, which
// the dependent's summary must then cover.
mps_addr_t gDeletedMarker = kDeleted;

size_t lengthOf(const Vector* v) {
  return size_t(v->header >> 8);
}
Vector* partnerOf(const Vector* v) {
  return reinterpret_cast<Vector*>(reinterpret_cast<mps_word_t>(v->partner) & ~mps_word_t(1));
}
size_t vectorSize(size_t length) {
  return (3 + length) * sizeof(mps_word_t);
}
mps_word_t vectorId(const Vector* v) {
  return v->id >> 1;
}

// What the format's methods saw; workers scan concurrently.
struct VectorStats {
  std::atomic<size_t> dependentCalls{0}, deletions{0};
  void reset() {
    dependentCalls = 0;
    deletions = 0;
  }
};
VectorStats& vectorStats() {
  static VectorStats stats;
  return stats;
}

extern "C" mps_addr_t vectorSkip(mps_addr_t p) {
  return static_cast<char*>(p) + vectorSize(lengthOf(static_cast<Vector*>(p)));
}

extern "C" mps_addr_t vectorDependent(mps_addr_t p) {
  vectorStats().dependentCalls.fetch_add(1, std::memory_order_relaxed);
  return partnerOf(static_cast<Vector*>(p));
}

// The weak table protocol: a slot that was a reference before the fix and is
// NULL after it was splatted, and the partner's slot is deleted at once, so
// that the mutator never sees half an entry.
extern "C" mps_res_t vectorScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  VectorStats& stats = vectorStats();
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);
         p = static_cast<char*>(vectorSkip(p))) {
      auto* v = reinterpret_cast<Vector*>(p);
      if (v->partner != nullptr && !isTagged(v->partner)) {
        mps_res_t res = MPS_FIX12(ss, &v->partner);
        if (res != MPS_RES_OK) return res;
      }
      Vector* partner = partnerOf(v);
      for (size_t i = 0, n = lengthOf(v); i < n; ++i) {
        mps_addr_t ref = v->slots[i];
        if (ref == nullptr || isTagged(ref) || !MPS_FIX1(ss, ref)) continue;
        mps_res_t res = MPS_FIX2(ss, &v->slots[i]);
        if (res != MPS_RES_OK) return res;
        if (v->slots[i] == nullptr && partner != nullptr) {
          partner->slots[i] = gDeletedMarker;
          if ((v->header & kRetired) == 0) stats.deletions.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

mps_res_t makeVectorFormat(mps_fmt_t* fmt, mps_arena_t arena) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, vectorScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, vectorSkip);
    res = mps_fmt_create_k(fmt, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

// An AWL pool of vectors whose dependent objects are their partners; on
// `chain` (generation 0) if given, else on the arena's default chain.
mps_res_t makeAwlPool(mps_pool_t* pool, mps_arena_t arena, mps_fmt_t fmt,
                      mps_chain_t chain = nullptr) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_AWL_FIND_DEPENDENT, vectorDependent);
    if (chain != nullptr) MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    res = mps_pool_create_k(pool, arena, mps_class_awl(), args);
  }
  MPS_ARGS_END(args);
  return res;
}

mps_res_t makeAwlAp(mps_ap_t* ap, mps_pool_t pool, mps_rank_t rank) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, rank);
    res = mps_ap_create_k(ap, pool, args);
  }
  MPS_ARGS_END(args);
  return res;
}

// A vector of `length` slots all `fill`, without a partner.
Vector* allocVector(mps_ap_t ap, mps_word_t id, size_t length, mps_addr_t fill = nullptr) {
  size_t size = vectorSize(length);
  mps_addr_t p;
  do {
    if (mps_reserve(&p, ap, size) != MPS_RES_OK) return nullptr;
    auto* v = static_cast<Vector*>(p);
    v->header = (mps_word_t(length) << 8) | kVectorTag;
    v->id = reinterpret_cast<mps_word_t>(tagged(id));
    v->partner = nullptr;
    for (size_t i = 0; i < length; ++i)
      v->slots[i] = fill;
  } while (!mps_commit(ap, p, size));
  return static_cast<Vector*>(p);
}

core::Collector* collectorOf(mps_arena_t arena) {
  return core::Collector::of(reinterpret_cast<core::Arena*>(arena));
}
core::Segment* segmentOf(mps_arena_t arena, void* p) {
  return reinterpret_cast<core::Arena*>(arena)->segmentOf(p);
}

// The ids of every formatted object in the arena: vectors by their tagged
// id, test objects (object_format.hpp) by theirs.
std::multiset<mps_word_t> liveIds(mps_arena_t arena, mps_fmt_t vectorFmt) {
  struct Closure {
    mps_fmt_t vectorFmt;
    std::multiset<mps_word_t> ids;
  } c{vectorFmt, {}};
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t addr, mps_fmt_t fmt, mps_pool_t, void* p, size_t) {
        auto* cl = static_cast<Closure*>(p);
        if (fmt == cl->vectorFmt)
          cl->ids.insert(vectorId(static_cast<Vector*>(addr)));
        else
          cl->ids.insert(static_cast<Object*>(addr)->id);
      },
      &c, 0);
  return c.ids;
}

// 1. The weak table model -----------------------------------------------------------

struct ModelParam {
  PoolKind kind;  // where keys and values live
  unsigned workers;
};
void PrintTo(const ModelParam& p, std::ostream* os) {
  PrintTo(p.kind, os);
  *os << ", " << p.workers << " workers";
}

// Side 0 holds the keys, side 1 the values; a table's sides are weak or
// exact: weak keys, weak values, or both (doubly weak).
constexpr size_t kTables = 3;
constexpr size_t kCapacity = 48;
constexpr bool kWeakSide[kTables][2] = {{true, false}, {false, true}, {true, true}};
const char* const kTableName[kTables] = {"weak-key", "weak-value", "doubly weak"};

struct Entry {
  bool used = false;
  mps_word_t id[2] = {0, 0};
  // Whether the object of a weak side is held strongly (in the root),
  // rather than by the table alone.
  bool held[2] = {false, false};
  // How many holder objects lie between the root and a held object.
  unsigned depth[2] = {0, 0};
};

class WeakTableModel : public ::testing::TestWithParam<ModelParam> {
 protected:
  void SetUp() override {
    vectorStats().reset();
    ASSERT_EQ(makeParkedArena(&arena, GetParam().workers, size_t(32) << 20), MPS_RES_OK);
    core::Collector* collector = collectorOf(arena);
    // Protect every segment the barrier can, however small its generation:
    // old keys, values and holders get narrow summaries, and nursery
    // collections pass over what cannot refer to the nursery. (The vectors
    // themselves stay unprotected: each scan of one leaves its partner's
    // summary universal, as the dependent may have been written.)
    collector->barrierPolicy = false;
    // With two workers, mark in parallel from the first grey object, or the
    // small collections here would all stay on the collecting thread.
    if (GetParam().workers > 1) collector->serialScanBytes = 0;
    // A small nursery, so that allocation triggers nursery collections.
    ASSERT_EQ(makePoolOnChain(&kv, arena, GetParam().kind, {64, 0.8}, {256, 0.5}), MPS_RES_OK);
    ASSERT_EQ(mps_ap_create_k(&kvAp, kv.pool, mps_args_none), MPS_RES_OK);
    ASSERT_EQ(makeVectorFormat(&vecFmt, arena), MPS_RES_OK);
    // The vectors share the chain: they are young too, and collected with
    // the keys and values (promoted in place, .ms.sticky).
    ASSERT_EQ(makeAwlPool(&awl, arena, vecFmt, kv.chain), MPS_RES_OK);
    ASSERT_EQ(makeAwlAps(), MPS_RES_OK);
    for (auto& r : held)
      r = nullptr;
    for (auto& r : tableRoots)
      r = nullptr;
    ASSERT_EQ(mps_root_create_table(&heldRoot, arena, mps_rank_exact(), 0, held,
                                    sizeof held / sizeof held[0]),
              MPS_RES_OK);
    ASSERT_EQ(mps_root_create_table(&tableRoot, arena, mps_rank_exact(), 0, tableRoots,
                                    sizeof tableRoots / sizeof tableRoots[0]),
              MPS_RES_OK);
    for (size_t t = 0; t < kTables; ++t) {
      ASSERT_TRUE(makeVectors(t));
      installVectors(t);
    }
  }

  void TearDown() override {
    if (arena == nullptr) return;
    mps_arena_park(arena);
    if (tableRoot != nullptr) mps_root_destroy(tableRoot);
    if (heldRoot != nullptr) mps_root_destroy(heldRoot);
    if (weakAp != nullptr) mps_ap_destroy(weakAp);
    if (exactAp != nullptr) mps_ap_destroy(exactAp);
    if (awl != nullptr) mps_pool_destroy(awl);
    if (vecFmt != nullptr) mps_fmt_destroy(vecFmt);
    if (kvAp != nullptr) mps_ap_destroy(kvAp);
    destroyPoolOnChain(&kv);
    mps_arena_destroy(arena);
  }

  mps_res_t makeAwlAps() {
    mps_res_t res = makeAwlAp(&weakAp, awl, mps_rank_weak());
    return res == MPS_RES_OK ? makeAwlAp(&exactAp, awl, mps_rank_exact()) : res;
  }

  // Root slots: the held objects of each table's weak sides, each table's
  // two vectors, and room for what is being built (new vectors, and the
  // exact side's new object until it is stored in its vector).
  mps_addr_t& heldSlot(size_t t, int side, size_t i) {
    return held[(t * 2 + side) * kCapacity + i];
  }
  Vector*& vec(size_t t, int side) { return reinterpret_cast<Vector*&>(tableRoots[t * 2 + side]); }
  Vector*& newVec(int side) { return reinterpret_cast<Vector*&>(tableRoots[kTables * 2 + side]); }
  mps_addr_t& scratch(int side) { return tableRoots[kTables * 2 + 2 + side]; }

  // New vectors for table t, partners of each other, in newVec(0..1).
  bool makeVectors(size_t t) {
    for (int side = 0; side < 2; ++side) {
      newVec(side) = allocVector(kWeakSide[t][side] ? weakAp : exactAp, nextId++, kCapacity);
      if (newVec(side) == nullptr) return false;
    }
    newVec(0)->partner = newVec(1);
    newVec(1)->partner = newVec(0);
    // Fresh allocation points for the next vectors: the segments of these
    // are given back, so that between rehashes the vectors lie in segments
    // with no buffer attached (condemned, scanned and swept whole), and the
    // weak allocation point's fill and empty run again each time.
    mps_ap_destroy(weakAp);
    mps_ap_destroy(exactAp);
    weakAp = exactAp = nullptr;
    return makeAwlAps() == MPS_RES_OK;
  }
  void installVectors(size_t t) {
    for (int side = 0; side < 2; ++side) {
      vec(t, side) = newVec(side);
      newVec(side) = nullptr;
    }
  }

  mps_word_t idOf(mps_addr_t p) { return static_cast<Object*>(p)->id; }

  // A held object is in its root slot, or at the end of a chain of `depth`
  // holder objects from it: then marking reaches it only after the
  // holders, perhaps after the weak vector that refers to it was scanned
  // (which must not decide anything before marking ends).
  mps_addr_t heldObject(size_t t, int side, size_t i, unsigned depth) {
    mps_addr_t p = heldSlot(t, side, i);
    for (unsigned d = 0; d < depth; ++d)
      p = static_cast<Object*>(p)->refs[0];
    return p;
  }
  // Puts `depth` holders between the root slot and what it holds.
  unsigned wrap(size_t t, int side, size_t i) {
    unsigned depth = unsigned(rng->below(5));
    depth = depth > 3 ? 0 : depth;
    for (unsigned d = 0; d < depth; ++d) {
      Object* h = allocObject(kvAp, nextId++, 1);
      EXPECT_NE(h, nullptr);
      if (h == nullptr) return d;
      h->refs[0] = heldSlot(t, side, i);  // read after the allocation: it may have moved
      heldSlot(t, side, i) = h;
    }
    return depth;
  }

  // Allocates `count` objects nothing refers to; false if out of memory.
  bool allocGarbage(size_t count) {
    // The previous object is held in a root slot while the next is
    // allocated: a collection may flip there, and an object allocated
    // after the flip is black (it survives that collection, and the heap
    // verifier checks its references at its end), so it must not refer to
    // an object the collection could not see.
    mps_addr_t& prev = scratch(0);
    prev = nullptr;
    for (size_t k = 0; k < count; ++k) {
      Object* o = allocObject(kvAp, nextId++, size_t(rng->below(3)));
      if (o == nullptr) return false;
      if (refCount(o) > 0 && rng->below(2) == 0) o->refs[0] = prev;
      prev = o;
    }
    prev = nullptr;
    return true;
  }

  void insert(size_t t) {
    size_t i = rng->below(kCapacity), probes = 0;
    while (model[t][i].used && probes++ < kCapacity)
      i = (i + 1) % kCapacity;
    if (model[t][i].used) return;  // full
    Entry e;
    e.used = true;
    // Each new object goes into a root at once: allocating the next may
    // collect (and move the first).
    for (int side = 0; side < 2; ++side) {
      e.id[side] = nextId++;
      Object* o = allocObject(kvAp, e.id[side], size_t(rng->below(2)));
      ASSERT_NE(o, nullptr);
      (kWeakSide[t][side] ? heldSlot(t, side, i) : scratch(side)) = o;
      e.held[side] = kWeakSide[t][side];
    }
    // A third of the entries are short-lived: their weak sides are let go
    // at once, so they die young (in a nursery collection, with the
    // vectors old or young).
    bool transient = rng->below(3) == 0;
    for (int side = 0; side < 2; ++side) {
      mps_addr_t& from = kWeakSide[t][side] ? heldSlot(t, side, i) : scratch(side);
      vec(t, side)->slots[i] = from;
      if (!kWeakSide[t][side] || transient) {
        from = nullptr;
        e.held[side] = false;
      }
    }
    for (int side = 0; side < 2; ++side)
      if (e.held[side]) e.depth[side] = wrap(t, side, i);
    model[t][i] = e;
  }

  // Some used entry of table t satisfying `want`, or kCapacity.
  template <class P>
  size_t pick(size_t t, P&& want) {
    size_t start = rng->below(kCapacity);
    for (size_t k = 0; k < kCapacity; ++k) {
      size_t i = (start + k) % kCapacity;
      if (model[t][i].used && want(model[t][i])) return i;
    }
    return kCapacity;
  }

  // The mutator lets go of a weakly referenced object: only the table
  // refers to it now.
  void drop(size_t t) {
    size_t i = pick(t, [](const Entry& e) { return e.held[0] || e.held[1]; });
    if (i == kCapacity) return;
    int side = model[t][i].held[0] ? 0 : 1;
    if (model[t][i].held[0] && model[t][i].held[1]) side = int(rng->below(2));
    heldSlot(t, side, i) = nullptr;
    model[t][i].held[side] = false;
    model[t][i].depth[side] = 0;
  }

  // A lookup: an object the table still refers to weakly is still there
  // (it was not reclaimed, or the reference would have been splatted) and
  // may be held strongly again.
  void lookup(size_t t) {
    size_t i = pick(t, [&](const Entry& e) {
      return (kWeakSide[t][0] && !e.held[0]) || (kWeakSide[t][1] && !e.held[1]);
    });
    if (i == kCapacity) return;
    Entry& e = model[t][i];
    int side = kWeakSide[t][0] && !e.held[0] ? 0 : 1;
    mps_addr_t ref = vec(t, side)->slots[i];
    if (ref == nullptr || isTagged(ref)) return;  // dead: checkTables says whether rightly
    ASSERT_EQ(idOf(ref), e.id[side]) << kTableName[t] << " slot " << i;
    heldSlot(t, side, i) = ref;
    e.held[side] = true;
    e.depth[side] = wrap(t, side, i);
  }

  // The mutator deletes an entry.
  void remove(size_t t) {
    size_t i = pick(t, [](const Entry&) { return true; });
    if (i == kCapacity) return;
    for (int side = 0; side < 2; ++side) {
      vec(t, side)->slots[i] = kEmpty;
      if (kWeakSide[t][side]) heldSlot(t, side, i) = nullptr;
    }
    model[t][i] = Entry{};
  }

  // The table is rebuilt: new vectors, the entries copied slot for slot, the
  // old vectors dropped (their scans may still splat and delete until they
  // are reclaimed: they are marked retired so those deletions are not
  // counted).
  void rehash(size_t t) {
    ASSERT_TRUE(makeVectors(t));
    for (int side = 0; side < 2; ++side) {
      for (size_t i = 0; i < kCapacity; ++i)
        newVec(side)->slots[i] = vec(t, side)->slots[i];
      vec(t, side)->header |= kRetired;
    }
    installVectors(t);
    ++rehashes;
  }

  // The tables against the model. A dead entry (one side splatted, the
  // other deleted) is forgotten. After a full collection no entry may
  // remain whose weak side is not held.
  void checkTables(bool afterFullCollection, const char* when) {
    for (size_t t = 0; t < kTables; ++t) {
      for (size_t i = 0; i < kCapacity; ++i) {
        Entry& e = model[t][i];
        mps_addr_t slot[2] = {vec(t, 0)->slots[i], vec(t, 1)->slots[i]};
        const std::string where =
            std::string(kTableName[t]) + " table, slot " + std::to_string(i) + ", after " + when;
        if (!e.used) {
          for (int side = 0; side < 2; ++side)
            ASSERT_TRUE(slot[side] == nullptr || isTagged(slot[side])) << where;
          continue;
        }
        if (slot[0] == nullptr || slot[1] == nullptr) {
          // Dead: the splatted side is weak and was not held; its partner
          // was deleted in the same scan.
          int dead = slot[0] == nullptr ? 0 : 1;
          ASSERT_TRUE(kWeakSide[t][dead]) << where << ": an exact reference became NULL";
          ASSERT_FALSE(e.held[dead]) << where << ": a strongly held object was splatted";
          ASSERT_EQ(slot[1 - dead], kDeleted) << where << ": the dependent slot was not deleted";
          for (int side = 0; side < 2; ++side)
            if (kWeakSide[t][side]) heldSlot(t, side, i) = nullptr;
          e = Entry{};
          ++splatsSeen;
          continue;
        }
        for (int side = 0; side < 2; ++side) {
          ASSERT_FALSE(isTagged(slot[side])) << where << ": deleted while its partner lives";
          ASSERT_EQ(*static_cast<mps_word_t*>(slot[side]) & 0xFF, kObjectTag)
              << where << ": a stale reference (to a moved or freed object)";
          ASSERT_EQ(idOf(slot[side]), e.id[side]) << where;
          if (e.held[side]) {
            ASSERT_EQ(slot[side], heldObject(t, side, i, e.depth[side])) << where;
          }
          if (afterFullCollection && kWeakSide[t][side]) {
            ASSERT_TRUE(e.held[side]) << where << ": an object only the table referred to survived";
          }
        }
      }
    }
  }

  mps_arena_t arena = nullptr;
  PoolOnChain kv;
  mps_ap_t kvAp = nullptr;
  mps_fmt_t vecFmt = nullptr;
  mps_pool_t awl = nullptr;
  mps_ap_t weakAp = nullptr, exactAp = nullptr;
  mps_addr_t held[kTables * 2 * kCapacity];
  mps_addr_t tableRoots[kTables * 2 + 4];
  mps_root_t heldRoot = nullptr, tableRoot = nullptr;
  Entry model[kTables][kCapacity];
  Rng* rng = nullptr;
  mps_word_t nextId = 1;
  size_t splatsSeen = 0, rehashes = 0;
};

TEST_P(WeakTableModel, DeadEntriesVanishWholeAndLiveOnesStayIntact) {
  Rng random(testSeed(20240531 + GetParam().workers * 2 + unsigned(GetParam().kind)));
  rng = &random;
  mps_arena_release(arena);  // allocation may collect
  // Collections by kind, and the splats the model saw after each kind.
  size_t full = 0, nursery = 0, steps = 0, automatic = 0, parallel = 0;
  size_t splatsAfterNursery = 0, splatsAfterAutomatic = 0;
  enum class Op { mutate, nursery, step, full };
  for (int op = 0; op < 10000 && !HasFailure(); ++op) {
    size_t t = size_t(random.below(kTables));
    const size_t splatsBefore = splatsSeen;
    const mps_word_t collectionsBefore = mps_collections(arena);
    unsigned r = unsigned(random.below(1000));
    const char* what;
    Op kind = Op::mutate;
    if (r < 300) {
      what = "an insertion";
      insert(t);
    } else if (r < 460) {
      what = "a drop";
      drop(t);
    } else if (r < 520) {
      what = "a lookup";
      lookup(t);
    } else if (r < 550) {
      what = "a removal";
      remove(t);
    } else if (r < 955) {
      what = "allocating garbage";
      ASSERT_TRUE(allocGarbage(size_t(random.below(200))));
    } else if (r < 980) {
      what = "a nursery collection";
      kind = Op::nursery;
      ASSERT_EQ(collectGenerations(arena, kv.chain, 0), MPS_RES_OK);
      ++nursery;
    } else if (r < 988) {
      // Idle time: a full collection if one fits in it, else whatever
      // generations are due.
      what = "a step";
      kind = Op::step;
      double interval = random.below(2) == 0 ? 0.0 : 0.01;
      if (mps_arena_step(arena, interval, 1.0)) ++steps;
    } else if (r < 993) {
      what = "a full collection";
      kind = Op::full;
      ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
      mps_arena_release(arena);
      ++full;
    } else {
      what = "a rehash";
      rehash(t);
    }
    checkTables(kind == Op::full, what);
    const mps_word_t collections = mps_collections(arena) - collectionsBefore;
    if (collections > 0 && collectorOf(arena)->lastStats().workers > 1) ++parallel;
    if (kind == Op::nursery) splatsAfterNursery += splatsSeen - splatsBefore;
    if (kind == Op::mutate && collections > 0) {
      automatic += collections;
      splatsAfterAutomatic += splatsSeen - splatsBefore;
    }
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  checkTables(true, "the last full collection");
  // Every splat the scans made in a live table is one the model saw, once.
  EXPECT_EQ(vectorStats().deletions.load(), splatsSeen);
  std::printf(
      "[ model    ] %zu splats (%zu after nursery, %zu after automatic collections); "
      "%zu full, %zu nursery, %zu step and %zu automatic collections (%zu marked in "
      "parallel); %zu rehashes\n",
      splatsSeen, splatsAfterNursery, splatsAfterAutomatic, full, nursery, steps, automatic,
      parallel, rehashes);
  // The run did what it is meant to test.
  EXPECT_GT(splatsSeen, 1000u);
  EXPECT_GT(splatsAfterNursery, 50u) << "nursery collections never splatted anything";
  EXPECT_GT(splatsAfterAutomatic, 20u) << "collections by allocation never splatted anything";
  EXPECT_GT(rehashes, 20u);
  if (GetParam().workers > 1) {
    EXPECT_GT(parallel, 0u) << "marking never went parallel";
  }
  mps_arena_park(arena);
}

INSTANTIATE_TEST_SUITE_P(Pools, WeakTableModel,
                         ::testing::Values(ModelParam{PoolKind::ams, 1},
                                           ModelParam{PoolKind::ams, 2},
                                           ModelParam{PoolKind::amc, 1},
                                           ModelParam{PoolKind::amc, 2}),
                         [](const ::testing::TestParamInfo<ModelParam>& info) {
                           return std::string(info.param.kind == PoolKind::ams ? "Ams" : "Amc") +
                                  std::to_string(info.param.workers) + "Workers";
                         });

// 2. Dependent objects under the write barrier ----------------------------------------

// The scan of a weak vector deletes slots of its dependent, which the write
// barrier protects at that moment: the collector must expose the dependent
// for the scan (pools-awl.md), not take a write fault on it (which would
// also mean the barrier let the collector's own write widen the summary
// behind its back). Keys in AMS on chain A; the values vector S, which holds
// only tagged integers (so no trace needs to scan it), in AWL on chain
// B; the keys vector W, linked to S by a tagged word that the collector does
// not see (so that W's summary does not meet S's zones), in AWL either on
// chain A (condemned with the keys: scanned as a weak grey object) or on the
// default chain (not condemned: scanned as part of the remembered set).
// The scan deletes with a tagged integer, or with a reference to a tombstone
// object: then S's summary must cover it from that moment, or S would not
// be scanned when the tombstone's zone is next condemned, and S's references
// would not keep it alive.
struct DependentParam {
  bool weakVectorCondemned;
  unsigned workers;
  bool tombstone;
};
void PrintTo(const DependentParam& p, std::ostream* os) {
  *os << (p.weakVectorCondemned ? "condemned" : "remembered") << " weak vector, " << p.workers
      << " workers, deleting with " << (p.tombstone ? "a tombstone" : "a tagged integer");
}

class DependentUnderBarrier : public ::testing::TestWithParam<DependentParam> {
 protected:
  void TearDown() override {
    gDeletedMarker = kDeleted;
    if (arena == nullptr) return;
    for (mps_root_t r : {keysRoot, vecRoot})
      if (r != nullptr) mps_root_destroy(r);
    for (mps_ap_t ap : {keysAp, weakAp, exactAp})
      if (ap != nullptr) mps_ap_destroy(ap);
    for (mps_pool_t p : {awlW, awlS, keysPool})
      if (p != nullptr) mps_pool_destroy(p);
    for (mps_chain_t c : {chainA, chainB})
      if (c != nullptr) mps_chain_destroy(c);
    for (mps_fmt_t f : {vecFmt, objFmt})
      if (f != nullptr) mps_fmt_destroy(f);
    mps_arena_destroy(arena);
  }

  static constexpr size_t kKeys = 8;
  mps_arena_t arena = nullptr;
  mps_fmt_t vecFmt = nullptr, objFmt = nullptr;
  mps_chain_t chainA = nullptr, chainB = nullptr;
  mps_pool_t keysPool = nullptr, awlS = nullptr, awlW = nullptr;
  mps_ap_t keysAp = nullptr, weakAp = nullptr, exactAp = nullptr;
  mps_addr_t keys[kKeys] = {};
  mps_addr_t vecs[3] = {};  // W, S, the tombstone
  mps_root_t keysRoot = nullptr, vecRoot = nullptr;
};

TEST_P(DependentUnderBarrier, ScanDeletesInAProtectedDependent) {
  vectorStats().reset();
  // 8 MiB: one chunk of 64 stripes of 128 KiB, each its own zone, so no two
  // segments share a zone and a collection of chain B cannot meet W's
  // summary (the keys' zones) by accident.
  ASSERT_EQ(makeParkedArena(&arena, GetParam().workers, size_t(8) << 20), MPS_RES_OK);
  core::Collector* collector = collectorOf(arena);
  if (!collector->hasBarrier()) GTEST_SKIP() << "no write barrier in this environment";
  collector->barrierPolicy = false;  // protect whatever can be protected
  if (GetParam().workers > 1) collector->serialScanBytes = 0;
  ASSERT_EQ(makeVectorFormat(&vecFmt, arena), MPS_RES_OK);
  ASSERT_EQ(makeFormat(&objFmt, arena), MPS_RES_OK);
  mps_gen_param_s gen = {1024, 0.5};
  ASSERT_EQ(mps_chain_create(&chainA, arena, 1, &gen), MPS_RES_OK);
  ASSERT_EQ(mps_chain_create(&chainB, arena, 1, &gen), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, objFmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chainA);
    ASSERT_EQ(mps_pool_create_k(&keysPool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  ASSERT_EQ(mps_ap_create_k(&keysAp, keysPool, mps_args_none), MPS_RES_OK);
  ASSERT_EQ(makeAwlPool(&awlS, arena, vecFmt, chainB), MPS_RES_OK);
  ASSERT_EQ(makeAwlPool(&awlW, arena, vecFmt, GetParam().weakVectorCondemned ? chainA : nullptr),
            MPS_RES_OK);
  ASSERT_EQ(makeAwlAp(&weakAp, awlW, mps_rank_weak()), MPS_RES_OK);
  ASSERT_EQ(makeAwlAp(&exactAp, awlS, mps_rank_exact()), MPS_RES_OK);
  ASSERT_EQ(mps_root_create_table(&keysRoot, arena, mps_rank_exact(), 0, keys, kKeys), MPS_RES_OK);
  ASSERT_EQ(mps_root_create_table(&vecRoot, arena, mps_rank_exact(), 0, vecs, 3), MPS_RES_OK);

  // Allocated in this order, the three land in ascending segments, and the
  // keys (at the start of theirs) are a whole segment away from S's: a
  // segment need not start on a zone boundary, so neighbours share a zone.
  auto* w = allocVector(weakAp, 1, kKeys);
  vecs[0] = w;
  ASSERT_NE(w, nullptr);
  for (size_t i = 0; i < kKeys; ++i) {
    keys[i] = allocObject(keysAp, 100 + i, 0);
    ASSERT_NE(keys[i], nullptr);
    w->slots[i] = keys[i];
  }
  if (GetParam().tombstone) {
    vecs[2] = allocObject(keysAp, 99, 0);
    ASSERT_NE(vecs[2], nullptr);
    gDeletedMarker = vecs[2];
  }
  auto* sv = allocVector(exactAp, 2, kKeys);
  vecs[1] = sv;
  ASSERT_NE(sv, nullptr);
  w->partner = reinterpret_cast<mps_addr_t>(reinterpret_cast<mps_word_t>(sv) | 1);
  for (size_t i = 0; i < kKeys; ++i)
    sv->slots[i] = tagged(200 + i);
  // Detach the allocation points: a segment with one is never protected.
  mps_ap_destroy(weakAp);
  mps_ap_destroy(exactAp);
  weakAp = exactAp = nullptr;
  core::Segment* segW = segmentOf(arena, w);
  core::Segment* segS = segmentOf(arena, sv);
  ASSERT_NE(segW, segS);
  const core::Shift zoneShift = reinterpret_cast<core::Arena*>(arena)->zoneShift();
  core::RefSet keyZones = 0;
  for (mps_addr_t k : keys)
    keyZones |= core::refSetOfAddr(k, zoneShift);
  ASSERT_EQ(keyZones & core::refSetOfRange(segS->base, segS->limit, zoneShift), 0u)
      << "the layout this test needs: no key in a zone of S's segment";

  // A full collection narrows W's summary to the keys' zones (scanning W
  // exposes S, and leaves its summary universal); a collection of chain B
  // then scans S alone and protects it with an empty summary.
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_EQ(collectGenerations(arena, chainB, 0), MPS_RES_OK);
  ASSERT_EQ(segS->protMode, unsigned(core::kShieldWrite)) << "the dependent is not protected";
  ASSERT_EQ(segW->protMode, unsigned(core::kShieldWrite));

  for (size_t i = 0; i < kKeys; i += 2)
    keys[i] = nullptr;
  const size_t faultsBefore = core::Shield::faultCount();
  const size_t dependentCallsBefore = vectorStats().dependentCalls.load();
  // Collects the keys, and scans W (condemned or remembered): W splats the
  // dead keys and deletes their values in S.
  ASSERT_EQ(collectGenerations(arena, chainA, 0), MPS_RES_OK);
  EXPECT_EQ(core::Shield::faultCount(), faultsBefore)
      << "the collector wrote into the protected dependent without exposing it";
  EXPECT_GT(vectorStats().dependentCalls.load(), dependentCallsBefore);
  EXPECT_EQ(vectorStats().deletions.load(), kKeys / 2);
  for (size_t i = 0; i < kKeys; ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(w->slots[i], nullptr) << i;
      EXPECT_EQ(sv->slots[i], gDeletedMarker) << i;
    } else {
      EXPECT_EQ(w->slots[i], keys[i]) << i;
      EXPECT_EQ(static_cast<Object*>(w->slots[i])->id, 100 + i);
      EXPECT_EQ(sv->slots[i], tagged(200 + i)) << i;
    }
  }
  std::multiset<mps_word_t> ids = liveIds(arena, vecFmt);
  for (size_t i = 0; i < kKeys; ++i)
    EXPECT_EQ(ids.count(100 + i), i % 2) << "key " << i;
  if (GetParam().tombstone) {
    // Only S refers to the tombstone now.
    vecs[2] = nullptr;
    ASSERT_EQ(collectGenerations(arena, chainA, 0), MPS_RES_OK);
    EXPECT_EQ(liveIds(arena, vecFmt).count(99), 1u)
        << "S's references to the tombstone, stored by the scan, were not seen";
    EXPECT_EQ(static_cast<Object*>(sv->slots[0])->id, 99u);
  }
  mps_arena_release(arena);
}

INSTANTIATE_TEST_SUITE_P(
    Scans, DependentUnderBarrier,
    ::testing::Values(DependentParam{false, 1, false}, DependentParam{true, 1, false},
                      DependentParam{false, 2, false}, DependentParam{true, 2, false},
                      DependentParam{false, 1, true}, DependentParam{true, 2, true}),
    [](const ::testing::TestParamInfo<DependentParam>& info) {
      return std::string(info.param.weakVectorCondemned ? "Condemned" : "Remembered") +
             std::to_string(info.param.workers) + "Workers" +
             (info.param.tombstone ? "Tombstone" : "");
    });

// The dependent object need not be managed by the MPS (pools-awl.md): one in
// static memory is written by the scan like any other.
TEST(AwlDependent, OutsideTheArena) {
  vectorStats().reset();
  mps_arena_t arena;
  ASSERT_EQ(makeParkedArena(&arena, 1), MPS_RES_OK);
  mps_fmt_t vecFmt, objFmt;
  ASSERT_EQ(makeVectorFormat(&vecFmt, arena), MPS_RES_OK);
  ASSERT_EQ(makeFormat(&objFmt, arena), MPS_RES_OK);
  mps_pool_t awl, ams;
  ASSERT_EQ(makeAwlPool(&awl, arena, vecFmt), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, objFmt);
    ASSERT_EQ(mps_pool_create_k(&ams, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t weakAp, amsAp;
  ASSERT_EQ(makeAwlAp(&weakAp, awl, mps_rank_weak()), MPS_RES_OK);
  ASSERT_EQ(mps_ap_create_k(&amsAp, ams, mps_args_none), MPS_RES_OK);
  // A vector with two slots, laid out like one in the arena.
  alignas(sizeof(mps_word_t)) static mps_word_t outside[5];
  auto* dependent = reinterpret_cast<Vector*>(outside);
  dependent->header = (2 << 8) | kVectorTag;
  dependent->id = reinterpret_cast<mps_word_t>(tagged(9));
  dependent->partner = nullptr;
  dependent->slots[0] = tagged(10);
  dependent->slots[1] = tagged(11);
  static mps_addr_t roots[2];
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots, 2), MPS_RES_OK);
  auto* w = allocVector(weakAp, 1, 2);
  roots[0] = w;
  w->partner = dependent;  // a (weak) reference out of the arena: fix leaves it alone
  w->slots[0] = allocObject(amsAp, 20, 0);  // dies
  roots[1] = w->slots[1] = allocObject(amsAp, 21, 0);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(w->partner, dependent);
  EXPECT_EQ(w->slots[0], nullptr);
  EXPECT_EQ(dependent->slots[0], kDeleted);
  EXPECT_EQ(w->slots[1], roots[1]);
  EXPECT_EQ(dependent->slots[1], tagged(11));
  EXPECT_GT(vectorStats().dependentCalls.load(), 0u);
  mps_root_destroy(root);
  mps_ap_destroy(amsAp);
  mps_ap_destroy(weakAp);
  mps_pool_destroy(ams);
  mps_pool_destroy(awl);
  mps_fmt_destroy(objFmt);
  mps_fmt_destroy(vecFmt);
  mps_arena_destroy(arena);
}

// 3. Weak roots -----------------------------------------------------------------------

// A weak table root (mps_root_create_table with mps_rank_weak()): a
// reference to an object nothing else keeps alive is splatted, one to an
// object kept alive (by a root, or through another object) is kept, and
// updated if AMC moved the object. Full collections, then nursery ones.
class WeakRoots : public ::testing::TestWithParam<PoolKind> {};

TEST_P(WeakRoots, SplatTheDeadKeepTheLiveFollowTheMoved) {
  const bool moving = GetParam() == PoolKind::amc;
  mps_arena_t arena;
  ASSERT_EQ(makeParkedArena(&arena, 2), MPS_RES_OK);
  PoolOnChain kv;
  ASSERT_EQ(makePoolOnChain(&kv, arena, GetParam(), {256, 0.8}, {1024, 0.5}), MPS_RES_OK);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, kv.pool, mps_args_none), MPS_RES_OK);
  constexpr size_t kN = 60;
  static mps_addr_t strong[kN], weak[kN];
  for (size_t i = 0; i < kN; ++i)
    strong[i] = weak[i] = nullptr;
  mps_root_t strongRoot, weakRoot;
  ASSERT_EQ(mps_root_create_table(&strongRoot, arena, mps_rank_exact(), 0, strong, kN), MPS_RES_OK);
  ASSERT_EQ(mps_root_create_table(&weakRoot, arena, mps_rank_weak(), 0, weak, kN), MPS_RES_OK);

  // Object i (id base + i) is: held by the strong root (i % 3 != 0); held
  // through object i + 1 only (i % 6 == 0); or dead (i % 6 == 3).
  auto build = [&](mps_word_t base) {
    for (size_t i = 0; i < kN; ++i) {
      Object* o = allocObject(ap, base + i, 1);
      ASSERT_NE(o, nullptr);
      weak[i] = o;
      if (i % 3 != 0) strong[i] = o;
    }
    for (size_t i = 0; i < kN; i += 6)
      static_cast<Object*>(strong[i + 1])->refs[0] = weak[i];
  };
  auto check = [&](mps_word_t base, const mps_addr_t* before, const char* when) -> size_t {
    size_t moved = 0;
    for (size_t i = 0; i < kN; ++i) {
      if (i % 6 == 3) {
        EXPECT_EQ(weak[i], nullptr) << when << ": a reference to a dead object, " << i;
        continue;
      }
      EXPECT_NE(weak[i], nullptr) << when << ": a live object splatted, " << i;
      if (weak[i] == nullptr) continue;
      EXPECT_EQ(static_cast<Object*>(weak[i])->id, base + i) << when << ", " << i;
      mps_addr_t expected = i % 3 != 0 ? strong[i] : static_cast<Object*>(strong[i + 1])->refs[0];
      EXPECT_EQ(weak[i], expected) << when << ": not updated to where the object went, " << i;
      if (weak[i] != before[i]) ++moved;
    }
    std::map<mps_word_t, Object*> live = objectsById(arena);
    for (size_t i = 0; i < kN; ++i)
      EXPECT_EQ(live.count(base + i), i % 6 == 3 ? 0u : 1u) << when << ", " << i;
    return moved;
  };

  build(1);
  mps_addr_t before[kN];
  std::copy(weak, weak + kN, before);
  // One more object, held only by an ambiguous reference (and weakly): it
  // survives, and AMC pins it where it is.
  mps_addr_t ambig[1] = {allocObject(ap, 500, 0)};
  mps_addr_t pinnedWeak[1] = {ambig[0]};
  mps_root_t ambigRoot, pinnedRoot;
  ASSERT_EQ(mps_root_create_table(&ambigRoot, arena, mps_rank_ambig(), 0, ambig, 1), MPS_RES_OK);
  ASSERT_EQ(mps_root_create_table(&pinnedRoot, arena, mps_rank_weak(), 0, pinnedWeak, 1),
            MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(pinnedWeak[0], ambig[0]) << "a weak reference to a pinned object changed";
  EXPECT_EQ(static_cast<Object*>(pinnedWeak[0])->id, 500u);
  mps_root_destroy(pinnedRoot);
  mps_root_destroy(ambigRoot);
  size_t moved = check(1, before, "a full collection");
  // AMC moves the survivors of a full collection (nothing pins them); AMS
  // never moves anything.
  if (moving) {
    EXPECT_GT(moved, kN / 2);
  } else {
    EXPECT_EQ(moved, 0u);
  }

  // Young objects, old ones unreferenced: a nursery collection splats
  // the young dead and moves (AMC) the young survivors.
  for (size_t i = 0; i < kN; ++i)
    strong[i] = weak[i] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);  // the first generation is gone
  build(1000);
  std::copy(weak, weak + kN, before);
  ASSERT_EQ(collectGenerations(arena, kv.chain, 0), MPS_RES_OK);
  moved = check(1000, before, "a nursery collection");
  if (moving) {
    EXPECT_GT(moved, kN / 2);
  } else {
    EXPECT_EQ(moved, 0u);
  }

  mps_root_destroy(weakRoot);
  mps_root_destroy(strongRoot);
  mps_ap_destroy(ap);
  destroyPoolOnChain(&kv);
  mps_arena_destroy(arena);
}

INSTANTIATE_TEST_SUITE_P(Pools, WeakRoots, ::testing::Values(PoolKind::ams, PoolKind::amc),
                         [](const ::testing::TestParamInfo<PoolKind>& info) {
                           return std::string(info.param == PoolKind::ams ? "Ams" : "Amc");
                         });

// 4-6. AWL basics through the C interface ----------------------------------------------

// An arena with an AWL pool of vectors (both ranks) and an AMS pool of test
// objects for them to refer to.
class AwlBasics : public ::testing::Test {
 protected:
  void SetUp() override {
    vectorStats().reset();
    ASSERT_EQ(makeParkedArena(&arena, 1), MPS_RES_OK);
    ASSERT_EQ(makeVectorFormat(&vecFmt, arena), MPS_RES_OK);
    ASSERT_EQ(makeFormat(&objFmt, arena), MPS_RES_OK);
    ASSERT_EQ(makeAwlPool(&awl, arena, vecFmt), MPS_RES_OK);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, objFmt);
      ASSERT_EQ(mps_pool_create_k(&ams, arena, mps_class_ams(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    ASSERT_EQ(makeAwlAp(&weakAp, awl, mps_rank_weak()), MPS_RES_OK);
    ASSERT_EQ(makeAwlAp(&exactAp, awl, mps_rank_exact()), MPS_RES_OK);
    ASSERT_EQ(mps_ap_create_k(&amsAp, ams, mps_args_none), MPS_RES_OK);
    for (auto& r : roots)
      r = nullptr;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots, kRoots), MPS_RES_OK);
  }
  void TearDown() override {
    if (root != nullptr) mps_root_destroy(root);
    for (mps_ap_t ap : {weakAp, exactAp, amsAp})
      if (ap != nullptr) mps_ap_destroy(ap);
    if (awl != nullptr) mps_pool_destroy(awl);
    if (ams != nullptr) mps_pool_destroy(ams);
    if (vecFmt != nullptr) mps_fmt_destroy(vecFmt);
    if (objFmt != nullptr) mps_fmt_destroy(objFmt);
    if (arena != nullptr) mps_arena_destroy(arena);
  }

  static constexpr size_t kRoots = 8;
  mps_addr_t roots[kRoots];
  mps_arena_t arena = nullptr;
  mps_fmt_t vecFmt = nullptr, objFmt = nullptr;
  mps_pool_t awl = nullptr, ams = nullptr;
  mps_ap_t weakAp = nullptr, exactAp = nullptr, amsAp = nullptr;
  mps_root_t root = nullptr;
};

// 4. An ambiguous reference (here from a stack-like table) to an AWL object
// keeps it alive, weak or exact, with what its exact references reach; the
// weak references of one so kept are still splatted. Ambiguous words that
// are not objects (an interior address, an odd number) are harmless.
TEST_F(AwlBasics, AmbiguousReferencesKeepAwlObjectsAlive) {
  mps_addr_t stack[4] = {};
  mps_root_t ambigRoot;
  ASSERT_EQ(mps_root_create_table(&ambigRoot, arena, mps_rank_ambig(), 0, stack, 4), MPS_RES_OK);
  Vector* a = allocVector(exactAp, 1, 1);
  a->slots[0] = allocObject(amsAp, 11, 0);  // kept through a
  (void)allocVector(exactAp, 2, 1);         // unreferenced
  Vector* c = allocVector(weakAp, 3, 2);
  c->slots[0] = allocObject(amsAp, 12, 0);  // held weakly only: dies
  roots[0] = c->slots[1] = allocObject(amsAp, 13, 0);
  stack[0] = a;
  stack[1] = c;
  stack[2] = reinterpret_cast<char*>(a) + 2 * sizeof(mps_word_t);
  stack[3] = reinterpret_cast<mps_addr_t>(mps_word_t(0x12345));
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::multiset<mps_word_t> ids = liveIds(arena, vecFmt);
  EXPECT_EQ(ids, (std::multiset<mps_word_t>{1, 3, 11, 13}));
  EXPECT_EQ(c->slots[0], nullptr);
  EXPECT_EQ(c->slots[1], roots[0]);
  EXPECT_EQ(static_cast<Object*>(a->slots[0])->id, 11u);
  stack[0] = stack[1] = stack[2] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(liveIds(arena, vecFmt), (std::multiset<mps_word_t>{13}));
  mps_root_destroy(ambigRoot);
}

// 6. Walking and address queries see AWL objects as formatted objects of
// their pool.
TEST_F(AwlBasics, WalksAndAddressQueriesSeeAwlObjects) {
  std::set<mps_addr_t> allocated;
  for (mps_word_t id = 1; id <= 6; ++id) {
    Vector* v = allocVector(id % 2 == 0 ? weakAp : exactAp, id, size_t(id));
    roots[id - 1] = v;
    allocated.insert(v);
  }
  roots[6] = allocObject(amsAp, 100, 0);
  (void)allocVector(exactAp, 7, 3);  // garbage: walked until collected

  struct Seen {
    mps_fmt_t vecFmt;
    mps_pool_t awl;
    std::multiset<mps_word_t> ids;
    size_t wrongHandles = 0;
  } seen{vecFmt, awl, {}, 0};
  auto walk = [&] {
    seen.ids.clear();
    mps_arena_formatted_objects_walk(
        arena,
        [](mps_addr_t addr, mps_fmt_t fmt, mps_pool_t pool, void* p, size_t s) {
          auto* sn = static_cast<Seen*>(p);
          EXPECT_EQ(s, 42u);
          if (pool != sn->awl) return;
          if (fmt != sn->vecFmt) ++sn->wrongHandles;
          sn->ids.insert(vectorId(static_cast<Vector*>(addr)));
        },
        &seen, 42);
  };
  walk();
  EXPECT_EQ(seen.ids, (std::multiset<mps_word_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seen.wrongHandles, 0u);

  // mps_pool_walk gives each object as an area [base, limit) to scan.
  struct Areas {
    std::map<mps_word_t, size_t> sizes;
  } areas;
  ASSERT_EQ(mps_pool_walk(
                awl,
                [](mps_ss_t, void* base, void* limit, void* closure) -> mps_res_t {
                  auto* v = static_cast<Vector*>(base);
                  static_cast<Areas*>(closure)->sizes[vectorId(v)] =
                      size_t(static_cast<char*>(limit) - static_cast<char*>(base));
                  return MPS_RES_OK;
                },
                &areas),
            MPS_RES_OK);
  ASSERT_EQ(areas.sizes.size(), 7u);
  for (auto [id, size] : areas.sizes)
    EXPECT_EQ(size, vectorSize(id == 7 ? 3 : id)) << id;

  for (mps_addr_t v : allocated) {
    mps_pool_t pool = nullptr;
    ASSERT_TRUE(mps_addr_pool(&pool, arena, v));
    EXPECT_EQ(pool, awl);
    // Any address inside the object's segment belongs to the pool.
    ASSERT_TRUE(mps_addr_pool(&pool, arena, static_cast<char*>(v) + sizeof(mps_word_t)));
    EXPECT_EQ(pool, awl);
    mps_fmt_t fmt = nullptr;
    ASSERT_TRUE(mps_addr_fmt(&fmt, arena, v));
    EXPECT_EQ(fmt, vecFmt);
  }
  mps_pool_t pool = nullptr;
  ASSERT_TRUE(mps_addr_pool(&pool, arena, roots[6]));
  EXPECT_EQ(pool, ams);
  mps_fmt_t fmt = nullptr;
  ASSERT_TRUE(mps_addr_fmt(&fmt, arena, roots[6]));
  EXPECT_EQ(fmt, objFmt);

  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  walk();
  EXPECT_EQ(seen.ids, (std::multiset<mps_word_t>{1, 2, 3, 4, 5, 6}));
}

// The deprecated variadic forms: mps_pool_create(&pool, arena,
// mps_class_awl(), format, find_dependent) (no chain) and mps_ap_create(&ap,
// pool, rank). The find-dependent function passed so is the one called, and
// the rank taken is the one passed.
TEST_F(AwlBasics, DeprecatedVariadicCreation) {
  mps_pool_t pool;
  ASSERT_EQ(mps_pool_create(&pool, arena, mps_class_awl(), vecFmt, vectorDependent), MPS_RES_OK);
  mps_ap_t weak, exact;
  ASSERT_EQ(mps_ap_create(&weak, pool, mps_rank_weak()), MPS_RES_OK);
  ASSERT_EQ(mps_ap_create(&exact, pool, mps_rank_exact()), MPS_RES_OK);
  Vector* k = allocVector(weak, 1, 2);
  roots[0] = k;
  Vector* v = allocVector(exact, 2, 2);
  roots[1] = v;
  k->partner = v;
  v->partner = k;
  k->slots[0] = allocObject(amsAp, 10, 0);  // dies
  roots[2] = k->slots[1] = allocObject(amsAp, 11, 0);
  v->slots[0] = allocObject(amsAp, 20, 0);
  v->slots[1] = allocObject(amsAp, 21, 0);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(k->slots[0], nullptr);
  EXPECT_EQ(v->slots[0], kDeleted);
  EXPECT_EQ(k->slots[1], roots[2]);
  EXPECT_EQ(static_cast<Object*>(v->slots[1])->id, 21u);
  EXPECT_GT(vectorStats().dependentCalls.load(), 0u);
  // Deleted in this collection, so still alive; gone at the next.
  EXPECT_EQ(liveIds(arena, vecFmt).count(20), 1u);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(liveIds(arena, vecFmt).count(20), 0u);
  mps_ap_destroy(weak);
  mps_ap_destroy(exact);
  roots[0] = roots[1] = nullptr;
  mps_pool_destroy(pool);
}

// Weak references to AWL objects themselves (vectors referring to vectors),
// from a vector larger than a segment: the same rules.
TEST_F(AwlBasics, WeakReferencesToAwlObjectsFromALargeVector) {
  constexpr size_t kLarge = 40000;  // 320 KB: more than a default segment
  Vector* big = allocVector(weakAp, 1, kLarge);
  ASSERT_NE(big, nullptr);
  roots[0] = big;
  // Every thousandth slot refers to a small vector; those at odd thousands
  // are also held by roots 1..
  size_t held = 1;
  for (size_t i = 0; i < kLarge; i += 1000) {
    Vector* v = allocVector(exactAp, 1000 + i / 1000, 1);
    big->slots[i] = v;
    if ((i / 1000) % 2 == 1 && held < kRoots) roots[held++] = v;
  }
  // The last slot refers to an AMS object nothing else refers to.
  big->slots[kLarge - 1] = allocObject(amsAp, 2, 0);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  size_t kept = 0;
  for (size_t i = 0; i < kLarge; i += 1000) {
    const size_t k = i / 1000;
    const bool isHeld = k % 2 == 1 && (k + 1) / 2 < kRoots;
    if (isHeld) {
      EXPECT_EQ(big->slots[i], roots[(k + 1) / 2]) << k;
      ++kept;
    } else {
      EXPECT_EQ(big->slots[i], nullptr) << k;
    }
  }
  EXPECT_EQ(kept, kRoots - 1);
  EXPECT_EQ(big->slots[kLarge - 1], nullptr);
  std::multiset<mps_word_t> ids = liveIds(arena, vecFmt);
  EXPECT_EQ(ids.size(), kRoots);  // the big vector and the held ones
  EXPECT_EQ(ids.count(1), 1u);
}

// A collection between reserve and commit on the weak allocation point:
// the commit fails (the object was not scanned, so its weak references
// were not decided), and the retried object is scanned like any other.
TEST_F(AwlBasics, CollectionBetweenReserveAndCommitOfAWeakObject) {
  roots[1] = allocObject(amsAp, 11, 0);
  size_t size = vectorSize(2);
  mps_addr_t p;
  ASSERT_EQ(mps_reserve(&p, weakAp, size), MPS_RES_OK);
  auto* v = static_cast<Vector*>(p);
  v->header = (2 << 8) | kVectorTag;
  v->id = reinterpret_cast<mps_word_t>(tagged(1));
  v->partner = nullptr;
  v->slots[0] = roots[1];
  v->slots[1] = allocObject(amsAp, 12, 0);  // dies
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_commit(weakAp, p, size)) << "a commit after a collection succeeded";
  Vector* w = allocVector(weakAp, 1, 2);
  roots[0] = w;
  w->slots[0] = roots[1];
  w->slots[1] = allocObject(amsAp, 13, 0);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(w->slots[0], roots[1]);
  EXPECT_EQ(w->slots[1], nullptr);
}

// 5. Misuse: each is reported by an assertion naming the rule.
class AwlMisuseDeathTest : public AwlBasics {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    AwlBasics::SetUp();
  }
};

TEST_F(AwlMisuseDeathTest, AllocationPointOfAmbiguousOrFinalRank) {
  mps_ap_t ap;
  const std::string rule =
      assertionReportContaining("an AWL allocation point has rank exact or weak");
  EXPECT_DEATH((void)makeAwlAp(&ap, awl, mps_rank_ambig()), rule);
  EXPECT_DEATH((void)makeAwlAp(&ap, awl, 2), rule);  // the tracer's own final rank
  EXPECT_DEATH((void)mps_ap_create(&ap, awl, mps_rank_ambig()), rule);
}

TEST_F(AwlMisuseDeathTest, PoolWithoutFormat) {
  mps_pool_t pool;
  EXPECT_DEATH((void)mps_pool_create_k(&pool, arena, mps_class_awl(), mps_args_none),
               assertionReportContaining("an AWL pool has a format (MPS_KEY_FORMAT)"));
}

TEST_F(AwlMisuseDeathTest, AllocAndFree) {
  mps_addr_t p;
  EXPECT_DEATH((void)mps_alloc(&p, awl, vectorSize(1)),
               assertionReportContaining("pool class supports mps_alloc"));
  Vector* v = allocVector(exactAp, 1, 1);
  EXPECT_DEATH(mps_free(awl, v, vectorSize(1)),
               assertionReportContaining("pool class supports mps_free"));
}

TEST_F(AwlMisuseDeathTest, RootOfFinalRank) {
  static mps_addr_t table[1];
  mps_root_t r;
  EXPECT_DEATH((void)mps_root_create_table(&r, arena, 2, 0, table, 1),
               assertionReportContaining("rank is a rank (ambiguous, exact or weak)"));
}

#if MPS_CHECKED
// Weak references are exact references (pools-awl.md): one to an object's
// interior is the client's bug, reported as for an exact one.
TEST_F(AwlMisuseDeathTest, WeakReferenceToANonObject) {
  Vector* w = allocVector(weakAp, 1, 1);
  roots[0] = w;
  Object* target = allocObject(amsAp, 2, 2);
  roots[1] = target;
  w->slots[0] = &target->refs[0];
  EXPECT_DEATH((void)mps_arena_collect(arena), assertionReportContaining("ss->rank == RankAMBIG"));
  w->slots[0] = nullptr;
}
#endif

}  // namespace
}  // namespace mps::test
