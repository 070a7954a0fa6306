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
//   interp   An interpreter-shaped client (a small Lisp's heap): pairs,
//            boxed integers, strings and vectors in one AMC pool on the
//            client chain of MPS's Scheme example (150 KB and 170 KB), a
//            global environment and live lists mutated in place, and a
//            high rate of short-lived temporaries; the same program on
//            Boehm GC. A checksum of the live structure must agree.
//   collect  The cost of one collection with nothing (or 1 MB) live: full
//            collections (mps_arena_collect) and nursery collections that
//            allocation triggers on a small chain.
//
// Every gc workload reports, per run, its wall, user and system time, the
// collections, and the library's mprotect, mmap and munmap calls and the
// protection faults it handled (counted by link-time wrappers, below);
// gcbench and interp also report the maximum RSS of one run in a fresh
// process.
//
// After the benchmarks, main() prints a summary with the ratios and the
// project's targets (from the medians of the repetitions).
#include <benchmark/benchmark.h>

// Boehm GC (Debian libgc-dev, pkg-config bdw-gc), in its threads
// configuration so that it marks in parallel as AMS does.
#define GC_THREADS
#include <gc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <sigsegv.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.hpp"  // mps-events: minimumMutatorUtilisation
#include "mps.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpslib.h"

// ---------------------------------------------------------------------------
// System calls and protection faults, counted at link time. CMakeLists.txt
// links this program with -Wl,--wrap=mprotect,--wrap=mmap,... so that every
// call to mprotect from an object file of this link (the library is the
// static archive mps_static, whose object files are linked in) goes to
// __wrap_mprotect, which counts it and calls the real one, __real_mprotect.
// Shared libraries (Boehm's libgc, oneTBB, glibc's malloc) are not
// rewritten: their calls are not counted, so these figures are MPS++'s own.
// The library's write-barrier handler is installed through libsigsegv's
// sigsegv_install_handler; the wrapper installs a handler that calls the
// library's and counts the faults it handled.

namespace syscount {
std::atomic<std::uint64_t> mprotectCalls{0}, mmapCalls{0}, munmapCalls{0}, yieldCalls{0},
    handledFaults{0};
sigsegv_handler_t libraryHandler = nullptr;

// Runs in the SIGSEGV handler: a relaxed, lock-free increment is safe there.
int countingHandler(void* faultAddress, int serious) {
  int handled = libraryHandler(faultAddress, serious);
  if (handled != 0) handledFaults.fetch_add(1, std::memory_order_relaxed);
  return handled;
}
}  // namespace syscount

extern "C" {
int __real_mprotect(void* addr, std::size_t len, int prot);
void* __real_mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t offset);
int __real_munmap(void* addr, std::size_t len);
int __real_sched_yield();
int __real_sigsegv_install_handler(sigsegv_handler_t handler);

int __wrap_mprotect(void* addr, std::size_t len, int prot) {
  syscount::mprotectCalls.fetch_add(1, std::memory_order_relaxed);
  return __real_mprotect(addr, len, prot);
}
void* __wrap_mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t offset) {
  syscount::mmapCalls.fetch_add(1, std::memory_order_relaxed);
  return __real_mmap(addr, len, prot, flags, fd, offset);
}
int __wrap_munmap(void* addr, std::size_t len) {
  syscount::munmapCalls.fetch_add(1, std::memory_order_relaxed);
  return __real_munmap(addr, len);
}
// The library's spin locks yield with sched_yield, and so does
// std::this_thread::yield in its marking workers (libstdc++ inlines it into
// a call of sched_yield in the caller's object file). oneTBB's own waits
// are in its shared library and are not counted.
int __wrap_sched_yield() {
  syscount::yieldCalls.fetch_add(1, std::memory_order_relaxed);
  return __real_sched_yield();
}
int __wrap_sigsegv_install_handler(sigsegv_handler_t handler) {
  syscount::libraryHandler = handler;
  return __real_sigsegv_install_handler(&syscount::countingHandler);
}
}

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

// The methods of a moving (AMC) format.
struct MovingFormat {
  std::size_t align;
  mps_fmt_scan_t scan;
  mps_fmt_skip_t skip;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
};

// An AMC pool with `format` on a chain of exactly `gens`, and an allocation
// point on it, with GC messages enabled, or the benchmark dies.
void createAmcPoolAndAp(mps_arena_t arena, const MovingFormat& format,
                        const std::vector<mps_gen_param_s>& gens, mps_fmt_t* fmtOut,
                        mps_chain_t* chainOut, mps_pool_t* poolOut, mps_ap_t* apOut) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, format.align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, format.scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, format.skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, format.fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, format.isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, format.pad);
    res = mps_fmt_create_k(fmtOut, arena, args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_fmt_create_k", res);
  res = mps_chain_create(chainOut, arena, gens.size(), const_cast<mps_gen_param_s*>(gens.data()));
  if (res != MPS_RES_OK) die("mps_chain_create", res);
  createPoolAndAp(poolOut, apOut, arena, mps_class_amc(), *fmtOut, *chainOut);
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
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
  AmsHeap(std::size_t arenaBytes, std::size_t nurseryKiB)
      : AmsHeap(arenaBytes, std::vector<mps_gen_param_s>{{nurseryKiB, 0.85}}) {}
  // The same on a chain of the given generations.
  AmsHeap(std::size_t arenaBytes, const std::vector<mps_gen_param_s>& gens) {
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
    res = mps_chain_create(&chain_, arena, gens.size(), const_cast<mps_gen_param_s*>(gens.data()));
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
// The pauses of an MPS++ run, for its pause distribution and minimum
// mutator utilisation (MMU): each collection's interval, from the clocks of
// its GC-start and GC messages (the collections stop the world, and the
// benchmark's one mutator waits for the whole of each), and the run's, from
// mps_clock(). In seconds.
struct PauseRecord {
  std::vector<mps::events::Interval> paused;
  double start = 0, end = 0;

  static double seconds(mps_clock_t c) { return double(c) / double(mps_clocks_per_sec()); }
  void begin() {
    paused.clear();
    start = seconds(mps_clock());
  }
  void finish() { end = seconds(mps_clock()); }
  void add(mps_clock_t t0, mps_clock_t t1) { paused.push_back({seconds(t0), seconds(t1)}); }
  // Drains the arena's GC-start and GC messages into the record.
  void take(mps_arena_t arena) {
    mps_message_t startMessage, endMessage;
    while (mps_message_get(&startMessage, arena, mps_message_type_gc_start())) {
      mps_clock_t t0 = mps_message_clock(arena, startMessage);
      mps_message_discard(arena, startMessage);
      if (!mps_message_get(&endMessage, arena, mps_message_type_gc())) break;
      add(t0, mps_message_clock(arena, endMessage));
      mps_message_discard(arena, endMessage);
    }
  }
  // Counters pauses, pause_p50_ms, _p90_ms, _p99_ms, _max_ms (nearest rank)
  // and mmu_1ms, mmu_10ms, mmu_100ms (percent).
  void report(benchmark::State& state) const {
    std::vector<double> d;
    for (const mps::events::Interval& i : paused)
      d.push_back(i.end - i.start);
    std::sort(d.begin(), d.end());
    state.counters["pauses"] = double(d.size());
    auto rank = [&](double q) {
      std::size_t k = std::size_t(std::ceil(q * double(d.size())));
      return d.empty() ? 0.0 : d[k == 0 ? 0 : k - 1] * 1e3;
    };
    state.counters["pause_p50_ms"] = rank(0.5);
    state.counters["pause_p90_ms"] = rank(0.9);
    state.counters["pause_p99_ms"] = rank(0.99);
    state.counters["pause_max_ms"] = rank(1.0);
    std::vector<mps::events::Interval> u = mps::events::unionOf(paused);
    for (int ms : {1, 10, 100})
      state.counters["mmu_" + std::to_string(ms) + "ms"] =
          100 * mps::events::minimumMutatorUtilisation(u, start, end, ms * 1e-3);
  }
};

class AmcHeap {
 public:
  AmcHeap(std::size_t arenaBytes, std::size_t nurseryKiB, std::size_t olderKiB)
      : AmcHeap(arenaBytes, defaultGens(nurseryKiB, olderKiB)) {}
  // The same on a chain of exactly the given generations (AMC_GENS ignored).
  AmcHeap(std::size_t arenaBytes, const std::vector<mps_gen_param_s>& gens) {
    arena = createArena(arenaBytes);
    createAmcPoolAndAp(
        arena, {alignof(Node), amcNodeScan, amcNodeSkip, amcNodeFwd, amcNodeIsfwd, amcNodePad},
        gens, &fmt_, &chain_, &pool_, &ap);
  }
  // A nursery and an older generation, or AMC_GENS="KiB,KiB,..." from the
  // environment, for experiments.
  static std::vector<mps_gen_param_s> defaultGens(std::size_t nurseryKiB, std::size_t olderKiB) {
    std::vector<mps_gen_param_s> gens{{nurseryKiB, 0.85}, {olderKiB, 0.45}};
    if (const char* env = std::getenv("AMC_GENS")) {
      gens.clear();
      for (char* end = nullptr; gens.size() < 3 && *env != 0; env = *end != 0 ? end + 1 : end)
        gens.push_back({std::strtoul(env, &end, 10), gens.empty() ? 0.85 : 0.45});
    }
    return gens;
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
      if (record != nullptr) record->add(t0, mps_message_clock(arena, end));
      liveBytes += double(mps_message_gc_live_size(arena, end));
      condemnedBytes += double(mps_message_gc_condemned_size(arena, end));
      mps_message_discard(arena, end);
    }
    return pauses;
  }

  mps_arena_t arena = nullptr;
  mps_ap_t ap = nullptr;
  double liveBytes = 0, condemnedBytes = 0;  // summed over the collections taken
  PauseRecord* record = nullptr;             // if set, takePauses adds to it

 private:
  mps_fmt_t fmt_ = nullptr;
  mps_chain_t chain_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

// The calling thread, registered with an arena and its stack and registers
// an ambiguous root from `cold` down, for the lifetime of the object. With
// `scanned`, registered as a client written against MPS's Scheme example
// does: mps_root_create_thread_scanned with mps_scan_area.
class ThreadRoot {
 public:
  ThreadRoot(mps_arena_t arena, void* cold, bool scanned = false) {
    mps_res_t res = mps_thread_reg(&thr_, arena);
    if (res != MPS_RES_OK) die("mps_thread_reg", res);
    res = scanned ? mps_root_create_thread_scanned(&root_, arena, mps_rank_ambig(), 0, thr_,
                                                   mps_scan_area, nullptr, cold)
                  : mps_root_create_thread(&root_, arena, thr_, cold);
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
// Per-run reporting: what a run cost the process, from snapshots taken
// around the benchmark's timed loop (set-up and tear-down excluded).

struct ProcessUsage {
  double wall = 0, user = 0, sys = 0;  // seconds; user and sys of all threads
  std::uint64_t mprotect = 0, mmap = 0, munmap = 0, faults = 0, yields = 0;
  std::uint64_t pageFaults = 0;  // the kernel's minor faults, whole process: fresh pages touched

  static ProcessUsage now() {
    ProcessUsage u;
    u.wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    u.user = double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) / 1e6;
    u.sys = double(ru.ru_stime.tv_sec) + double(ru.ru_stime.tv_usec) / 1e6;
    u.pageFaults = std::uint64_t(ru.ru_minflt);
    u.mprotect = syscount::mprotectCalls.load(std::memory_order_relaxed);
    u.mmap = syscount::mmapCalls.load(std::memory_order_relaxed);
    u.munmap = syscount::munmapCalls.load(std::memory_order_relaxed);
    u.faults = syscount::handledFaults.load(std::memory_order_relaxed);
    u.yields = syscount::yieldCalls.load(std::memory_order_relaxed);
    return u;
  }
};

using Counters = std::map<std::string, double>;

// The per-run counters: totals divided by `runs`. `collections` is the
// total over the runs. `libraryCounts` is false for Boehm and malloc: their
// system calls are in shared libraries the wrappers do not see, so their
// counts would read as zero rather than as unknown.
Counters usageCounters(const ProcessUsage& before, const ProcessUsage& after, double runs,
                       double collections, bool libraryCounts) {
  Counters c;
  runs = std::max(runs, 1.0);
  c["wall_s"] = (after.wall - before.wall) / runs;
  c["user_s"] = (after.user - before.user) / runs;
  c["sys_s"] = (after.sys - before.sys) / runs;
  c["collections"] = collections / runs;
  c["page_faults"] = double(after.pageFaults - before.pageFaults) / runs;
  if (!libraryCounts) return c;
  double gcs = std::max(collections, 1.0);
  auto both = [&](const char* name, std::uint64_t ProcessUsage::*field) {
    double total = double(after.*field - before.*field);
    c[name] = total / runs;
    c[std::string(name) + "_per_gc"] = total / gcs;
  };
  both("mprotect", &ProcessUsage::mprotect);
  both("mmap", &ProcessUsage::mmap);
  both("munmap", &ProcessUsage::munmap);
  both("faults", &ProcessUsage::faults);
  c["sched_yield"] = double(after.yields - before.yields) / runs;
  return c;
}

// The same as benchmark counters; one benchmark iteration is one run.
void reportUsage(benchmark::State& state, const ProcessUsage& before, const ProcessUsage& after,
                 double collections, bool libraryCounts) {
  for (auto& [name, value] :
       usageCounters(before, after, double(state.iterations()), collections, libraryCounts))
    state.counters[name] = value;
}

// The maximum RSS of one run of `workload` alone in a fresh process (this
// program, started again with --gc_bench_child=NAME), in MB, measured
// once per workload and remembered; 0 if it could not be measured. The
// process's own high-water mark cannot serve: every collector's heap stays
// in this process between benchmarks, in whatever order they run.
double freshProcessMaxRssMB(const std::string& workload);

void reportFreshProcessRss(benchmark::State& state, const std::string& workload) {
  double mb = freshProcessMaxRssMB(workload);
  if (mb > 0) state.counters["max_RSS_MB"] = mb;
}

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

// The chain a client would more likely give (MPS's own examples give
// similar ones): an 8 MiB nursery and a 32 MiB older generation. The
// "-client" variants run on it, beside the tuned chains above.
const std::vector<mps_gen_param_s> kClientChain{{8 << 10, 0.85}, {32 << 10, 0.45}};
AmsHeap* gcbenchAmsClientHeap = nullptr;

__attribute__((noinline)) void runGCBenchAms(benchmark::State& state, void* cold, AmsHeap*& heap,
                                             const std::vector<mps_gen_param_s>& gens,
                                             const char* name) {
  if (heap == nullptr) heap = new AmsHeap(std::size_t(256) << 20, gens);
  mps_arena_t arena = heap->arena;
  ThreadRoot thread(arena, cold);
  AmsAlloc alloc{heap->ap};
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
  PauseRecord record;
  record.take(arena);
  mps_word_t before = mps_collections(arena);
  bool ok = true;
  ProcessUsage usageBefore = ProcessUsage::now();
  record.begin();
  for (auto _ : state) {
    ok = gcbench(alloc) && ok;
    state.PauseTiming();
    record.take(arena);
    state.ResumeTiming();
  }
  record.finish();
  ProcessUsage usageAfter = ProcessUsage::now();
  reportUsage(state, usageBefore, usageAfter, double(mps_collections(arena) - before), true);
  record.report(state);
  state.counters["heap_MB"] = double(mps_arena_committed(arena)) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
  reportFreshProcessRss(state, name);
}

void gcbenchAms(benchmark::State& state) {
  void* cold = &cold;  // the cold end of the stack the collector scans
  runGCBenchAms(state, cold, gcbenchHeap, {{kGCBenchNurseryKiB, 0.85}}, "gcbench/ams");
}

void gcbenchAmsClient(benchmark::State& state) {
  void* cold = &cold;
  runGCBenchAms(state, cold, gcbenchAmsClientHeap, kClientChain, "gcbench/ams-client");
}

// The AMC heap of the gcbench runs, like the AMS one, lives as long as the
// program. A 16 MiB nursery and an 8 MiB older generation: the write barrier
// keeps nursery collections from scanning the older generation, and these
// sizes were the best of those tried for time and memory together (see
// README.md; AMC_GENS overrides them).
constexpr std::size_t kAmcNurseryKiB = 16 << 10;
constexpr std::size_t kAmcOlderKiB = 8 << 10;
AmcHeap* gcbenchAmcHeap = nullptr;
AmcHeap* gcbenchAmcClientHeap = nullptr;

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

__attribute__((noinline)) void runGCBenchAmc(benchmark::State& state, void* cold, AmcHeap*& heap,
                                             const std::vector<mps_gen_param_s>& gens,
                                             const char* name) {
  if (heap == nullptr) heap = new AmcHeap(std::size_t(512) << 20, gens);
  mps_arena_t arena = heap->arena;
  ThreadRoot thread(arena, cold);
  AmsAlloc alloc{heap->ap};
  (void)heap->takePauses();
  heap->liveBytes = heap->condemnedBytes = 0;
  PauseRecord record;
  heap->record = &record;
  mps_word_t before = mps_collections(arena);
  bool ok = true;
  ProcessUsage usageBefore = ProcessUsage::now();
  record.begin();
  for (auto _ : state) {
    ok = gcbench(alloc) && ok;
    state.PauseTiming();
    AmcHeap::Pauses pauses = heap->takePauses();
    pauseCounters(state, "nursery_pause", pauses.nursery);
    pauseCounters(state, "older_pause", pauses.older);
    state.ResumeTiming();
  }
  record.finish();
  heap->record = nullptr;
  ProcessUsage usageAfter = ProcessUsage::now();
  reportUsage(state, usageBefore, usageAfter, double(mps_collections(arena) - before), true);
  record.report(state);
  state.counters["survived_MB"] = heap->liveBytes / 1e6 / double(state.iterations());
  state.counters["condemned_MB"] = heap->condemnedBytes / 1e6 / double(state.iterations());
  state.counters["heap_MB"] = double(mps_arena_committed(arena)) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
  reportFreshProcessRss(state, name);
}

void gcbenchAmc(benchmark::State& state) {
  void* cold = &cold;
  runGCBenchAmc(state, cold, gcbenchAmcHeap, AmcHeap::defaultGens(kAmcNurseryKiB, kAmcOlderKiB),
                "gcbench/amc");
}

void gcbenchAmcClient(benchmark::State& state) {
  void* cold = &cold;
  runGCBenchAmc(state, cold, gcbenchAmcClientHeap, kClientChain, "gcbench/amc-client");
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
  ProcessUsage usageBefore = ProcessUsage::now();
  for (auto _ : state)
    ok = gcbench(alloc) && ok;
  ProcessUsage usageAfter = ProcessUsage::now();
  reportUsage(state, usageBefore, usageAfter, double(GC_get_gc_no() - before), false);
  state.counters["heap_MB"] = double(GC_get_heap_size()) / 1e6;
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
  reportFreshProcessRss(state, "gcbench/boehm");
}

void gcbenchMalloc(benchmark::State& state) {
  MallocAlloc alloc;
  bool ok = true;
  ProcessUsage usageBefore = ProcessUsage::now();
  for (auto _ : state)
    ok = gcbench(alloc) && ok;
  ProcessUsage usageAfter = ProcessUsage::now();
  reportUsage(state, usageBefore, usageAfter, 0, false);
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(gcbenchNodeBytes()));
  if (!ok) state.SkipWithError("the long-lived data did not survive");
  reportFreshProcessRss(state, "gcbench/malloc");
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
// interp: the heap of a small Lisp interpreter written against MPS's C
// interface, after MPS's own Scheme example: one AMC pool holds every
// object (leaves too, told apart by the format), on the chain that example
// gives (150 KB and 170 KB), the thread's stack is an ambiguous root and
// the interpreter's globals an exact table root. One run builds a global
// environment and a set of live lists (about 4 MB in all), then takes
// interpSteps() random steps as an interpreter evaluating a list-shuffling
// program would: temporary lists that die at once, `set!` of global
// variables, slots of live lists replaced by fresh sub-structures, whole
// lists shuffled into new spines. The random choices come from a fixed
// seed, so every collector runs exactly the same program; the checksum of
// what is live at the end must be the same for all of them.
namespace interp {

// Every object starts with a header word whose low two bits say what it is:
//   ...11  an object: type in bits 2-3, length (bytes or slots) from bit 8;
//   ...01  a padding object of (word >> 2) bytes;
//   ...10  a forwarding marker to (word & ~3); the second word keeps the
//          old object's size, as objects are not all the same size (so
//          every object is at least two words).
enum class Type : std::uintptr_t { pair = 0, integer = 1, string = 2, vector = 3 };
constexpr std::uintptr_t kObjTag = 3;

struct Obj {
  std::uintptr_t header;
};
struct Pair {
  std::uintptr_t header;
  Obj* car;
  Obj* cdr;
};
struct Int {
  std::uintptr_t header;
  std::int64_t value;
};
// A string is a header and its characters; a vector a header and its slots.

constexpr std::uintptr_t headerOf(Type type, std::size_t length) {
  return (std::uintptr_t(length) << 8) | (std::uintptr_t(type) << 2) | kObjTag;
}
Type typeOf(const Obj* o) {
  return Type((o->header >> 2) & 3);
}
std::size_t lengthOf(const Obj* o) {
  return o->header >> 8;
}
char* chars(Obj* s) {
  return reinterpret_cast<char*>(s) + sizeof(std::uintptr_t);
}
Obj** slots(Obj* v) {
  return reinterpret_cast<Obj**>(reinterpret_cast<char*>(v) + sizeof(std::uintptr_t));
}
Pair* asPair(Obj* o) {
  return reinterpret_cast<Pair*>(o);
}
Obj* car(Obj* o) {
  return asPair(o)->car;
}
Obj* cdr(Obj* o) {
  return asPair(o)->cdr;
}

constexpr std::size_t kWord = sizeof(std::uintptr_t);
constexpr std::size_t stringBytes(std::size_t length) {
  return kWord + std::max<std::size_t>((length + kWord - 1) / kWord, 1) * kWord;
}
constexpr std::size_t vectorBytes(std::size_t length) {
  return kWord + std::max<std::size_t>(length, 1) * kWord;
}

std::size_t objectBytes(const Obj* o) {
  switch (typeOf(o)) {
    case Type::pair:
      return sizeof(Pair);
    case Type::integer:
      return sizeof(Int);
    case Type::string:
      return stringBytes(lengthOf(o));
    case Type::vector:
      break;
  }
  return vectorBytes(lengthOf(o));
}

mps_addr_t skip(mps_addr_t p) {
  const std::uintptr_t* w = static_cast<const std::uintptr_t*>(p);
  std::size_t bytes = (w[0] & kTagMask) == kPadTag   ? w[0] >> 2
                      : (w[0] & kTagMask) == kFwdTag ? w[1]
                                                     : objectBytes(static_cast<const Obj*>(p));
  return static_cast<char*>(p) + bytes;
}

mps_res_t scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
      Obj* o = reinterpret_cast<Obj*>(p);
      if ((o->header & kTagMask) != kObjTag) {  // padding or forwarded
        p = static_cast<char*>(skip(p));
        continue;
      }
      Obj** refs = nullptr;
      std::size_t count = 0;
      if (typeOf(o) == Type::pair) {
        refs = &asPair(o)->car;  // car and cdr are adjacent
        count = 2;
      } else if (typeOf(o) == Type::vector) {
        refs = slots(o);
        count = lengthOf(o);
      }
      for (std::size_t i = 0; i < count; ++i) {
        mps_addr_t ref = refs[i];
        mps_res_t res = MPS_FIX12(ss, &ref);
        if (res != MPS_RES_OK) return res;
        refs[i] = static_cast<Obj*>(ref);
      }
      p += objectBytes(o);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

void fwd(mps_addr_t old, mps_addr_t to) {
  std::uintptr_t* w = static_cast<std::uintptr_t*>(old);
  std::size_t bytes = objectBytes(static_cast<Obj*>(old));  // before the header goes
  w[0] = reinterpret_cast<std::uintptr_t>(to) | kFwdTag;
  w[1] = bytes;
}

// An arena with one AMC pool of interpreter objects on a chain of `gens`.
// Forwarding markers and padding objects are tagged as the tree nodes'
// are, so the node format's isfwd and pad serve.
class Heap {
 public:
  Heap(std::size_t arenaBytes, const std::vector<mps_gen_param_s>& gens) {
    arena = createArena(arenaBytes);
    createAmcPoolAndAp(arena, {kWord, scan, skip, fwd, amcNodeIsfwd, amcNodePad}, gens, &fmt_,
                       &chain_, &pool_, &ap);
  }
  ~Heap() {
    mps_arena_park(arena);
    mps_ap_destroy(ap);
    mps_pool_destroy(pool_);
    mps_chain_destroy(chain_);
    mps_fmt_destroy(fmt_);
    mps_arena_destroy(arena);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // The durations of the collections whose messages are waiting, in seconds.
  std::vector<double> takePauses() {
    std::vector<double> pauses;
    double perSec = double(mps_clocks_per_sec());
    mps_message_t start, end;
    while (mps_message_get(&start, arena, mps_message_type_gc_start())) {
      mps_clock_t t0 = mps_message_clock(arena, start);
      mps_message_discard(arena, start);
      if (!mps_message_get(&end, arena, mps_message_type_gc())) break;
      pauses.push_back(double(mps_message_clock(arena, end) - t0) / perSec);
      liveBytes += double(mps_message_gc_live_size(arena, end));
      condemnedBytes += double(mps_message_gc_condemned_size(arena, end));
      mps_message_discard(arena, end);
    }
    return pauses;
  }

  // Sets survived_KB_per_gc and condemned_KB_per_gc from the sums that
  // takePauses kept, and clears them.
  void reportSizes(benchmark::State& state, std::size_t collections) {
    if (collections == 0) return;
    state.counters["survived_KB_per_gc"] = liveBytes / 1e3 / double(collections);
    state.counters["condemned_KB_per_gc"] = condemnedBytes / 1e3 / double(collections);
    liveBytes = condemnedBytes = 0;
  }

  mps_arena_t arena = nullptr;
  mps_ap_t ap = nullptr;
  double liveBytes = 0, condemnedBytes = 0;  // summed over the collections taken

 private:
  mps_fmt_t fmt_ = nullptr;
  mps_chain_t chain_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

// The client chain of MPS's Scheme example; capacities in KiB.
const std::vector<mps_gen_param_s> kInterpChain{{150, 0.85}, {170, 0.45}};

// Allocation: make(bytes, leaf, init) returns a new object that init has
// filled in. On AMC, init runs between reserve and commit, so the object is
// complete before the collector can see it; `leaf` does not matter there
// (the format's scan skips leaves). Boehm allocates leaves pointer-free.
struct AmcObjects {
  mps_ap_t ap;
  template <class Init>
  Obj* make(std::size_t bytes, bool, Init init) {
    mps_addr_t p;
    do {
      mps_res_t res = mps_reserve(&p, ap, bytes);
      if (res != MPS_RES_OK) die("mps_reserve", res);
      init(static_cast<Obj*>(p));
    } while (!mps_commit(ap, p, bytes));
    return static_cast<Obj*>(p);
  }
};

struct BoehmObjects {
  template <class Init>
  Obj* make(std::size_t bytes, bool leaf, Init init) {
    void* p = leaf ? GC_MALLOC_ATOMIC(bytes) : GC_MALLOC(bytes);
    if (p == nullptr) die("GC_MALLOC", 0);
    init(static_cast<Obj*>(p));
    return static_cast<Obj*>(p);
  }
};

template <class A>
Obj* cons(A& a, Obj* first, Obj* rest) {
  return a.make(sizeof(Pair), false, [&](Obj* o) {
    Pair* p = asPair(o);
    p->header = headerOf(Type::pair, 0);
    p->car = first;
    p->cdr = rest;
  });
}

template <class A>
Obj* box(A& a, std::int64_t value) {
  return a.make(sizeof(Int), true, [&](Obj* o) {
    Int* i = reinterpret_cast<Int*>(o);
    i->header = headerOf(Type::integer, 0);
    i->value = value;
  });
}

// `text` must not be in the collected heap: a collection while allocating
// could move it.
template <class A>
Obj* makeString(A& a, const char* text, std::size_t length) {
  std::size_t bytes = stringBytes(length);
  return a.make(bytes, true, [&](Obj* o) {
    o->header = headerOf(Type::string, length);
    std::memset(chars(o), 0, bytes - kWord);
    std::memcpy(chars(o), text, length);
  });
}

template <class A>
Obj* makeVector(A& a, std::size_t length) {
  return a.make(vectorBytes(length), false, [&](Obj* o) {
    o->header = headerOf(Type::vector, length);
    std::fill_n(slots(o), std::max<std::size_t>(length, 1), nullptr);
  });
}

constexpr std::size_t kSymbols = 2048;
constexpr std::size_t kBuckets = 256;
constexpr std::size_t kLiveLists = 512;
constexpr std::size_t kListLength = 128;
// The steps of one run. AMC on this chain currently takes about 40 times
// Boehm's time per step (see README.md), so the default keeps an AMC run
// to a few seconds; GC_BENCH_INTERP_STEPS=N in the environment changes it
// (Boehm runs 600,000 steps in about a second).
long interpSteps() {
  static const long steps = [] {
    const char* env = std::getenv("GC_BENCH_INTERP_STEPS");
    return env != nullptr && std::atol(env) > 0 ? std::atol(env) : 50000L;
  }();
  return steps;
}
constexpr std::uint64_t kInterpSeed = 0x5343484c49535021u;

// The interpreter's globals, an exact root on AMC (Boehm scans the data
// segment): the symbol table (a vector of interned strings), the global
// environment (a vector of buckets, each an association list of
// (symbol . value) pairs) and the program's live lists (a vector of lists).
enum RootIndex { kSymbolTable, kEnvironment, kLists, kRootCount };
Obj* roots[kRootCount];

// Reads a root afresh each time: a collection may have moved what it
// points at (unless an ambiguous reference on the stack pinned it).
Obj* rootSlot(RootIndex root, std::size_t i) {
  return slots(roots[root])[i];
}
void setRootSlot(RootIndex root, std::size_t i, Obj* value) {
  slots(roots[root])[i] = value;
}

std::uint64_t hashChars(const char* s, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325u;  // FNV-1a
  for (std::size_t i = 0; i < n; ++i)
    h = (h ^ std::uint8_t(s[i])) * 0x100000001b3u;
  return h;
}

std::size_t bucketOf(Obj* symbol) {
  return hashChars(chars(symbol), lengthOf(symbol)) % kBuckets;
}

// A fresh element for a live list: mostly a boxed integer, else a string,
// a vector of three integers or a list of three.
template <class A>
Obj* makeElement(A& a, Rng& rng) {
  std::size_t kind = rng.below(20);
  if (kind < 12) return box(a, std::int64_t(rng.below(1000)));
  if (kind < 15) {
    char text[24];
    int length = std::snprintf(text, sizeof text, "str-%zu", rng.below(100000));
    return makeString(a, text, std::size_t(length));
  }
  if (kind < 18) {
    Obj* v = makeVector(a, 3);
    for (std::size_t i = 0; i < 3; ++i) {
      Obj* element = box(a, std::int64_t(rng.below(1000)));
      slots(v)[i] = element;
    }
    return v;
  }
  Obj* list = nullptr;
  for (int i = 0; i < 3; ++i) {
    Obj* element = box(a, std::int64_t(rng.below(1000)));
    list = cons(a, element, list);
  }
  return list;
}

// The binding pair (symbol . value) of symbol number `index`.
Obj* bindingOf(std::size_t index) {
  Obj* symbol = rootSlot(kSymbolTable, index);
  for (Obj* cell = rootSlot(kEnvironment, bucketOf(symbol)); cell != nullptr; cell = cdr(cell))
    if (car(car(cell)) == symbol) return car(cell);
  die("unbound symbol", 0);
}

template <class A>
void buildWorld(A& a, Rng& rng) {
  roots[kSymbolTable] = makeVector(a, kSymbols);
  for (std::size_t i = 0; i < kSymbols; ++i) {
    char name[32];
    int length = std::snprintf(name, sizeof name, "sym-%zu-%zu", i, rng.below(1 << 20));
    Obj* symbol = makeString(a, name, std::size_t(length));
    setRootSlot(kSymbolTable, i, symbol);
  }
  roots[kEnvironment] = makeVector(a, kBuckets);
  for (std::size_t i = 0; i < kSymbols; ++i) {  // (define sym-i i)
    Obj* value = box(a, std::int64_t(i));
    Obj* binding = cons(a, rootSlot(kSymbolTable, i), value);
    std::size_t bucket = bucketOf(rootSlot(kSymbolTable, i));
    Obj* cell = cons(a, binding, rootSlot(kEnvironment, bucket));
    setRootSlot(kEnvironment, bucket, cell);
  }
  roots[kLists] = makeVector(a, kLiveLists);
  for (std::size_t i = 0; i < kLiveLists; ++i) {
    Obj* list = nullptr;
    for (std::size_t j = 0; j < kListLength; ++j) {
      Obj* element = makeElement(a, rng);
      list = cons(a, element, list);
    }
    setRootSlot(kLists, i, list);
  }
}

// (let ((xs (list n1 ... nk))) (apply + xs)), and now and then
// (set! sym-i result): a temporary list that dies at once, and a store of a
// young object into an old binding.
template <class A>
std::int64_t evalTemporary(A& a, Rng& rng) {
  std::size_t length = 8 + rng.below(25);
  Obj* xs = nullptr;
  for (std::size_t i = 0; i < length; ++i) {
    Obj* n = box(a, std::int64_t(rng.below(1000)));
    xs = cons(a, n, xs);
  }
  std::int64_t sum = 0;
  for (Obj* p = xs; p != nullptr; p = cdr(p))
    sum += reinterpret_cast<Int*>(car(p))->value;
  if (rng.below(4) == 0) {
    std::size_t index = rng.below(kSymbols);
    Obj* value = box(a, sum);
    asPair(bindingOf(index))->cdr = value;
  }
  return sum;
}

// (set-car! (list-tail (vector-ref lists i) k) <fresh element>)
template <class A>
void replaceRandomSlot(A& a, Rng& rng) {
  std::size_t list = rng.below(kLiveLists), position = rng.below(kListLength);
  Obj* fresh = makeElement(a, rng);
  Obj* cell = rootSlot(kLists, list);
  for (std::size_t k = 0; k < position; ++k)
    cell = cdr(cell);
  asPair(cell)->car = fresh;
}

// (vector-set! lists i (vector->list (shuffle! (list->vector (vector-ref lists i)))))
template <class A>
void shuffleList(A& a, Rng& rng) {
  std::size_t list = rng.below(kLiveLists);
  Obj* temp = makeVector(a, kListLength);
  Obj* cell = rootSlot(kLists, list);
  for (std::size_t i = 0; i < kListLength; ++i, cell = cdr(cell))
    slots(temp)[i] = car(cell);
  for (std::size_t i = kListLength - 1; i > 0; --i)
    std::swap(slots(temp)[i], slots(temp)[rng.below(i + 1)]);
  Obj* shuffled = nullptr;
  for (std::size_t i = kListLength; i-- > 0;)
    shuffled = cons(a, slots(temp)[i], shuffled);
  setRootSlot(kLists, list, shuffled);
}

// A variable reference: the value of sym-i, if it is an integer.
std::int64_t lookup(Rng& rng) {
  Obj* value = cdr(bindingOf(rng.below(kSymbols)));
  return typeOf(value) == Type::integer ? reinterpret_cast<Int*>(value)->value : 0;
}

// (string-append sym-i sym-j): a short-lived leaf object.
template <class A>
std::int64_t stringAppend(A& a, Rng& rng) {
  char text[64];
  std::size_t length = 0;
  for (int k = 0; k < 2; ++k) {
    Obj* symbol = rootSlot(kSymbolTable, rng.below(kSymbols));
    std::size_t n = std::min(lengthOf(symbol), sizeof text / 2);
    std::memcpy(text + length, chars(symbol), n);
    length += n;
  }
  Obj* s = makeString(a, text, length);
  return std::int64_t(lengthOf(s)) + chars(s)[0];
}

// A hash of a structure that depends on its shape and contents only, not
// on addresses, so that every collector gives the same.
std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
  return h;
}

std::uint64_t hashOf(std::uint64_t h, Obj* o) {
  for (;;) {  // recurse on the car, iterate on the cdr
    if (o == nullptr) return mix(h, 0x6e696c);
    switch (typeOf(o)) {
      case Type::pair:
        h = hashOf(mix(h, 1), car(o));
        o = cdr(o);
        continue;
      case Type::integer:
        return mix(h, std::uint64_t(reinterpret_cast<Int*>(o)->value));
      case Type::string:
        return mix(h, hashChars(chars(o), lengthOf(o)));
      case Type::vector:
        h = mix(h, lengthOf(o));
        for (std::size_t i = 0; i < lengthOf(o); ++i)
          h = hashOf(h, slots(o)[i]);
        return h;
    }
  }
}

// One whole run: the world, the steps, and the checksum of what is live
// (the environment, the lists and the results of the steps).
template <class A>
__attribute__((noinline)) std::uint64_t run(A& a) {
  Rng rng(kInterpSeed);
  buildWorld(a, rng);
  std::int64_t results = 0;
  for (long step = 0, steps = interpSteps(); step < steps; ++step) {
    std::size_t op = rng.below(100);
    if (op < 35)
      results += evalTemporary(a, rng);
    else if (op < 65)
      replaceRandomSlot(a, rng);
    else if (op < 75)
      shuffleList(a, rng);
    else if (op < 90)
      results += lookup(rng);
    else
      results += stringAppend(a, rng);
  }
  std::uint64_t h = mix(0, std::uint64_t(results));
  for (Obj* root : roots)
    h = hashOf(h, root);
  std::fill(std::begin(roots), std::end(roots), nullptr);  // the run's data may die
  return h;
}

// The checksum every run must give: the first run's, whichever collector
// ran it. A mismatch means a collector lost or corrupted live data, and
// figures of such a run mean nothing: the program stops.
std::uint64_t expectedChecksum = 0;

void checkChecksum(std::uint64_t checksum, const char* who) {
  if (expectedChecksum == 0) expectedChecksum = checksum;
  if (checksum == expectedChecksum) return;
  std::fprintf(stderr, "gc_bench: interp on %s: checksum %016llx, expected %016llx\n", who,
               static_cast<unsigned long long>(checksum),
               static_cast<unsigned long long>(expectedChecksum));
  std::abort();
}

// One run on a fresh AMC heap, in a child process (see runInChild): the
// counters of the run alone, set-up excluded, and the checksum.
__attribute__((noinline)) std::uint64_t runAmcMeasured(void* cold, Counters& counters) {
  Heap heap(std::size_t(256) << 20, kInterpChain);
  mps_root_t globals;
  mps_res_t res = mps_root_create_table(&globals, heap.arena, mps_rank_exact(), 0,
                                        reinterpret_cast<mps_addr_t*>(roots), kRootCount);
  if (res != MPS_RES_OK) die("mps_root_create_table", res);
  std::uint64_t checksum;
  {
    ThreadRoot thread(heap.arena, cold, true);
    AmcObjects objects{heap.ap};
    mps_word_t before = mps_collections(heap.arena);
    ProcessUsage usageBefore = ProcessUsage::now();
    checksum = run(objects);
    ProcessUsage usageAfter = ProcessUsage::now();
    double collections = double(mps_collections(heap.arena) - before);
    counters = usageCounters(usageBefore, usageAfter, 1, collections, true);
    std::vector<double> pauses = heap.takePauses();
    if (!pauses.empty()) {
      std::sort(pauses.begin(), pauses.end());
      counters["pause_median_ms"] = pauses[pauses.size() / 2] * 1e3;
      counters["pause_max_ms"] = pauses.back() * 1e3;
      counters["survived_KB_per_gc"] = heap.liveBytes / 1e3 / double(pauses.size());
      counters["condemned_KB_per_gc"] = heap.condemnedBytes / 1e3 / double(pauses.size());
    }
    counters["heap_MB"] = double(mps_arena_committed(heap.arena)) / 1e6;
  }
  mps_root_destroy(globals);
  return checksum;
}

std::uint64_t runBoehmMeasured(Counters& counters) {
  BoehmObjects objects;
  GC_word before = GC_get_gc_no();
  ProcessUsage usageBefore = ProcessUsage::now();
  std::uint64_t checksum = run(objects);
  ProcessUsage usageAfter = ProcessUsage::now();
  counters = usageCounters(usageBefore, usageAfter, 1, double(GC_get_gc_no() - before), false);
  counters["heap_MB"] = double(GC_get_heap_size()) / 1e6;
  return checksum;
}

}  // namespace interp

// Runs `workload` once in a fresh process (this program, started again with
// --gc_bench_child=WORKLOAD) and returns the counters it printed, with
// max_RSS_MB, and its checksum; false if it failed.
bool runInChild(const std::string& workload, Counters& counters, std::uint64_t& checksum);

namespace interp {

// interp runs each repetition in a fresh process: in this one, Boehm's heap
// has been grown by whatever ran before (gcbench leaves it at about 120 MB,
// and it then collects a 4 MB heap once in a run), and the maximum RSS is
// only meaningful for a process that ran nothing else.
void inChild(benchmark::State& state, const char* workload) {
  for (auto _ : state) {
    Counters counters;
    std::uint64_t checksum = 0;
    if (!runInChild(workload, counters, checksum)) {
      state.SkipWithError("the child process failed");
      break;
    }
    checkChecksum(checksum, workload);
    state.SetIterationTime(counters["wall_s"]);
    for (auto& [name, value] : counters)
      state.counters[name] = value;
  }
}

void amc(benchmark::State& state) {
  inChild(state, "interp/amc");
}

void boehm(benchmark::State& state) {
  inChild(state, "interp/boehm");
}

// ---------------------------------------------------------------------------
// collect: what one collection costs when there is (almost) nothing to do.
// The heap is the interpreter's (AMC, the same format); "live" is nothing,
// or a 1 MiB list of boxed integers (26,214 pairs and integers, 40 bytes an
// element) held by an exact root.
//
//   collect/full/live_KiB:N     one iteration is one mps_arena_collect.
//   collect/nursery/live_KiB:N  a nursery of kTinyNurseryKiB (older
//       generation too large to fill); the list is promoted out of the
//       nursery by a full collection first. One iteration allocates
//       kNurseryCollections nurseries' worth of 1 KiB strings (garbage, only
//       their headers written), so about that many nursery collections run.
//       Reported per collection: wall time of the run over the collections
//       (allocation included: 256 reserve/commit pairs a collection) and the
//       median duration from the GC messages.

constexpr std::size_t kTinyNurseryKiB = 256;
constexpr std::size_t kNurseryCollections = 100;
constexpr std::size_t kGarbageStringBytes = 1024 - kWord;

// A list of boxed integers 0, 1, ..., taking `bytes`, in roots[kLists].
template <class A>
void buildLiveList(A& a, std::size_t bytes) {
  roots[kLists] = nullptr;
  for (std::size_t i = bytes / (sizeof(Pair) + sizeof(Int)); i-- > 0;) {
    Obj* n = box(a, std::int64_t(i));
    roots[kLists] = cons(a, n, roots[kLists]);
  }
}

std::int64_t liveListSum() {
  std::int64_t sum = 0;
  for (Obj* p = roots[kLists]; p != nullptr; p = cdr(p))
    sum += reinterpret_cast<Int*>(car(p))->value;
  return sum;
}

__attribute__((noinline)) void runCollect(benchmark::State& state, void* cold, bool nursery) {
  std::size_t liveBytes = std::size_t(state.range(0)) << 10;
  Heap heap(std::size_t(256) << 20,
            nursery ? std::vector<mps_gen_param_s>{{kTinyNurseryKiB, 0.85}, {1 << 20, 0.45}}
                    : kInterpChain);
  mps_root_t globals;
  mps_res_t res = mps_root_create_table(&globals, heap.arena, mps_rank_exact(), 0,
                                        reinterpret_cast<mps_addr_t*>(roots), kRootCount);
  if (res != MPS_RES_OK) die("mps_root_create_table", res);
  {
    ThreadRoot thread(heap.arena, cold, true);
    AmcObjects objects{heap.ap};
    buildLiveList(objects, liveBytes);
    std::int64_t sum = liveListSum();
    mps_arena_collect(heap.arena);  // the list leaves the nursery
    mps_arena_release(heap.arena);
    (void)heap.takePauses();
    heap.liveBytes = heap.condemnedBytes = 0;
    mps_word_t before = mps_collections(heap.arena);
    std::vector<double> pauses;
    ProcessUsage usageBefore = ProcessUsage::now();
    for (auto _ : state) {
      if (!nursery) {
        mps_arena_collect(heap.arena);
        mps_arena_release(heap.arena);  // mps_arena_collect leaves the arena parked
        continue;
      }
      for (std::size_t k = 0; k < kNurseryCollections * kTinyNurseryKiB; ++k) {
        Obj* garbage = objects.make(stringBytes(kGarbageStringBytes), true, [](Obj* o) {
          o->header = headerOf(Type::string, kGarbageStringBytes);
        });
        benchmark::DoNotOptimize(garbage);
      }
    }
    ProcessUsage usageAfter = ProcessUsage::now();
    std::vector<double> p = heap.takePauses();
    pauses.insert(pauses.end(), p.begin(), p.end());
    double collections = double(mps_collections(heap.arena) - before);
    reportUsage(state, usageBefore, usageAfter, collections, true);
    state.counters["us_per_collection"] =
        collections > 0 ? (usageAfter.wall - usageBefore.wall) / collections * 1e6 : 0;
    heap.reportSizes(state, pauses.size());
    if (!pauses.empty()) {
      std::sort(pauses.begin(), pauses.end());
      state.counters["pause_median_us"] = pauses[pauses.size() / 2] * 1e6;
      state.counters["pause_max_us"] = pauses.back() * 1e6;
    }
    if (liveListSum() != sum) die("the live list did not survive the collections", 0);
    roots[kLists] = nullptr;
  }
  mps_root_destroy(globals);
}

void collectFull(benchmark::State& state) {
  void* cold = &cold;
  runCollect(state, cold, false);
}

void collectNursery(benchmark::State& state) {
  void* cold = &cold;
  runCollect(state, cold, true);
}

}  // namespace interp

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

constexpr double kInterpTarget = 1.2;            // interp AMC / Boehm wall time, at most
constexpr double kInterpSysTarget = 0.10;        // interp AMC system time / wall time, below
constexpr double kEmptyCollectionTargetUs = 50;  // a collection with nothing live, at most
constexpr double kClientAmsTarget = 1.0;         // gcbench AMS (client chain) / Boehm wall
constexpr double kClientAmcTarget = 0.6;         // gcbench AMC (client chain) / Boehm wall
constexpr double kClientRssTarget = 1.3;         // their max RSS / Boehm's, at most

// The per-run figures of every gc workload, and the targets of the client
// workloads (interp, gcbench on the client chain, empty collections).
void printPerRunSummary() {
  std::printf(
      "\nper run: wall, user and system time (s; user and system of all threads); maximum RSS of\n"
      "one run in a fresh process (MB); collections; MPS++'s mprotect, mmap and munmap calls\n"
      "and handled protection faults, per collection (Boehm's and malloc's are not counted)\n");
  std::printf("%-30s %7s %7s %7s %7s %7s %9s %8s %8s %9s\n", "workload", "wall", "user", "sys",
              "RSS", "GCs", "mprot/gc", "mmap/gc", "unmap/gc", "faults/gc");
  bool any = false;
  for (const char* name : {"gcbench/boehm", "gcbench/ams", "gcbench/amc", "gcbench/malloc",
                           "gcbench/ams-client", "gcbench/amc-client", "interp/boehm", "interp/amc",
                           "collect/full/live_KiB:0", "collect/full/live_KiB:1024",
                           "collect/nursery/live_KiB:0", "collect/nursery/live_KiB:1024"}) {
    const Figure* f = figureOf(name);
    if (f == nullptr) continue;
    any = true;
    std::printf("%-30s %7.3f %7.3f %7.3f", name, counterOf(f, "wall_s"), counterOf(f, "user_s"),
                counterOf(f, "sys_s"));
    if (f->counters.count("max_RSS_MB") != 0)
      std::printf(" %7.1f", counterOf(f, "max_RSS_MB"));
    else
      std::printf(" %7s", "-");
    std::printf(" %7.0f", counterOf(f, "collections"));
    if (f->counters.count("mprotect_per_gc") != 0)
      std::printf(" %9.1f %8.2f %8.2f %9.1f\n", counterOf(f, "mprotect_per_gc"),
                  counterOf(f, "mmap_per_gc"), counterOf(f, "munmap_per_gc"),
                  counterOf(f, "faults_per_gc"));
    else
      std::printf(" %9s %8s %8s %9s\n", "-", "-", "-", "-");
  }
  if (!any) std::printf("(none run)\n");

  auto ratioLine = [](const char* label, double ratio, const char* op, double target, bool met) {
    std::printf("%-40s %8.2f  %s %.2f %s\n", label, ratio, op, target, verdict(met));
  };
  const Figure* boehm = figureOf("interp/boehm");
  const Figure* amc = figureOf("interp/amc");
  if (boehm != nullptr && amc != nullptr && boehm->seconds > 0) {
    std::printf("\ninterp: %zu live lists of %zu, %zu symbols, %ld steps; chain 150 KB + 170 KB\n",
                interp::kLiveLists, interp::kListLength, interp::kSymbols, interp::interpSteps());
    double ratio = amc->seconds / boehm->seconds;
    ratioLine("AMC / Boehm wall time", ratio, "<=", kInterpTarget, ratio <= kInterpTarget);
    double sys = amc->seconds > 0 ? counterOf(amc, "sys_s") / amc->seconds : 0;
    ratioLine("AMC system time / wall time", sys, "<", kInterpSysTarget, sys < kInterpSysTarget);
    if (counterOf(boehm, "max_RSS_MB") > 0)
      std::printf("%-40s %8.2f\n", "AMC / Boehm max RSS",
                  counterOf(amc, "max_RSS_MB") / counterOf(boehm, "max_RSS_MB"));
  }
  const Figure* fullEmpty = figureOf("collect/full/live_KiB:0");
  const Figure* nurseryEmpty = figureOf("collect/nursery/live_KiB:0");
  if (fullEmpty != nullptr || nurseryEmpty != nullptr)
    std::printf("\ncollect: one collection with nothing live, microseconds\n");
  if (fullEmpty != nullptr) {
    double us = counterOf(fullEmpty, "us_per_collection");
    ratioLine("mps_arena_collect", us, "<=", kEmptyCollectionTargetUs,
              us <= kEmptyCollectionTargetUs);
  }
  if (nurseryEmpty != nullptr) {
    double us = counterOf(nurseryEmpty, "pause_median_us");
    ratioLine("nursery collection (median pause)", us, "<=", kEmptyCollectionTargetUs,
              us <= kEmptyCollectionTargetUs);
    std::printf("%-40s %8.1f  (allocation included)\n", "nursery collection (wall / GCs)",
                counterOf(nurseryEmpty, "us_per_collection"));
  }
  for (const char* name : {"collect/full/live_KiB:1024", "collect/nursery/live_KiB:1024"})
    if (const Figure* f = figureOf(name))
      std::printf("%-40s %8.1f  (median pause %.1f)\n",
                  (std::string(name + 8) + ", us / GC").c_str(), counterOf(f, "us_per_collection"),
                  counterOf(f, "pause_median_us"));

  const Figure* gcBoehm = figureOf("gcbench/boehm");
  const Figure* amsClient = figureOf("gcbench/ams-client");
  const Figure* amcClient = figureOf("gcbench/amc-client");
  if (gcBoehm != nullptr && gcBoehm->seconds > 0 && (amsClient != nullptr || amcClient != nullptr))
    std::printf("\ngcbench on the client chain (8 MiB + 32 MiB), against Boehm\n");
  for (auto [label, f, target] : {std::tuple{"AMS", amsClient, kClientAmsTarget},
                                  std::tuple{"AMC", amcClient, kClientAmcTarget}}) {
    if (gcBoehm == nullptr || f == nullptr || gcBoehm->seconds <= 0) continue;
    double ratio = f->seconds / gcBoehm->seconds;
    ratioLine((std::string(label) + "-client / Boehm wall time").c_str(), ratio, "<=", target,
              ratio <= target);
    double boehmRss = counterOf(gcBoehm, "max_RSS_MB");
    if (boehmRss > 0) {
      double rss = counterOf(f, "max_RSS_MB") / boehmRss;
      ratioLine((std::string(label) + "-client / Boehm max RSS").c_str(), rss,
                "<=", kClientRssTarget, rss <= kClientRssTarget);
    }
  }
}

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
  // PauseRecord's counters: the pause distribution and the MMU.
  bool anyPauses = false;
  for (const char* name :
       {"gcbench/ams", "gcbench/amc", "gcbench/ams-client", "gcbench/amc-client"}) {
    const Figure* f = figureOf(name);
    if (f == nullptr) continue;
    if (!anyPauses)
      std::printf(
          "\npauses (ms) and minimum mutator utilisation (%%) at 1, 10 and 100 ms windows\n"
          "%-24s %7s %7s %7s %7s %7s %7s %7s %7s\n",
          "collector", "pauses", "median", "p90", "p99", "max", "MMU 1", "MMU 10", "MMU 100");
    anyPauses = true;
    std::printf("%-24s %7.0f %7.2f %7.2f %7.2f %7.2f %7.1f %7.1f %7.1f\n", name,
                counterOf(f, "pauses"), counterOf(f, "pause_p50_ms"), counterOf(f, "pause_p90_ms"),
                counterOf(f, "pause_p99_ms"), counterOf(f, "pause_max_ms"), counterOf(f, "mmu_1ms"),
                counterOf(f, "mmu_10ms"), counterOf(f, "mmu_100ms"));
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
  printPerRunSummary();
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
  benchmark::RegisterBenchmark("gcbench/ams-client", gcbenchAmsClient)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gcbench/amc-client", gcbenchAmcClient)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("interp/boehm", interp::boehm)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("interp/amc", interp::amc)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("collect/full", interp::collectFull)
      ->ArgName("live_KiB")
      ->Arg(0)
      ->Arg(1024)
      ->Iterations(200)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("collect/nursery", interp::collectNursery)
      ->ArgName("live_KiB")
      ->Arg(0)
      ->Arg(1024)
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

// ---------------------------------------------------------------------------
// Runs in a fresh process. The child is this program, run with
// --gc_bench_child=WORKLOAD: it does one run and prints, as name=value
// pairs, its maximum RSS from VmHWM (the high-water mark of its own address
// space; getrusage's ru_maxrss would not do, as Linux carries a vfork
// parent's mark over into the exec'd child), the run's checksum, and for
// interp the run's counters.

const char* const kChildFlag = "--gc_bench_child=";
std::string selfPath;  // this program, from /proc/self/exe
std::map<std::string, double> freshRssMB;

long vmHwmKiB() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  long kiB = 0;
  while (std::fgets(line, sizeof line, status) != nullptr)
    if (std::sscanf(line, "VmHWM: %ld kB", &kiB) == 1) break;
  std::fclose(status);
  return kiB;
}

__attribute__((noinline)) int childMain(const std::string& workload, void* cold) {
  std::uint64_t checksum = 0;
  bool ok = true;
  Counters counters;
  if (workload == "interp/amc") {
    checksum = interp::runAmcMeasured(cold, counters);
  } else if (workload == "interp/boehm") {
    checksum = interp::runBoehmMeasured(counters);
  } else if (workload == "gcbench/boehm") {
    BoehmAlloc alloc;
    ok = gcbench(alloc);
  } else if (workload == "gcbench/malloc") {
    MallocAlloc alloc;
    ok = gcbench(alloc);
  } else if (workload == "gcbench/ams" || workload == "gcbench/ams-client") {
    AmsHeap heap(std::size_t(256) << 20,
                 workload == "gcbench/ams"
                     ? std::vector<mps_gen_param_s>{{kGCBenchNurseryKiB, 0.85}}
                     : kClientChain);
    ThreadRoot thread(heap.arena, cold);
    AmsAlloc alloc{heap.ap};
    ok = gcbench(alloc);
  } else if (workload == "gcbench/amc" || workload == "gcbench/amc-client") {
    AmcHeap heap(std::size_t(512) << 20, workload == "gcbench/amc"
                                             ? AmcHeap::defaultGens(kAmcNurseryKiB, kAmcOlderKiB)
                                             : kClientChain);
    ThreadRoot thread(heap.arena, cold);
    AmsAlloc alloc{heap.ap};
    ok = gcbench(alloc);
  } else {
    std::fprintf(stderr, "gc_bench: no workload %s\n", workload.c_str());
    return 2;
  }
  if (!ok) return 1;
  std::printf("max_RSS_MB=%.3f checksum=%llu", double(vmHwmKiB()) * 1024 / 1e6,
              static_cast<unsigned long long>(checksum));
  for (auto& [name, value] : counters)
    std::printf(" %s=%.17g", name.c_str(), value);
  std::printf("\n");
  return 0;
}

bool runInChild(const std::string& workload, Counters& counters, std::uint64_t& checksum) {
  std::string command = "'" + selfPath + "' " + kChildFlag + workload;
  FILE* child = ::popen(command.c_str(), "r");
  if (child == nullptr) return false;
  std::string output;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, child) != nullptr)
    output += buffer;
  int status = ::pclose(child);
  if (status != 0 || output.rfind("max_RSS_MB=", 0) != 0) {
    std::fprintf(stderr, "gc_bench: the child run of %s failed\n", workload.c_str());
    return false;
  }
  // name=value pairs, separated by spaces
  counters.clear();
  for (std::size_t at = 0; at < output.size();) {
    std::size_t end = output.find_first_of(" \n", at);
    if (end == std::string::npos) end = output.size();
    std::string pair = output.substr(at, end - at);
    at = end + 1;
    std::size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    std::string name = pair.substr(0, eq);
    if (name == "checksum")
      checksum = std::strtoull(pair.c_str() + eq + 1, nullptr, 10);
    else
      counters[name] = std::strtod(pair.c_str() + eq + 1, nullptr);
  }
  return true;
}

double freshProcessMaxRssMB(const std::string& workload) {
  // GC_BENCH_RSS=0 skips these extra runs.
  if (const char* env = std::getenv("GC_BENCH_RSS"); env != nullptr && std::strcmp(env, "0") == 0)
    return 0;
  if (auto it = freshRssMB.find(workload); it != freshRssMB.end()) return it->second;
  Counters counters;
  std::uint64_t checksum = 0;
  double& mb = freshRssMB[workload];
  if (runInChild(workload, counters, checksum)) mb = counters["max_RSS_MB"];
  return mb;
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
  if (argc == 2 && std::strncmp(argv[1], kChildFlag, std::strlen(kChildFlag)) == 0) {
    void* cold = &cold;
    return childMain(argv[1] + std::strlen(kChildFlag), cold);
  }
  {
    char path[4096];
    ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) selfPath.assign(path, std::size_t(n));
  }
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
  delete gcbenchAmsClientHeap;
  delete gcbenchAmcClientHeap;
  return 0;
}
