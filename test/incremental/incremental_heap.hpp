// Helpers for the incremental-collection tests (issue 11): an arena with a
// pause-time target and (optionally) the barrier keyword, one AMC or AMS
// pool on a chain (test/amc/amc_support.hpp), the calling thread registered
// with its stack as an ambiguous root, two exact root tables (a table of
// slots and a stack of scratch slots for building trees), and a model of
// the heap kept outside it (malloc'd: ids and expected edges) against which
// the whole reachable graph is verified.
//
// The mutator of IncHeap::step never keeps an address across an allocation
// except in the exact roots (and on its registered stack, which pins): a
// collection may start, or advance by an increment, at any fill of the
// allocation point.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "amc_support.hpp"
#include "mutator.hpp"
#include "seed.hpp"
#include "tracer/collector.hpp"

namespace mps::test {

struct IncConfig {
  PoolKind kind = PoolKind::amc;
  unsigned workers = 1;
  double pauseTime = 0.1;
  // -1: MPS_KEY_ARENA_BARRIER not passed (the default, or the environment);
  // 0 or 1: passed with that value.
  int barrier = -1;
};

// Whether mps.h declares the no-barrier keyword (an MPS++ extension of
// issue 11). Tests of it fail, rather than pass vacuously, without it.
#ifdef MPS_KEY_ARENA_BARRIER
constexpr bool kHaveBarrierKeyword = true;
#else
constexpr bool kHaveBarrierKeyword = false;
#endif

inline mps_res_t makeIncrementalArena(mps_arena_t* arena, const IncConfig& c,
                                      size_t size = size_t(256) << 20) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, c.workers);
    MPS_ARGS_ADD(args, MPS_KEY_PAUSE_TIME, c.pauseTime);
#ifdef MPS_KEY_ARENA_BARRIER
    if (c.barrier >= 0) MPS_ARGS_ADD(args, MPS_KEY_ARENA_BARRIER, mps_bool_t(c.barrier != 0));
#endif
    res = mps_arena_create_k(arena, mps_arena_class_vm(), args);
  }
  MPS_ARGS_END(args);
  return res;
}

inline core::Collector* collectorOf(mps_arena_t arena) {
  return core::Collector::of(reinterpret_cast<core::Arena*>(arena));
}
// Whether a collection is in progress (started and not finished: the
// mutator may run between its increments).
inline bool collecting(mps_arena_t arena) {
  return collectorOf(arena)->inProgress();
}

// What one GC message reported.
struct GcRecord {
  size_t pauses = 0;
  double pauseTotal = 0, pauseMax = 0;
  size_t protections = 0, faults = 0;
  double barrierSeconds = 0;
  size_t live = 0, condemned = 0;
};

inline GcRecord recordOf(mps_arena_t arena, mps_message_t m) {
  GcRecord r;
  mps_message_gc_pauses(arena, m, &r.pauses, &r.pauseTotal, &r.pauseMax);
  mps_message_gc_barrier(arena, m, &r.protections, &r.faults, &r.barrierSeconds);
  r.live = mps_message_gc_live_size(arena, m);
  r.condemned = mps_message_gc_condemned_size(arena, m);
  return r;
}

// The shadow of the heap: every object's expected edges by id (0 for a
// null reference), and the expected ids of the root slots.
struct Model {
  std::unordered_map<mps_word_t, std::vector<mps_word_t>> edges;
  mps_word_t nextId = 1;
};

inline Object* obj(mps_addr_t p) {
  return static_cast<Object*>(p);
}
inline mps_word_t idOf(const Object* o) {
  return o == nullptr ? 0 : o->id;
}

class IncHeap {
 public:
  static constexpr size_t kSlots = 64;
  static constexpr size_t kScratch = 64;
  static constexpr size_t kMaxRefs = 4;

  // `cold`: the cold end of the calling thread's stack (its ambiguous root).
  IncHeap(const IncConfig& config, mps_gen_param_s nursery, mps_gen_param_s older, void* cold)
      : config_(config) {
    for (size_t i = 0; i < kSlots; ++i)
      slots[i] = nullptr, slotIds[i] = 0;
    for (size_t i = 0; i < kScratch; ++i)
      scratch[i] = nullptr;
    ok_ = makeIncrementalArena(&arena, config) == MPS_RES_OK;
    if (!ok_) return;
    mps_message_type_enable(arena, mps_message_type_gc());
    mps_message_type_enable(arena, mps_message_type_gc_start());
    ok_ = makePoolOnChain(&poc, arena, config.kind, nursery, older) == MPS_RES_OK;
    ok_ = ok_ && mps_root_create_table(&slotRoot_, arena, mps_rank_exact(), 0, slots, kSlots) ==
                     MPS_RES_OK;
    ok_ = ok_ && mps_root_create_table(&scratchRoot_, arena, mps_rank_exact(), 0, scratch,
                                       kScratch) == MPS_RES_OK;
    if (ok_) mutator_ = std::make_unique<Mutator>(arena, poc.pool, cold);
    ok_ = ok_ && mutator_->ok();
  }
  ~IncHeap() {
    if (arena == nullptr) return;
    mps_arena_park(arena);
    mutator_.reset();
    if (scratchRoot_ != nullptr) mps_root_destroy(scratchRoot_);
    if (slotRoot_ != nullptr) mps_root_destroy(slotRoot_);
    drain();  // messages hold nothing of the pool, but discard them first
    destroyPoolOnChain(&poc);
    mps_arena_destroy(arena);
  }
  IncHeap(const IncHeap&) = delete;
  IncHeap& operator=(const IncHeap&) = delete;

  bool ok() const { return ok_; }
  mps_ap_t ap() const { return mutator_->ap; }

  // A new object with `refs` null references, in the model; null (and a
  // test failure) if out of memory.
  Object* alloc(size_t refs) {
    mps_word_t id = model.nextId++;
    Object* o = allocObject(ap(), id, refs);
    EXPECT_NE(o, nullptr) << "out of memory";
    if (o != nullptr) model.edges[id].assign(refs, 0);
    return o;
  }
  void set(Object* from, size_t i, Object* to) {
    from->refs[i] = to;
    model.edges[from->id][i] = idOf(to);
  }
  void setSlot(size_t s, Object* o) {
    slots[s] = o;
    slotIds[s] = idOf(o);
  }

  // Checks that `o` is the object the model expects by id `expect` (0: null).
  bool check(const Object* o, mps_word_t expect, const char* where) {
    if (expect == 0) {
      if (o == nullptr) return true;
      return fail() << where << ": expected null, found " << static_cast<const void*>(o);
    }
    if (o == nullptr) return fail() << where << ": expected object " << expect << ", found null";
    if (tagOf(o) != kObjectTag)
      return fail() << where << ": object " << expect << " at " << static_cast<const void*>(o)
                    << " has tag " << tagOf(o) << " (forwarded or overwritten)";
    if (o->id != expect)
      return fail() << where << ": expected object " << expect << ", found " << o->id;
    auto it = model.edges.find(expect);
    if (it == model.edges.end()) return fail() << where << ": object " << expect << " not modelled";
    if (refCount(o) != it->second.size())
      return fail() << where << ": object " << expect << " has " << refCount(o)
                    << " references, expected " << it->second.size();
    return true;
  }

  // Loads through the heap: a random walk from a random non-null slot of up
  // to `depth` steps, checking each object on the way. Null if none found.
  Object* pick(Rng& rng, size_t depth) {
    Object* o = nullptr;
    for (int tries = 0; tries < 8 && o == nullptr; ++tries) {
      size_t s = rng.below(kSlots);
      o = obj(slots[s]);
      if (!check(o, slotIds[s], "slot")) return nullptr;
    }
    if (o == nullptr) return nullptr;
    size_t steps = rng.below(depth + 1);
    for (size_t k = 0; k < steps; ++k) {
      size_t n = refCount(o);
      if (n == 0) break;
      size_t i = rng.below(n);
      Object* next = obj(o->refs[i]);
      if (!check(next, model.edges[o->id][i], "walk")) return nullptr;
      if (next == nullptr) break;
      o = next;
    }
    return o;
  }

  // Pushes a new object on the scratch stack whose references are the top
  // `children` scratch entries (popped) and, in the others, objects picked
  // from the heap (old references in a young object).
  bool combine(Rng& rng, size_t children, size_t refs) {
    Object* o = alloc(refs);  // may start or advance a collection
    if (o == nullptr) return false;
    for (size_t i = 0; i < refs; ++i) {
      if (i < children) {
        set(o, i, obj(scratch[scratchTop - 1 - i]));
      } else if (rng.below(3) == 0) {
        set(o, i, pick(rng, 4));
      }
    }
    scratchTop -= children;
    for (size_t i = scratchTop; i < scratchTop + children; ++i)
      scratch[i] = nullptr;
    scratch[scratchTop++] = o;
    return true;
  }

  // Builds a tree of about `size` new objects on the scratch stack and
  // returns its root (left on the scratch stack's top).
  bool buildTree(Rng& rng, size_t size) {
    size_t base = scratchTop;
    for (size_t made = 0; made < size || scratchTop - base > 1;) {
      size_t onStack = scratchTop - base;
      bool canCombine = onStack >= 2 || (onStack >= 1 && made >= size);
      if (canCombine && (made >= size || rng.below(2) == 0)) {
        size_t children = rng.between(1, std::min<size_t>(onStack, kMaxRefs));
        if (!combine(rng, children, rng.between(children, kMaxRefs))) return false;
      } else if (scratchTop < kScratch) {
        if (!combine(rng, 0, rng.below(3))) return false;
      } else {
        return fail() << "scratch stack overflow";
      }
      ++made;
    }
    if (scratchTop == base && !combine(rng, 0, 1)) return false;
    return true;
  }
  Object* popScratch() {
    Object* o = obj(scratch[--scratchTop]);
    scratch[scratchTop] = nullptr;
    return o;
  }

  // Pushes `length` new objects on the list in slot `s` (linked through
  // their reference 0; `refs` references each).
  bool makeList(size_t s, size_t length, size_t refs = 2) {
    for (size_t k = 0; k < length; ++k) {
      Object* o = alloc(refs);
      if (o == nullptr) return false;
      set(o, 0, obj(slots[s]));
      setSlot(s, o);
    }
    return true;
  }

  // One random mutator operation.
  void step(Rng& rng) {
    switch (rng.below(10)) {
      case 0:
      case 1: {  // replace a subtree: of a root slot, or of an object's field
        if (!buildTree(rng, rng.between(1, 24))) return;
        if (rng.below(2) == 0) {
          Object* tree = popScratch();
          setSlot(rng.below(kSlots), tree);
        } else {
          Object* target = pick(rng, 6);  // no allocation from here on
          Object* tree = popScratch();
          if (target != nullptr && refCount(target) > 0)
            set(target, rng.below(refCount(target)), tree);
        }
        break;
      }
      case 2:
      case 3: {  // store a young reference into an older object
        Object* young = alloc(rng.below(3));
        if (young == nullptr) return;
        if (refCount(young) > 0) set(young, 0, pick(rng, 3));
        Object* target = pick(rng, 8);
        if (target != nullptr && refCount(target) > 0)
          set(target, rng.below(refCount(target)), young);
        break;
      }
      case 4: {  // store an old reference into an older object (or a slot)
        Object* a = pick(rng, 8);
        Object* b = pick(rng, 8);
        if (a != nullptr && refCount(a) > 0 && rng.below(8) != 0)
          set(a, rng.below(refCount(a)), b);
        else
          setSlot(rng.below(kSlots), b);
        break;
      }
      case 5:
      case 6: {  // loads: deep walks
        for (int k = 0; k < 4; ++k)
          (void)pick(rng, 16);
        break;
      }
      case 7: {  // drop something
        if (rng.below(2) == 0) {
          setSlot(rng.below(kSlots), nullptr);
        } else {
          Object* a = pick(rng, 4);
          if (a != nullptr && refCount(a) > 0) set(a, rng.below(refCount(a)), nullptr);
        }
        break;
      }
      default: {  // garbage: drives the fills that start and advance collections
        for (int k = 0; k < 64; ++k) {
          Object* g = alloc(rng.below(3));
          if (g == nullptr) return;
          if (refCount(g) > 0) set(g, 0, pick(rng, 2));
        }
        break;
      }
    }
  }

  // Verifies the whole graph reachable from the roots against the model,
  // then forgets the unreachable part of the model. Returns the number of
  // reachable objects (0 after a failure).
  size_t verify(const char* when) {
    size_t failuresBefore = failures_;
    std::unordered_map<mps_word_t, const Object*> seen;
    std::vector<std::pair<const Object*, mps_word_t>> work;
    for (size_t s = 0; s < kSlots; ++s)
      work.emplace_back(obj(slots[s]), slotIds[s]);
    for (size_t s = 0; s < scratchTop; ++s)
      work.emplace_back(obj(scratch[s]), idOf(obj(scratch[s])));
    while (!work.empty() && failures_ - failuresBefore < 5) {
      auto [o, expect] = work.back();
      work.pop_back();
      if (!check(o, expect, when) || o == nullptr) continue;
      auto [it, fresh] = seen.emplace(expect, o);
      if (!fresh) {
        if (it->second != o)
          fail() << when << ": object " << expect << " reached at two addresses "
                 << static_cast<const void*>(it->second) << " and " << static_cast<const void*>(o);
        continue;
      }
      const std::vector<mps_word_t>& edges = model.edges[expect];
      for (size_t i = 0; i < edges.size(); ++i)
        work.emplace_back(obj(o->refs[i]), edges[i]);
    }
    if (failures_ != failuresBefore) return 0;
    // Forget what is unreachable: it is garbage the collector may reclaim.
    for (auto it = model.edges.begin(); it != model.edges.end();)
      it = seen.count(it->first) ? std::next(it) : model.edges.erase(it);
    ++verifications;
    return seen.size();
  }

  // Forgets the objects the model says are unreachable from the slots (the
  // mutator can never reach them again; between operations the scratch
  // stack is empty), from the model alone, without heap access. Returns the
  // number reachable.
  size_t pruneModel() {
    std::unordered_map<mps_word_t, std::vector<mps_word_t>> live;
    live.reserve(model.edges.size());
    std::vector<mps_word_t> work(slotIds, slotIds + kSlots);
    for (size_t s = 0; s < scratchTop; ++s)
      work.push_back(idOf(obj(scratch[s])));
    while (!work.empty()) {
      mps_word_t id = work.back();
      work.pop_back();
      if (id == 0 || live.count(id)) continue;
      auto it = model.edges.find(id);
      if (it == model.edges.end()) continue;  // verify() reports it
      auto& edges = live.emplace(id, std::move(it->second)).first->second;
      work.insert(work.end(), edges.begin(), edges.end());
    }
    model.edges.swap(live);
    return model.edges.size();
  }
  // Keeps the live heap under about `cap` objects by clearing root slots
  // (only when the model, pruned at each verification, has grown past
  // twice that: pruning walks it all).
  void bound(Rng& rng, size_t cap) {
    if (model.edges.size() <= 2 * cap) return;
    for (int tries = 0; tries < 16 && pruneModel() > cap; ++tries)
      setSlot(rng.below(kSlots), nullptr);
  }

  // Takes every pending GC message (recording it in `gcs`) and GC start
  // message (its reason in `starts`); returns how many GC messages.
  size_t drain() {
    size_t n = 0;
    mps_message_t m;
    while (mps_message_get(&m, arena, mps_message_type_gc_start())) {
      starts.emplace_back(mps_message_gc_start_why(arena, m));
      mps_message_discard(arena, m);
    }
    while (mps_message_get(&m, arena, mps_message_type_gc())) {
      gcs.push_back(recordOf(arena, m));
      mps_message_discard(arena, m);
      ++n;
    }
    return n;
  }

  // Collections whose message reported more than one pause.
  size_t incrementalCollections() const {
    size_t n = 0;
    for (const GcRecord& r : gcs)
      n += r.pauses > 1;
    return n;
  }
  size_t totalFaults() const {
    size_t n = 0;
    for (const GcRecord& r : gcs)
      n += r.faults;
    return n;
  }

  size_t failures() const { return failures_; }

  mps_arena_t arena = nullptr;
  PoolOnChain poc;
  mps_addr_t slots[kSlots];
  mps_word_t slotIds[kSlots];
  mps_addr_t scratch[kScratch];
  size_t scratchTop = 0;
  Model model;
  std::vector<GcRecord> gcs;
  std::vector<std::string> starts;
  size_t verifications = 0;

 private:
  // A failure report; converts to false.
  class Failure {
   public:
    explicit Failure(IncHeap* heap) : heap_(heap) {}
    ~Failure() {
      ++heap_->failures_;
      if (heap_->failures_ <= 20) ADD_FAILURE() << text_;
    }
    template <typename T>
    Failure& operator<<(const T& v) {
      text_ += ::testing::PrintToString(v);
      return *this;
    }
    Failure& operator<<(const char* s) {
      text_ += s;
      return *this;
    }
    operator bool() const { return false; }

   private:
    IncHeap* heap_;
    std::string text_;
  };
  Failure fail() { return Failure(this); }

  IncConfig config_;
  bool ok_ = false;
  std::unique_ptr<Mutator> mutator_;
  mps_root_t slotRoot_ = nullptr;
  mps_root_t scratchRoot_ = nullptr;
  size_t failures_ = 0;
};

// Runs IncHeap::step until at least `minCollections` collections have been
// reported and `minOps` operations done, or `seconds` have passed;
// verifies the heap after every reported collection. Keeps the live heap
// under about `liveCap` objects. Returns the number of operations done.
inline size_t runMutator(IncHeap& heap, Rng& rng, size_t minOps, size_t minCollections,
                         double seconds, size_t liveCap = 60000) {
  auto start = std::chrono::steady_clock::now();
  size_t ops = 0;
  for (;; ++ops) {
    heap.step(rng);
    if (heap.drain() > 0) heap.verify("after a collection");
    if (heap.failures() > 0) break;
    if ((ops & 1023) == 0) heap.bound(rng, liveCap);
    if ((ops & 15) == 0) {
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed > seconds) break;
      if (ops >= minOps && heap.gcs.size() >= minCollections) break;
    }
  }
  return ops;
}

}  // namespace mps::test
