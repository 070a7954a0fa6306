// weak_bench: weak tables and finalization, through the public C interface
// only (figures, not tests; build with the release preset, see README.md).
//
//   weak_table  A weak-key table of 1 million entries on AWL: a keys vector
//               (weak allocation point) and a values vector (exact), each
//               the other's dependent object, whose scan method deletes the
//               value of every splatted key. The keys are small objects in
//               an AMC pool (so they move and the weak references are
//               updated); 10% of them are also held by a strong root table.
//               Each iteration fills the table with fresh keys, then runs
//               one full collection (mps_arena_collect, timed): 90% of the
//               keys die and their entries are deleted. Reported: the time
//               per collection and per surviving entry, with 1 and 2
//               marking workers; the same collection with the keys only in
//               the root table (no weak table) as the baseline.
//   finalize    Finalization throughput: each iteration allocates 10,000
//               objects (AMS or AMC), registers each with mps_finalize,
//               drops them, collects, gets and discards every finalization
//               message; the baseline is the same program without
//               mps_finalize and messages. Reported: objects per second
//               and the ratio (the target: at most 2x). The same
//               pair on Boehm GC (GC_register_finalizer_no_order,
//               GC_invoke_finalizers on demand) for comparison.
#include <benchmark/benchmark.h>

#define GC_THREADS
#include <gc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mps.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpscawl.h"

namespace {

// The object format. Word 0 is a tagged header:
//   (words << 4) | (kind << 1) | 1   an object of `words` words (>= 2);
//   address | 0 with bit 1 set        forwarded (AMC), word 1 keeps the header;
// kinds: key, keys vector (weak), values vector, pad. Other words are
// references (word aligned, or null) or integers tagged with bit 0 set, as
// AWL asks of its objects.
using Word = std::uintptr_t;
enum Kind : Word { kKey = 0, kKeys = 1, kValues = 2, kPad = 3 };
constexpr Word kDeleted = 0x3;  // a deleted value (tagged)

Word header(Word words, Kind kind) {
  return (words << 4) | (Word(kind) << 1) | 1;
}
Word wordsOf(Word h) {
  return h >> 4;
}
Kind kindOf(Word h) {
  return Kind((h >> 1) & 3);
}
bool isForwarded(Word w0) {
  return (w0 & 3) == 2;
}

// A vector: header, partner (the dependent: keys <-> values), count
// (tagged), then the slots.
struct Vector {
  Word header;
  Vector* partner;
  Word count;
  Word slots[1];
};
constexpr Word kVectorExtra = 3;

mps_addr_t skip(mps_addr_t p) {
  Word* w = static_cast<Word*>(p);
  Word h = isForwarded(w[0]) ? w[1] : w[0];
  Word n = wordsOf(h);
  if (n == 0) n = 1;  // a one-word pad
  return w + n;
}

std::uint64_t gSplats = 0;

mps_res_t scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    for (Word* p = static_cast<Word*>(base); p < static_cast<Word*>(limit);) {
      Word h = p[0];
      Word n = wordsOf(h);
      if (n == 0) n = 1;
      Kind kind = kindOf(h);
      if (kind == kKeys || kind == kValues) {
        auto* v = reinterpret_cast<Vector*>(p);
        // The partner is the dependent: an exact reference (a weak one in
        // the keys vector, kept alive by the root anyway).
        mps_res_t res = MPS_FIX12(ss, reinterpret_cast<mps_addr_t*>(&v->partner));
        if (res != MPS_RES_OK) return res;
        Word count = v->count >> 1;
        for (Word i = 0; i < count; ++i) {
          Word w = v->slots[i];
          if (w == 0 || (w & 1) != 0) continue;
          mps_addr_t ref = reinterpret_cast<mps_addr_t>(w);
          if (!MPS_FIX1(ss, ref)) continue;
          res = MPS_FIX2(ss, &ref);
          if (res != MPS_RES_OK) return res;
          if (ref == nullptr && kind == kKeys) {
            // Splatted: delete the value in the dependent object.
            ++gSplats;
            if (v->partner != nullptr) v->partner->slots[i] = kDeleted;
          }
          v->slots[i] = reinterpret_cast<Word>(ref);
        }
      }
      p += n;
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

mps_addr_t isfwd(mps_addr_t p) {
  Word* w = static_cast<Word*>(p);
  return isForwarded(w[0]) ? reinterpret_cast<mps_addr_t>(w[0] & ~Word(3)) : nullptr;
}

void fwd(mps_addr_t old, mps_addr_t to) {
  Word* w = static_cast<Word*>(old);
  w[1] = w[0];
  w[0] = reinterpret_cast<Word>(to) | 2;
}

void pad(mps_addr_t p, size_t size) {
  Word* w = static_cast<Word*>(p);
  w[0] = size == sizeof(Word) ? 1 : header(size / sizeof(Word), kPad);
}

mps_addr_t findDependent(mps_addr_t p) {
  return static_cast<Vector*>(p)->partner;
}

struct Heap {
  mps_arena_t arena = nullptr;
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t keyPool = nullptr, awl = nullptr;
  mps_ap_t keyAp = nullptr, weakAp = nullptr, exactAp = nullptr;
  mps_root_t root = nullptr;
  std::vector<mps_addr_t> roots;

  Heap(unsigned workers, bool amc, size_t rootSlots) : roots(rootSlots, nullptr) {
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(256) << 20);
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, workers);
      check(mps_arena_create_k(&arena, mps_arena_class_vm(), args));
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(Word));
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, scan);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, skip);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, fwd);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, isfwd);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, pad);
      check(mps_fmt_create_k(&fmt, arena, args));
    }
    MPS_ARGS_END(args);
    // Collections happen when the benchmark says, not before.
    mps_gen_param_s gens[1] = {{size_t(1) << 20, 0.9}};
    check(mps_chain_create(&chain, arena, 1, gens));
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      check(mps_pool_create_k(&keyPool, arena, amc ? mps_class_amc() : mps_class_ams(), args));
    }
    MPS_ARGS_END(args);
    check(mps_ap_create_k(&keyAp, keyPool, mps_args_none));
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      MPS_ARGS_ADD(args, MPS_KEY_AWL_FIND_DEPENDENT, findDependent);
      check(mps_pool_create_k(&awl, arena, mps_class_awl(), args));
    }
    MPS_ARGS_END(args);
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
      check(mps_ap_create_k(&weakAp, awl, args));
    }
    MPS_ARGS_END(args);
    check(mps_ap_create_k(&exactAp, awl, mps_args_none));
    check(mps_root_create_table(&root, arena, mps_rank_exact(), 0, roots.data(), roots.size()));
  }
  ~Heap() {
    mps_arena_park(arena);
    mps_root_destroy(root);
    mps_ap_destroy(keyAp);
    mps_ap_destroy(weakAp);
    mps_ap_destroy(exactAp);
    mps_pool_destroy(awl);
    mps_pool_destroy(keyPool);
    mps_chain_destroy(chain);
    mps_fmt_destroy(fmt);
    mps_arena_destroy(arena);
  }
  static void check(mps_res_t res) {
    if (res != MPS_RES_OK) {
      std::fprintf(stderr, "weak_bench: MPS call failed (%d)\n", int(res));
      std::exit(1);
    }
  }
  // Allocates `words` words of kind `kind` on `ap`, every other word 0.
  static Word* alloc(mps_ap_t ap, Word words, Kind kind) {
    size_t size = words * sizeof(Word);
    mps_addr_t p;
    do {
      check(mps_reserve(&p, ap, size));
      Word* w = static_cast<Word*>(p);
      w[0] = header(words, kind);
      for (Word i = 1; i < words; ++i)
        w[i] = 0;
    } while (!mps_commit(ap, p, size));
    return static_cast<Word*>(p);
  }
  Word* newKey(Word id) {
    Word* k = alloc(keyAp, 2, kKey);
    k[1] = (id << 1) | 1;
    return k;
  }
};

double secondsOf(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// roots[0], roots[1]: the keys and values vectors; roots[2..]: the keys
// that stay alive. With `weak` false there is no table: the keys are only
// allocated, and the survivors held by the roots (the baseline).
void weakTable(benchmark::State& state, bool weak) {
  const Word entries = 1'000'000, keepEvery = 10;
  Heap heap(unsigned(state.range(0)), true, 2 + entries / keepEvery);
  Vector* keys = nullptr;
  Vector* values = nullptr;
  if (weak) {
    keys = reinterpret_cast<Vector*>(Heap::alloc(heap.weakAp, entries + kVectorExtra, kKeys));
    values = reinterpret_cast<Vector*>(Heap::alloc(heap.exactAp, entries + kVectorExtra, kValues));
    keys->partner = values;
    values->partner = keys;
    keys->count = values->count = (entries << 1) | 1;
    heap.roots[0] = keys;
    heap.roots[1] = values;
  }
  double collectSeconds = 0, survivors = 0;
  std::uint64_t splats = 0;
  Word nextId = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (Word i = 0; i < entries; ++i) {
      Word* k = heap.newKey(nextId++);
      if (weak) {
        keys->slots[i] = reinterpret_cast<Word>(k);
        values->slots[i] = (i << 1) | 1;
      }
      if (i % keepEvery == 0) heap.roots[2 + i / keepEvery] = k;
    }
    gSplats = 0;
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    mps_arena_collect(heap.arena);
    collectSeconds += secondsOf(std::chrono::steady_clock::now() - t0);
    mps_arena_release(heap.arena);
    splats += gSplats;
    if (weak) {
      keys = static_cast<Vector*>(heap.roots[0]);
      values = static_cast<Vector*>(heap.roots[1]);
      Word live = 0;
      for (Word i = 0; i < entries; ++i)
        live += keys->slots[i] != 0;
      // Every survivor is a key the roots hold; every other entry is gone.
      if (live != entries / keepEvery || splats == 0) {
        std::fprintf(stderr, "weak_bench: %lu entries survived, expected %lu\n",
                     (unsigned long)live, (unsigned long)(entries / keepEvery));
        std::exit(1);
      }
      for (Word i = 0; i < entries; ++i)
        if ((keys->slots[i] != 0) != (values->slots[i] != kDeleted)) {
          std::fprintf(stderr, "weak_bench: entry %lu has a deleted value and a live key\n",
                       (unsigned long)i);
          std::exit(1);
        }
    }
    survivors += double(entries / keepEvery);
  }
  double n = double(state.iterations());
  state.counters["collect_ms"] = 1e3 * collectSeconds / n;
  state.counters["ns_per_survivor"] = 1e9 * collectSeconds / survivors;
  state.counters["splats"] = double(splats) / n;
}

void BM_WeakTable(benchmark::State& state) {
  weakTable(state, true);
}
void BM_NoTableBaseline(benchmark::State& state) {
  weakTable(state, false);
}

// Finalization: objects allocated, registered, dropped, collected, their
// messages received and discarded.
void finalize(benchmark::State& state, bool amc, bool registered) {
  const Word objects = 10'000;
  Heap heap(1, amc, 1);
  if (registered) mps_message_type_enable(heap.arena, mps_message_type_finalization());
  std::uint64_t received = 0;
  Word nextId = 0;
  for (auto _ : state) {
    for (Word i = 0; i < objects; ++i) {
      mps_addr_t k = heap.newKey(nextId++);
      if (registered) Heap::check(mps_finalize(heap.arena, &k));
    }
    mps_arena_collect(heap.arena);
    mps_arena_release(heap.arena);
    if (registered) {
      mps_message_t m;
      while (mps_message_get(&m, heap.arena, mps_message_type_finalization())) {
        mps_addr_t ref;
        mps_message_finalization_ref(&ref, heap.arena, m);
        ++received;
        mps_message_discard(heap.arena, m);
      }
    }
  }
  // Conservative scanning of this thread is not involved (no thread root),
  // so every registered object is finalized by the collection after it.
  if (registered && received != objects * state.iterations()) {
    std::fprintf(stderr, "weak_bench: %lu finalization messages, expected %lu\n",
                 (unsigned long)received, (unsigned long)(objects * state.iterations()));
    std::exit(1);
  }
  state.SetItemsProcessed(std::int64_t(objects * state.iterations()));
}

void BM_FinalizeAMS(benchmark::State& state) {
  finalize(state, false, true);
}
void BM_NoFinalizeAMS(benchmark::State& state) {
  finalize(state, false, false);
}
void BM_FinalizeAMC(benchmark::State& state) {
  finalize(state, true, true);
}
void BM_NoFinalizeAMC(benchmark::State& state) {
  finalize(state, true, false);
}

// Boehm GC: the same objects (16 bytes), finalizers run on demand after
// each collection. Its conservative scan of this thread's stack may keep a
// few objects, so the count is reported, not checked.
std::uint64_t gBoehmFinalized = 0;
void boehmFinalizer(void*, void*) {
  ++gBoehmFinalized;
}

void finalizeBoehm(benchmark::State& state, bool registered) {
  const Word objects = 10'000;
  static bool initialised = false;
  if (!initialised) {
    GC_INIT();
    GC_set_finalize_on_demand(1);
    initialised = true;
  }
  gBoehmFinalized = 0;
  for (auto _ : state) {
    for (Word i = 0; i < objects; ++i) {
      Word* k = static_cast<Word*>(GC_MALLOC(2 * sizeof(Word)));
      k[0] = header(2, kKey);
      k[1] = (i << 1) | 1;
      if (registered) GC_register_finalizer_no_order(k, boehmFinalizer, nullptr, nullptr, nullptr);
    }
    GC_gcollect();
    if (registered) GC_invoke_finalizers();
  }
  state.SetItemsProcessed(std::int64_t(objects * state.iterations()));
  if (registered)
    state.counters["finalized_share"] =
        double(gBoehmFinalized) / double(objects * state.iterations());
}

void BM_FinalizeBoehm(benchmark::State& state) {
  finalizeBoehm(state, true);
}
void BM_NoFinalizeBoehm(benchmark::State& state) {
  finalizeBoehm(state, false);
}

}  // namespace

BENCHMARK(BM_WeakTable)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_NoTableBaseline)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK(BM_FinalizeAMS)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NoFinalizeAMS)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FinalizeAMC)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NoFinalizeAMC)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FinalizeBoehm)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NoFinalizeBoehm)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
