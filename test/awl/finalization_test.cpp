// Finalization (finalization.md, messages.md) with every automatic pool class
// (AMC, AMCZ, AMS, LO, AWL) and with one and two marking workers:
//
//   * a seeded random model: objects registered 0, 1 or 2 times, some
//     definalized, some resurrected (and re-registered) by the client after
//     their message, dropped and collected by full and nursery collections;
//     each object gets exactly as many messages as it has registrations left,
//     none while it is strongly reachable, and its contents (and those of what
//     it refers to) are intact whenever the client looks;
//   * weak references (a weak table root and an AWL weak allocation point) to
//     a registered object are kept until its message has been discarded;
//   * what only a finalizable object refers to survives with it;
//   * the object lives while its message is queued or held, at the address
//     mps_message_finalization_ref reports after moving collections;
//   * a disabled message type consumes registrations and queues nothing;
//   * pools and arenas torn down with undelivered messages and registrations
//     (the counts are read through the core);
//   * mutator threads whose stacks are ambiguous roots finalize concurrently;
//   * client mistakes are reported by the assertions finalization.md names.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "arena/arena.hpp"
#include "assertions.hpp"
#include "messages/message.hpp"
#include "mps.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpscawl.h"
#include "mpsclo.h"
#include "mpscmvff.h"
#include "seed.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"

namespace mps::test {
namespace {

// The format -------------------------------------------------------------------
//
// Every object is
//   word 0: (number of references << 8) | kNodeTag
//   word 1: its id
//   word 2: a checksum of its id and reference count (never a reference), so
//           that a reclaimed, overwritten or wrongly copied object is noticed
//   words 3..: references
// plus forwarding markers and padding objects for AMC, which carry their size
// in words in word 0 so that skip handles them.

constexpr mps_word_t kNodeTag = 0x3C;
constexpr mps_word_t kFwdTag = 0xF1;
constexpr mps_word_t kPadTag = 0xAD;

struct Node {
  mps_word_t header;
  mps_word_t id;
  mps_word_t check;
  mps_addr_t refs[1];  // really refsOf(this)
};

mps_word_t tagOf(const void* p) {
  return *static_cast<const mps_word_t*>(p) & 0xFF;
}
size_t refsOf(const Node* n) {
  return size_t(n->header >> 8);
}
constexpr size_t nodeSize(size_t refs) {
  return (3 + refs) * sizeof(mps_word_t);
}
mps_word_t checksum(mps_word_t id, size_t refs) {
  std::uint64_t z = std::uint64_t(id) * 0x9E3779B97F4A7C15ull + refs;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  return mps_word_t(z ^ (z >> 31));
}

mps_addr_t nodeSkip(mps_addr_t p) {
  auto* w = static_cast<mps_word_t*>(p);
  size_t words =
      tagOf(p) == kNodeTag ? nodeSize(size_t(w[0] >> 8)) / sizeof(mps_word_t) : size_t(w[0] >> 8);
  return w + words;
}

mps_res_t nodeScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
      if (tagOf(p) != kNodeTag) {
        p = static_cast<char*>(nodeSkip(p));
        continue;
      }
      auto* n = reinterpret_cast<Node*>(p);
      size_t count = refsOf(n);
      for (size_t i = 0; i < count; ++i) {
        mps_res_t res = MPS_FIX12(ss, &n->refs[i]);
        if (res != MPS_RES_OK) return res;
      }
      p += nodeSize(count);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

void nodeFwd(mps_addr_t old, mps_addr_t to) {
  auto* w = static_cast<mps_word_t*>(old);
  size_t words = nodeSize(refsOf(static_cast<Node*>(old))) / sizeof(mps_word_t);
  w[0] = (mps_word_t(words) << 8) | kFwdTag;
  w[1] = reinterpret_cast<mps_word_t>(to);
}

mps_addr_t nodeIsfwd(mps_addr_t p) {
  if (tagOf(p) != kFwdTag) return nullptr;
  return reinterpret_cast<mps_addr_t>(static_cast<mps_word_t*>(p)[1]);
}

void nodePad(mps_addr_t p, size_t size) {
  *static_cast<mps_word_t*>(p) = (mps_word_t(size / sizeof(mps_word_t)) << 8) | kPadTag;
}

mps_res_t makeNodeFormat(mps_fmt_t* fmt, mps_arena_t arena, bool leaf) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    if (!leaf) MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, nodeScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, nodeSkip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, nodeFwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, nodeIsfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, nodePad);
    res = mps_fmt_create_k(fmt, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

// An object with `refs` references, set from `targets` (null if none) before
// it is committed.
Node* allocNode(mps_ap_t ap, mps_word_t id, size_t refs, const mps_addr_t* targets = nullptr) {
  size_t size = nodeSize(refs);
  mps_addr_t p;
  do {
    if (mps_reserve(&p, ap, size) != MPS_RES_OK) return nullptr;
    auto* n = static_cast<Node*>(p);
    n->header = (mps_word_t(refs) << 8) | kNodeTag;
    n->id = id;
    n->check = checksum(id, refs);
    for (size_t i = 0; i < refs; ++i)
      n->refs[i] = targets != nullptr ? targets[i] : nullptr;
  } while (!mps_commit(ap, p, size));
  return static_cast<Node*>(p);
}

// Whether `p` is the intact object `id`.
bool isIntact(const void* p, mps_word_t id) {
  if (p == nullptr || tagOf(p) != kNodeTag) return false;
  const auto* n = static_cast<const Node*>(p);
  return n->id == id && n->check == checksum(id, refsOf(n));
}

::testing::AssertionResult intact(const void* p, mps_word_t id) {
  if (p == nullptr) return ::testing::AssertionFailure() << "object " << id << " is null";
  if (tagOf(p) != kNodeTag)
    return ::testing::AssertionFailure() << "object " << id << " at " << p << " has tag "
                                         << tagOf(p) << " (forwarded, padded or reclaimed)";
  const auto* n = static_cast<const Node*>(p);
  if (n->id != id)
    return ::testing::AssertionFailure()
           << "expected object " << id << " at " << p << ", found object " << n->id;
  if (n->check != checksum(id, refsOf(n)))
    return ::testing::AssertionFailure() << "object " << id << " at " << p << " is damaged";
  return ::testing::AssertionSuccess();
}

// Pool classes -------------------------------------------------------------------

enum class Kind { amc, amcz, ams, lo, awl };
constexpr Kind kAllKinds[] = {Kind::amc, Kind::amcz, Kind::ams, Kind::lo, Kind::awl};
constexpr size_t kKinds = 5;

const char* kindName(Kind k) {
  switch (k) {
    case Kind::amc:
      return "AMC";
    case Kind::amcz:
      return "AMCZ";
    case Kind::ams:
      return "AMS";
    case Kind::lo:
      return "LO";
    case Kind::awl:
      return "AWL";
  }
  return "?";
}
void PrintTo(Kind k, std::ostream* os) {
  *os << kindName(k);
}
bool isLeaf(Kind k) {
  return k == Kind::amcz || k == Kind::lo;
}
bool isMoving(Kind k) {
  return k == Kind::amc || k == Kind::amcz;
}

using KindAndWorkers = std::tuple<Kind, unsigned>;
std::string paramName(const ::testing::TestParamInfo<KindAndWorkers>& info) {
  return std::string(kindName(std::get<0>(info.param))) + "_" +
         std::to_string(std::get<1>(info.param)) + "Workers";
}

// The core ------------------------------------------------------------------------

core::Arena* coreOf(mps_arena_t arena) {
  return reinterpret_cast<core::Arena*>(arena);
}

// What the collector keeps for finalization, read under the arena lock.
struct FinalizationCounts {
  size_t registrations = 0;  // Collector::registrationCount()
  size_t queued = 0;         // finalization messages queued
  size_t held = 0;           // messages of any type got and not discarded
  size_t allocated = 0;      // finalization records (registrations and messages) not freed
};
FinalizationCounts countsOf(mps_arena_t arena) {
  core::Arena* a = coreOf(arena);
  a->lock().claim();
  core::Collector* collector = core::Collector::of(a);
  core::MessageQueue& queue = collector->messages();
  FinalizationCounts c;
  c.registrations = collector->registrationCount();
  c.queued = queue.queuedCount(core::MessageType::finalization);
  c.held = queue.heldCount();
  c.allocated = queue.finalizationCount();
  a->lock().release();
  return c;
}

// A collection of generation 0 of `chain` only (the C interface offers only
// full collections).
mps_res_t collectNursery(mps_arena_t arena, mps_chain_t chain) {
  core::Arena* a = coreOf(arena);
  a->lock().claim();
  core::Res res = core::Collector::of(a)->collectChain(reinterpret_cast<core::Chain*>(chain), 0,
                                                       "finalization test: nursery");
  a->lock().release();
  return mps_res_t(res);
}

// Messages ------------------------------------------------------------------------

std::vector<mps_message_t> getAllFinalization(mps_arena_t arena) {
  std::vector<mps_message_t> out;
  mps_message_t m;
  while (mps_message_get(&m, arena, mps_message_type_finalization()))
    out.push_back(m);
  return out;
}

mps_addr_t refOf(mps_arena_t arena, mps_message_t m) {
  mps_addr_t ref = nullptr;
  mps_message_finalization_ref(&ref, arena, m);
  return ref;
}

// The ids of every formatted object the arena holds (the arena is parked).
std::multiset<mps_word_t> liveIds(mps_arena_t arena) {
  std::multiset<mps_word_t> ids;
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t addr, mps_fmt_t, mps_pool_t, void* p, size_t) {
        if (tagOf(addr) == kNodeTag)
          static_cast<std::multiset<mps_word_t>*>(p)->insert(static_cast<Node*>(addr)->id);
      },
      &ids, 0);
  return ids;
}

// The heap --------------------------------------------------------------------------

// A parked VM arena with one pool of each automatic class on one two-generation
// chain, an exact allocation point on each, a weak allocation point on the AWL
// pool, and an exact and a weak table root.
class Heap {
 public:
  void create(unsigned workers, size_t strongSlots, size_t weakSlots, bool park = true) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, workers);
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    if (park) mps_arena_park(arena);
    // These heaps are far too small for the collector to bring in a second
    // worker by itself (.trace.serial): make every drain parallel.
    core::Collector::of(coreOf(arena))->serialScanBytes = 0;
    ASSERT_EQ(makeNodeFormat(&fmt_, arena, false), MPS_RES_OK);
    ASSERT_EQ(makeNodeFormat(&leafFmt_, arena, true), MPS_RES_OK);
    mps_gen_param_s gens[2] = {{256, 0.8}, {2048, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
    for (Kind k : kAllKinds) {
      mps_pool_class_t cls = nullptr;
      switch (k) {
        case Kind::amc:
          cls = mps_class_amc();
          break;
        case Kind::amcz:
          cls = mps_class_amcz();
          break;
        case Kind::ams:
          cls = mps_class_ams();
          break;
        case Kind::lo:
          cls = mps_class_lo();
          break;
        case Kind::awl:
          cls = mps_class_awl();
          break;
      }
      MPS_ARGS_BEGIN(args) {
        MPS_ARGS_ADD(args, MPS_KEY_FORMAT, isLeaf(k) ? leafFmt_ : fmt_);
        MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
        ASSERT_EQ(mps_pool_create_k(&pools_[size_t(k)], arena, cls, args), MPS_RES_OK);
      }
      MPS_ARGS_END(args);
      ASSERT_EQ(mps_ap_create_k(&aps_[size_t(k)], pools_[size_t(k)], mps_args_none), MPS_RES_OK);
    }
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
      ASSERT_EQ(mps_ap_create_k(&weakAp, pools_[size_t(Kind::awl)], args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    // Out of the test's frame, so their addresses stay put.
    strong.assign(strongSlots, nullptr);
    weak.assign(weakSlots, nullptr);
    ASSERT_EQ(mps_root_create_table(&strongRoot_, arena, mps_rank_exact(), 0, strong.data(),
                                    strong.size()),
              MPS_RES_OK);
    ASSERT_EQ(
        mps_root_create_table(&weakRoot_, arena, mps_rank_weak(), 0, weak.data(), weak.size()),
        MPS_RES_OK);
  }

  // Destroys one pool (and its allocation points) ahead of the others.
  void destroyPool(Kind k) {
    mps_arena_park(arena);
    if (k == Kind::awl && weakAp != nullptr) {
      mps_ap_destroy(weakAp);
      weakAp = nullptr;
    }
    mps_ap_destroy(aps_[size_t(k)]);
    aps_[size_t(k)] = nullptr;
    mps_pool_destroy(pools_[size_t(k)]);
    pools_[size_t(k)] = nullptr;
  }

  void destroy() {
    if (arena == nullptr) return;
    mps_arena_park(arena);
    if (strongRoot_ != nullptr) mps_root_destroy(strongRoot_);
    if (weakRoot_ != nullptr) mps_root_destroy(weakRoot_);
    for (Kind k : kAllKinds)
      if (pools_[size_t(k)] != nullptr) destroyPool(k);
    if (chain != nullptr) mps_chain_destroy(chain);
    if (fmt_ != nullptr) mps_fmt_destroy(fmt_);
    if (leafFmt_ != nullptr) mps_fmt_destroy(leafFmt_);
    mps_arena_destroy(arena);
    arena = nullptr;
  }

  mps_ap_t ap(Kind k) const { return aps_[size_t(k)]; }
  mps_pool_t pool(Kind k) const { return pools_[size_t(k)]; }

  mps_arena_t arena = nullptr;
  mps_chain_t chain = nullptr;
  mps_ap_t weakAp = nullptr;
  std::vector<mps_addr_t> strong, weak;

 private:
  mps_fmt_t fmt_ = nullptr, leafFmt_ = nullptr;
  mps_pool_t pools_[kKinds] = {};
  mps_ap_t aps_[kKinds] = {};
  mps_root_t strongRoot_ = nullptr, weakRoot_ = nullptr;
};

// 1. Exactly once, at random -------------------------------------------------------

// A shadow model of every object the test made: its references (by id), where
// the client holds it, and its registrations.
struct Rec {
  std::vector<mps_word_t> refs;  // ids of the referents (0: null)
  int slot = -1;                 // the exact root slot holding it, if any
  int weak = -1;                 // the weak root slot referring to it, if any
  int regs = 0;                  // registrations not yet turned into messages
  int expected = 0;              // messages it must get over its lifetime
  int received = 0;              // messages it got
};

class FinalizationExactlyOnceTest : public ::testing::TestWithParam<KindAndWorkers> {
 protected:
  void TearDown() override { heap.destroy(); }

  // Everything reachable in the model from `from` (a bitmap by id).
  std::vector<char> reachableFrom(const std::vector<mps_word_t>& from) const {
    std::vector<char> seen(recs.size(), 0);
    std::vector<mps_word_t> work(from);
    while (!work.empty()) {
      mps_word_t id = work.back();
      work.pop_back();
      if (id == 0 || seen[id]) continue;
      seen[id] = 1;
      for (mps_word_t to : recs[id].refs)
        work.push_back(to);
    }
    return seen;
  }

  std::vector<mps_word_t> rootedIds() const {
    std::vector<mps_word_t> ids;
    for (mps_word_t id : slotId)
      if (id != 0) ids.push_back(id);
    return ids;
  }

  // The object at `p` is `id` and every object it leads to is intact and
  // refers to what the model says (`seen` keeps each object checked once).
  void checkGraph(const void* p, mps_word_t id, std::vector<char>* seen) {
    std::vector<std::pair<const void*, mps_word_t>> work{{p, id}};
    while (!work.empty()) {
      auto [q, qid] = work.back();
      work.pop_back();
      if ((*seen)[qid]) continue;
      (*seen)[qid] = 1;
      ASSERT_TRUE(intact(q, qid));
      const auto* n = static_cast<const Node*>(q);
      const std::vector<mps_word_t>& refs = recs[qid].refs;
      ASSERT_EQ(refsOf(n), refs.size()) << "object " << qid;
      for (size_t i = 0; i < refs.size(); ++i) {
        if (refs[i] == 0) {
          EXPECT_EQ(n->refs[i], nullptr) << "object " << qid << " reference " << i;
        } else {
          work.emplace_back(n->refs[i], refs[i]);
        }
      }
    }
  }

  int takeSlot(std::vector<int>* freeList) {
    size_t i = size_t(rng->below(freeList->size()));
    int s = (*freeList)[i];
    (*freeList)[i] = freeList->back();
    freeList->pop_back();
    return s;
  }

  void root(mps_word_t id, mps_addr_t ref) {
    int s = takeSlot(&freeSlots);
    heap.strong[size_t(s)] = ref;
    slotId[size_t(s)] = id;
    recs[id].slot = s;
  }

  void drop(int s) {
    mps_word_t id = slotId[size_t(s)];
    heap.strong[size_t(s)] = nullptr;
    slotId[size_t(s)] = 0;
    recs[id].slot = -1;
    freeSlots.push_back(s);
  }

  void registerOnce(mps_word_t id) {
    ASSERT_EQ(mps_finalize(heap.arena, &heap.strong[size_t(recs[id].slot)]), MPS_RES_OK);
    ++recs[id].regs;
    ++recs[id].expected;
  }

  void definalizeOnce(mps_word_t id) {
    ASSERT_EQ(mps_definalize(heap.arena, &heap.strong[size_t(recs[id].slot)]), MPS_RES_OK);
    --recs[id].regs;
    --recs[id].expected;
    ++definalized;
  }

  // One collection and everything the model says about it; then the client
  // reads the messages, may resurrect their objects, and discards them.
  void collectAndCheck(bool full, bool mayResurrect) {
    mps_arena_t arena = heap.arena;
    // A message the client holds keeps its object alive like a root (it is
    // scanned as an exact reference).
    std::vector<mps_word_t> rooted = rootedIds();
    for (const Held& h : held)
      rooted.push_back(h.id);
    std::vector<char> strong = reachableFrom(rooted);
    if (full) {
      ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
      ++fullCollections;
    } else {
      ASSERT_EQ(collectNursery(arena, heap.chain), MPS_RES_OK);
      ++nurseryCollections;
    }
    maxWorkers = std::max(maxWorkers, core::Collector::of(coreOf(arena))->lastStats().workers);
    std::vector<mps_message_t> msgs = getAllFinalization(arena);
    std::vector<mps_word_t> ids;
    std::vector<char> fired(recs.size(), 0), seen(recs.size(), 0);
    for (mps_message_t m : msgs) {
      EXPECT_EQ(mps_message_type(arena, m), mps_message_type_finalization());
      mps_addr_t ref = refOf(arena, m);
      ASSERT_NE(ref, nullptr);
      mps_word_t id = static_cast<Node*>(ref)->id;
      ASSERT_TRUE(id > 0 && id < recs.size()) << "a message for an unknown object " << id;
      ASSERT_NO_FATAL_FAILURE(checkGraph(ref, id, &seen));
      EXPECT_FALSE(strong[id]) << "a message for object " << id
                               << ", which was strongly reachable during the collection";
      ASSERT_GT(recs[id].regs, 0) << "more messages for object " << id << " than registrations";
      --recs[id].regs;
      ++recs[id].received;
      fired[id] = 1;
      ids.push_back(id);
    }
    messages += msgs.size();
    std::vector<mps_word_t> survivorRoots = rooted;
    for (mps_word_t id = 1; id < recs.size(); ++id) {
      if (fired[id]) {
        // A block found finalizable has all its registrations fire in that
        // collection (the final phase decides them all before fixing any).
        EXPECT_EQ(recs[id].regs, 0) << "object " << id << " finalized for only some registrations";
        survivorRoots.push_back(id);
      } else if (full && recs[id].regs > 0 && !strong[id] && unfinalizedReports < 10) {
        ++unfinalizedReports;
        ADD_FAILURE() << "object " << id << " (" << recs[id].regs
                      << " registrations) was unreachable at a full collection but not finalized";
      }
    }
    // What the collection had to keep: the strongly reachable, and what the
    // finalized objects refer to.
    std::vector<char> survivors = reachableFrom(survivorRoots);
    for (size_t w = 0; w < weakId.size(); ++w) {
      mps_word_t id = weakId[w];
      if (id == 0) continue;
      mps_addr_t p = heap.weak[w];
      if (p == nullptr) {
        EXPECT_FALSE(survivors[id])
            << "a weak reference to object " << id << " was splatted though the object survived";
        EXPECT_EQ(recs[id].regs, 0) << "object " << id << " was reclaimed while registered";
        weakId[w] = 0;
        recs[id].weak = -1;
        freeWeak.push_back(int(w));
        ++splatted;
        continue;
      }
      EXPECT_TRUE(intact(p, id)) << "through a weak reference";
      if (full) {
        EXPECT_TRUE(survivors[id])
            << "object " << id << " is dead but its weak reference survived a full collection";
      }
      if (recs[id].slot >= 0) {
        EXPECT_EQ(p, heap.strong[size_t(recs[id].slot)]) << "object " << id;
      }
    }
    for (size_t s = 0; s < slotId.size(); ++s)
      if (slotId[s] != 0) {
        ASSERT_NO_FATAL_FAILURE(checkGraph(heap.strong[s], slotId[s], &seen));
      }
    // Messages held across the collection: their objects are intact, at the
    // address the message reports.
    for (const Held& h : held) {
      mps_addr_t ref = refOf(arena, h.message);
      ASSERT_NO_FATAL_FAILURE(checkGraph(ref, h.id, &seen));
      EXPECT_TRUE(intact(ref, h.id));
      if (recs[h.id].slot >= 0) {
        EXPECT_EQ(ref, heap.strong[size_t(recs[h.id].slot)]) << "object " << h.id;
      }
      if (recs[h.id].weak >= 0) {
        EXPECT_EQ(ref, heap.weak[size_t(recs[h.id].weak)]) << "object " << h.id;
      }
      ++heldAcross;
    }
    std::vector<Held> all;
    all.swap(held);
    for (size_t i = 0; i < msgs.size(); ++i)
      all.push_back(Held{msgs[i], ids[i]});
    // The client resurrects some finalized objects (storing them in a root
    // before discarding the message), and registers some of those again; it
    // keeps some messages until the next collection.
    for (const Held& h : all) {
      mps_word_t id = h.id;
      if (mayResurrect && recs[id].slot < 0 && !freeSlots.empty() && rng->below(3) == 0) {
        root(id, refOf(arena, h.message));
        ++resurrected;
        if (rng->below(2) == 0) {
          ASSERT_NO_FATAL_FAILURE(registerOnce(id));
          ++reregistered;
        }
      }
      if (mayResurrect && rng->below(4) == 0)
        held.push_back(h);
      else
        mps_message_discard(arena, h.message);
    }
  }

  struct Held {
    mps_message_t message;
    mps_word_t id;
  };

  Heap heap;
  std::unique_ptr<Rng> rng;
  std::vector<Rec> recs;
  std::vector<mps_word_t> slotId, weakId;
  std::vector<int> freeSlots, freeWeak;
  std::vector<Held> held;  // messages got and not yet discarded
  size_t heldAcross = 0;
  unsigned maxWorkers = 0;  // the most workers a collection marked with
  size_t messages = 0, resurrected = 0, reregistered = 0, definalized = 0, splatted = 0;
  size_t fullCollections = 0, nurseryCollections = 0, unfinalizedReports = 0;
};

TEST_P(FinalizationExactlyOnceTest, RegistrationsDefinalizationsAndResurrections) {
  auto [kind, workers] = GetParam();
  rng = std::make_unique<Rng>(testSeed(0xF1AA1 + 16 * size_t(kind) + workers));
  constexpr size_t kSlots = 1200, kWeakSlots = 600;
  constexpr int kRounds = 60;
  heap.create(workers, kSlots, kWeakSlots);
  mps_arena_t arena = heap.arena;
  mps_message_type_enable(arena, mps_message_type_finalization());
  mps_ap_t ap = heap.ap(kind);
  recs.resize(1);  // id 0 is "null"
  slotId.assign(kSlots, 0);
  weakId.assign(kWeakSlots, 0);
  for (int s = int(kSlots); s-- > 0;)
    freeSlots.push_back(s);
  for (int w = int(kWeakSlots); w-- > 0;)
    freeWeak.push_back(w);

  for (int round = 0; round < kRounds; ++round) {
    size_t n = 80 + size_t(rng->below(120));
    for (size_t i = 0; i < n && !freeSlots.empty(); ++i) {
      mps_word_t id = recs.size();
      recs.emplace_back();
      size_t nrefs = isLeaf(kind) ? 0 : size_t(rng->below(4));
      mps_addr_t targets[3] = {};
      for (size_t j = 0; j < nrefs; ++j) {
        // A referent the client holds (so at its current address).
        size_t s = size_t(rng->below(kSlots));
        mps_word_t to = rng->below(2) == 0 ? slotId[s] : 0;
        targets[j] = to != 0 ? heap.strong[s] : nullptr;
        recs[id].refs.push_back(to);
      }
      Node* node = allocNode(ap, id, nrefs, targets);
      ASSERT_NE(node, nullptr);
      root(id, node);
      if (!freeWeak.empty() && rng->below(4) == 0) {
        int w = takeSlot(&freeWeak);
        heap.weak[size_t(w)] = node;
        weakId[size_t(w)] = id;
        recs[id].weak = w;
      }
      // Registered 0, 1 or 2 times; some registrations are taken back.
      int regs = int(rng->below(5) + 1) / 2;
      for (int r = 0; r < regs; ++r)
        ASSERT_NO_FATAL_FAILURE(registerOnce(id));
      if (regs > 0 && rng->below(4) == 0) {
        ASSERT_NO_FATAL_FAILURE(definalizeOnce(id));
      }
    }
    // Registrations come and go on objects the client still holds.
    for (int k = 0; k < 20; ++k) {
      size_t s = size_t(rng->below(kSlots));
      mps_word_t id = slotId[s];
      if (id == 0) continue;
      if (recs[id].regs > 0 && rng->below(2) == 0) {
        ASSERT_NO_FATAL_FAILURE(definalizeOnce(id));
      } else if (recs[id].regs < 3) {
        ASSERT_NO_FATAL_FAILURE(registerOnce(id));
      }
    }
    // The client lets go of about as many as it made.
    for (size_t k = 0; k < n + 20; ++k) {
      int s = int(rng->below(kSlots));
      if (slotId[size_t(s)] != 0) drop(s);
    }
    ASSERT_NO_FATAL_FAILURE(collectAndCheck(rng->below(3) == 0, true));
  }

  // The client lets go of everything: every registration left turns into a
  // message within a few full collections, and nothing more arrives.
  for (size_t s = 0; s < kSlots; ++s)
    if (slotId[s] != 0) drop(int(s));
  for (int attempt = 0; attempt < 4; ++attempt)
    ASSERT_NO_FATAL_FAILURE(collectAndCheck(true, false));
  size_t expected = 0, reports = 0;
  for (mps_word_t id = 1; id < recs.size(); ++id) {
    expected += size_t(recs[id].expected);
    if (recs[id].received != recs[id].expected && reports++ < 10)
      ADD_FAILURE() << "object " << id << " got " << recs[id].received << " messages, expected "
                    << recs[id].expected;
  }
  EXPECT_EQ(messages, expected);
  FinalizationCounts c = countsOf(arena);
  EXPECT_EQ(c.registrations, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.held, 0u);
  EXPECT_EQ(c.allocated, 0u) << "finalization records leaked";
  // Nothing else keeps any object alive: the heap is empty and every weak
  // reference splatted.
  EXPECT_EQ(liveIds(arena).size(), 0u);
  for (size_t w = 0; w < kWeakSlots; ++w)
    EXPECT_EQ(heap.weak[w], nullptr) << "weak slot " << w << " (object " << weakId[w] << ")";
  std::printf(
      "[ model    ] %zu objects, %zu messages, %zu definalized, %zu resurrected (%zu "
      "registered again), %zu messages held across a collection, %zu weak references "
      "splatted, %zu full and %zu nursery collections\n",
      recs.size() - 1, messages, definalized, resurrected, reregistered, heldAcross, splatted,
      fullCollections, nurseryCollections);
  // Guard against a test that checks nothing.
  EXPECT_GT(messages, 1000u);
  EXPECT_GT(resurrected, 50u);
  EXPECT_GT(heldAcross, 50u);
  EXPECT_GT(definalized, 50u);
  EXPECT_GT(nurseryCollections, 5u);
  EXPECT_GT(fullCollections, 5u);
  // (Leaf objects are never grey: there is nothing to share.)
  if (!isLeaf(kind)) {
    EXPECT_EQ(maxWorkers, workers) << "no collection marked with every worker";
  }
}

INSTANTIATE_TEST_SUITE_P(Pools, FinalizationExactlyOnceTest,
                         ::testing::Combine(::testing::ValuesIn(kAllKinds),
                                            ::testing::Values(1u, 2u)),
                         paramName);

// 2-5. One pool class at a time, step by step ---------------------------------------

class FinalizationPerKindTest : public ::testing::TestWithParam<KindAndWorkers> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(heap.create(std::get<1>(GetParam()), 16, 16));
    arena = heap.arena;
  }
  void TearDown() override { heap.destroy(); }

  Kind kind() const { return std::get<0>(GetParam()); }
  std::vector<mps_message_t> collectFull() {
    EXPECT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    return getAllFinalization(arena);
  }

  Heap heap;
  mps_arena_t arena = nullptr;
};

// 2. Weak references (a weak table root and an AWL weak object) to a block
// registered twice keep designating it while either message exists, follow
// it when it moves, and are splatted by the first collection after both are
// discarded. A weak reference to a registered block that is still strongly
// reachable is never splatted, and gets no message.
TEST_P(FinalizationPerKindTest, WeakReferencesAreSplattedOnlyAfterTheMessages) {
  mps_message_type_enable(arena, mps_message_type_finalization());
  Node* w = allocNode(heap.weakAp, 1, 2);
  ASSERT_NE(w, nullptr);
  heap.strong[0] = w;
  heap.strong[1] = allocNode(heap.ap(kind()), 2, 0);
  heap.strong[2] = allocNode(heap.ap(kind()), 3, 0);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[1]), MPS_RES_OK);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[1]), MPS_RES_OK);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[2]), MPS_RES_OK);
  w->refs[0] = heap.weak[0] = heap.strong[1];
  w->refs[1] = heap.weak[1] = heap.strong[2];
  heap.strong[1] = nullptr;  // object 2 is now reachable only weakly
  auto weakObject = [&] { return static_cast<Node*>(heap.strong[0]); };

  // A nursery collection finds it finalizable (everything is in generation 0).
  ASSERT_EQ(collectNursery(arena, heap.chain), MPS_RES_OK);
  std::vector<mps_message_t> msgs = getAllFinalization(arena);
  ASSERT_EQ(msgs.size(), 2u);
  mps_addr_t ref = refOf(arena, msgs[0]);
  EXPECT_EQ(refOf(arena, msgs[1]), ref);
  EXPECT_TRUE(intact(ref, 2));
  EXPECT_EQ(heap.weak[0], ref) << "splatted before its message was posted";
  EXPECT_EQ(weakObject()->refs[0], ref) << "splatted before its message was posted";
  mps_message_discard(arena, msgs[0]);

  // The other message still holds it.
  EXPECT_TRUE(collectFull().empty());
  ref = refOf(arena, msgs[1]);
  EXPECT_TRUE(intact(ref, 2));
  EXPECT_EQ(heap.weak[0], ref);
  EXPECT_EQ(weakObject()->refs[0], ref);
  mps_message_discard(arena, msgs[1]);

  EXPECT_TRUE(collectFull().empty());
  EXPECT_EQ(heap.weak[0], nullptr);
  EXPECT_EQ(weakObject()->refs[0], nullptr);
  // Object 3 is strongly reachable all along: neither splatted nor finalized.
  EXPECT_TRUE(intact(heap.strong[2], 3));
  EXPECT_EQ(heap.weak[1], heap.strong[2]);
  EXPECT_EQ(weakObject()->refs[1], heap.strong[2]);
  // Definalized and dropped, it goes at the next collection, without a message.
  ASSERT_EQ(mps_definalize(arena, &heap.strong[2]), MPS_RES_OK);
  heap.strong[2] = nullptr;
  EXPECT_TRUE(collectFull().empty());
  EXPECT_EQ(heap.weak[1], nullptr);
  EXPECT_EQ(weakObject()->refs[1], nullptr);
  EXPECT_EQ(countsOf(arena).allocated, 0u);
  EXPECT_EQ(liveIds(arena), std::multiset<mps_word_t>{1});
}

// 4. The block lives while its message is queued (not yet got) and while it
// is held (got, not discarded), across full and nursery collections; AMC and
// AMCZ move it, and mps_message_finalization_ref reports where it is now.
TEST_P(FinalizationPerKindTest, TheBlockLivesWhileItsMessageIsQueuedOrHeld) {
  mps_message_type_enable(arena, mps_message_type_finalization());
  bool leaf = isLeaf(kind());
  mps_ap_t ap = heap.ap(kind());
  mps_addr_t children[2] = {};
  if (!leaf) {
    children[0] = allocNode(ap, 8, 0);
    children[1] = allocNode(ap, 9, 1, children);  // 9 -> 8
  }
  heap.strong[0] = allocNode(ap, 7, leaf ? 0 : 2, children);
  heap.weak[0] = heap.strong[0];
  if (!leaf) heap.weak[1] = children[1];
  ASSERT_EQ(mps_finalize(arena, &heap.strong[0]), MPS_RES_OK);
  heap.strong[0] = nullptr;
  auto checkAll = [&](const void* p) {
    EXPECT_TRUE(intact(p, 7));
    if (leaf) return;
    const auto* n = static_cast<const Node*>(p);
    EXPECT_TRUE(intact(n->refs[0], 8));
    EXPECT_TRUE(intact(n->refs[1], 9));
    EXPECT_EQ(heap.weak[1], n->refs[1]);
    EXPECT_EQ(static_cast<const Node*>(n->refs[1])->refs[0], n->refs[0]);
  };

  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(countsOf(arena).queued, 1u);
  size_t moves = 0;
  mps_addr_t last = heap.weak[0];
  checkAll(last);
  // Queued: nothing has got it yet.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(countsOf(arena).queued, 1u);
    ASSERT_NE(heap.weak[0], nullptr) << "reclaimed while its message is queued";
    checkAll(heap.weak[0]);
    moves += heap.weak[0] != last;
    last = heap.weak[0];
  }
  std::vector<mps_message_t> msgs = getAllFinalization(arena);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(refOf(arena, msgs[0]), heap.weak[0]);
  // Held.
  for (int i = 0; i < 4; ++i) {
    if (i % 2 == 0)
      ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    else
      ASSERT_EQ(collectNursery(arena, heap.chain), MPS_RES_OK);
    mps_addr_t ref = refOf(arena, msgs[0]);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(ref, heap.weak[0]) << "the message's reference is not the block's address";
    checkAll(ref);
    moves += ref != last;
    last = ref;
    EXPECT_TRUE(getAllFinalization(arena).empty()) << "finalized twice";
  }
  // AMC copies every small survivor of a full collection it condemns.
  if (isMoving(kind())) {
    EXPECT_GE(moves, 3u) << "the block never moved: the test proves little";
  }
  mps_message_discard(arena, msgs[0]);
  EXPECT_TRUE(collectFull().empty());
  EXPECT_EQ(heap.weak[0], nullptr);
  EXPECT_EQ(heap.weak[1], nullptr);
  EXPECT_TRUE(liveIds(arena).empty());
  EXPECT_EQ(countsOf(arena).allocated, 0u);
}

// 5. With the message type disabled, registrations of blocks found
// finalizable are used up and nothing is queued; enabling it later brings
// nothing back. Disabling discards queued messages (their blocks then die)
// but not held ones.
TEST_P(FinalizationPerKindTest, ADisabledMessageTypeConsumesRegistrations) {
  mps_ap_t ap = heap.ap(kind());
  heap.strong[0] = heap.weak[0] = allocNode(ap, 1, 0);
  heap.strong[1] = heap.weak[1] = allocNode(ap, 2, 0);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[0]), MPS_RES_OK);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[0]), MPS_RES_OK);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[1]), MPS_RES_OK);
  EXPECT_EQ(countsOf(arena).registrations, 3u);
  heap.strong[0] = heap.strong[1] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE(mps_message_poll(arena));
  FinalizationCounts c = countsOf(arena);
  EXPECT_EQ(c.registrations, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.allocated, 0u);
  mps_message_type_enable(arena, mps_message_type_finalization());
  EXPECT_TRUE(collectFull().empty());
  EXPECT_TRUE(collectFull().empty());
  EXPECT_EQ(heap.weak[0], nullptr);
  EXPECT_EQ(heap.weak[1], nullptr);

  // Queued, then disabled: discarded, and the block is no longer held.
  heap.strong[2] = heap.weak[2] = allocNode(ap, 3, 0);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[2]), MPS_RES_OK);
  heap.strong[2] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(countsOf(arena).queued, 1u);
  mps_message_type_disable(arena, mps_message_type_finalization());
  c = countsOf(arena);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.allocated, 0u);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(heap.weak[2], nullptr);
  mps_message_type_enable(arena, mps_message_type_finalization());
  EXPECT_TRUE(collectFull().empty());

  // Held, then disabled: the client keeps its message, and the block.
  heap.strong[3] = heap.weak[3] = allocNode(ap, 4, 0);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[3]), MPS_RES_OK);
  heap.strong[3] = nullptr;
  std::vector<mps_message_t> msgs = collectFull();
  ASSERT_EQ(msgs.size(), 1u);
  mps_message_type_disable(arena, mps_message_type_finalization());
  EXPECT_TRUE(collectFull().empty());
  EXPECT_EQ(refOf(arena, msgs[0]), heap.weak[3]);
  EXPECT_TRUE(intact(heap.weak[3], 4));
  EXPECT_EQ(countsOf(arena).allocated, 1u);
  mps_message_discard(arena, msgs[0]);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(heap.weak[3], nullptr);
  EXPECT_TRUE(liveIds(arena).empty());
  EXPECT_EQ(countsOf(arena).allocated, 0u);
}

// 6. Destroying a pool with registered blocks, queued and held messages drops
// exactly its own registrations and queued messages (forgetFinalization);
// its message the client holds stays valid, naming no block now; the other
// pools' registrations and messages carry on through later collections.
TEST_P(FinalizationPerKindTest, DestroyingAPoolForgetsItsRegistrationsAndMessages) {
  mps_message_type_enable(arena, mps_message_type_finalization());
  Kind doomed = kind();
  std::vector<Kind> others;
  for (Kind k : kAllKinds)
    if (k != doomed) others.push_back(k);
  // Per pool, ids k*10 + 1..3: 1 is finalized and held, 2 finalized and
  // queued, 3 still registered (twice) and held by the client.
  auto id = [](Kind k, int n) { return mps_word_t(10 * (int(k) + 1) + n); };
  auto slot = [](Kind k, int n) { return size_t(3 * int(k) + n - 1); };
  for (Kind k : kAllKinds) {
    for (int n = 1; n <= 3; ++n) {
      heap.strong[slot(k, n)] = heap.weak[slot(k, n)] = allocNode(heap.ap(k), id(k, n), 0);
      ASSERT_EQ(mps_finalize(arena, &heap.strong[slot(k, n)]), MPS_RES_OK);
    }
    ASSERT_EQ(mps_finalize(arena, &heap.strong[slot(k, 3)]), MPS_RES_OK);
  }
  for (Kind k : kAllKinds)
    heap.strong[slot(k, 1)] = nullptr;
  std::vector<mps_message_t> held = collectFull();
  ASSERT_EQ(held.size(), kKinds);
  for (Kind k : kAllKinds)
    heap.strong[slot(k, 2)] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  FinalizationCounts c = countsOf(arena);
  EXPECT_EQ(c.registrations, 2 * kKinds);
  EXPECT_EQ(c.queued, kKinds);
  EXPECT_EQ(c.held, kKinds);
  EXPECT_EQ(c.allocated, 4 * kKinds);

  // The client forgets the doomed pool's blocks (its weak references too:
  // they would dangle).
  std::vector<mps_message_t> keep;
  mps_message_t doomedMessage = nullptr;
  for (mps_message_t m : held) {
    if (static_cast<Node*>(refOf(arena, m))->id / 10 != mps_word_t(int(doomed) + 1))
      keep.push_back(m);
    else
      doomedMessage = m;
  }
  ASSERT_EQ(keep.size(), kKinds - 1);
  ASSERT_NE(doomedMessage, nullptr);
  for (int n = 1; n <= 3; ++n)
    heap.strong[slot(doomed, n)] = heap.weak[slot(doomed, n)] = nullptr;
  heap.destroyPool(doomed);
  c = countsOf(arena);
  EXPECT_EQ(c.registrations, 2 * (kKinds - 1));
  EXPECT_EQ(c.queued, kKinds - 1);
  EXPECT_EQ(c.held, kKinds);
  EXPECT_EQ(c.allocated, 4 * (kKinds - 1) + 1);
  EXPECT_EQ(refOf(arena, doomedMessage), nullptr);

  // Collections go on; the others' messages arrive and hold their blocks.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(countsOf(arena).queued, kKinds - 1);
    for (mps_message_t m : keep) {
      mps_word_t got = static_cast<Node*>(refOf(arena, m))->id;
      EXPECT_EQ(got % 10, 1u);
      EXPECT_TRUE(intact(refOf(arena, m), got));
    }
  }
  std::set<mps_word_t> expected, received;
  for (Kind k : others) {
    expected.insert(id(k, 2));
    heap.strong[slot(k, 3)] = nullptr;
  }
  for (mps_message_t m : getAllFinalization(arena)) {
    mps_word_t got = static_cast<Node*>(refOf(arena, m))->id;
    EXPECT_TRUE(received.insert(got).second) << got;
    EXPECT_TRUE(intact(refOf(arena, m), got));
    mps_message_discard(arena, m);
  }
  EXPECT_EQ(received, expected);
  std::multiset<mps_word_t> threes;
  for (mps_message_t m : collectFull()) {
    threes.insert(static_cast<Node*>(refOf(arena, m))->id);
    mps_message_discard(arena, m);
  }
  std::multiset<mps_word_t> expectedThrees;
  for (Kind k : others) {
    expectedThrees.insert(id(k, 3));
    expectedThrees.insert(id(k, 3));
  }
  EXPECT_EQ(threes, expectedThrees);
  for (mps_message_t m : keep)
    mps_message_discard(arena, m);
  // Still valid after all those collections, and still naming nothing.
  EXPECT_EQ(refOf(arena, doomedMessage), nullptr);
  mps_message_discard(arena, doomedMessage);
  EXPECT_TRUE(collectFull().empty());
  EXPECT_TRUE(liveIds(arena).empty());
  for (mps_addr_t p : heap.weak)
    EXPECT_EQ(p, nullptr);
  EXPECT_EQ(countsOf(arena).allocated, 0u);
}

INSTANTIATE_TEST_SUITE_P(Pools, FinalizationPerKindTest,
                         ::testing::Combine(::testing::ValuesIn(kAllKinds),
                                            ::testing::Values(1u, 2u)),
                         paramName);

// 3. Everything only a finalizable block refers to survives with it, in every
// pool class, until the message is discarded.
class FinalizationSubgraphTest : public FinalizationPerKindTest {};

TEST_P(FinalizationSubgraphTest, WhatOnlyAFinalizableBlockRefersToSurvivesWithIt) {
  mps_message_type_enable(arena, mps_message_type_finalization());
  // 1 (the registered parent, in the pool under test) -> one child in each
  // pool class; the AMS child -> an AMC grandchild -> an LO leaf; the AWL
  // child -> an AMCZ leaf; the AMC child -> the AWL child.
  struct Shape {
    mps_word_t id;
    Kind kind;
    std::vector<mps_word_t> refs;
  };
  const std::vector<Shape> shape = {
      {1, kind(), {10, 11, 12, 13, 14}},
      {10, Kind::amc, {14}},
      {11, Kind::amcz, {}},
      {12, Kind::ams, {20}},
      {13, Kind::lo, {}},
      {14, Kind::awl, {21}},
      {20, Kind::amc, {22}},
      {21, Kind::amcz, {}},
      {22, Kind::lo, {}},
  };
  auto shapeOf = [&](mps_word_t id) -> const Shape& {
    for (const Shape& s : shape)
      if (s.id == id) return s;
    ADD_FAILURE() << "no object " << id << " in the shape";
    return shape[0];
  };
  // Made leaves first, each in a table slot of its own (weakly too).
  std::vector<size_t> slotOf(32, 0);
  size_t nextSlot = 0;
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
    mps_addr_t targets[5] = {};
    for (size_t i = 0; i < it->refs.size(); ++i)
      targets[i] = heap.strong[slotOf[it->refs[i]]];
    // Some garbage first, so that AMC has something to compact.
    for (int g = 0; g < 20; ++g)
      ASSERT_NE(allocNode(heap.ap(it->kind), 1000 + mps_word_t(g), 0), nullptr);
    slotOf[it->id] = nextSlot++;
    heap.strong[slotOf[it->id]] = heap.weak[slotOf[it->id]] =
        allocNode(heap.ap(it->kind), it->id, it->refs.size(), targets);
    ASSERT_NE(heap.strong[slotOf[it->id]], nullptr);
  }
  ASSERT_EQ(mps_finalize(arena, &heap.strong[slotOf[1]]), MPS_RES_OK);
  for (size_t s = 0; s < nextSlot; ++s)
    heap.strong[s] = nullptr;
  // Every object of the shape, reached from `root`, is intact and where its
  // weak reference says.
  auto checkShape = [&](const void* root) {
    std::vector<std::pair<const void*, mps_word_t>> work{{root, 1}};
    size_t visited = 0;
    while (!work.empty()) {
      auto [p, id] = work.back();
      work.pop_back();
      ++visited;
      ASSERT_TRUE(intact(p, id));
      EXPECT_EQ(heap.weak[slotOf[id]], p) << "object " << id;
      const Shape& s = shapeOf(id);
      const auto* n = static_cast<const Node*>(p);
      ASSERT_EQ(refsOf(n), s.refs.size());
      for (size_t i = 0; i < s.refs.size(); ++i)
        work.emplace_back(n->refs[i], s.refs[i]);
    }
    EXPECT_EQ(visited, shape.size() + 2);  // objects 14 and 21 are reached twice
  };

  std::vector<mps_message_t> msgs = collectFull();
  ASSERT_EQ(msgs.size(), 1u);
  checkShape(refOf(arena, msgs[0]));
  ASSERT_EQ(collectNursery(arena, heap.chain), MPS_RES_OK);
  checkShape(refOf(arena, msgs[0]));
  EXPECT_TRUE(collectFull().empty());
  checkShape(refOf(arena, msgs[0]));
  mps_message_discard(arena, msgs[0]);
  EXPECT_TRUE(collectFull().empty());
  for (size_t s = 0; s < nextSlot; ++s)
    EXPECT_EQ(heap.weak[s], nullptr) << "slot " << s;
  EXPECT_TRUE(liveIds(arena).empty());
}

INSTANTIATE_TEST_SUITE_P(ScannedPools, FinalizationSubgraphTest,
                         ::testing::Combine(::testing::Values(Kind::amc, Kind::ams, Kind::awl),
                                            ::testing::Values(1u, 2u)),
                         paramName);

// 6. The arena is torn down (its pools first, then itself) with queued and
// held finalization and GC messages and registrations left: the counts
// before are what the client made; each pool takes its registrations and
// queued messages; the held messages stay valid (naming nothing) until
// discarded; the asan preset finds nothing leaked.
TEST(FinalizationTeardown, UndeliveredMessagesAndRegistrationsAreFreed) {
  Heap heap;
  ASSERT_NO_FATAL_FAILURE(heap.create(2, 64, 4));
  mps_arena_t arena = heap.arena;
  mps_message_type_enable(arena, mps_message_type_finalization());
  mps_message_type_enable(arena, mps_message_type_gc());
  mps_message_type_enable(arena, mps_message_type_gc_start());
  // Per pool: two blocks held by the client, registered three times between
  // them; three dropped.
  size_t s = 0;
  for (Kind k : kAllKinds) {
    for (int n = 0; n < 5; ++n) {
      heap.strong[s + size_t(n)] = allocNode(heap.ap(k), mps_word_t(s + size_t(n) + 1), 0);
      ASSERT_EQ(mps_finalize(arena, &heap.strong[s + size_t(n)]), MPS_RES_OK);
    }
    ASSERT_EQ(mps_finalize(arena, &heap.strong[s]), MPS_RES_OK);
    for (int n = 2; n < 5; ++n)
      heap.strong[s + size_t(n)] = nullptr;
    s += 5;
  }
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  std::vector<mps_message_t> held;
  mps_message_t m;
  for (size_t i = 0; i < 4 && mps_message_get(&m, arena, mps_message_type_finalization()); ++i)
    held.push_back(m);
  ASSERT_EQ(held.size(), 4u);
  ASSERT_TRUE(mps_message_get(&m, arena, mps_message_type_gc()));  // held, never discarded
  FinalizationCounts c = countsOf(arena);
  EXPECT_EQ(c.registrations, 3 * kKinds);
  EXPECT_EQ(c.queued, 3 * kKinds - 4);
  EXPECT_EQ(c.held, 5u);
  EXPECT_EQ(c.allocated, 6 * kKinds);
  EXPECT_TRUE(mps_message_poll(arena));  // GC messages queued too
  for (mps_addr_t& p : heap.strong)
    p = nullptr;
  // Which pool each held message's block is in (ids 5k+1 .. 5k+5).
  size_t heldIn[kKinds] = {};
  for (mps_message_t h : held)
    ++heldIn[(static_cast<Node*>(refOf(arena, h))->id - 1) / 5];
  // Pool by pool: each takes its six records but the held ones.
  size_t left = 6 * kKinds;
  for (Kind k : kAllKinds) {
    heap.destroyPool(k);
    left -= 6 - heldIn[size_t(k)];
    EXPECT_EQ(countsOf(arena).allocated, left) << kindName(k);
  }
  c = countsOf(arena);
  EXPECT_EQ(c.registrations, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.held, 5u);  // four finalization messages and the GC message
  EXPECT_EQ(c.allocated, 4u);
  for (mps_message_t h : held) {
    EXPECT_EQ(refOf(arena, h), nullptr);
    mps_message_discard(arena, h);
  }
  EXPECT_EQ(countsOf(arena).allocated, 0u);
  heap.destroy();
}

// 7. Threads ------------------------------------------------------------------------
//
// Mutator threads (registered, their stacks ambiguous roots) make objects,
// hold each in an exact root slot of their own for a while, register it once
// or twice (sometimes taking one back) and drop it; another thread collects
// now and then, allocation triggers nursery collections, and a consumer
// thread reads the messages as they come. A message must never name an
// object its thread still holds in its slot. Ambiguous references may keep a
// dropped object alive for a while, so the exact count is checked only at
// the end: once every mutator and the consumer have deregistered, no stack is
// scanned, and a full collection must finalize everything left.

constexpr int kMutators = 3;
constexpr mps_word_t kPerMutator = 2500;
constexpr size_t kLiveSlots = 64;

struct ThreadShared {
  mps_arena_t arena = nullptr;
  mps_pool_t pool = nullptr;
  mps_addr_t slots[kMutators][kLiveSlots] = {};
  std::unique_ptr<std::atomic<int>[]> expected, received;
  std::unique_ptr<std::atomic<bool>[]> dropped;
  std::atomic<int> failures{0};
  std::atomic<int> messages{0};
  std::atomic<int> collections{0};

  void fail(const char* what, mps_word_t id) {
    if (failures.fetch_add(1) < 10)
      std::fprintf(stderr, "FAILURE: %s (object %lu)\n", what, static_cast<unsigned long>(id));
  }

  // Reads one message (the caller's stack holds the reference, so a moving
  // pool pins the object while it is read).
  void consume(mps_message_t m) {
    mps_addr_t ref = nullptr;
    mps_message_finalization_ref(&ref, arena, m);
    const Node* n = static_cast<const Node*>(ref);
    mps_word_t id = n != nullptr ? n->id : 0;
    if (id == 0 || id > kMutators * kPerMutator) {
      fail("a message for an unknown object", id);
    } else if (!isIntact(n, id)) {
      fail("a finalized object is damaged", id);
    } else if (!dropped[id].load()) {
      fail("a message for an object its thread still holds", id);
    } else if (received[id].fetch_add(1) + 1 > expected[id].load()) {
      fail("more messages than registrations", id);
    }
    messages.fetch_add(1);
    mps_message_discard(arena, m);
  }
};

__attribute__((noinline)) void makeGarbage(mps_ap_t ap, size_t count) {
  for (size_t i = 0; i < count; ++i)
    (void)allocNode(ap, 0, 2);
}

void mutatorBody(ThreadShared* shared, int index, std::uint64_t seed) {
  void* cold = __builtin_frame_address(0);
  Rng rng(seed);
  mps_thr_t thread;
  mps_root_t stackRoot, slotRoot;
  mps_ap_t ap;
  mps_addr_t* slots = shared->slots[index];
  if (mps_thread_reg(&thread, shared->arena) != MPS_RES_OK ||
      mps_root_create_thread(&stackRoot, shared->arena, thread, cold) != MPS_RES_OK ||
      mps_root_create_table(&slotRoot, shared->arena, mps_rank_exact(), 0, slots, kLiveSlots) !=
          MPS_RES_OK ||
      mps_ap_create_k(&ap, shared->pool, mps_args_none) != MPS_RES_OK) {
    shared->fail("thread setup", 0);
    return;
  }
  mps_word_t slotIds[kLiveSlots] = {};
  // The drop is seen by the consumer before the slot is cleared: both stores
  // are sequentially consistent, so a collection that finds the slot empty
  // (and so may finalize the object) comes after the flag is set.
  auto dropSlot = [&](size_t s) {
    if (slotIds[s] == 0) return;
    shared->dropped[slotIds[s]].store(true);
    std::atomic_ref<mps_addr_t>(slots[s]).store(nullptr);
    slotIds[s] = 0;
  };
  for (mps_word_t i = 0; i < kPerMutator; ++i) {
    mps_word_t id = mps_word_t(index) * kPerMutator + i + 1;
    size_t s = size_t(rng.below(kLiveSlots));
    dropSlot(s);
    Node* node = allocNode(ap, id, 0);
    if (node == nullptr) {
      shared->fail("allocation", id);
      break;
    }
    std::atomic_ref<mps_addr_t>(slots[s]).store(node);
    slotIds[s] = id;
    int regs = 1 + int(rng.below(2));
    shared->expected[id].store(regs);
    for (int r = 0; r < regs; ++r)
      if (mps_finalize(shared->arena, &slots[s]) != MPS_RES_OK) shared->fail("mps_finalize", id);
    if (rng.below(8) == 0) {
      if (mps_definalize(shared->arena, &slots[s]) != MPS_RES_OK)
        shared->fail("mps_definalize", id);
      shared->expected[id].store(regs - 1);
    }
    makeGarbage(ap, size_t(rng.below(24)));
    if (i % 128 == 0) {
      for (size_t k = 0; k < kLiveSlots; ++k)
        if (slotIds[k] != 0 && !isIntact(slots[k], slotIds[k]))
          shared->fail("a held object is damaged", slotIds[k]);
    }
  }
  for (size_t s = 0; s < kLiveSlots; ++s)
    dropSlot(s);
  mps_ap_destroy(ap);
  mps_root_destroy(slotRoot);
  mps_root_destroy(stackRoot);
  mps_thread_dereg(thread);
}

class FinalizationThreadsTest : public ::testing::TestWithParam<Kind> {};

TEST_P(FinalizationThreadsTest, MutatorsCollectorAndConsumerThreads) {
  std::uint64_t seed = testSeed(0x7E4D + unsigned(GetParam()));
  ThreadShared shared;
  constexpr size_t kIds = kMutators * kPerMutator + 1;
  shared.expected.reset(new std::atomic<int>[kIds]);
  shared.received.reset(new std::atomic<int>[kIds]);
  shared.dropped.reset(new std::atomic<bool>[kIds]);
  for (size_t i = 0; i < kIds; ++i) {
    shared.expected[i].store(0);
    shared.received[i].store(0);
    shared.dropped[i].store(false);
  }
  mps_arena_t arena;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 2u);
    ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  shared.arena = arena;
  core::Collector::of(coreOf(arena))->serialScanBytes = 0;  // every drain parallel
  mps_fmt_t fmt;
  ASSERT_EQ(makeNodeFormat(&fmt, arena, false), MPS_RES_OK);
  // A small nursery: allocation triggers collections.
  mps_gen_param_s gens[2] = {{128, 0.8}, {1024, 0.5}};
  mps_chain_t chain;
  ASSERT_EQ(mps_chain_create(&chain, arena, 2, gens), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    ASSERT_EQ(mps_pool_create_k(&shared.pool, arena,
                                GetParam() == Kind::amc ? mps_class_amc() : mps_class_ams(), args),
              MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_message_type_enable(arena, mps_message_type_finalization());
  mps_message_type_enable(arena, mps_message_type_gc());

  std::atomic<bool> mutatorsDone{false};
  std::vector<std::thread> mutators;
  for (int i = 0; i < kMutators; ++i)
    mutators.emplace_back(mutatorBody, &shared, i, seed + std::uint64_t(i));
  std::thread collector([&] {
    while (!mutatorsDone.load()) {
      if (mps_arena_collect(arena) != MPS_RES_OK) shared.fail("mps_arena_collect", 0);
      mps_arena_release(arena);
      shared.collections.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(15));
    }
  });
  std::thread consumer([&] {
    void* cold = __builtin_frame_address(0);
    mps_thr_t thread;
    mps_root_t root;
    if (mps_thread_reg(&thread, arena) != MPS_RES_OK ||
        mps_root_create_thread(&root, arena, thread, cold) != MPS_RES_OK) {
      shared.fail("consumer setup", 0);
      return;
    }
    for (;;) {
      bool done = mutatorsDone.load();
      mps_message_t m;
      bool any = false;
      while (mps_message_get(&m, arena, mps_message_type_finalization())) {
        shared.consume(m);
        any = true;
      }
      while (mps_message_get(&m, arena, mps_message_type_gc()))
        mps_message_discard(arena, m);
      if (done) break;
      if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    mps_root_destroy(root);
    mps_thread_dereg(thread);
  });
  for (std::thread& t : mutators)
    t.join();
  mutatorsDone.store(true);
  collector.join();
  consumer.join();
  int duringRun = shared.messages.load();

  // No thread is registered now: no ambiguous reference is left, so each
  // full collection finalizes every registered object nothing refers to.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    for (mps_message_t m : getAllFinalization(arena))
      shared.consume(m);
  }
  EXPECT_EQ(shared.failures.load(), 0);
  long expectedTotal = 0;
  int reports = 0;
  for (size_t id = 1; id < kIds; ++id) {
    expectedTotal += shared.expected[id].load();
    if (shared.received[id].load() != shared.expected[id].load() && reports++ < 10)
      ADD_FAILURE() << "object " << id << " got " << shared.received[id].load()
                    << " messages, expected " << shared.expected[id].load();
  }
  EXPECT_EQ(long(shared.messages.load()), expectedTotal);
  FinalizationCounts c = countsOf(arena);
  EXPECT_EQ(c.registrations, 0u);
  EXPECT_EQ(c.allocated, 0u);
  std::printf(
      "[ threads  ] %d messages (%d while the mutators ran), %d collections from the "
      "collector thread, %zu collections in all\n",
      shared.messages.load(), duringRun, shared.collections.load(),
      size_t(core::Collector::of(coreOf(arena))->collections()));
  EXPECT_GT(duringRun, 0) << "no message arrived while the mutators ran";
  mps_message_t m;
  while (mps_message_get(&m, arena, mps_message_type_gc()))
    mps_message_discard(arena, m);
  mps_arena_park(arena);
  mps_pool_destroy(shared.pool);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

INSTANTIATE_TEST_SUITE_P(Pools, FinalizationThreadsTest, ::testing::Values(Kind::ams, Kind::amc),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return std::string(kindName(info.param));
                         });

// 8. Misuse --------------------------------------------------------------------------
//
// The rules checked only in checked builds (MPS_AVER) have a release
// counterpart: the result code the entry point returns instead.

class FinalizationMisuseDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_NO_FATAL_FAILURE(heap.create(1, 4, 1));
    arena = heap.arena;
  }
  void TearDown() override { heap.destroy(); }
  Heap heap;
  mps_arena_t arena = nullptr;
};

TEST_F(FinalizationMisuseDeathTest, ABlockOfAManualPool) {
  mps_pool_t mvff;
  ASSERT_EQ(mps_pool_create_k(&mvff, arena, mps_class_mvff(), mps_args_none), MPS_RES_OK);
  mps_addr_t p;
  ASSERT_EQ(mps_alloc(&p, mvff, 64), MPS_RES_OK);
#if MPS_CHECKED
  EXPECT_DEATH((void)mps_finalize(arena, &p), assertionReportContaining("PoolHasAttr"));
#else
  EXPECT_EQ(mps_finalize(arena, &p), MPS_RES_PARAM);
#endif
  EXPECT_EQ(countsOf(arena).registrations, 0u);
  mps_free(mvff, p, 64);
  mps_pool_destroy(mvff);
}

TEST_F(FinalizationMisuseDeathTest, AnAddressOutsideTheArena) {
  static mps_word_t notManaged[4];
  mps_addr_t p = notManaged;
#if MPS_CHECKED
  EXPECT_DEATH((void)mps_finalize(arena, &p), assertionReportContaining("PoolOfAddr"));
  EXPECT_DEATH((void)mps_definalize(arena, &p), assertionReportContaining("PoolOfAddr"));
#else
  EXPECT_EQ(mps_finalize(arena, &p), MPS_RES_PARAM);
  EXPECT_EQ(mps_definalize(arena, &p), MPS_RES_FAIL);
#endif
}

// An interior address (of an AMS and of an AMC object, the latter in the
// buffer that just committed it): checked builds assert, release builds
// refuse it, since a registration of it would be fixed as an object.
TEST_F(FinalizationMisuseDeathTest, AnInteriorAddress) {
  for (Kind k : {Kind::ams, Kind::amc}) {
    heap.strong[0] = allocNode(heap.ap(k), 1, 2);
    mps_addr_t interior = static_cast<char*>(heap.strong[0]) + sizeof(mps_word_t);
#if MPS_CHECKED
    EXPECT_DEATH((void)mps_finalize(arena, &interior),
                 assertionReportContaining("mps_finalize's reference is the address of an object"))
        << kindName(k);
#else
    EXPECT_EQ(mps_finalize(arena, &interior), MPS_RES_PARAM) << kindName(k);
#endif
    // The object itself is fine.
    EXPECT_EQ(mps_finalize(arena, &heap.strong[0]), MPS_RES_OK);
    EXPECT_EQ(mps_definalize(arena, &heap.strong[0]), MPS_RES_OK);
  }
  EXPECT_EQ(countsOf(arena).registrations, 0u);
}

TEST_F(FinalizationMisuseDeathTest, DefinalizingAnUnregisteredBlock) {
  heap.strong[0] = allocNode(heap.ap(Kind::ams), 1, 0);
  ASSERT_EQ(mps_finalize(arena, &heap.strong[0]), MPS_RES_OK);
  ASSERT_EQ(mps_definalize(arena, &heap.strong[0]), MPS_RES_OK);
#if MPS_CHECKED
  EXPECT_DEATH((void)mps_definalize(arena, &heap.strong[0]),
               assertionReportContaining("registered for finalization"));
#else
  EXPECT_EQ(mps_definalize(arena, &heap.strong[0]), MPS_RES_FAIL);
#endif
  EXPECT_EQ(countsOf(arena).allocated, 0u);
}

TEST_F(FinalizationMisuseDeathTest, TheFinalizationReferenceOfAGCMessage) {
  mps_message_type_enable(arena, mps_message_type_gc());
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  mps_message_t m;
  ASSERT_TRUE(mps_message_get(&m, arena, mps_message_type_gc()));
  mps_addr_t ref;
  EXPECT_DEATH(mps_message_finalization_ref(&ref, arena, m),
               assertionReportContaining("the message is a finalization message"));
  mps_message_discard(arena, m);
}

}  // namespace
}  // namespace mps::test
