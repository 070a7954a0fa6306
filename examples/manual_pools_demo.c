/* manual_pools_demo.c: what MPS++ manual pools do, in one short C99 program.
 *
 * A symbol table keeps its fixed-size nodes in an MFS pool and their
 * variable-size names in an MVFF pool, reached through a segregated
 * allocation cache (SAC) whose inline macros make most allocations and frees
 * a few instructions. The program prints what the arena and pools hold, shows
 * the commit limit at work, and times the same workload against malloc.
 *
 * Build: the CMake target mps_manual_demo (for example
 * cmake --build --preset release --target mps_manual_demo, then run
 * build/release/examples/mps_manual_demo). Exits 0 on success.
 */
#define _POSIX_C_SOURCE 200112L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mps.h"
#include "mpsavm.h"
#include "mpscmfs.h"
#include "mpscmvff.h"

#define SYMBOLS 20000 /* live symbols in the table */
#define CHURN 60000   /* symbols replaced per round */
#define BUCKETS 4096
#define MAX_NAME 128
#define TIMED_ROUNDS 10

static const char* res_name(mps_res_t res) {
  switch (res) {
    case MPS_RES_OK:
      return "MPS_RES_OK";
    case MPS_RES_MEMORY:
      return "MPS_RES_MEMORY";
    case MPS_RES_RESOURCE:
      return "MPS_RES_RESOURCE";
    case MPS_RES_COMMIT_LIMIT:
      return "MPS_RES_COMMIT_LIMIT";
    case MPS_RES_FAIL:
      return "MPS_RES_FAIL";
    case MPS_RES_LIMIT:
      return "MPS_RES_LIMIT";
    case MPS_RES_UNIMPL:
      return "MPS_RES_UNIMPL";
    case MPS_RES_PARAM:
      return "MPS_RES_PARAM";
    default:
      return "another result code";
  }
}

static void check(mps_res_t res, const char* what) {
  if (res != MPS_RES_OK) {
    fprintf(stderr, "demo: %s failed: %s\n", what, res_name(res));
    exit(1);
  }
}

/* The library's objects. */

static mps_arena_t arena;
static mps_pool_t node_pool;   /* MFS: one unit per symbol node */
static mps_pool_t string_pool; /* MVFF: the names */
static mps_sac_t string_cache; /* SAC in front of string_pool */

/* The workload: a chained hash table of symbols. Allocation goes through an
 * allocator table so that MPS and malloc run exactly the same code. */

typedef struct symbol {
  struct symbol* next;
  char* name;
  size_t size; /* bytes allocated for name */
  unsigned long key;
} symbol;

typedef struct allocator {
  const char* label;
  symbol* (*node_alloc)(void);
  void (*node_free)(symbol*);
  char* (*string_alloc)(size_t);
  void (*string_free)(char*, size_t);
} allocator;

static symbol* table[BUCKETS];
static char name_template[MAX_NAME];

/* 8 to 127 bytes, spread by a multiplicative hash of the key. */
static size_t name_length(unsigned long key) {
  return 8 + (size_t)((key * 2654435761UL) >> 7) % (MAX_NAME - 8);
}

static void insert(const allocator* a, unsigned long key) {
  symbol* s = a->node_alloc();
  size_t length = name_length(key);
  s->size = length + 1;
  s->name = a->string_alloc(s->size);
  memcpy(s->name, name_template, length);
  s->name[length] = '\0';
  s->key = key;
  s->next = table[key % BUCKETS];
  table[key % BUCKETS] = s;
}

/* Unlinks and frees the symbol with this key; returns its name's length. */
static size_t delete_key(const allocator* a, unsigned long key) {
  symbol** link = &table[key % BUCKETS];
  while (*link != NULL && (*link)->key != key)
    link = &(*link)->next;
  if (*link == NULL) return 0;
  {
    symbol* s = *link;
    size_t length = strlen(s->name);
    *link = s->next;
    a->string_free(s->name, s->size);
    a->node_free(s);
    return length;
  }
}

static size_t delete_all(const allocator* a) {
  size_t total = 0, i;
  for (i = 0; i < BUCKETS; ++i)
    while (table[i] != NULL)
      total += delete_key(a, table[i]->key);
  return total;
}

/* One round of the workload: fill the table with SYMBOLS symbols, then
 * CHURN times retire the oldest symbol and define a new one (the table stays
 * at SYMBOLS live), then delete everything. Returns a checksum (the total
 * name length deleted) that must not depend on the allocator. */
static size_t round_of(const allocator* a, unsigned long round) {
  unsigned long base = round * (SYMBOLS + CHURN), i;
  size_t sum = 0;
  for (i = 0; i < SYMBOLS; ++i)
    insert(a, base + i);
  for (i = 0; i < CHURN; ++i) {
    sum += delete_key(a, base + i);
    insert(a, base + SYMBOLS + i);
  }
  return sum + delete_all(a);
}

/* MPS allocator: nodes by mps_alloc from MFS, names by the SAC fast macros. */

static symbol* mps_node_alloc(void) {
  mps_addr_t p;
  check(mps_alloc(&p, node_pool, sizeof(symbol)), "mps_alloc (node)");
  return p;
}

static void mps_node_free(symbol* s) {
  mps_free(node_pool, s, sizeof(symbol));
}

static char* mps_string_alloc(size_t size) {
  mps_res_t res;
  mps_addr_t p;
  MPS_SAC_ALLOC_FAST(res, p, string_cache, size, 0);
  check(res, "MPS_SAC_ALLOC_FAST (name)");
  return p;
}

static void mps_string_free(char* p, size_t size) {
  MPS_SAC_FREE_FAST(string_cache, p, size);
}

static const allocator mps_allocator = {"MPS (MFS + MVFF/SAC)", mps_node_alloc, mps_node_free,
                                        mps_string_alloc, mps_string_free};

/* The same through malloc. */

static symbol* malloc_node_alloc(void) {
  symbol* s = malloc(sizeof(symbol));
  if (s == NULL) exit(1);
  return s;
}

static void malloc_node_free(symbol* s) {
  free(s);
}

static char* malloc_string_alloc(size_t size) {
  char* p = malloc(size);
  if (p == NULL) exit(1);
  return p;
}

static void malloc_string_free(char* p, size_t size) {
  (void)size;
  free(p);
}

static const allocator malloc_allocator = {"glibc malloc", malloc_node_alloc, malloc_node_free,
                                           malloc_string_alloc, malloc_string_free};

/* Reports. */

static void report(const char* when) {
  printf("  %s\n", when);
  printf("    arena: reserved %7zu KiB, committed %6zu KiB, spare %5zu KiB\n",
         mps_arena_reserved(arena) / 1024, mps_arena_committed(arena) / 1024,
         mps_arena_spare_committed(arena) / 1024);
  printf("    MFS  (nodes): total %6zu KiB, free %6zu KiB\n", mps_pool_total_size(node_pool) / 1024,
         mps_pool_free_size(node_pool) / 1024);
  printf("    MVFF (names): total %6zu KiB, free %6zu KiB\n",
         mps_pool_total_size(string_pool) / 1024, mps_pool_free_size(string_pool) / 1024);
}

/* Caps the arena just above what it has committed, allocates until the cap
 * is reached, then shows that freeing makes room again. */
static void commit_limit_demo(void) {
  enum { BLOCK = 64 * 1024, MAX_BLOCKS = 256 };
  static mps_addr_t blocks[MAX_BLOCKS];
  size_t limit = mps_arena_committed(arena) + 1024 * 1024, count = 0, i;
  mps_res_t res = MPS_RES_OK;

  check(mps_arena_commit_limit_set(arena, limit), "mps_arena_commit_limit_set");
  printf("  commit limit set to %zu KiB: committed + 1 MiB (and %zu KiB spare to reuse)\n",
         limit / 1024, mps_arena_spare_committed(arena) / 1024);
  while (count < MAX_BLOCKS) {
    res = mps_alloc(&blocks[count], string_pool, BLOCK);
    if (res != MPS_RES_OK) break;
    ++count;
  }
  printf("    allocated %zu blocks of 64 KiB, then: %s (committed %zu KiB)\n", count, res_name(res),
         mps_arena_committed(arena) / 1024);
  if (res != MPS_RES_COMMIT_LIMIT) {
    fprintf(stderr, "demo: expected MPS_RES_COMMIT_LIMIT\n");
    exit(1);
  }
  for (i = 0; i < count; ++i)
    mps_free(string_pool, blocks[i], BLOCK);
  res = mps_alloc(&blocks[0], string_pool, BLOCK);
  printf("    freed them; allocating again: %s\n", res_name(res));
  check(res, "mps_alloc after freeing");
  mps_free(string_pool, blocks[0], BLOCK);
  check(mps_arena_commit_limit_set(arena, (size_t)-1), "removing the commit limit");
}

/* CPU time of this process: other programs on the machine do not count. */
static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Runs TIMED_ROUNDS rounds; returns nanoseconds per allocation-free pair. */
static double time_workload(const allocator* a, size_t* checksum) {
  /* Each symbol is a node and a name: two allocations and two frees. */
  const double pairs = (double)TIMED_ROUNDS * (SYMBOLS + CHURN) * 2;
  double start;
  unsigned long r;
  *checksum = round_of(a, 0); /* warm up */
  start = seconds();
  for (r = 1; r <= TIMED_ROUNDS; ++r)
    *checksum += round_of(a, r);
  return (seconds() - start) * 1e9 / pairs;
}

int main(void) {
  /* Size classes for names of 8-128 bytes; up to 512 of each cached. */
  mps_sac_class_s classes[] = {{32, 512, 1}, {64, 512, 2}, {128, 512, 4}};
  size_t checksum_mps, checksum_malloc, live = 0;
  double ns_mps, ns_malloc;

  memset(name_template, 'x', sizeof name_template);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, (size_t)32 << 20);
    check(mps_arena_create_k(&arena, mps_arena_class_vm(), args), "mps_arena_create_k");
  }
  MPS_ARGS_END(args);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, sizeof(symbol));
    check(mps_pool_create_k(&node_pool, arena, mps_class_mfs(), args), "MFS pool");
  }
  MPS_ARGS_END(args);
  check(mps_pool_create_k(&string_pool, arena, mps_class_mvff(), mps_args_none), "MVFF pool");
  check(mps_sac_create(&string_cache, string_pool, sizeof classes / sizeof classes[0], classes),
        "mps_sac_create");

  printf("MPS++ demo: a symbol table, nodes (%zu bytes) in MFS, names (8-128 bytes) in MVFF\n",
         sizeof(symbol));

  {
    unsigned long i;
    for (i = 0; i < SYMBOLS; ++i) {
      insert(&mps_allocator, i);
      live += name_length(i);
    }
  }
  report("with 20000 symbols live:");
  if (delete_all(&mps_allocator) != live) {
    fprintf(stderr, "demo: symbol table lost a name\n");
    return 1;
  }
  mps_sac_flush(string_cache);
  report("after deleting them all and flushing the cache:");

  commit_limit_demo();

  printf("  timing %d rounds of the workload (%d symbols, %d replaced, then all deleted):\n",
         TIMED_ROUNDS, SYMBOLS, CHURN);
  ns_mps = time_workload(&mps_allocator, &checksum_mps);
  ns_malloc = time_workload(&malloc_allocator, &checksum_malloc);
  if (checksum_mps != checksum_malloc) {
    fprintf(stderr, "demo: the two runs disagree\n");
    return 1;
  }
  printf("    %-22s %6.1f ns per alloc+free (table work included)\n", mps_allocator.label, ns_mps);
  printf("    %-22s %6.1f ns per alloc+free (table work included)\n", malloc_allocator.label,
         ns_malloc);
  printf("    MPS/malloc speed ratio: %.2f\n", ns_malloc / ns_mps);

  mps_sac_destroy(string_cache);
  mps_pool_destroy(string_pool);
  mps_pool_destroy(node_pool);
  mps_arena_destroy(arena);
  printf("done\n");
  return 0;
}
