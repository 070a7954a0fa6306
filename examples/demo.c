/* demo.c: what MPS++ is for, in one C99 program.
 *
 * A GCBench-style binary-trees workload (after Hans Boehm's GCBench) runs
 * three times, each in a forked child process of its own:
 *
 *   AMC          MPS++'s copying, generational pool (mps_class_amc): objects
 *                allocated through an allocation point, the thread's stack
 *                and registers scanned as an ambiguous root, the long-lived
 *                tree held by an exact root;
 *   Boehm GC     the same trees from GC_MALLOC (Debian libgc-dev);
 *   malloc/free  the same trees, each freed explicitly when it is dropped.
 *
 * The workload keeps a long-lived tree for the whole run while it builds
 * short-lived trees of depth 4, 6, ..., MAX_DEPTH, top-down and bottom-up,
 * and drops each at once. At the end it checks the long-lived tree's
 * contents against a checksum taken when it was built: on AMC the tree has
 * been copied from generation to generation by then.
 *
 * For each run the parent prints the wall time (measured in the child) and
 * the maximum resident set size (ru_maxrss from wait4, so each run has its
 * own high-water mark), and for AMC the collections, the pause times (from
 * the GC-start and GC messages) and the arena's committed memory.
 *
 * Build and run: scripts/demo.sh (see README.md; the CMake target is
 * mps_demo). Usage: mps_demo [MAX_DEPTH], MAX_DEPTH from 6 to 20, default
 * 18. Exits 0 when every run kept its long-lived tree intact. The manual
 * pools demo that used to be here is examples/manual_pools_demo.c.
 */
#define _DEFAULT_SOURCE /* wait4, struct rusage */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Boehm GC in its threads configuration, so that it can mark in parallel
 * as MPS++ does. */
#define GC_THREADS
#include <gc.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscamc.h"
#include "mpslib.h"      /* mps_clocks_per_sec */
#include "mmu.h"         /* minimum mutator utilisation */
#include "tree_format.h" /* node_s and its format: node_scan, node_skip, ... */

/* ------------------------------------------------------------------------
 * The workload's shape. GCBench's constants: a stretch tree one level
 * deeper than the deepest short-lived tree, built once and dropped; a
 * long-lived tree of depth 16; short-lived trees from depth 4 up. A tree of
 * depth d has 2^(d+1) - 1 nodes; at every depth the run builds about
 * 2^(MAX_DEPTH+2) nodes in all (half top-down, half bottom-up).
 */
#define MIN_DEPTH 4
#define LONG_LIVED_DEPTH 16
#define DEFAULT_MAX_DEPTH 18

static int max_depth = DEFAULT_MAX_DEPTH;

enum collector { AMC, BOEHM, MALLOC };

/* What a child process sends its parent through a pipe. */
typedef struct result_s {
  int ok;         /* the long-lived tree survived intact */
  double seconds; /* wall time of the workload */
  unsigned long collections;
  /* Pauses of nursery collections (generation 0 only) and of the others
   * (older generations with it), told apart by the GC start message's
   * reason. */
  unsigned long nursery_count, older_count;
  double nursery_median_ms, nursery_max_ms, older_median_ms, older_max_ms, pause_total_ms;
  unsigned long pause_count; /* AMC: every pause of every collection */
  double pause_time;         /* AMC: the arena's pause-time target, seconds */
  double heap_mb;            /* AMC: peak committed; Boehm: heap size */
  /* Minimum mutator utilisation at 1, 10, 100 ms windows, from the gaps
   * the mutator saw (note_gap). */
  double mmu[3];
} result_s;

static void die(const char* what, mps_res_t res) {
  fprintf(stderr, "mps_demo: %s failed (result %d)\n", what, (int)res);
  _exit(2);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------
 * The AMC heap: arena, format, chain, pool, allocation point, the thread
 * and its stack root, and an exact root for the long-lived tree.
 */
static mps_arena_t arena;
static mps_fmt_t fmt;
static mps_chain_t chain;
static mps_pool_t pool;
static mps_ap_t ap;
static mps_thr_t thread;
static mps_root_t stack_root, tree_root;

/* The long-lived tree. Registered as an exact root on AMC, so the
 * collector may move the tree's root node too and updates this variable. */
static node_s* long_lived;

/* Pause times, per collection from its GC message (mps_message_gc_pauses:
 * a collection is incremental, a series of pauses, so the time from its
 * GC-start message to its GC message is not a pause): [0] nursery
 * collections, [1] the others, each collection's longest pause. */
typedef struct pauses_s {
  double* ms;
  size_t count, cap;
} pauses_s;
static pauses_s pauses[2];
static int have_start, start_older;
static size_t peak_committed;
static double pause_total_ms;
static unsigned long pause_count;
/* The gaps the mutator saw in its own progress, for the MMU: new_node
 * reads the clock every GAP_CHECK_NODES nodes (a few microseconds of
 * work), and a gap of more than GAP_MIN_SECONDS between two readings is
 * recorded as a pause. This sees every pause, whatever its kind (flip,
 * increment, read-barrier fault, finish), and the operating system's too. */
#define GAP_CHECK_NODES 64
#define GAP_MIN_SECONDS 100e-6
static mmu_interval_s* paused;
static size_t paused_count, paused_cap;
static unsigned gap_counter;
static double gap_last;

static double clock_seconds(mps_clock_t c) {
  return (double)c / (double)mps_clocks_per_sec();
}

static void note_gap(void) {
  double t = clock_seconds(mps_clock());
  if (t - gap_last > GAP_MIN_SECONDS && gap_last > 0) {
    if (paused_count == paused_cap) {
      paused_cap = paused_cap == 0 ? 256 : 2 * paused_cap;
      paused = realloc(paused, paused_cap * sizeof *paused);
      if (paused == NULL) die("realloc", MPS_RES_MEMORY);
    }
    paused[paused_count].start = gap_last;
    paused[paused_count++].end = t;
  }
  gap_last = t;
}

static void add_pause(pauses_s* p, double ms) {
  if (p->count == p->cap) {
    p->cap = p->cap == 0 ? 256 : 2 * p->cap;
    p->ms = realloc(p->ms, p->cap * sizeof *p->ms);
    if (p->ms == NULL) die("realloc", MPS_RES_MEMORY);
  }
  p->ms[p->count++] = ms;
}

static void amc_poll(void) {
  mps_message_t msg;
  size_t committed = mps_arena_committed(arena);
  if (committed > peak_committed) peak_committed = committed;
  for (;;) {
    size_t count;
    double total, max;
    if (!have_start) {
      if (!mps_message_get(&msg, arena, mps_message_type_gc_start())) return;
      start_older = strncmp(mps_message_gc_start_why(arena, msg), "Generation 0 ", 13) != 0;
      mps_message_discard(arena, msg);
      have_start = 1;
    }
    if (!mps_message_get(&msg, arena, mps_message_type_gc())) return;
    mps_message_gc_pauses(arena, msg, &count, &total, &max);
    add_pause(&pauses[start_older], max * 1e3);
    pause_total_ms += total * 1e3;
    pause_count += (unsigned long)count;
    mps_message_discard(arena, msg);
    have_start = 0;
  }
}

/* The chain: a 16 MiB nursery and an 8 MiB older generation. The write
 * barrier keeps a nursery collection from scanning the older generation
 * (only segments written since they were last scanned are), so the nursery
 * can be small; smaller still and the trees, which live for as long as
 * they are being built, are copied more than once (design/amc.md). */
static void amc_create(void* stack_cold_end) {
  mps_gen_param_s gens[2] = {{16 << 10, 0.85}, {8 << 10, 0.45}};
  mps_res_t res;

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, (size_t)256 << 20);
    res = mps_arena_create_k(&arena, mps_arena_class_vm(), args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_arena_create_k", res);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(void*));
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, node_scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, node_skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, node_fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, node_isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, node_pad);
    res = mps_fmt_create_k(&fmt, arena, args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_fmt_create_k", res);

  res = mps_chain_create(&chain, arena, 2, gens);
  if (res != MPS_RES_OK) die("mps_chain_create", res);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    res = mps_pool_create_k(&pool, arena, mps_class_amc(), args);
  }
  MPS_ARGS_END(args);
  if (res != MPS_RES_OK) die("mps_pool_create_k(amc)", res);

  res = mps_ap_create_k(&ap, pool, mps_args_none);
  if (res != MPS_RES_OK) die("mps_ap_create_k", res);

  /* The stack and registers: an ambiguous root. Whatever they point at is
   * kept, and pinned where it is (copying it would need to change them). */
  res = mps_thread_reg(&thread, arena);
  if (res != MPS_RES_OK) die("mps_thread_reg", res);
  res = mps_root_create_thread(&stack_root, arena, thread, stack_cold_end);
  if (res != MPS_RES_OK) die("mps_root_create_thread", res);

  res = mps_root_create_table(&tree_root, arena, mps_rank_exact(), 0, (mps_addr_t*)&long_lived, 1);
  if (res != MPS_RES_OK) die("mps_root_create_table", res);

  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
}

static void amc_destroy(void) {
  mps_arena_park(arena);
  mps_root_destroy(tree_root);
  mps_root_destroy(stack_root);
  mps_thread_dereg(thread);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  mps_arena_destroy(arena);
}

/* ------------------------------------------------------------------------
 * The trees, on any of the three collectors. `kind` is the same for a
 * whole run, so the switch costs the three alike (a predicted branch).
 */
static node_s* new_node(enum collector kind, node_s* l, node_s* r) {
  node_s* n;
  if ((++gap_counter & (GAP_CHECK_NODES - 1)) == 0) note_gap();
  switch (kind) {
    case AMC: {
      /* Reserve, initialise every field, commit. If a collection moved
       * objects between the reserve and the commit, the commit fails (the
       * new node may hold references the collector did not see, such as l
       * or r's old addresses) and the node is built again. */
      mps_addr_t p;
      do {
        mps_res_t res = mps_reserve(&p, ap, sizeof(node_s));
        if (res != MPS_RES_OK) die("mps_reserve", res);
        n = p;
        n->left = l;
        n->right = r;
        n->i = 0;
        n->j = 0;
      } while (!mps_commit(ap, p, sizeof(node_s)));
      return n;
    }
    case BOEHM:
      n = GC_MALLOC(sizeof(node_s));
      break;
    default:
      n = malloc(sizeof(node_s));
      break;
  }
  if (n == NULL) die("allocation", MPS_RES_MEMORY);
  n->left = l;
  n->right = r;
  n->i = 0;
  n->j = 0;
  return n;
}

/* Dropping a tree: only malloc/free does anything. */
static void free_tree(node_s* n) {
  while (n != NULL) {
    node_s* right = n->right;
    free_tree(n->left);
    free(n);
    n = right;
  }
}

static void drop_tree(enum collector kind, node_s* n) {
  if (kind == MALLOC) free_tree(n);
}

static node_s* make_tree(enum collector kind, int depth) { /* bottom-up */
  node_s *l, *r;
  if (depth <= 0) return new_node(kind, NULL, NULL);
  l = make_tree(kind, depth - 1);
  r = make_tree(kind, depth - 1);
  return new_node(kind, l, r);
}

static void populate(enum collector kind, int depth, node_s* n) { /* top-down */
  if (depth <= 0) return;
  --depth;
  n->left = new_node(kind, NULL, NULL);
  n->right = new_node(kind, NULL, NULL);
  populate(kind, depth, n->left);
  populate(kind, depth, n->right);
}

/* Numbers the nodes in preorder (i = index, j derived from it), and
 * returns the next index. */
static intptr_t number_tree(node_s* n, intptr_t next) {
  while (n != NULL) {
    n->i = next;
    n->j = (next * 2654435761) ^ 0x5bd1e995;
    next = number_tree(n->left, next + 1);
    n = n->right;
  }
  return next;
}

/* FNV-1a over (i, j) in preorder, and the node count. */
static uint64_t checksum_tree(const node_s* n, uint64_t h, size_t* count) {
  while (n != NULL) {
    h = (h ^ (uint64_t)n->i) * 1099511628211u;
    h = (h ^ (uint64_t)n->j) * 1099511628211u;
    ++*count;
    h = checksum_tree(n->left, h, count);
    n = n->right;
  }
  return h;
}

static size_t tree_nodes(int depth) {
  return ((size_t)2 << depth) - 1;
}

/* Trees built at each depth by each method: 2^(MAX_DEPTH - d + 1). */
static long iterations(int depth) {
  return 2L << (max_depth - depth);
}

static double allocated_mb(void) {
  size_t nodes = tree_nodes(max_depth + 1) + tree_nodes(LONG_LIVED_DEPTH);
  int d;
  for (d = MIN_DEPTH; d <= max_depth; d += 2)
    nodes += 2 * (size_t)iterations(d) * tree_nodes(d);
  return (double)nodes * sizeof(node_s) / 1e6;
}

/* The whole run; true if the long-lived tree is intact at the end. */
static int workload(enum collector kind) {
  uint64_t before, after;
  size_t count = 0, count_after = 0;
  int d;

  drop_tree(kind, make_tree(kind, max_depth + 1)); /* stretch the heap */

  long_lived = new_node(kind, NULL, NULL);
  populate(kind, LONG_LIVED_DEPTH, long_lived);
  number_tree(long_lived, 1);
  before = checksum_tree(long_lived, 14695981039346656037u, &count);

  for (d = MIN_DEPTH; d <= max_depth; d += 2) {
    long k, iters = iterations(d);
    for (k = 0; k < iters; ++k) {
      node_s* t = new_node(kind, NULL, NULL);
      populate(kind, d, t);
      drop_tree(kind, t);
      if (kind == AMC) amc_poll();
    }
    for (k = 0; k < iters; ++k) {
      drop_tree(kind, make_tree(kind, d));
      if (kind == AMC) amc_poll();
    }
  }

  after = checksum_tree(long_lived, 14695981039346656037u, &count_after);
  drop_tree(kind, long_lived);
  long_lived = NULL;
  return count == tree_nodes(LONG_LIVED_DEPTH) && count_after == count && after == before;
}

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* Runs in the child. The stack root's cold end is this frame, so the
 * workload's frames below it are scanned. */
static void run_child(enum collector kind, result_s* out) {
  void* marker = &marker;
  double t0 = now_seconds();
  double run_start = 0, run_end = 0;
  int w;
  memset(out, 0, sizeof *out);
  switch (kind) {
    case AMC: {
      mps_word_t before;
      amc_create(marker);
      out->pause_time = mps_arena_pause_time(arena);
      before = mps_collections(arena);
      run_start = gap_last = clock_seconds(mps_clock());
      out->ok = workload(AMC);
      amc_poll();
      run_end = clock_seconds(mps_clock());
      out->collections = (unsigned long)(mps_collections(arena) - before);
      out->heap_mb = (double)peak_committed / 1e6;
      amc_destroy();
      break;
    }
    case BOEHM:
      GC_INIT();
      /* A single-threaded client gets Boehm's parallel markers only on
       * request: as many as the hardware threads, as MPS++ uses. */
      GC_start_mark_threads();
      run_start = gap_last = clock_seconds(mps_clock());
      out->ok = workload(BOEHM);
      run_end = clock_seconds(mps_clock());
      out->collections = (unsigned long)GC_get_gc_no();
      out->heap_mb = (double)GC_get_heap_size() / 1e6;
      break;
    case MALLOC:
      run_start = gap_last = clock_seconds(mps_clock());
      out->ok = workload(MALLOC);
      run_end = clock_seconds(mps_clock());
      break;
  }
  for (w = 0; w < 3; ++w)
    out->mmu[w] = mmu(paused, paused_count, run_start, run_end,
                      w == 0   ? 1e-3
                      : w == 1 ? 1e-2
                               : 1e-1);
  out->seconds = now_seconds() - t0;
  {
    size_t g, k;
    double* median[2];
    double* max[2];
    median[0] = &out->nursery_median_ms;
    median[1] = &out->older_median_ms;
    max[0] = &out->nursery_max_ms;
    max[1] = &out->older_max_ms;
    out->nursery_count = (unsigned long)pauses[0].count;
    out->older_count = (unsigned long)pauses[1].count;
    for (g = 0; g < 2; ++g) {
      pauses_s* p = &pauses[g];
      if (p->count == 0) continue;
      qsort(p->ms, p->count, sizeof *p->ms, compare_doubles);
      *median[g] = p->ms[p->count / 2];
      *max[g] = p->ms[p->count - 1];
      (void)k;
    }
    out->pause_total_ms = pause_total_ms;
    out->pause_count = pause_count;
  }
}

/* Forks, runs one workload in the child, and collects its result and its
 * maximum RSS (KiB on Linux). Returns 0 if the child failed. */
static int run_forked(enum collector kind, result_s* res, long* maxrss_kib) {
  int fds[2], status;
  pid_t pid;
  struct rusage usage;
  ssize_t got;

  if (pipe(fds) != 0) {
    perror("mps_demo: pipe");
    return 0;
  }
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror("mps_demo: fork");
    return 0;
  }
  if (pid == 0) {
    result_s r;
    close(fds[0]);
    run_child(kind, &r);
    if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
    _exit(r.ok ? 0 : 1);
  }
  close(fds[1]);
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("mps_demo: wait4");
      return 0;
    }
  }
  got = read(fds[0], res, sizeof *res);
  close(fds[0]);
  *maxrss_kib = usage.ru_maxrss;
  if (got != (ssize_t)sizeof *res || !WIFEXITED(status)) {
    fprintf(stderr, "mps_demo: the child process failed (status %d)\n", status);
    return 0;
  }
  return WEXITSTATUS(status) == 0 && res->ok;
}

/* Runs of each collector (odd: the median is one of them). */
#define ROUNDS 3

static const char* verdict(int met) {
  return met ? "met" : "MISSED";
}

int main(int argc, char** argv) {
  static const char* const names[3] = {"AMC (MPS++)", "Boehm GC", "malloc/free"};
  result_s results[3];
  long rss[3];
  int ok[3], all_ok = 1, k;

  if (argc > 1) {
    char* end;
    long d = strtol(argv[1], &end, 10);
    if (*end != '\0' || d < 6 || d > 20) {
      fprintf(stderr, "usage: %s [MAX_DEPTH, 6 to 20; default %d]\n", argv[0], DEFAULT_MAX_DEPTH);
      return 2;
    }
    max_depth = (int)d;
  }

  printf(
      "GCBench-style binary trees: trees of depth %d..%d built top-down and bottom-up\n"
      "and dropped, a long-lived tree of depth %d kept throughout, %.0f MB of 32-byte\n"
      "nodes allocated per run. Each collector runs in a child process of its own,\n"
      "%d times in turn with the others; the run with the median wall time is shown.\n\n",
      MIN_DEPTH, max_depth, LONG_LIVED_DEPTH, allocated_mb(), ROUNDS);

  /* Each collector runs ROUNDS times, the three taking turns, so that a
   * slow spell of a shared machine falls on all of them; the run with the
   * median wall time is reported for each. */
  for (k = 0; k < 3; ++k)
    ok[k] = 1;
  {
    result_s all[ROUNDS][3];
    long all_rss[ROUNDS][3];
    int r;
    for (r = 0; r < ROUNDS; ++r)
      for (k = 0; k < 3; ++k)
        if (!run_forked((enum collector)k, &all[r][k], &all_rss[r][k])) ok[k] = 0;
    for (k = 0; k < 3; ++k) {
      int order[ROUNDS], i, j;
      for (i = 0; i < ROUNDS; ++i)
        order[i] = i;
      for (i = 1; i < ROUNDS; ++i) /* insertion sort by wall time */
        for (j = i; j > 0 && all[order[j]][k].seconds < all[order[j - 1]][k].seconds; --j) {
          int t = order[j];
          order[j] = order[j - 1];
          order[j - 1] = t;
        }
      results[k] = all[order[ROUNDS / 2]][k];
      rss[k] = all_rss[order[ROUNDS / 2]][k];
    }
  }
  for (k = 0; k < 3; ++k)
    if (!ok[k]) all_ok = 0;

  printf("%-12s %8s %11s %11s %16s %8s  %s\n", "", "wall s", "max RSS MB", "collections",
         "nursery pause ms", "heap MB", "long-lived tree");
  for (k = 0; k < 3; ++k) {
    const result_s* r = &results[k];
    char collections[32] = "-", pause[32] = "-", heap[32] = "-";
    if (k != MALLOC) {
      snprintf(collections, sizeof collections, "%lu", r->collections);
      snprintf(heap, sizeof heap, "%.1f", r->heap_mb);
    }
    if (k == AMC)
      snprintf(pause, sizeof pause, "%.2f / %.2f", r->nursery_median_ms, r->nursery_max_ms);
    printf("%-12s %8.3f %11.1f %11s %16s %8s  %s\n", names[k], r->seconds, (double)rss[k] / 1024.0,
           collections, pause, heap, ok[k] ? "intact" : "DAMAGED");
  }
  if (ok[AMC] && ok[BOEHM] && results[BOEHM].seconds > 0 && rss[BOEHM] > 0) {
    double time_ratio = results[AMC].seconds / results[BOEHM].seconds;
    double rss_ratio = (double)rss[AMC] / (double)rss[BOEHM];
    printf(
        "\nAMC / Boehm: wall time %.3fx (target <= 0.7x: %s), max RSS %.3fx "
        "(target <= 1.5x: %s)\n",
        time_ratio, verdict(time_ratio <= 0.7), rss_ratio, verdict(rss_ratio <= 1.5));
    printf(
        "AMC longest pause per collection (median / max ms): %lu nursery collections\n"
        "%.2f / %.2f, %lu of older generations %.2f / %.2f; %lu pauses, %.0f ms in all\n"
        "(pause time %g s; heap MB: AMC's peak committed memory; Boehm's heap size\n"
        "at the end)\n",
        results[AMC].nursery_count, results[AMC].nursery_median_ms, results[AMC].nursery_max_ms,
        results[AMC].older_count, results[AMC].older_median_ms, results[AMC].older_max_ms,
        results[AMC].pause_count, results[AMC].pause_total_ms, results[AMC].pause_time);
  }
  {
    int k;
    printf(
        "Minimum mutator utilisation at 1 / 10 / 100 ms windows (from the gaps of over\n"
        "0.1 ms the mutator saw):\n");
    for (k = 0; k < 3; ++k)
      if (ok[k])
        printf("  %-12s %5.1f%% / %5.1f%% / %5.1f%%\n", names[k], 100 * results[k].mmu[0],
               100 * results[k].mmu[1], 100 * results[k].mmu[2]);
  }
  if (!all_ok) {
    fprintf(stderr, "mps_demo: a run failed or its long-lived tree was damaged\n");
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
