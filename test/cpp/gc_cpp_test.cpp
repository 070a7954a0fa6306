// The C++ interface to the collector (include/mps/mps.hpp): formats built
// from a client type, chains, AMS and LO pools, allocation points and the
// typed allocate() loop (including a commit that fails because a collection
// ran between reserve and commit), roots of every kind, threads and thread
// roots, arena control, walking, and ownership (moves, destruction order).
#include <gtest/gtest.h>

#include <cstdint>
#include <chrono>
#include <algorithm>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "assertions.hpp"
#include "mps/mps.hpp"

namespace {

constexpr std::size_t MiB = std::size_t(1) << 20;

// A node: a header word (number of references << 8 | kTag), an id, then
// the references. Skip needs only the header; a walk reports ids.
constexpr mps_word_t kTag = 0x3C;

struct Node {
  mps_word_t header;
  mps_word_t id;

  std::size_t refCount() const { return std::size_t(header >> 8); }
  Node** refs() { return reinterpret_cast<Node**>(reinterpret_cast<char*>(this) + sizeof(Node)); }
  Node*& ref(std::size_t i) { return refs()[i]; }
  static std::size_t sizeFor(std::size_t refs) { return sizeof(Node) + refs * sizeof(Node*); }
  // Initialises a node in a reserved block: every word is written.
  static void init(Node* n, mps_word_t id, std::size_t refs) {
    n->header = (mps_word_t(refs) << 8) | kTag;
    n->id = id;
    for (std::size_t i = 0; i < refs; ++i)
      n->ref(i) = nullptr;
  }
};

// The format, as a client type for Format::create<NodeFormat>.
struct NodeFormat {
  static constexpr std::size_t alignment = sizeof(mps_word_t);
  static inline int scans = 0;

  static mps::Result scan(mps_ss_t ss, void* base, void* limit) {
    ++scans;
    MPS_SCAN_BEGIN(ss) {
      for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
        auto* n = reinterpret_cast<Node*>(p);
        for (std::size_t i = 0; i < n->refCount(); ++i) {
          mps_res_t res = MPS_FIX12(ss, reinterpret_cast<mps_addr_t*>(&n->ref(i)));
          if (res != MPS_RES_OK) return res;
        }
        p += Node::sizeFor(n->refCount());
      }
    }
    MPS_SCAN_END(ss);
    return mps::Result::ok;
  }
  static void* skip(void* p) {
    return static_cast<char*>(p) + Node::sizeFor(static_cast<Node*>(p)->refCount());
  }
};

// Leaves for LO: the same layout with no references, so skip suffices.
struct LeafFormat {
  static constexpr std::size_t alignment = sizeof(mps_word_t);
  static void* skip(void* p) { return NodeFormat::skip(p); }
};

// Every method, to check which ones optionsOf detects.
struct FullFormat {
  static constexpr std::size_t alignment = 16;
  static constexpr std::size_t headerSize = 8;
  static mps_res_t scan(mps_ss_t, void*, void*) { return MPS_RES_OK; }
  static char* skip(void* p) { return static_cast<char*>(p) + 16; }
  static void fwd(void*, void*) {}
  static void* isfwd(void*) { return nullptr; }
  static void pad(void*, std::size_t) {}
};

struct NotAFormat {
  static int skip(int) { return 0; }
};

static_assert(mps::FormatClient<NodeFormat>);
static_assert(mps::FormatClient<LeafFormat>);
static_assert(!mps::FormatClient<NotAFormat>);
static_assert(!std::is_copy_constructible_v<mps::AllocationPoint>);
static_assert(std::is_nothrow_move_constructible_v<mps::AllocationPoint>);
static_assert(std::is_nothrow_move_assignable_v<mps::ThreadRoot>);
static_assert(!std::is_copy_assignable_v<mps::Root>);
static_assert(std::is_base_of_v<mps::AutomaticPool, mps::AMSPool>);
static_assert(std::is_base_of_v<mps::Pool, mps::LOPool>);
static_assert(std::is_base_of_v<mps::Root, mps::ThreadRoot>);

// The ids of every object in the arena's formatted pools, by the C walk.
std::set<mps_word_t> walkIds(mps::Arena& arena) {
  std::set<mps_word_t> ids;
  mps_arena_formatted_objects_walk(
      arena.handle(),
      [](mps_addr_t object, mps_fmt_t, mps_pool_t, void* p, std::size_t) {
        static_cast<std::set<mps_word_t>*>(p)->insert(static_cast<Node*>(object)->id);
      },
      &ids, 0);
  return ids;
}

class GcCpp : public ::testing::Test {
 protected:
  void SetUp() override {
    NodeFormat::scans = 0;
    mps::Arena::VMOptions options;
    options.reserve = 64 * MiB;
    ASSERT_TRUE(mps::Arena::createVM(arena, options));
    ASSERT_TRUE(mps::Format::create<NodeFormat>(format, arena));
    const mps::Generation gens[] = {{std::size_t(1) << 20, 0.5}};  // 1 GiB: never due
    ASSERT_TRUE(mps::Chain::create(chain, arena, gens));
    ASSERT_TRUE(mps::AMSPool::create(pool, arena, format, {.chain = &chain, .gen = 0}));
    ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  }

  Node* make(mps_word_t id, std::size_t refs) {
    Node* n = nullptr;
    mps::Result r = ap.allocate(n, Node::sizeFor(refs), [&](Node* p) { Node::init(p, id, refs); });
    EXPECT_TRUE(r) << r.name();
    return n;
  }

  // Declared in creation order, so destroyed in reverse: the allocation
  // point, the pool, the chain, the format, the arena.
  mps::Arena arena;
  mps::Format format;
  mps::Chain chain;
  mps::AMSPool pool;
  mps::AllocationPoint ap;
};

// Graphs, roots and survivors ----------------------------------------------------------

TEST_F(GcCpp, ExactTableRootKeepsExactlyTheReachableGraph) {
  // a -> b -> c, a -> d; i held by the table; e -> f and the cycle g <-> h
  // are garbage.
  Node* table[2] = {};
  Node* a = make(1, 2);
  Node* b = make(2, 1);
  Node* c = make(3, 0);
  Node* d = make(4, 0);
  Node* e = make(5, 1);
  Node* f = make(6, 0);
  Node* g = make(7, 1);
  Node* h = make(8, 1);
  Node* i = make(9, 0);
  a->ref(0) = b;
  a->ref(1) = d;
  b->ref(0) = c;
  e->ref(0) = f;
  g->ref(0) = h;
  h->ref(0) = g;
  table[0] = a;
  table[1] = i;
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));

  mps_word_t before = arena.collections();
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(arena.collections(), before + 1);
  EXPECT_GT(NodeFormat::scans, 0);  // the format's scan came through the trampoline
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2, 3, 4, 9}));
  // Non-moving: the survivors are where they were, intact.
  EXPECT_EQ(table[0], a);
  EXPECT_EQ(a->ref(0), b);
  EXPECT_EQ(a->ref(1), d);
  EXPECT_EQ(b->ref(0), c);
  EXPECT_EQ(c->id, 3u);

  table[1] = nullptr;
  b->ref(0) = nullptr;
  std::size_t freeBefore = pool.freeSize();
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2, 4}));
  EXPECT_GT(pool.freeSize(), freeBefore);
  arena.release();
}

// Allocates garbage leaves with ids [first, first + count); no pointer to
// them is kept on purpose.
[[gnu::noinline]] void makeGarbage(mps::AllocationPoint& ap, mps_word_t first, int count) {
  for (int k = 0; k < count; ++k) {
    Node* n = nullptr;
    ASSERT_TRUE(ap.allocate(n, Node::sizeFor(0),
                            [&](Node* p) { Node::init(p, first + mps_word_t(k), 0); }));
  }
}

std::size_t countInRange(const std::set<mps_word_t>& ids, mps_word_t first, mps_word_t limit) {
  std::size_t n = 0;
  for (mps_word_t id : ids)
    n += id >= first && id < limit;
  return n;
}

TEST_F(GcCpp, ThreadRootKeepsWhatOnlyTheStackHolds) {
  mps::Thread thread;
  ASSERT_TRUE(mps::Thread::create(thread, arena));
  mps::ThreadRoot stack;
  ASSERT_TRUE(mps::ThreadRoot::create(stack, arena, thread));  // cold end found
  Node* table[1] = {};
  mps::Root globals;
  ASSERT_TRUE(mps::Root::createTable(globals, arena, mps::Rank::exact, table));

  table[0] = make(1, 1);
  table[0]->ref(0) = make(2, 0);
  Node* local = make(10, 1);  // only this frame holds it
  local->ref(0) = make(11, 0);
  makeGarbage(ap, 100, 200);

  ASSERT_TRUE(arena.collect());
  std::set<mps_word_t> ids = walkIds(arena);
  for (mps_word_t id : {1, 2, 10, 11})
    EXPECT_TRUE(ids.count(id)) << id;
  // Ambiguous scanning may find a few stale words; the garbage goes.
  EXPECT_LE(countInRange(ids, 100, 300), 8u);
  EXPECT_EQ(local->id, 10u);
  EXPECT_EQ(local->ref(0)->id, 11u);
  arena.release();
  // Reverse order: globals, stack (before its thread), thread.
}

// Allocates a node held only by a local of this frame, collects and checks
// it survived. Runs below the frame whose address is the thread root's cold
// end.
[[gnu::noinline]] void holdOnlyOnTheStack(mps::Arena& arena, mps::AllocationPoint& ap) {
  Node* local = nullptr;
  ASSERT_TRUE(ap.allocate(local, Node::sizeFor(0), [](Node* p) { Node::init(p, 77, 0); }));
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena).count(77), 1u);
  EXPECT_EQ(local->id, 77u);
}

TEST_F(GcCpp, ThreadRootWithAGivenColdEnd) {
  mps::Thread thread;
  ASSERT_TRUE(mps::Thread::create(thread, arena));
  mps::ThreadRoot stack;
  ASSERT_TRUE(mps::ThreadRoot::create(stack, arena, thread, __builtin_frame_address(0)));
  holdOnlyOnTheStack(arena, ap);
  arena.release();
}

TEST(GcCppStack, ColdEndIsAboveTheCallersFrames) {
  int local = 0;
  void* cold = mps::stackColdEnd();
#ifdef __linux__
  ASSERT_NE(cold, nullptr);
  EXPECT_GT(cold, static_cast<void*>(&local));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(cold) % sizeof(void*), 0u);
#else
  (void)cold;
#endif
  (void)local;
}

TEST_F(GcCpp, EveryKindOfRoot) {
  Node* viaMasked = make(1, 0);
  Node* maskedOut = make(2, 0);
  Node* viaTagged = make(3, 0);
  Node* viaArea = make(4, 0);
  Node* viaFunction = make(5, 0);
  Node* viaFormatted = make(6, 0);
  make(7, 0);  // garbage

  Node* masked[2] = {};
  masked[0] = viaMasked;
  masked[1] = reinterpret_cast<Node*>(reinterpret_cast<char*>(maskedOut) + 1);  // tagged: not a ref
  mps_word_t tagged[1] = {};
  tagged[0] = reinterpret_cast<mps_word_t>(viaTagged) | 2;
  void* area[3] = {};
  area[1] = viaArea;
  Node* slot = nullptr;
  slot = viaFunction;
  // A formatted object outside the pools, referring to viaFormatted.
  mps_word_t outside[3] = {};
  outside[0] = (mps_word_t(1) << 8) | kTag;
  outside[1] = 99;
  outside[2] = reinterpret_cast<mps_word_t>(viaFormatted);

  mps::Root r1, r2, r3, r4, r5;
  ASSERT_TRUE(mps::Root::createTableMasked(r1, arena, mps::Rank::exact, masked, 2, 7));
  ASSERT_TRUE(mps::Root::createAreaTagged(r2, arena, mps::Rank::exact, tagged, tagged + 1, 7, 2));
  ASSERT_TRUE(mps::Root::createArea(r3, arena, mps::Rank::ambiguous, area, area + 3));
  ASSERT_TRUE(mps::Root::createFunction(
      r4, arena, mps::Rank::exact,
      [](mps_ss_t ss, void* p, std::size_t) -> mps_res_t {
        mps_res_t res = MPS_RES_OK;
        MPS_SCAN_BEGIN(ss) {
          res = MPS_FIX12(ss, static_cast<mps_addr_t*>(p));
        }
        MPS_SCAN_END(ss);
        return res;
      },
      &slot));
  mps_fmt_scan_t scan = mps::Format::optionsOf<NodeFormat>().scan;
  ASSERT_TRUE(mps::Root::createFormatted(r5, arena, mps::Rank::exact, scan, outside, outside + 3));
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 3, 4, 5, 6}));
  EXPECT_EQ(tagged[0], reinterpret_cast<mps_word_t>(viaTagged) | 2);
  arena.release();
}

// The allocation-point protocol ----------------------------------------------------------

TEST_F(GcCpp, CommitFailsAfterACollectionBetweenReserveAndCommit) {
  void* p = nullptr;
  std::size_t size = Node::sizeFor(0);
  ASSERT_TRUE(ap.reserve(p, size));
  Node::init(static_cast<Node*>(p), 1, 0);
  ASSERT_TRUE(arena.collect());
  EXPECT_FALSE(ap.commit(p, size));
  ASSERT_TRUE(ap.reserve(p, size));
  Node::init(static_cast<Node*>(p), 2, 0);
  EXPECT_TRUE(ap.commit(p, size));
  EXPECT_EQ(walkIds(arena), std::set<mps_word_t>{2});
  arena.release();
}

TEST_F(GcCpp, AllocateRetriesACommitThatFailsAfterACollectionInInit) {
  Node* table[2] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  table[0] = make(1, 0);
  Node* keep = table[0];

  int calls = 0;
  std::vector<void*> blocks;
  Node* n = nullptr;
  mps::Result r = ap.allocate(n, Node::sizeFor(1), [&](Node* p, std::size_t size) {
    ++calls;
    blocks.push_back(p);
    EXPECT_EQ(size, Node::sizeFor(1));
    Node::init(p, 42, 1);
    p->ref(0) = keep;
    // Between reserve and commit the client holds no arena lock: a
    // collection here makes this commit fail, and allocate must retry.
    if (calls == 1) {
      EXPECT_TRUE(arena.collect());
    }
  });
  ASSERT_TRUE(r) << r.name();
  EXPECT_EQ(calls, 2);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(static_cast<void*>(n), blocks.back());
  EXPECT_EQ(n->id, 42u);
  EXPECT_EQ(n->ref(0), keep);

  // The object is a real one: reachable, scanned, kept.
  table[1] = n;
  table[0] = nullptr;
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 42}));
  EXPECT_EQ(n->ref(0)->id, 1u);
  arena.release();
  // No collection: one init call.
  calls = 0;
  Node* m = nullptr;
  ASSERT_TRUE(ap.allocate(m, Node::sizeFor(0), [&](Node* p) { ++calls, Node::init(p, 43, 0); }));
  EXPECT_EQ(calls, 1);
}

TEST_F(GcCpp, AllocateReportsAFailedReserveAndLeavesOutAlone) {
  Node* sentinel = reinterpret_cast<Node*>(std::uintptr_t(0x1000));
  Node* n = sentinel;
  int calls = 0;
  // More than the commit limit lets the arena hold, even after the full
  // collection the fill tries.
  ASSERT_TRUE(arena.setCommitLimit(arena.committed() + MiB));
  mps::Result r = ap.allocate(n, 8 * MiB, [&](Node* p) { ++calls, Node::init(p, 1, 0); });
  EXPECT_EQ(r, mps::Result::commitLimit) << r.name();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(n, sentinel);
}

// Pools, formats, chains -----------------------------------------------------------------

TEST(GcCppFormat, OptionsOfDetectsTheClientsMethods) {
  mps::FormatOptions o = mps::Format::optionsOf<FullFormat>();
  EXPECT_EQ(o.alignment, 16u);
  EXPECT_EQ(o.headerSize, 8u);
  EXPECT_NE(o.scan, nullptr);
  EXPECT_NE(o.skip, nullptr);
  EXPECT_NE(o.fwd, nullptr);
  EXPECT_NE(o.isfwd, nullptr);
  EXPECT_NE(o.pad, nullptr);
  char block[32];
  EXPECT_EQ(o.skip(block), block + 16);
  EXPECT_EQ(o.isfwd(block), nullptr);

  mps::FormatOptions leaf = mps::Format::optionsOf<LeafFormat>();
  EXPECT_EQ(leaf.alignment, sizeof(mps_word_t));
  EXPECT_EQ(leaf.headerSize, 0u);
  EXPECT_EQ(leaf.scan, nullptr);
  EXPECT_NE(leaf.skip, nullptr);
  EXPECT_EQ(leaf.fwd, nullptr);
  EXPECT_EQ(leaf.isfwd, nullptr);
  EXPECT_EQ(leaf.pad, nullptr);
}

TEST_F(GcCpp, SNCPoolFramesFreeWhatWasAllocatedSinceThePush) {
  mps::SNCPool snc;
  ASSERT_TRUE(mps::SNCPool::create(snc, arena, format));
  mps::AllocationPoint stack;
  ASSERT_TRUE(mps::AllocationPoint::create(stack, snc, mps::Rank::exact));
  mps_frame_t frame = nullptr;
  ASSERT_TRUE(stack.pushFrame(frame));
  Node* holder = nullptr;
  ASSERT_TRUE(stack.allocate(holder, Node::sizeFor(1), [](Node* p) { Node::init(p, 1, 1); }));
  holder->ref(0) = make(2, 0);  // an AMS object kept alive by the SNC object only
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2}));
  EXPECT_EQ(snc.totalSize() - snc.freeSize(), Node::sizeFor(1));
  ASSERT_TRUE(stack.popFrame(frame));
  EXPECT_EQ(snc.totalSize() - snc.freeSize(), 0u);
  ASSERT_TRUE(arena.collect());
  EXPECT_TRUE(walkIds(arena).empty());
}

TEST(GcCppPools, LeafObjectsInALOPoolWithTheOptionsStruct) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::Format format;
  mps::FormatOptions options;
  options.alignment = sizeof(mps_word_t);
  options.skip = mps::Format::optionsOf<LeafFormat>().skip;
  ASSERT_TRUE(mps::Format::create(format, arena, options));
  const mps::Generation gens[] = {{4096, 0.9}, {65536, 0.5}};
  mps::Chain chain;
  ASSERT_TRUE(mps::Chain::create(chain, arena, gens));
  mps::LOPool pool;
  ASSERT_TRUE(mps::LOPool::create(pool, arena, format, {.chain = &chain, .gen = 1}));
  mps::AllocationPoint ap;
  ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  Node* table[1] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  for (mps_word_t id = 1; id <= 100; ++id) {
    Node* n = nullptr;
    ASSERT_TRUE(ap.allocate(n, Node::sizeFor(0), [&](Node* p) { Node::init(p, id, 0); }));
    if (id == 50) table[0] = n;
  }
  ASSERT_TRUE(arena.collect());
  // The C++ walk, with the format and pool it reports.
  std::vector<mps_word_t> ids;
  arena.walkFormattedObjects([&](void* object, mps_fmt_t f, mps_pool_t p) {
    EXPECT_EQ(f, format.handle());
    EXPECT_EQ(p, pool.handle());
    ids.push_back(static_cast<Node*>(object)->id);
  });
  EXPECT_EQ(ids, std::vector<mps_word_t>{50});
  arena.release();
}

// A moving format for AMC: NodeFormat's nodes, plus forwarding markers and
// padding objects, told apart by the tag in the header's low byte.
struct MovingNodeFormat {
  static constexpr std::size_t alignment = sizeof(mps_word_t);
  static constexpr mps_word_t kFwd = 0xF0, kPad = 0xAD;
  static mps_word_t tag(void* p) { return static_cast<Node*>(p)->header & 0xFF; }
  static std::size_t words(void* p) { return std::size_t(static_cast<Node*>(p)->header >> 8); }
  static mps::Result scan(mps_ss_t ss, void* base, void* limit) {
    MPS_SCAN_BEGIN(ss) {
      for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
        if (tag(p) != kTag) {
          p = static_cast<char*>(skip(p));
          continue;
        }
        auto* n = reinterpret_cast<Node*>(p);
        for (std::size_t i = 0; i < n->refCount(); ++i) {
          mps_res_t res = MPS_FIX12(ss, reinterpret_cast<mps_addr_t*>(&n->ref(i)));
          if (res != MPS_RES_OK) return res;
        }
        p += Node::sizeFor(n->refCount());
      }
    }
    MPS_SCAN_END(ss);
    return mps::Result::ok;
  }
  static void* skip(void* p) {
    if (tag(p) == kFwd || tag(p) == kPad)
      return static_cast<char*>(p) + words(p) * sizeof(mps_word_t);
    return NodeFormat::skip(p);
  }
  static void fwd(void* old, void* to) {
    auto* n = static_cast<Node*>(old);
    std::size_t size = Node::sizeFor(n->refCount());
    n->header = (mps_word_t(size / sizeof(mps_word_t)) << 8) | kFwd;
    n->id = reinterpret_cast<mps_word_t>(to);
  }
  static void* isfwd(void* p) {
    return tag(p) == kFwd ? reinterpret_cast<void*>(static_cast<Node*>(p)->id) : nullptr;
  }
  static void pad(void* p, std::size_t size) {
    *static_cast<mps_word_t*>(p) = (mps_word_t(size / sizeof(mps_word_t)) << 8) | kPad;
  }
};

TEST(GcCppPools, AMCPoolMovesObjectsAndLocationDependencyNotices) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::Format format;
  ASSERT_TRUE(mps::Format::create<MovingNodeFormat>(format, arena));
  const mps::Generation gens[] = {{1024, 0.9}, {4096, 0.5}};
  mps::Chain chain;
  ASSERT_TRUE(mps::Chain::create(chain, arena, gens));
  mps::AMCPool pool;
  ASSERT_TRUE(mps::AMCPool::create(pool, arena, format, {.chain = &chain}));
  mps::AllocationPoint ap;
  ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  Node* table[1] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  Node* n = nullptr;
  ASSERT_TRUE(ap.allocate(n, Node::sizeFor(1), [](Node* p) { Node::init(p, 7, 1); }));
  Node* child = nullptr;
  ASSERT_TRUE(ap.allocate(child, Node::sizeFor(0), [](Node* p) { Node::init(p, 8, 0); }));
  n->ref(0) = child;
  table[0] = n;
  mps::LocationDependency ld;
  ld.reset(arena);
  ld.add(arena, n);
  EXPECT_FALSE(ld.isStaleAny(arena));
  ASSERT_TRUE(arena.collect());
  EXPECT_NE(table[0], n);
  EXPECT_EQ(table[0]->id, 7u);
  EXPECT_EQ(table[0]->ref(0)->id, 8u);
  EXPECT_TRUE(ld.isStale(arena, n));
  table[0] = nullptr;
  arena.release();
}

TEST_F(GcCpp, AmbiguousAllocationPointAndPoolWalk) {
  mps::AllocationPoint ambig;
  ASSERT_TRUE(mps::AllocationPoint::create(ambig, pool, mps::Rank::ambiguous));
  Node* table[1] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  Node* holder = nullptr;
  ASSERT_TRUE(ambig.allocate(holder, Node::sizeFor(2), [](Node* p) { Node::init(p, 1, 2); }));
  Node* target = make(2, 0);
  // An interior pointer, ambiguously, keeps nothing; the base keeps it.
  holder->ref(0) = reinterpret_cast<Node*>(reinterpret_cast<char*>(make(3, 0)) + 8);
  holder->ref(1) = target;
  table[0] = holder;
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{1, 2}));

  // Pool walk (the arena is parked after collect()).
  std::size_t count = 0;
  ASSERT_TRUE(pool.walk(
      [](mps_ss_t, void* base, void* limit, void* closure) -> mps_res_t {
        EXPECT_EQ(NodeFormat::skip(base), limit);
        ++*static_cast<std::size_t*>(closure);
        return MPS_RES_OK;
      },
      &count));
  EXPECT_EQ(count, 2u);
  arena.release();
}

// Arena control -------------------------------------------------------------------------

// Roots walk, transforms, postmortem's neighbours and allocation patterns
// through the C++ interface.
TEST_F(GcCpp, WalkRootsAndTransform) {
  Node* table[3] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  Node* oldNode = make(1, 0);
  Node* newNode = make(2, 0);
  Node* holder = make(3, 1);
  holder->ref(0) = oldNode;
  table[0] = oldNode;
  table[1] = holder;
  table[2] = newNode;
  arena.park();
  std::set<void**> locations;
  arena.walkRoots([&](void** location, mps_root_t r) {
    EXPECT_EQ(r, root.handle());
    locations.insert(location);
  });
  EXPECT_EQ(locations, (std::set<void**>{reinterpret_cast<void**>(&table[0]),
                                         reinterpret_cast<void**>(&table[1]),
                                         reinterpret_cast<void**>(&table[2])}));
  void* base = nullptr;
  EXPECT_EQ(arena.objectContaining(oldNode, base), mps::Result::unimpl);  // AMS cannot tell

  mps::Transform transform;
  ASSERT_TRUE(mps::Transform::create(transform, arena));
  ASSERT_TRUE(transform.add(oldNode, newNode));
  bool applied = false;
  ASSERT_TRUE(transform.apply(applied));
  EXPECT_TRUE(applied);
  EXPECT_EQ(table[0], newNode);
  EXPECT_EQ(holder->ref(0), newNode);
  EXPECT_EQ(walkIds(arena), (std::set<mps_word_t>{2, 3}));
}

TEST_F(GcCpp, PauseTimeAndRamps) {
  EXPECT_EQ(arena.pauseTime(), 0.1);
  arena.setPauseTime(0.5);
  EXPECT_EQ(arena.pauseTime(), 0.5);
  EXPECT_EQ(ap.endRamp(), mps::Result::fail);
  ASSERT_TRUE(ap.beginRamp());
  ASSERT_TRUE(ap.beginRamp(true));
  EXPECT_TRUE(ap.endRamp(true));
  EXPECT_TRUE(ap.endRamp());
  ASSERT_TRUE(ap.beginRamp());
  EXPECT_TRUE(ap.resetPatterns());
  EXPECT_EQ(ap.endRamp(), mps::Result::fail);
}

TEST_F(GcCpp, ParkClampReleaseStepAndWorkers) {
  Node* table[8] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  for (mps_word_t i = 0; i < 8; ++i)
    table[i] = make(i, 0);
  for (mps_word_t i = 8; i < 1000; ++i)
    make(i, 0);
  EXPECT_FALSE(arena.busy());

  arena.setGcWorkers(1);
  ASSERT_TRUE(arena.collect());
  std::set<mps_word_t> one = walkIds(arena);
  EXPECT_EQ(one.size(), 8u);
  arena.setGcWorkers(4);
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), one);

  // Clamped or parked, idle time does nothing.
  make(1000, 0);
  mps_word_t n = arena.collections();
  arena.clamp();
  EXPECT_FALSE(arena.step(10.0));
  arena.park();
  EXPECT_FALSE(arena.step(10.0));
  EXPECT_EQ(arena.collections(), n);
  // Released, with something allocated, it collects.
  arena.release();
  EXPECT_TRUE(arena.step(10.0, 1.0));
  EXPECT_EQ(arena.collections(), n + 1);
  EXPECT_EQ(walkIds(arena), one);

  ASSERT_TRUE(arena.startCollect());
  EXPECT_EQ(arena.collections(), n + 2);
}

// Pause reporting (design/tracer.md .pause.timing): each GC message's
// pauses, the arena's totals and the collections agree. Stop-the-world:
// one pause per collection, its whole duration.
TEST_F(GcCpp, PausesOfMessagesAndArenaAgree) {
  Node* table[8] = {};
  mps::Root root;
  ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
  arena.enableMessages(mps::MessageType::gc);
  EXPECT_EQ(arena.pauseCount(), 0u);
  EXPECT_EQ(arena.pauseTotal(), 0.0);
  EXPECT_EQ(arena.pauseMax(), 0.0);
  mps_word_t before = arena.collections();
  auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 5; ++round) {
    for (mps_word_t i = 0; i < 2000; ++i) {
      Node* n = make(i, 0);
      if (i % 256 == 0) table[(i / 256) % 8] = n;
    }
    ASSERT_TRUE(arena.collect());
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  mps_word_t collections = arena.collections() - before;
  ASSERT_GE(collections, 5u);
  EXPECT_EQ(arena.pauseCount(), collections);
  EXPECT_GT(arena.pauseTotal(), 0.0);
  EXPECT_LE(arena.pauseMax(), arena.pauseTotal());
  EXPECT_LE(arena.pauseTotal(), wall);

  std::size_t messages = 0, count = 0;
  double total = 0, max = 0;
  for (mps::GCMessage m; arena.getMessage(m);) {
    ++messages;
    EXPECT_EQ(m.pauseCount(), 1u);
    EXPECT_GT(m.pauseTotal(), 0.0);
    EXPECT_EQ(m.pauseMax(), m.pauseTotal());
    count += m.pauseCount();
    total += m.pauseTotal();
    max = std::max(max, m.pauseMax());
  }
  EXPECT_EQ(messages, collections);
  EXPECT_EQ(count, arena.pauseCount());
  EXPECT_NEAR(total, arena.pauseTotal(), 1e-9);
  EXPECT_EQ(max, arena.pauseMax());
}

TEST(GcCppArena, WorkersAtCreation) {
  mps::Arena arena;
  mps::Arena::VMOptions options;
  options.gcWorkers = 2;
  ASSERT_TRUE(mps::Arena::createVM(arena, options));
  EXPECT_EQ(arena.collections(), 0u);
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(arena.collections(), 1u);
}

// Ownership ------------------------------------------------------------------------------

TEST(GcCppOwnership, EverythingDestroyedInReverseOrderOfCreation) {
  for (int round = 0; round < 2; ++round) {
    Node* table[1] = {};  // declared before the root that scans it
    mps::Arena arena;
    ASSERT_TRUE(mps::Arena::createVM(arena));
    mps::Format format;
    ASSERT_TRUE(mps::Format::create<NodeFormat>(format, arena));
    const mps::Generation gens[] = {{1024, 0.8}};
    mps::Chain chain;
    ASSERT_TRUE(mps::Chain::create(chain, arena, gens));
    mps::AMSPool pool;
    ASSERT_TRUE(mps::AMSPool::create(pool, arena, format, {.chain = &chain}));
    mps::AllocationPoint ap;
    ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
    mps::Thread thread;
    ASSERT_TRUE(mps::Thread::create(thread, arena));
    mps::ThreadRoot stack;
    ASSERT_TRUE(mps::ThreadRoot::create(stack, arena, thread));
    mps::Root root;
    ASSERT_TRUE(mps::Root::createTable(root, arena, mps::Rank::exact, table));
    Node* n = nullptr;
    ASSERT_TRUE(ap.allocate(n, Node::sizeFor(0), [](Node* p) { Node::init(p, 1, 0); }));
    table[0] = n;
    ASSERT_TRUE(arena.collect());
    if (round == 0) {
      // By hand, in reverse order.
      root.reset();
      stack.reset();
      thread.reset();
      ap.reset();
      pool.reset();
      chain.reset();
      format.reset();
      arena.reset();
      EXPECT_FALSE(arena);
    }
    // Otherwise by the destructors, in reverse order of declaration.
  }
}

TEST_F(GcCpp, MovesTransferOwnership) {
  // An allocation point moves: the new owner allocates, the old is empty.
  mps_ap_t handle = ap.handle();
  mps::AllocationPoint moved(std::move(ap));
  EXPECT_FALSE(ap);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(moved.handle(), handle);
  Node* n = nullptr;
  ASSERT_TRUE(moved.allocate(n, Node::sizeFor(0), [](Node* p) { Node::init(p, 1, 0); }));

  // Assigning over a root destroys the one it held: what only that root
  // reached dies.
  Node* first[1] = {};
  Node* second[1] = {};
  first[0] = n;
  ASSERT_TRUE(moved.allocate(second[0], Node::sizeFor(0), [](Node* p) { Node::init(p, 2, 0); }));
  mps::Root a, b;
  ASSERT_TRUE(mps::Root::createTable(a, arena, mps::Rank::exact, first));
  ASSERT_TRUE(mps::Root::createTable(b, arena, mps::Rank::exact, second));
  mps_root_t bHandle = b.handle();
  a = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.handle(), bHandle);
  ASSERT_TRUE(arena.collect());
  EXPECT_EQ(walkIds(arena), std::set<mps_word_t>{2});

  // Threads and thread roots move; destroyed in the right order afterwards.
  mps::Thread thread;
  ASSERT_TRUE(mps::Thread::create(thread, arena));
  mps::ThreadRoot stack;
  ASSERT_TRUE(mps::ThreadRoot::create(stack, arena, thread));
  mps::Thread thread2(std::move(thread));
  mps::ThreadRoot stack2(std::move(stack));
  EXPECT_FALSE(thread);  // NOLINT(bugprone-use-after-move)
  EXPECT_FALSE(stack);   // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(thread2);
  EXPECT_TRUE(stack2);
  // Pools, formats and chains too.
  mps::AMSPool pool2(std::move(pool));
  EXPECT_FALSE(pool);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(pool2);
  arena.release();
  // Moved-into objects are declared after their dependencies except pool2,
  // which must die after `moved`: reset the allocation point first.
  moved.reset();
}

TEST(GcCppOwnershipDeathTest, WrongOrderIsCaught) {
  mps::Arena arena;
  ASSERT_TRUE(mps::Arena::createVM(arena));
  mps::Format format;
  ASSERT_TRUE(mps::Format::create<NodeFormat>(format, arena));
  mps::AMSPool pool;
  ASSERT_TRUE(mps::AMSPool::create(pool, arena, format));
  EXPECT_DEATH(format.reset(),
               mps::test::assertionReportContaining("format is not used by any pool"));
  mps::Thread thread;
  ASSERT_TRUE(mps::Thread::create(thread, arena));
  mps::ThreadRoot stack;
  ASSERT_TRUE(mps::ThreadRoot::create(stack, arena, thread));
  EXPECT_DEATH(thread.reset(), mps::test::assertionReportContaining("thread has no thread roots"));
  mps::AllocationPoint ap;
  ASSERT_TRUE(mps::AllocationPoint::create(ap, pool));
  void* p = nullptr;
  ASSERT_TRUE(ap.reserve(p, Node::sizeFor(0)));
  Node::init(static_cast<Node*>(p), 1, 0);
  EXPECT_DEATH(ap.reset(), mps::test::assertionReportContaining("has no reserved block"));
  ASSERT_TRUE(ap.commit(p, Node::sizeFor(0)));
}

}  // namespace
