// gc_bench: the automatic (garbage-collected) side of MPS++, through the
// public C interface only, next to Boehm GC in the same binary.
//
//   gcbench  Binary trees shaped after Boehm's GCBench (see README.md): a
//            long-lived tree and a long-lived array of doubles kept for the
//            whole run, while trees of depth 4, 6, ..., 18 are built top-down
//            and bottom-up and dropped. The same algorithm runs on an AMS pool
//            (allocation point, reserve/commit, the stack as an ambiguous
//            thread root) and on Boehm GC (GC_MALLOC). One benchmark
//            iteration is one whole run; the time is wall time.
//   mark     The marking rate: a live heap of a depth-20 tree whose leaves
//            point at random nodes is collected with mps_arena_collect with 1
//            and with 2 marking workers (mps_arena_gc_workers_set). One
//            iteration is one collection; the time is wall time around
//            mps_arena_collect.
//
// After the benchmarks, main() prints a summary with the ratios and the
// project's targets (from the medians of the repetitions).
#include <benchmark/benchmark.h>

// Boehm GC (Debian libgc-dev, pkg-config bdw-gc), in its threads
// configuration so that it marks in parallel as AMS does.
#define GC_THREADS
#include <gc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpslib.h"

namespace {

// ---------------------------------------------------------------------------
// The objects: GCBench's node, four words. Only left and right are
// references; i and j are data.

struct Node {
  Node* left;
  Node* right;
  std::intptr_t i;
  std::intptr_t j;
};
static_assert(sizeof(Node) == 32, "a node is four words");

[[noreturn]] void die(const char* what, mps_res_t res) {
  std::fprintf(stderr, "gc_bench: %s failed (result %d)\n", what, res);
  std::abort();
}

// A virtual-memory arena of `bytes` reserved at first, or the benchmark dies.
mps_arena_t createArena(std::size_t bytes) {
  mps_arena_t arena;
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, bytes);
    res = mps_arena_create_k(&arena, mps_arena_class_vm(), args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_arena_create_k", res);
  return arena;
}

// A pool of `poolClass` with format `fmt` on `chain`, and an allocation
// point on it, or the benchmark dies.
void createPoolAndAp(mps_pool_t* poolOut, mps_ap_t* apOut, mps_arena_t arena,
                     mps_pool_class_t poolClass, mps_fmt_t fmt, mps_chain_t chain) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    res = mps_pool_create_k(poolOut, arena, poolClass, args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_pool_create_k", res);
  res = mps_ap_create_k(apOut, *poolOut, mps_args_none);
  if (res != MPS_RES_OK) die("mps_ap_create_k", res);
}

// The AMS format: every object in the pool is a Node. The scan method fixes
// the two references; AMS never moves objects, so a fixed reference only
// needs writing back if the collector changed it.
mps_res_t nodeScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    for (Node* n = static_cast<Node*>(base); n < static_cast<Node*>(limit); ++n) {
      mps_addr_t ref = n->left;
      mps_res_t res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      if (ref != n->left) n->left = static_cast<Node*>(ref);
      ref = n->right;
      res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      if (ref != n->right) n->right = static_cast<Node*>(ref);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

mps_addr_t nodeSkip(mps_addr_t p) {
  return static_cast<char*>(p) + sizeof(Node);
}

// An arena with one AMS pool of Nodes and an allocation point on it.
// `nurseryKiB` is the capacity of the pool's one generation: the pool is
// collected each time that much has been allocated in it since the last
// collection. The arena marks with its default number of workers (the
// hardware threads, or MPS_GC_WORKERS from the environment).
class AmsHeap {
 public:
  AmsHeap(std::size_t arenaBytes, std::size_t nurseryKiB) {
    arena = createArena(arenaBytes);
    mps_res_t res;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, alignof(Node));
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, nodeScan);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, nodeSkip);
      res = mps_fmt_create_k(&fmt_, arena, args);
    }
    MPS_ARGS_END(args);
    if (res != MPS_RES_OK) die("mps_fmt_create_k", res);
    mps_gen_param_s gen = {nurseryKiB, 0.85};
    res = mps_chain_create(&chain_, arena, 1, &gen);
    if (res != MPS_RES_OK) die("mps_chain_create", res);
    createPoolAndAp(&pool_, &ap, arena, mps_class_ams(), fmt_, chain_);
  }
  ~AmsHeap() {
    mps_arena_park(arena);
    mps_ap_destroy(ap);
    mps_pool_destroy(pool_);
    mps_chain_destroy(chain_);
    mps_fmt_destroy(fmt_);
    mps_arena_destroy(arena);
  }
  AmsHeap(const AmsHeap&) = delete;
  AmsHeap& operator=(const AmsHeap&) = delete;

  mps_arena_t arena = nullptr;
  mps_ap_t ap = nullptr;

 private:
  mps_fmt_t fmt_ = nullptr;
  mps_chain_t chain_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

// The AMC format: the same Node, plus the forwarding markers and padding
// objects a copying pool needs. A node's left field is a pointer (its low
// two bits clear), so the low bits of the first word tell them apart:
//   ...00  a node (32 bytes);
//   ...01  a padding object of (word >> 2) bytes;
//   ...10  a forwarding marker: the node moved to (word & ~3).
constexpr std::uintptr_t kPadTag = 1, kFwdTag = 2, kTagMask = 3;

std::uintptr_t firstWord(mps_addr_t p) {
  return *static_cast<std::uintptr_t*>(p);
}

mps_addr_t amcNodeSkip(mps_addr_t p) {
  std::uintptr_t w = firstWord(p);
  return static_cast<char*>(p) + ((w & kTagMask) == kPadTag ? w >> 2 : sizeof(Node));
}

mps_res_t amcNodeScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
      std::uintptr_t w = firstWord(p);
      if ((w & kTagMask) != 0) {
        p = static_cast<char*>(amcNodeSkip(p));
        continue;
      }
      Node* n = reinterpret_cast<Node*>(p);
      mps_addr_t ref = n->left;
      mps_res_t res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      n->left = static_cast<Node*>(ref);
      ref = n->right;
      res = MPS_FIX12(ss, &ref);
      if (res != MPS_RES_OK) return res;
      n->right = static_cast<Node*>(ref);
      p += sizeof(Node);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

void amcNodeFwd(mps_addr_t old, mps_addr_t to) {
  *static_cast<std::uintptr_t*>(old) = reinterpret_cast<std::uintptr_t>(to) | kFwdTag;
}

mps_addr_t amcNodeIsfwd(mps_addr_t p) {
  std::uintptr_t w = firstWord(p);
  return (w & kTagMask) == kFwdTag ? reinterpret_cast<mps_addr_t>(w & ~kTagMask) : nullptr;
}

void amcNodePad(mps_addr_t p, std::size_t size) {
  *static_cast<std::uintptr_t*>(p) = (std::uintptr_t(size) << 2) | kPadTag;
}

// An arena with one AMC pool of Nodes on a two-generation chain: a nursery
// of `nurseryKiB`, and an older generation survivors are promoted to.
class AmcHeap {
 public:
  AmcHeap(std::size_t arenaBytes, std::size_t nurseryKiB, std::size_t olderKiB) {
    arena = createArena(arenaBytes);
    mps_res_t res;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, alignof(Node));
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, amcNodeScan);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, amcNodeSkip);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, amcNodeFwd);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, amcNodeIsfwd);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, amcNodePad);
      res = mps_fmt_create_k(&fmt_, arena, args);
    }
    MPS_ARGS_END(args);
    if (res != MPS_RES_OK) die("mps_fmt_create_k", res);
    mps_gen_param_s gens[3] = {{nurseryKiB, 0.85}, {olderKiB, 0.45}, {olderKiB * 4, 0.3}};
    std::size_t count = 2;
    // AMC_GENS="KiB,KiB,..." replaces the chain, for experiments.
    if (const char* env = std::getenv("AMC_GENS")) {
      count = 0;
      for (char* end = nullptr; count < 3 && *env != 0; env = *end != 0 ? end + 1 : end) {
        gens[count] = {std::strtoul(env, &end, 10), count == 0 ? 0.85 : 0.45};
        ++count;
      }
    }
    res = mps_chain_create(&chain_, arena, count, gens);
    if (res != MPS_RES_OK) die("mps_chain_create", res);
    createPoolAndAp(&pool_, &ap, arena, mps_class_amc(), fmt_, chain_);
    mps_message_type_enable(arena, mps_message_type_gc_start());
    mps_message_type_enable(arena, mps_message_type_gc());
  }
  ~AmcHeap() {
    mps_arena_park(arena);
    mps_ap_destroy(ap);
    mps_pool_destroy(pool_);
    mps_chain_destroy(chain_);
    mps_fmt_destroy(fmt_);
    mps_arena_destroy(arena);
  }
  AmcHeap(const AmcHeap&) = delete;
  AmcHeap& operator=(const AmcHeap&) = delete;

  // Pause times of the collections since the last call, in seconds, from
  // the clocks of each collection's start and end messages: nursery
  // collections (the start message's reason names generation 0 alone) and
  // the others (older generations, full collections).
  struct Pauses {
    std::vector<double> nursery, older;
    std::vector<double> all() const {
      std::vector<double> v = nursery;
      v.insert(v.end(), older.begin(), older.end());
      return v;
    }
  };
  Pauses takePauses() {
    Pauses pauses;
    double perSec = double(mps_clocks_per_sec());
    mps_message_t start, end;
    while (mps_message_get(&start, arena, mps_message_type_gc_start())) {
      mps_clock_t t0 = mps_message_clock(arena, start);
      bool older = std::strncmp(mps_message_gc_start_why(arena, start), "Generation 0 ", 13) != 0;
      mps_message_discard(arena, start);
      if (!mps_message_get(&end, arena, mps_message_type_gc())) break;
      (older ? pauses.older : pauses.nursery)
          .push_back(double(mps_message_clock(arena, end) - t0) / perSec);
      liveBytes += double(mps_message_gc_live_size(arena, end));
      condemnedBytes += double(mps_message_gc_condemned_size(arena, end));
      mps_message_discard(arena, end);
    }
    return pauses;
  }

  mps_arena_t arena = nullptr;
  mps_ap_t ap = nullptr;
  double liveBytes = 0, condemnedBytes = 0;  // summed over the collections taken

 private:
  mps_fmt_t fmt_ = nullptr;
  mps_chain_t chain_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

// The calling thread, registered with an arena and its stack and registers
// an ambiguous root from `cold` down, for the lifetime of the object.
class ThreadRoot {
 public:
  ThreadRoot(mps_arena_t arena, void* cold) {
    mps_res_t res = mps_thread_reg(&thr_, arena);
    if (res != MPS_RES_OK) die("mps_thread_reg", res);
    res = mps_root_create_thread(&root_, arena, thr_, cold);
    if (res != MPS_RES_OK) die("mps_root_create_thread", res);
  }
  ~ThreadRoot() {
    mps_root_destroy(root_);
    mps_thread_dereg(thr_);
  }
  ThreadRoot(const ThreadRoot&) = delete;
  ThreadRoot& operator=(const ThreadRoot&) = delete;

 private:
  mps_thr_t thr_ = nullptr;
  mps_root_t root_ = nullptr;
};

// ---------------------------------------------------------------------------
// Allocators for the tree algorithms: node(l, r) returns a new node with the
// given children and zero data; array(n) a long-lived array of n doubles.

struct AmsAlloc {
  mps_ap_t ap;
  Node* node(Node* l, Node* r) {
    mps_addr_t p;
    do {
      mps_res_t res = mps_reserve(&p, ap, sizeof(Node));
      if (res != MPS_RES_OK) die("mps_reserve", res);
      Node* n = static_cast<Node*>(p);
      n->left = l;
      n->right = r;
      n->i = 0;
      n->j = 0;
    } while (!mps_commit(ap, p, sizeof(Node)));
    return static_cast<Node*>(p);
  }
  // Leaf data outside the collected heap: it holds no references.
  double* array(std::size_t n) { return static_cast<double*>(std::malloc(n * sizeof(double))); }
  void dropArray(double* a) { std::free(a); }
  void dropTree(Node*) {}  // the collector finds it dead
};

struct BoehmAlloc {
  Node* node(Node* l, Node* r) {
    Node* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));
    if (n == nullptr) die("GC_MALLOC", 0);
    n->left = l;
    n->right = r;
    n->i = 0;
    n->j = 0;
    return n;
  }
  // Pointer-free, so never scanned.
  double* array(std::size_t n) {
    return static_cast<double*>(GC_MALLOC_ATOMIC(n * sizeof(double)));
  }
  void dropArray(double*) {}
  void dropTree(Node*) {}
};

// The baseline without a collector: every tree is freed when dropped, node
// by node, as a C program would.
struct MallocAlloc {
  Node* node(Node* l, Node* r) {
    Node* n = static_cast<Node*>(std::malloc(sizeof(Node)));
    if (n == nullptr) die("malloc", 0);
    n->left = l;
    n->right = r;
    n->i = 0;
    n->j = 0;
    return n;
  }
  double* array(std::size_t n) { return static_cast<double*>(std::malloc(n * sizeof(double))); }
  void dropArray(double* a) { std::free(a); }
  void dropTree(Node* n) {
    while (n != nullptr) {  // recurse left, iterate right
      Node* right = n->right;
      dropTree(n->left);
      std::free(n);
      n = right;
    }
  }
};

// ---------------------------------------------------------------------------
// GCBench-shaped run. A tree of depth d has 2^(d+1) - 1 nodes (depth 0 is a
// single node).

constexpr int kStretchDepth = 18;    // built once at the start and dropped
constexpr int kLongLivedDepth = 16;  // kept for the whole run
constexpr int kMinDepth = 4;
constexpr int kMaxDepth = 18;
constexpr std::size_t kArraySize = 500000;  // long-lived doubles

// Trees of each depth per construction method: the same number of nodes,
// about 2^20, at every depth.
constexpr long itersFor(int depth) {
  return 2L << (kMaxDepth - depth);
}

constexpr std::size_t treeNodes(int depth) {
  return (std::size_t(2) << depth) - 1;
}

template <class A>
Node* makeTree(A& a, int depth) {  // bottom-up
  if (depth <= 0) return a.node(nullptr, nullptr);
  Node* l = makeTree(a, depth - 1);
  Node* r = makeTree(a, depth - 1);
  return a.node(l, r);
}

template <class A>
void populate(A& a, int depth, Node* n) {  // top-down
  if (depth <= 0) return;
  --depth;
  n->left = a.node(nullptr, nullptr);
  n->right = a.node(nullptr, nullptr);
  populate(a, depth, n->left);
  populate(a, depth, n->right);
}

std::size_t countNodes(const Node* n) {
  std::size_t c = 0;
  while (n != nullptr) {  // recurse left, iterate right
    c += 1 + countNodes(n->left);
    n = n->right;
  }
  return c;
}

// Total bytes of nodes one run allocates.
std::size_t gcbenchNodeBytes() {
  std::size_t nodes = treeNodes(kStretchDepth) + treeNodes(kLongLivedDepth);
  for (int d = kMinDepth; d <= kMaxDepth; d += 2)
    nodes += 2 * std::size_t(itersFor(d)) * treeNodes(d);
  return nodes * sizeof(Node);
}

// One whole run; false if the long-lived data did not survive intact.
template <class A>
__attribute__((noinline)) bool gcbench(A& a) {
  Node* stretch = makeTree(a, kStretchDepth);
  benchmark::DoNotOptimize(stretch);
  a.dropTree(stretch);

  Node* longLived = a.node(nullptr, nullptr);
  populate(a, kLongLivedDepth, longLived);
  double* array = a.array(kArraySize);
  if (array == nullptr) return false;
  for (std::size_t k = 0; k < kArraySize / 2; ++k)
    array[k] = 1.0 / double(k + 1);

  for (int d = kMinDepth; d <= kMaxDepth; d += 2) {
    long iters = itersFor(d);
    for (long k = 0; k < iters; ++k) {
      Node* t = a.node(nullptr, nullptr);
      populate(a, d, t);
      benchmark::DoNotOptimize(t);
      a.dropTree(t);
    }
    for (long k = 0; k < iters; ++k) {
      Node* t = makeTree(a, d);
      benchmark::DoNotOptimize(t);
      a.dropTree(t);
    }
  }

  bool ok = countNodes(longLived) == treeNodes(kLongLivedDepth) && array[999] == 1.0 / 1000.0;
  benchmark::DoNotOptimize(longLived);
  a.dropTree(longLived);
  a.dropArray(array);
  return ok;
}

// The AMS heap of the gcbench runs lives as long as the program, as Boehm's
// does: every run after the first finds the heap already grown. Its
// generation capacity, 64 MiB, makes AMS collect about as often as Boehm,
// which grows its heap to about 120 MB here and collects every 70 MB or so.
constexpr std::size_t kGCBenchNurseryKiB = 64 << 10;
AmsHeap* gcbenchHeap = nullptr;

__attribute__((noinline)) void runGCBenchAms(benchmark::State& state, void* cold) {
  if (gcbenchHeap == nullptr) gcbenchHeap = new AmsHeap(std::size_t(256) << 20, kGCBenchNurseryKiB);
  mps_arena_t arena = gcbenchHeap->arena;
  ThreadRoot thread(arena, cold);
  AmsAlloc alloc{gcbenchHeap->ap};
  mps_word_t before = mps_collections(arena);
  bool ok = true;
  for (auto _ : state)
    ok = gcbench(alloc) && ok;
  double runs = double(state.iterations());
  state.counters["collections"] = double(mps_collections(arena) - before) / runs;
  state.counters["heap_MB"] = double(mps_arena_committed(arena)) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
}

void gcbenchAms(benchmark::State& state) {
  void* cold = &cold;  // the cold end of the stack the collector scans
  runGCBenchAms(state, cold);
}

// The AMC heap of the gcbench runs, like the AMS one, lives as long as the
// program. A 16 MiB nursery and an 8 MiB older generation: the write barrier
// keeps nursery collections from scanning the older generation, and these
// sizes were the best of those tried for time and memory together (see
// README.md; AMC_GENS overrides them).
constexpr std::size_t kAmcNurseryKiB = 16 << 10;
constexpr std::size_t kAmcOlderKiB = 8 << 10;
AmcHeap* gcbenchAmcHeap = nullptr;

// Median and maximum of a list of pause times, in milliseconds.
void pauseCounters(benchmark::State& state, const char* name, std::vector<double> pauses) {
  if (pauses.empty()) return;
  std::sort(pauses.begin(), pauses.end());
  state.counters[std::string(name) + "_median_ms"] = pauses[pauses.size() / 2] * 1e3;
  state.counters[std::string(name) + "_max_ms"] = pauses.back() * 1e3;
  double total = 0;
  for (double p : pauses)
    total += p;
  state.counters[std::string(name) + "_total_ms"] = total * 1e3;
}

__attribute__((noinline)) void runGCBenchAmc(benchmark::State& state, void* cold) {
  if (gcbenchAmcHeap == nullptr)
    gcbenchAmcHeap = new AmcHeap(std::size_t(512) << 20, kAmcNurseryKiB, kAmcOlderKiB);
  mps_arena_t arena = gcbenchAmcHeap->arena;
  ThreadRoot thread(arena, cold);
  AmsAlloc alloc{gcbenchAmcHeap->ap};
  (void)gcbenchAmcHeap->takePauses();
  gcbenchAmcHeap->liveBytes = gcbenchAmcHeap->condemnedBytes = 0;
  mps_word_t before = mps_collections(arena);
  bool ok = true;
  for (auto _ : state) {
    ok = gcbench(alloc) && ok;
    state.PauseTiming();
    AmcHeap::Pauses pauses = gcbenchAmcHeap->takePauses();
    pauseCounters(state, "nursery_pause", pauses.nursery);
    pauseCounters(state, "older_pause", pauses.older);
    state.ResumeTiming();
  }
  state.counters["survived_MB"] = gcbenchAmcHeap->liveBytes / 1e6 / double(state.iterations());
  state.counters["condemned_MB"] =
      gcbenchAmcHeap->condemnedBytes / 1e6 / double(state.iterations());
  double runs = double(state.iterations());
  state.counters["collections"] = double(mps_collections(arena) - before) / runs;
  state.counters["heap_MB"] = double(mps_arena_committed(arena)) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
}

void gcbenchAmc(benchmark::State& state) {
  void* cold = &cold;
  runGCBenchAmc(state, cold);
}

// The pause of a full AMC collection with GCBench's live data held (the
// long-lived tree and a stretch tree, about 13 MB), in a heap of its own,
// measured once after the benchmarks so as not to disturb them. Median of 5.
double amcFullPauseMs = 0;

__attribute__((noinline)) void measureAmcFullPause(void* cold) {
  AmcHeap heap(std::size_t(256) << 20, kAmcNurseryKiB, kAmcOlderKiB);
  {
    ThreadRoot thread(heap.arena, cold);
    mps_arena_park(heap.arena);
    AmsAlloc alloc{heap.ap};
    Node* live[2] = {makeTree(alloc, kLongLivedDepth), makeTree(alloc, kStretchDepth)};
    (void)heap.takePauses();
    std::vector<double> pauses;
    for (int i = 0; i < 5; ++i) {
      mps_arena_collect(heap.arena);
      std::vector<double> p = heap.takePauses().all();
      pauses.insert(pauses.end(), p.begin(), p.end());
    }
    benchmark::DoNotOptimize(live);
    if (countNodes(live[0]) != treeNodes(kLongLivedDepth)) die("full collection check", 0);
    std::sort(pauses.begin(), pauses.end());
    if (!pauses.empty()) amcFullPauseMs = pauses[pauses.size() / 2] * 1e3;
  }
}

void gcbenchBoehm(benchmark::State& state) {
  BoehmAlloc alloc;
  GC_word before = GC_get_gc_no();
  bool ok = true;
  for (auto _ : state)
    ok = gcbench(alloc) && ok;
  double runs = double(state.iterations());
  state.counters["collections"] = double(GC_get_gc_no() - before) / runs;
  state.counters["heap_MB"] = double(GC_get_heap_size()) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
}

void gcbenchMalloc(benchmark::State& state) {
  MallocAlloc alloc;
  bool ok = true;
  for (auto _ : state)
    ok = gcbench(alloc) && ok;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
}

// ---------------------------------------------------------------------------
// What the write barrier saves: nursery collections beside a large older
// generation. 64 MB of trees (16 of depth 16) are built, held by an exact
// root and promoted by a full collection; then a run allocates 256 MB of
// short-lived trees through an 8 MiB nursery and, after every
// kBarrierStoreEvery trees, stores `stores` young nodes into leaves of the
// older trees (each such store makes its segment part of the next nursery
// collection's remembered set). The older generation's capacity is large
// enough that only nursery collections run. `barrier/off` creates its
// arena with MPS_WRITE_BARRIER=0: every nursery collection then scans the
// whole older generation.

constexpr int kBarrierOldTrees = 16;
constexpr int kBarrierOldDepth = 16;
constexpr int kBarrierYoungDepth = 10;  // 2047 nodes, 64 KiB
constexpr long kBarrierTrees =
    (std::size_t(256) << 20) / (treeNodes(kBarrierYoungDepth) * sizeof(Node));
constexpr long kBarrierStoreEvery = 16;

__attribute__((noinline)) void runBarrier(benchmark::State& state, void* cold, bool barrier) {
  if (!barrier) ::setenv("MPS_WRITE_BARRIER", "0", 1);
  AmcHeap heap(std::size_t(512) << 20, 8 << 10, 1 << 20);
  if (!barrier) ::unsetenv("MPS_WRITE_BARRIER");
  static Node* old[kBarrierOldTrees];
  mps_root_t root;
  mps_res_t res = mps_root_create_table(&root, heap.arena, mps_rank_exact(), 0,
                                        reinterpret_cast<mps_addr_t*>(old), kBarrierOldTrees);
  if (res != MPS_RES_OK) die("mps_root_create_table", res);
  long stores = long(state.range(0));
  {
    ThreadRoot thread(heap.arena, cold);
    AmsAlloc alloc{heap.ap};
    for (Node*& t : old)
      t = makeTree(alloc, kBarrierOldDepth);
    mps_arena_collect(heap.arena);  // promotes them out of the nursery
    mps_arena_release(heap.arena);
    (void)heap.takePauses();
    std::uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (auto _ : state) {
      for (long k = 0; k < kBarrierTrees; ++k) {
        benchmark::DoNotOptimize(makeTree(alloc, kBarrierYoungDepth));
        if (k % kBarrierStoreEvery != 0) continue;
        for (long n = 0; n < stores; ++n) {
          // Down a random path of a random older tree to a leaf.
          rng = rng * 6364136223846793005ull + 1442695040888963407ull;
          Node* leaf = old[(rng >> 33) % kBarrierOldTrees];
          for (int d = 0; d < kBarrierOldDepth; ++d)
            leaf = ((rng >> d) & 1) != 0 ? leaf->right : leaf->left;
          leaf->left = alloc.node(nullptr, nullptr);
        }
      }
    }
    AmcHeap::Pauses pauses = heap.takePauses();
    pauseCounters(state, "nursery_pause", pauses.nursery);
    state.counters["collections"] = double(pauses.nursery.size() + pauses.older.size());
    state.counters["older_collections"] = double(pauses.older.size());
    state.counters["survived_MB"] = heap.liveBytes / 1e6;
    mps_arena_park(heap.arena);
  }
  mps_root_destroy(root);
}

void barrierOn(benchmark::State& state) {
  void* cold = &cold;
  runBarrier(state, cold, true);
}

void barrierOff(benchmark::State& state) {
  void* cold = &cold;
  runBarrier(state, cold, false);
}

// ---------------------------------------------------------------------------
// Marking rate. The heap is built once and shared by the worker counts, so
// every count marks exactly the same objects at the same addresses.

constexpr int kMarkDepth = 20;
constexpr std::size_t kMarkObjects = treeNodes(kMarkDepth);
constexpr std::size_t kMarkBytes = kMarkObjects * sizeof(Node);
constexpr int kCollectsPerRun = 7;  // timed collections per benchmark run

class Rng {  // SplitMix64
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) {
    return std::size_t(((next() >> 32) * std::uint64_t(n)) >> 32);
  }

 private:
  std::uint64_t state_;
};

struct MarkHeap {
  AmsHeap* heap = nullptr;
  Node* root = nullptr;  // registered as an exact root
  mps_root_t rootRoot = nullptr;
  std::intptr_t checksum = 0;  // sum of i over the tree
};
MarkHeap* markHeap = nullptr;

// Bottom-up, numbering nodes in allocation order and recording them.
Node* makeNumberedTree(AmsAlloc& a, int depth, std::vector<Node*>& all) {
  Node* l = depth > 0 ? makeNumberedTree(a, depth - 1, all) : nullptr;
  Node* r = depth > 0 ? makeNumberedTree(a, depth - 1, all) : nullptr;
  Node* n = a.node(l, r);
  n->i = std::intptr_t(all.size());
  all.push_back(n);
  return n;
}

// Sums i over the tree edges only (the leaves' edges are the random ones).
std::intptr_t treeChecksum(const Node* n, int depth) {
  if (depth == 0) return n->i;
  return n->i + treeChecksum(n->left, depth - 1) + treeChecksum(n->right, depth - 1);
}

__attribute__((noinline)) void buildMarkHeap(void* cold) {
  markHeap = new MarkHeap;
  // Generation capacity far above the heap: no collection while building.
  markHeap->heap = new AmsHeap(std::size_t(512) << 20, std::size_t(4) << 20);
  mps_arena_t arena = markHeap->heap->arena;
  mps_res_t res = mps_root_create_table(&markHeap->rootRoot, arena, mps_rank_exact(), 0,
                                        reinterpret_cast<mps_addr_t*>(&markHeap->root), 1);
  if (res != MPS_RES_OK) die("mps_root_create_table", res);
  ThreadRoot thread(arena, cold);
  mps_arena_park(arena);
  AmsAlloc alloc{markHeap->heap->ap};
  std::vector<Node*> all;
  all.reserve(kMarkObjects);
  markHeap->root = makeNumberedTree(alloc, kMarkDepth, all);
  // Each leaf's two free fields point at random nodes: extra edges that
  // make the graph shared and the marking order cache-unfriendly.
  Rng rng(0x4d50532b2b2d4743u);
  for (Node* n : all) {
    if (n->left != nullptr) continue;
    n->left = all[rng.below(all.size())];
    n->right = all[rng.below(all.size())];
  }
  markHeap->checksum = std::intptr_t(kMarkObjects) * std::intptr_t(kMarkObjects - 1) / 2;
}

void destroyMarkHeap() {
  if (markHeap == nullptr) return;
  mps_root_destroy(markHeap->rootRoot);
  delete markHeap->heap;
  delete markHeap;
  markHeap = nullptr;
}

__attribute__((noinline)) void runMark(benchmark::State& state, unsigned workers, void* cold) {
  if (markHeap == nullptr) buildMarkHeap(cold);
  mps_arena_t arena = markHeap->heap->arena;
  ThreadRoot thread(arena, cold);
  mps_arena_gc_workers_set(arena, workers);
  if (mps_arena_collect(arena) != MPS_RES_OK) {  // warm-up, untimed
    state.SkipWithError("mps_arena_collect failed");
    return;
  }
  std::vector<double> seconds;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    mps_res_t res = mps_arena_collect(arena);
    auto t1 = std::chrono::steady_clock::now();
    if (res != MPS_RES_OK) {
      state.SkipWithError("mps_arena_collect failed");
      break;
    }
    double s = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(s);
    seconds.push_back(s);
  }
  if (seconds.empty()) return;
  std::sort(seconds.begin(), seconds.end());
  double median = seconds[seconds.size() / 2];
  if (seconds.size() % 2 == 0) median = (median + seconds[seconds.size() / 2 - 1]) / 2;
  state.counters["median_ms"] = median * 1e3;
  state.counters["Mobjects_per_s"] = double(kMarkObjects) / median / 1e6;
  state.counters["MB_per_s"] = double(kMarkBytes) / median / 1e6;
  if (treeChecksum(markHeap->root, kMarkDepth) != markHeap->checksum)
    state.SkipWithError("the live heap did not survive the collections");
}

void mark(benchmark::State& state, unsigned workers) {
  void* cold = &cold;
  runMark(state, workers, cold);
}

// ---------------------------------------------------------------------------
// Summary: from the median aggregate when there are repetitions, else from
// the single run.

struct Figure {
  double seconds = 0;  // wall time per iteration
  std::map<std::string, double> counters;
  bool fromMedian = false;
};
std::map<std::string, Figure> figures;  // benchmark name -> result

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  explicit SummaryReporter(bool color) : ConsoleReporter(color ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const auto& name = run.run_name;
      Figure& f =
          figures[name.args.empty() ? name.function_name : name.function_name + "/" + name.args];
      if (median || !f.fromMedian) {
        f.seconds = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
        f.counters.clear();
        for (auto& [name, counter] : run.counters)
          f.counters[name] = counter.value;
        f.fromMedian = median;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

const Figure* figureOf(const char* name) {
  auto it = figures.find(name);
  return it == figures.end() ? nullptr : &it->second;
}

double counterOf(const Figure* f, const char* name) {
  auto it = f->counters.find(name);
  return it == f->counters.end() ? 0 : it->second;
}

const char* verdict(bool met) {
  return met ? "met" : "MISSED";
}

constexpr double kGCBenchTarget = 1.0;     // AMS / Boehm wall time, at most
constexpr double kGCBenchAmcTarget = 0.7;  // AMC / Boehm wall time, at most
constexpr double kMarkTarget = 1.6;        // 2-worker / 1-worker rate, at least

void printSummary() {
  std::printf("\nSummary (median of the repetitions)\n");
  std::printf("\ngcbench: %.0f MB of nodes per run, wall time (Boehm marks with %d thread%s)\n",
              double(gcbenchNodeBytes()) / 1e6, GC_get_parallel() + 1,
              GC_get_parallel() == 0 ? "" : "s");
  std::printf("%-24s %10s %12s %9s  %s\n", "collector", "s/run", "collections", "heap MB",
              "target");
  const Figure* boehm = figureOf("gcbench/boehm");
  const Figure* ams = figureOf("gcbench/ams");
  const Figure* amc = figureOf("gcbench/amc");
  const Figure* mallocFree = figureOf("gcbench/malloc");
  for (auto [label, f] : {std::pair{"boehm", boehm}, std::pair{"ams", ams}, std::pair{"amc", amc},
                          std::pair{"malloc/free", mallocFree}}) {
    if (f == nullptr) {
      std::printf("%-24s %10s\n", label, "-");
      continue;
    }
    if (f == mallocFree) {  // no collections, no heap of its own to report
      std::printf("%-24s %10.3f %12s %9s\n", label, f->seconds, "-", "-");
      continue;
    }
    std::printf("%-24s %10.3f %12.1f %9.1f\n", label, f->seconds, counterOf(f, "collections"),
                counterOf(f, "heap_MB"));
  }
  if (mallocFree != nullptr && amc != nullptr && mallocFree->seconds > 0)
    std::printf("%-24s %10.2f\n", "AMC / malloc wall time", amc->seconds / mallocFree->seconds);
  if (boehm != nullptr && ams != nullptr && boehm->seconds > 0) {
    double ratio = ams->seconds / boehm->seconds;
    std::printf("%-24s %10.2f %12s %9s  <= %.1f %s\n", "AMS / Boehm wall time", ratio, "", "",
                kGCBenchTarget, verdict(ratio <= kGCBenchTarget));
  }
  if (boehm != nullptr && amc != nullptr && boehm->seconds > 0) {
    double ratio = amc->seconds / boehm->seconds;
    std::printf("%-24s %10.2f %12s %9s  <= %.1f %s\n", "AMC / Boehm wall time", ratio, "", "",
                kGCBenchAmcTarget, verdict(ratio <= kGCBenchAmcTarget));
    std::printf(
        "AMC pauses (ms): nursery collections median %.2f max %.2f, %.0f in all; older\n"
        "generations median %.2f max %.2f, %.0f in all; full collection with 13 MB live %.2f\n",
        counterOf(amc, "nursery_pause_median_ms"), counterOf(amc, "nursery_pause_max_ms"),
        counterOf(amc, "nursery_pause_total_ms"), counterOf(amc, "older_pause_median_ms"),
        counterOf(amc, "older_pause_max_ms"), counterOf(amc, "older_pause_total_ms"),
        amcFullPauseMs);
  }

  if (figureOf("barrier/on/0") != nullptr || figureOf("barrier/off/0") != nullptr) {
    std::printf(
        "\nbarrier: AMC nursery collections (8 MiB) beside a 64 MB older generation; 256 MB\n"
        "allocated per run, N young nodes stored into older trees every %ld trees\n",
        kBarrierStoreEvery);
    std::printf("%-24s %10s %12s %16s\n", "barrier, N", "s/run", "collections", "nursery pause ms");
    for (const char* name : {"barrier/on/0", "barrier/off/0", "barrier/on/10", "barrier/off/10"}) {
      const Figure* f = figureOf(name);
      if (f == nullptr) continue;
      std::printf("%-24s %10.3f %12.0f %7.2f / %6.2f\n", name + 8, f->seconds,
                  counterOf(f, "collections"), counterOf(f, "nursery_pause_median_ms"),
                  counterOf(f, "nursery_pause_max_ms"));
    }
  }

  std::printf("\nmark: live heap %zu objects, %.1f MB; mps_arena_collect, wall time\n",
              kMarkObjects, double(kMarkBytes) / 1e6);
  std::printf("%-24s %10s %12s %9s  %s\n", "workers", "ms", "Mobjects/s", "MB/s", "target");
  const Figure* one = figureOf("mark/workers:1");
  const Figure* two = figureOf("mark/workers:2");
  for (auto [label, f] : {std::pair{"1", one}, std::pair{"2", two}}) {
    if (f == nullptr) {
      std::printf("%-24s %10s\n", label, "-");
      continue;
    }
    std::printf("%-24s %10.1f %12.1f %9.0f\n", label, counterOf(f, "median_ms"),
                counterOf(f, "Mobjects_per_s"), counterOf(f, "MB_per_s"));
  }
  if (one != nullptr && two != nullptr && counterOf(one, "Mobjects_per_s") > 0) {
    double ratio = counterOf(two, "Mobjects_per_s") / counterOf(one, "Mobjects_per_s");
    std::printf("%-24s %10.2f %12s %9s  >= %.1f %s\n", "2-worker / 1-worker", ratio, "", "",
                kMarkTarget, verdict(ratio >= kMarkTarget));
  }
}

void registerAll() {
  benchmark::RegisterBenchmark("gcbench/boehm", gcbenchBoehm)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gcbench/ams", gcbenchAms)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gcbench/amc", gcbenchAmc)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gcbench/malloc", gcbenchMalloc)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  using Fn = void (*)(benchmark::State&);
  for (auto [name, f] : {std::pair<const char*, Fn>{"barrier/on", barrierOn},
                         std::pair<const char*, Fn>{"barrier/off", barrierOff}})
    benchmark::RegisterBenchmark(name, f)->Arg(0)->Arg(10)->Iterations(1)->UseRealTime()->Unit(
        benchmark::kMillisecond);
  for (unsigned workers : {1u, 2u})
    benchmark::RegisterBenchmark(("mark/workers:" + std::to_string(workers)).c_str(),
                                 [workers](benchmark::State& state) { mark(state, workers); })
        ->Iterations(kCollectsPerRun)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

// A display reporter passed to RunSpecifiedBenchmarks does not see
// --benchmark_color, so read it here: "auto" (the default) colours a terminal.
bool useColor(int argc, char** argv) {
  std::string value = "auto";
  const std::string flag = "--benchmark_color=";
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]).rfind(flag, 0) == 0) value = argv[i] + flag.size();
  if (value == "auto") return isatty(STDOUT_FILENO) != 0;
  return value == "true" || value == "yes" || value == "1";
}

}  // namespace

int main(int argc, char** argv) {
  GC_INIT();
  // A single-threaded client gets Boehm's parallel markers only on request:
  // as many as the hardware threads (or GC_MARKERS from the environment).
  GC_start_mark_threads();
  // Defaults; flags given on the command line come later and win.
  std::vector<char*> args{argv[0]};
  char repetitions[] = "--benchmark_repetitions=5";
  char aggregates[] = "--benchmark_display_aggregates_only=true";
  // Repetitions of different benchmarks run in random order, so that a
  // change in the machine's load falls on both sides of each ratio.
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  args.insert(args.end(), {repetitions, aggregates, interleave});
  args.insert(args.end(), argv + 1, argv + argc);
  int count = int(args.size());
  args.push_back(nullptr);

  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  registerAll();
  SummaryReporter reporter(useColor(count, args.data()));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (figureOf("gcbench/amc") != nullptr) {
    void* cold = &cold;
    measureAmcFullPause(cold);
  }
  printSummary();
  destroyMarkHeap();
  delete gcbenchHeap;
  delete gcbenchAmcHeap;
  return 0;
}
