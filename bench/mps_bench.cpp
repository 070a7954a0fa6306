// mps_bench: manual-pool allocation throughput against glibc malloc (MFS,
// MVFF directly, through allocation caches and through an allocation point,
// and MVT, which allocates only through allocation points).
//
// Every allocator runs the same precomputed trace (see README.md):
//
//   djbench  N live slots; each step picks a random slot, frees its block and
//            allocates a new one of a random size in [8, 512] bytes.
//   fixed64  the same slot pattern, every block 64 bytes (a compile-time
//            constant, as in a client allocating one kind of node).
//
// One item is one free + one alloc. The slots are filled before timing starts,
// so every timed step does exactly one of each; the random slots and sizes are
// drawn from a fixed seed into a table before timing, so the generator is not
// measured and every allocator sees exactly the same requests. Every new
// block has its first word written, as a client would.
//
// The debugging classes run the same trace: MVFF debug beside MVFF, and AMS
// debug beside AMS (fixed64 only; a block is "freed" by dropping the slot's
// reference and the collector reclaims it).
//
// After the benchmarks, main() prints a summary with each allocator's ratio to
// malloc on the same workload (from the median of the repetitions), and each
// debugging class's slowdown against its plain class in the same run.
#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscams.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpscmvt.h"
#include "mpstd.h"

namespace {

constexpr std::size_t kMinSize = 8;
constexpr std::size_t kMaxSize = 512;
constexpr std::size_t kFixedSize = 64;
// Steps per benchmark iteration: one pass over the trace.
constexpr std::size_t kSteps = std::size_t(1) << 18;
constexpr std::uint64_t kSeed = 0x4d50532b2b2d3031u;  // "MPS++-01"
const std::size_t kSlotCounts[] = {1000, 100000};

// SplitMix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by multiply-shift (bias below 2^-32).
  std::uint32_t below(std::uint32_t n) {
    return std::uint32_t(((next() >> 32) * std::uint64_t(n)) >> 32);
  }

 private:
  std::uint64_t state_;
};

enum class Workload { djbench, fixed64 };

const char* workloadName(Workload w) {
  return w == Workload::djbench ? "djbench" : "fixed64";
}

// The requests of one workload: the initial size of each slot, then for each
// step the slot to replace and (djbench only) the new block's size.
struct Trace {
  std::vector<std::uint32_t> initialSize;
  std::vector<std::uint32_t> slot;
  std::vector<std::uint32_t> size;
};

const Trace& traceFor(Workload w, std::size_t slots) {
  static std::map<std::pair<Workload, std::size_t>, std::unique_ptr<Trace>> cache;
  std::unique_ptr<Trace>& entry = cache[{w, slots}];
  if (entry) return *entry;
  entry = std::make_unique<Trace>();
  Trace& t = *entry;
  Rng rng(kSeed ^ (std::uint64_t(slots) << 1) ^ std::uint64_t(w));
  auto randomSize = [&] {
    return std::uint32_t(kMinSize + rng.below(std::uint32_t(kMaxSize - kMinSize + 1)));
  };
  t.initialSize.resize(slots);
  for (auto& s : t.initialSize)
    s = w == Workload::djbench ? randomSize() : kFixedSize;
  t.slot.resize(kSteps);
  if (w == Workload::djbench) t.size.resize(kSteps);
  for (std::size_t i = 0; i < kSteps; ++i) {
    t.slot[i] = rng.below(std::uint32_t(slots));
    if (w == Workload::djbench) t.size[i] = randomSize();
  }
  return t;
}

// ---------------------------------------------------------------------------
// Allocators. Each has init() (false on failure), alloc(size) (nullptr on
// failure), free(p, size) and finish(); alloc and free are inline so that the
// SAC fast macros expand into the timed loop as they would in a client.

struct Malloc {
  static constexpr const char* kName = "malloc";
  bool init() { return true; }
  void* alloc(std::size_t size) { return std::malloc(size); }
  void free(void* p, std::size_t) { std::free(p); }
  void finish() {}
};

// An arena and one pool, created and destroyed around each benchmark run.
class MpsPool {
 public:
  void finish() {
    if (pool_ != nullptr) mps_pool_destroy(pool_);
    if (arena_ != nullptr) mps_arena_destroy(arena_);
    pool_ = nullptr;
    arena_ = nullptr;
  }

 protected:
  bool createArena() {
    mps_res_t res;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, std::size_t(256) << 20);
      res = mps_arena_create_k(&arena_, mps_arena_class_vm(), args);
    }
    MPS_ARGS_END(args);
    return res == MPS_RES_OK;
  }
  bool createMVFF(mps_pool_class_t poolClass = mps_class_mvff()) {
    if (!createArena()) return false;
    return mps_pool_create_k(&pool_, arena_, poolClass, mps_args_none) == MPS_RES_OK;
  }
  bool createMFS() {
    if (!createArena()) return false;
    mps_res_t res;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, kFixedSize);
      res = mps_pool_create_k(&pool_, arena_, mps_class_mfs(), args);
    }
    MPS_ARGS_END(args);
    return res == MPS_RES_OK;
  }

  mps_arena_t arena_ = nullptr;
  mps_pool_t pool_ = nullptr;
};

class DirectPool : public MpsPool {
 public:
  void* alloc(std::size_t size) {
    mps_addr_t p;
    return mps_alloc(&p, pool_, size) == MPS_RES_OK ? p : nullptr;
  }
  void free(void* p, std::size_t size) { mps_free(pool_, p, size); }
};

struct MVFF : DirectPool {
  static constexpr const char* kName = "mvff";
  bool init() { return createMVFF(); }
};

// MVFF debug with its default options: 4-byte "POST" fenceposts (8 bytes
// each side after rounding) and the "FREE" template over free space.
struct MVFFDebug : DirectPool {
  static constexpr const char* kName = "mvff-debug";
  bool init() { return createMVFF(mps_class_mvff_debug()); }
};

struct MFS : DirectPool {
  static constexpr const char* kName = "mfs";
  bool init() { return createMFS(); }
};

// Allocation through an allocation point (the inline reserve and commit
// macros), freeing with mps_free. Sizes are rounded up to the alignment,
// as reserve requires, and freed with the rounded size.
class APPool : public MpsPool {
 public:
  void* alloc(std::size_t size) {
    size = (size + MPS_PF_ALIGN - 1) & ~std::size_t(MPS_PF_ALIGN - 1);
    mps_addr_t p;
    do {
      if (mps_reserve(&p, ap_, size) != MPS_RES_OK) return nullptr;
    } while (!mps_commit(ap_, p, size));
    return p;
  }
  // With the size reserved (a debugging pool checks it against its tag).
  void free(void* p, std::size_t size) {
    mps_free(pool_, p, (size + MPS_PF_ALIGN - 1) & ~std::size_t(MPS_PF_ALIGN - 1));
  }
  void finish() {
    if (ap_ != nullptr) mps_ap_destroy(ap_);
    ap_ = nullptr;
    MpsPool::finish();
  }

 protected:
  bool createAP() { return mps_ap_create_k(&ap_, pool_, mps_args_none) == MPS_RES_OK; }
  bool createMVT() {
    if (!createArena()) return false;
    return mps_pool_create_k(&pool_, arena_, mps_class_mvt(), mps_args_none) == MPS_RES_OK;
  }

  mps_ap_t ap_ = nullptr;
};

// MVFF through an allocation point: windows filled worst-fit, blocks freed
// into the pool's quick lists and tree.
struct MVFFAP : APPool {
  static constexpr const char* kName = "mvff+ap";
  bool init() { return createMVFF() && createAP(); }
};

struct MVFFDebugAP : APPool {
  static constexpr const char* kName = "mvff-debug+ap";
  bool init() { return createMVFF(mps_class_mvff_debug()) && createAP(); }
};

// MVT with its default keywords (fragmentation limit 0.3): allocation only
// through an allocation point.
struct MVT : APPool {
  static constexpr const char* kName = "mvt";
  bool init() { return createMVT() && createAP(); }
};

class CachedPool : public MpsPool {
 public:
  void* alloc(std::size_t size) {
    mps_res_t res;
    mps_addr_t p;
    MPS_SAC_ALLOC_FAST(res, p, sac_, size, 0);
    return res == MPS_RES_OK ? p : nullptr;
  }
  void free(void* p, std::size_t size) { MPS_SAC_FREE_FAST(sac_, p, size); }
  void finish() {
    if (sac_ != nullptr) mps_sac_destroy(sac_);
    sac_ = nullptr;
    MpsPool::finish();
  }

 protected:
  bool createSAC(mps_sac_class_s* classes, std::size_t count) {
    return mps_sac_create(&sac_, pool_, count, classes) == MPS_RES_OK;
  }

  mps_sac_t sac_ = nullptr;
};

// Classes covering 8-512 bytes. The frequencies are each class's share of
// the uniform djbench sizes (the width of its interval), so the cache puts
// the busiest classes first in its search.
struct MVFFSAC : CachedPool {
  static constexpr const char* kName = "mvff+sac";
  bool init() {
    static mps_sac_class_s classes[] = {
        {16, 1000, 9},   {32, 1000, 16},   {64, 1000, 32},
        {128, 1000, 64}, {256, 1000, 128}, {512, 1000, 256},
    };
    return createMVFF() && createSAC(classes, sizeof classes / sizeof classes[0]);
  }
};

// Classes a client might choose without knowing its size distribution, as
// glibc's tcache does: one every 16 bytes from 16 to 512 (32 classes), no
// frequencies. More classes than the eight either side of the middle that
// MPS's layout lets a search pass cheaply.
struct MVFFSAC16 : CachedPool {
  static constexpr const char* kName = "mvff+sac16";
  bool init() {
    static mps_sac_class_s classes[32];
    for (std::size_t c = 0; c < 32; ++c)
      classes[c] = {16 * (c + 1), 100, 0};
    return createMVFF() && createSAC(classes, 32);
  }
};

// One class of the unit size: the inline fast path of MFS.
struct MFSSAC : CachedPool {
  static constexpr const char* kName = "mfs+sac";
  bool init() {
    static mps_sac_class_s classes[] = {{kFixedSize, 1000, 1}};
    return createMFS() && createSAC(classes, 1);
  }
};

// AMS and AMS debug: blocks are objects of a format whose first word is the
// client's (the benchmark writes it) and whose second holds the size; they
// hold no references. The slots are an ambiguous root (attach()), so a
// "free" drops the slot's reference and the collector, run by the chain
// (an 8 MiB nursery), reclaims the block.
extern "C" mps_addr_t benchSkip(mps_addr_t p) {
  return static_cast<char*>(p) + static_cast<std::size_t*>(p)[1];
}
extern "C" mps_res_t benchScan(mps_ss_t, mps_addr_t, mps_addr_t) {
  return MPS_RES_OK;
}
extern "C" void benchPad(mps_addr_t p, std::size_t size) {
  static_cast<std::size_t*>(p)[1] = size;
}

class AutoPool : public MpsPool {
 public:
  void* alloc(std::size_t size) {
    mps_addr_t p;
    do {
      if (mps_reserve(&p, ap_, size) != MPS_RES_OK) return nullptr;
      static_cast<std::size_t*>(p)[1] = size;
    } while (!mps_commit(ap_, p, size));
    return p;
  }
  void free(void*, std::size_t) {}
  void attach(void* base, void* limit) {
    if (root_ == nullptr)
      mps_root_create_area(&root_, arena_, mps_rank_ambig(), 0, base, limit, mps_scan_area,
                           nullptr);
  }
  void finish() {
    if (root_ != nullptr) mps_root_destroy(root_);
    if (ap_ != nullptr) mps_ap_destroy(ap_);
    if (pool_ != nullptr) mps_pool_destroy(pool_);
    if (chain_ != nullptr) mps_chain_destroy(chain_);
    if (fmt_ != nullptr) mps_fmt_destroy(fmt_);
    pool_ = nullptr;
    MpsPool::finish();
  }

 protected:
  bool createAMS(mps_pool_class_t poolClass) {
    if (!createArena()) return false;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(void*));
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, benchScan);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, benchSkip);
      MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, benchPad);
      if (mps_fmt_create_k(&fmt_, arena_, args) != MPS_RES_OK) return false;
    }
    MPS_ARGS_END(args);
    mps_gen_param_s gens[1] = {{8192, 0.1}};
    if (mps_chain_create(&chain_, arena_, 1, gens) != MPS_RES_OK) return false;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt_);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain_);
      if (mps_pool_create_k(&pool_, arena_, poolClass, args) != MPS_RES_OK) return false;
    }
    MPS_ARGS_END(args);
    return mps_ap_create_k(&ap_, pool_, mps_args_none) == MPS_RES_OK;
  }

  mps_fmt_t fmt_ = nullptr;
  mps_chain_t chain_ = nullptr;
  mps_ap_t ap_ = nullptr;
  mps_root_t root_ = nullptr;
};

struct AMS : AutoPool {
  static constexpr const char* kName = "ams";
  bool init() { return createAMS(mps_class_ams()); }
};

struct AMSDebug : AutoPool {
  static constexpr const char* kName = "ams-debug";
  bool init() { return createAMS(mps_class_ams_debug()); }
};

// ---------------------------------------------------------------------------
// The benchmark.

struct Slot {
  void* p;
  std::size_t size;
};

// Fixed: every size is kFixedSize, known at compile time.
template <class A, bool Fixed>
void runTrace(benchmark::State& state, std::size_t slotCount) {
  const Trace& trace = traceFor(Fixed ? Workload::fixed64 : Workload::djbench, slotCount);
  A allocator;
  if (!allocator.init()) {
    allocator.finish();
    state.SkipWithError("cannot create the allocator");
    return;
  }
  std::vector<Slot> slots(slotCount);
  if constexpr (requires { allocator.attach(nullptr, nullptr); })
    allocator.attach(slots.data(), slots.data() + slotCount);
  bool ok = true;
  for (std::size_t i = 0; i < slotCount && ok; ++i) {
    std::size_t size = Fixed ? kFixedSize : trace.initialSize[i];
    void* p = allocator.alloc(size);
    if (p == nullptr) {
      ok = false;
      break;
    }
    *static_cast<std::uintptr_t*>(p) = i;
    slots[i] = {p, size};
  }

  const std::uint32_t* slotOf = trace.slot.data();
  const std::uint32_t* sizeOf = Fixed ? nullptr : trace.size.data();
  if (ok) {
    for (auto _ : state) {
      for (std::size_t i = 0; i < kSteps; ++i) {
        Slot& s = slots[slotOf[i]];
        allocator.free(s.p, Fixed ? kFixedSize : s.size);
        std::size_t size = Fixed ? kFixedSize : sizeOf[i];
        void* p = allocator.alloc(size);
        if (__builtin_expect(p == nullptr, 0)) {
          s.p = nullptr;
          ok = false;
          break;
        }
        *static_cast<std::uintptr_t*>(p) = i;  // touch the first word
        s.p = p;
        if (!Fixed) s.size = size;
      }
      if (!ok) break;
    }
  }
  if (ok)
    state.SetItemsProcessed(std::int64_t(state.iterations()) * std::int64_t(kSteps));
  else
    state.SkipWithError("allocation failed");

  for (Slot& s : slots)
    if (s.p != nullptr) allocator.free(s.p, Fixed ? kFixedSize : s.size);
  allocator.finish();
}

// ---------------------------------------------------------------------------
// Summary: items/s per (workload, slots, allocator), from the median
// aggregate when there are repetitions, else from the single run.

struct Key {
  Workload workload;
  std::size_t slots;
  std::string allocator;
};

std::map<std::string, Key> registered;  // benchmark name -> what it measures

struct Figure {
  double itemsPerSecond = 0;
  bool fromMedian = false;
};
std::map<std::string, Figure> figures;  // benchmark name -> result

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  explicit SummaryReporter(bool color) : ConsoleReporter(color ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      auto counter = run.counters.find("items_per_second");
      if (counter == run.counters.end()) continue;
      bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures[run.run_name.function_name];
      if (median || !f.fromMedian) {
        // Without repetitions there is one run; with them, keep the median.
        f.itemsPerSecond = counter->second.value;
        f.fromMedian = median;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

// The targets, as ratios to malloc.
double targetFor(const Key& k) {
  if (k.allocator == "mvff") return 0.4;
  if (k.allocator == "mvff+sac" || k.allocator == "mvff+sac16") return 1.5;
  if (k.allocator == "mfs+sac" && k.workload == Workload::fixed64) return 2.0;
  if (k.allocator == "mvt" && k.workload == Workload::fixed64) return 1.0;
  return 0;
}

// The bound: a debugging class at most 5x slower than its plain one.
constexpr double kDebugSlowdownMax = 5.0;

double rateOf(Workload w, std::size_t n, const char* allocator) {
  for (auto& [name, key] : registered)
    if (key.workload == w && key.slots == n && key.allocator == allocator) {
      auto f = figures.find(name);
      return f != figures.end() ? f->second.itemsPerSecond : 0;
    }
  return 0;
}

void printDebugSlowdown() {
  std::printf("\nDebugging classes against their plain classes (same run)\n");
  std::printf("%-18s %-14s %-8s %12s  %s\n", "workload", "debug", "plain", "slowdown", "target");
  const std::pair<const char*, const char*> pairs[] = {
      {"mvff-debug", "mvff"}, {"mvff-debug+ap", "mvff+ap"}, {"ams-debug", "ams"}};
  for (Workload w : {Workload::djbench, Workload::fixed64})
    for (std::size_t n : kSlotCounts)
      for (auto [debug, plain] : pairs) {
        double d = rateOf(w, n, debug), p = rateOf(w, n, plain);
        if (d <= 0 || p <= 0) continue;
        char label[64];
        std::snprintf(label, sizeof label, "%s N=%zu", workloadName(w), n);
        std::printf("%-18s %-14s %-8s %11.2fx  <= %.0fx %s\n", label, debug, plain, p / d,
                    kDebugSlowdownMax, p / d <= kDebugSlowdownMax ? "met" : "MISSED");
      }
}

void printSummary() {
  std::printf("\nSummary (one item = one free + one alloc; median of the repetitions)\n");
  std::printf("%-18s %-13s %9s %16s  %s\n", "workload", "allocator", "Mops/s", "ratio-to-malloc",
              "target");
  for (Workload w : {Workload::djbench, Workload::fixed64}) {
    for (std::size_t n : kSlotCounts) {
      double mallocRate = 0;
      for (auto& [name, key] : registered)
        if (key.workload == w && key.slots == n && key.allocator == "malloc" && figures.count(name))
          mallocRate = figures[name].itemsPerSecond;
      char label[64];
      std::snprintf(label, sizeof label, "%s N=%zu", workloadName(w), n);
      // In registration order: malloc first, then the pools.
      for (const char* allocator :
           {"malloc", "mvff", "mvff+sac", "mvff+sac16", "mvff+ap", "mvt", "mfs", "mfs+sac",
            "mvff-debug", "mvff-debug+ap", "ams", "ams-debug"}) {
        for (auto& [name, key] : registered) {
          if (key.workload != w || key.slots != n || key.allocator != allocator) continue;
          auto f = figures.find(name);
          if (f == figures.end()) continue;  // filtered out
          double rate = f->second.itemsPerSecond;
          if (mallocRate <= 0) {  // malloc filtered out: no ratio
            std::printf("%-18s %-13s %9.1f %16s\n", label, allocator, rate / 1e6, "-");
            continue;
          }
          double ratio = rate / mallocRate;
          double target = targetFor(key);
          char verdict[32] = "";
          if (target > 0)
            std::snprintf(verdict, sizeof verdict, ">= %.1f %s", target,
                          ratio >= target ? "met" : "MISSED");
          std::printf("%-18s %-13s %9.1f %16.2f  %s\n", label, allocator, rate / 1e6, ratio,
                      verdict);
        }
      }
    }
  }
  printDebugSlowdown();
}

template <class A, bool Fixed>
void add(std::size_t slots) {
  Workload w = Fixed ? Workload::fixed64 : Workload::djbench;
  std::string name = std::string(workloadName(w)) + "/N:" + std::to_string(slots) + "/" + A::kName;
  registered[name] = Key{w, slots, A::kName};
  benchmark::RegisterBenchmark(name.c_str(), [slots](benchmark::State& state) {
    runTrace<A, Fixed>(state, slots);
  })->Unit(benchmark::kMillisecond);
}

void registerAll() {
  for (std::size_t n : kSlotCounts) {
    add<Malloc, false>(n);
    add<MVFF, false>(n);
    add<MVFFSAC, false>(n);
    add<MVFFSAC16, false>(n);
    add<MVFFAP, false>(n);
    add<MVT, false>(n);
    add<MVFFDebug, false>(n);
    add<MVFFDebugAP, false>(n);
  }
  for (std::size_t n : kSlotCounts) {
    add<Malloc, true>(n);
    add<MVFF, true>(n);
    add<MVFFSAC, true>(n);
    add<MVFFAP, true>(n);
    add<MVT, true>(n);
    add<MFS, true>(n);
    add<MFSSAC, true>(n);
    add<MVFFDebug, true>(n);
    add<MVFFDebugAP, true>(n);
    add<AMS, true>(n);
    add<AMSDebug, true>(n);
  }
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
  // Defaults that keep the whole run near a minute; flags given on the
  // command line come later and win.
  std::vector<char*> args{argv[0]};
  char repetitions[] = "--benchmark_repetitions=3";
  char aggregates[] = "--benchmark_display_aggregates_only=true";
  char minTime[] = "--benchmark_min_time=0.5";
  args.insert(args.end(), {repetitions, aggregates, minTime});
  args.insert(args.end(), argv + 1, argv + argc);
  int count = int(args.size());
  args.push_back(nullptr);

  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  registerAll();
  SummaryReporter reporter(useColor(count, args.data()));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  printSummary();
  return 0;
}
