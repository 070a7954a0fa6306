/* gc_lang.c: the heap of a small language runtime on MPS++'s collector.
 *
 * The runtime has four kinds of value: integers, pairs, strings and
 * vectors. Pairs and vectors hold references and live in an AMS
 * (automatic mark-sweep) pool; strings hold none and live in an LO (leaf
 * object) pool. Both pools share one object format and one generation
 * chain. The global variables are an exact root; the main thread is
 * registered and its stack and registers are an ambiguous root, so C code
 * may keep values in local variables. The program builds lists, keeps some
 * of them in globals, lets the collector run as allocation goes on, reads
 * its messages, collects explicitly, and walks the heap to count what is
 * left. The guide chapter manual/guide/garbage-collecting-a-language.md
 * quotes this file.
 *
 * Build: the CMake target mps_gc_lang (examples/CMakeLists.txt). Exits 0 when
 * every value kept in a global is intact at the end.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mps.h"
#include "mpsavm.h"  /* mps_arena_class_vm */
#include "mpscams.h" /* mps_class_ams */
#include "mpsclo.h"  /* mps_class_lo */

/* Objects ------------------------------------------------------------------ */

/* Every object starts with a word giving its type. */
enum { TYPE_INT = 1, TYPE_PAIR, TYPE_STRING, TYPE_VECTOR };

typedef union obj_u* obj_t;

typedef struct int_s {
  mps_word_t type; /* TYPE_INT */
  long value;
} int_s;

typedef struct pair_s {
  mps_word_t type; /* TYPE_PAIR */
  obj_t car, cdr;
} pair_s;

typedef struct string_s {
  mps_word_t type; /* TYPE_STRING */
  size_t length;   /* not counting the terminating zero */
  char chars[1];   /* really length + 1 */
} string_s;

typedef struct vector_s {
  mps_word_t type; /* TYPE_VECTOR */
  size_t length;
  obj_t slots[1]; /* really length */
} vector_s;

typedef union obj_u {
  mps_word_t type;
  int_s i;
  pair_s pair;
  string_s string;
  vector_s vector;
} obj_u;

/* Objects are word aligned and their sizes are rounded up to words. */
#define ALIGNMENT sizeof(mps_word_t)
#define ALIGN_UP(size) (((size) + ALIGNMENT - 1) & ~(ALIGNMENT - 1))

static size_t string_size(size_t length) {
  return ALIGN_UP(offsetof(string_s, chars) + length + 1);
}

static size_t vector_size(size_t length) {
  /* At least one slot, so the object is never smaller than the struct. */
  return ALIGN_UP(offsetof(vector_s, slots) + (length > 0 ? length : 1) * sizeof(obj_t));
}

/* The object format ---------------------------------------------------------- */

/* skip: the address just past the object at addr. */
static mps_addr_t obj_skip(mps_addr_t addr) {
  obj_t obj = addr;
  switch (obj->type) {
    case TYPE_INT:
      return (char*)addr + ALIGN_UP(sizeof(int_s));
    case TYPE_PAIR:
      return (char*)addr + ALIGN_UP(sizeof(pair_s));
    case TYPE_STRING:
      return (char*)addr + string_size(obj->string.length);
    case TYPE_VECTOR:
      return (char*)addr + vector_size(obj->vector.length);
    default:
      fprintf(stderr, "obj_skip: not an object at %p\n", addr);
      abort();
  }
}

/* Fixes one reference held in an obj_t lvalue: the collector may need to
 * see it (MPS_FIX1 is an inline test) and may update it (a moving pool
 * would). Returns from the scan method if the collector reports an error. */
#define FIX(ref)                                  \
  do {                                            \
    mps_addr_t fix_addr = (ref);                  \
    mps_res_t fix_res = MPS_FIX12(ss, &fix_addr); \
    if (fix_res != MPS_RES_OK) return fix_res;    \
    (ref) = fix_addr;                             \
  } while (0)

/* scan: fixes every reference in the objects of [base, limit). */
static mps_res_t obj_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    while (base < limit) {
      obj_t obj = base;
      size_t i;
      switch (obj->type) {
        case TYPE_PAIR:
          FIX(obj->pair.car);
          FIX(obj->pair.cdr);
          break;
        case TYPE_VECTOR:
          for (i = 0; i < obj->vector.length; ++i)
            FIX(obj->vector.slots[i]);
          break;
        default: /* integers and strings hold no references */
          break;
      }
      base = obj_skip(base);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

/* The heap ------------------------------------------------------------------- */

static mps_arena_t arena;
static mps_fmt_t obj_fmt;
static mps_chain_t obj_chain;
static mps_pool_t obj_pool;  /* AMS: pairs, vectors, integers */
static mps_pool_t leaf_pool; /* LO: strings */
static mps_ap_t obj_ap, leaf_ap;
static mps_thr_t main_thread;
static mps_root_t stack_root, globals_root;

/* The runtime's global variables: an exact root, so every entry is a
 * reference or NULL. */
#define GLOBALS 16
static obj_t globals[GLOBALS];

static void check(mps_res_t res, const char* what) {
  if (res != MPS_RES_OK) {
    fprintf(stderr, "%s failed: result code %d\n", what, res);
    exit(EXIT_FAILURE);
  }
}

/* Allocation: reserve, initialise every field, commit; if the commit
 * fails, a collection ran in between and the block was not kept, so do it
 * all again. The object is not an object until the commit succeeds. */
static obj_t make_int(long value) {
  size_t size = ALIGN_UP(sizeof(int_s));
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_int");
    obj = addr;
    obj->i.type = TYPE_INT;
    obj->i.value = value;
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

static obj_t make_pair(obj_t car, obj_t cdr) {
  size_t size = ALIGN_UP(sizeof(pair_s));
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_pair");
    obj = addr;
    obj->pair.type = TYPE_PAIR;
    obj->pair.car = car;
    obj->pair.cdr = cdr;
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

static obj_t make_string(const char* chars) {
  size_t length = strlen(chars);
  size_t size = string_size(length);
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, leaf_ap, size), "make_string");
    obj = addr;
    obj->string.type = TYPE_STRING;
    obj->string.length = length;
    memcpy(obj->string.chars, chars, length + 1);
  } while (!mps_commit(leaf_ap, addr, size));
  return obj;
}

static obj_t make_vector(size_t length, obj_t fill) {
  size_t size = vector_size(length);
  mps_addr_t addr;
  obj_t obj;
  size_t i;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_vector");
    obj = addr;
    obj->vector.type = TYPE_VECTOR;
    obj->vector.length = length;
    for (i = 0; i < length; ++i)
      obj->vector.slots[i] = fill;
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

static void heap_create(void* stack_cold_end) {
  mps_gen_param_s gens[] = {
      {1024, 0.85}, /* 1 MiB of new objects, most of which die young */
      {8192, 0.45}  /* 8 MiB of older ones */
  };

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, (size_t)64 << 20);
    check(mps_arena_create_k(&arena, mps_arena_class_vm(), args), "arena");
  }
  MPS_ARGS_END(args);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, ALIGNMENT);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, obj_scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, obj_skip);
    check(mps_fmt_create_k(&obj_fmt, arena, args), "format");
  }
  MPS_ARGS_END(args);

  check(mps_chain_create(&obj_chain, arena, sizeof gens / sizeof gens[0], gens), "chain");

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, obj_fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, obj_chain);
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 0);
    check(mps_pool_create_k(&obj_pool, arena, mps_class_ams(), args), "AMS pool");
  }
  MPS_ARGS_END(args);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, obj_fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, obj_chain);
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 0);
    check(mps_pool_create_k(&leaf_pool, arena, mps_class_lo(), args), "LO pool");
  }
  MPS_ARGS_END(args);

  check(mps_ap_create_k(&obj_ap, obj_pool, mps_args_none), "AMS allocation point");
  check(mps_ap_create_k(&leaf_ap, leaf_pool, mps_args_none), "LO allocation point");

  check(mps_thread_reg(&main_thread, arena), "thread registration");
  check(mps_root_create_thread(&stack_root, arena, main_thread, stack_cold_end), "stack root");
  check(mps_root_create_table(&globals_root, arena, mps_rank_exact(), 0, (mps_addr_t*)globals,
                              GLOBALS),
        "globals root");

  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
}

/* Reverse order of creation: roots before their thread, allocation points
 * before their pools, pools before their format and chain. */
static void heap_destroy(void) {
  mps_arena_park(arena);
  mps_root_destroy(globals_root);
  mps_root_destroy(stack_root);
  mps_thread_dereg(main_thread);
  mps_ap_destroy(leaf_ap);
  mps_ap_destroy(obj_ap);
  mps_pool_destroy(leaf_pool);
  mps_pool_destroy(obj_pool);
  mps_chain_destroy(obj_chain);
  mps_fmt_destroy(obj_fmt);
  mps_arena_destroy(arena);
}

/* Messages ------------------------------------------------------------------- */

static unsigned long gc_started, gc_finished;

static void read_messages(int verbose) {
  mps_message_type_t type;
  while (mps_message_queue_type(&type, arena)) {
    mps_message_t message;
    if (!mps_message_get(&message, arena, type)) break;
    if (type == mps_message_type_gc_start()) {
      ++gc_started;
      if (verbose) printf("  collection starts: %s\n", mps_message_gc_start_why(arena, message));
    } else if (type == mps_message_type_gc()) {
      ++gc_finished;
      if (verbose)
        printf("  collection ends: %lu of %lu condemned bytes live, %lu not condemned\n",
               (unsigned long)mps_message_gc_live_size(arena, message),
               (unsigned long)mps_message_gc_condemned_size(arena, message),
               (unsigned long)mps_message_gc_not_condemned_size(arena, message));
    }
    mps_message_discard(arena, message);
  }
}

/* Walking -------------------------------------------------------------------- */

typedef struct census_s {
  unsigned long count[TYPE_VECTOR + 1];
  unsigned long bytes;
} census_s;

static void census_step(mps_addr_t addr, mps_fmt_t fmt, mps_pool_t pool, void* p, size_t s) {
  census_s* census = p;
  obj_t obj = addr;
  (void)fmt, (void)pool, (void)s;
  ++census->count[obj->type];
  census->bytes += (unsigned long)((char*)obj_skip(addr) - (char*)addr);
}

static census_s take_census(void) {
  census_s census;
  memset(&census, 0, sizeof census);
  mps_arena_park(arena); /* nothing moves or dies during the walk */
  mps_arena_formatted_objects_walk(arena, census_step, &census, 0);
  mps_arena_release(arena);
  return census;
}

/* The program ---------------------------------------------------------------- */

/* The list (n n-1 ... 1) of integers; its sum is n(n+1)/2. */
static obj_t make_list(long n) {
  obj_t list = NULL;
  long i;
  for (i = 1; i <= n; ++i)
    list = make_pair(make_int(i), list);
  return list;
}

static long sum_list(obj_t list) {
  long sum = 0;
  for (; list != NULL; list = list->pair.cdr)
    sum += list->pair.car->i.value;
  return sum;
}

#define ROUNDS 400
#define LENGTH 2000

static int run(void) {
  census_s census;
  int round, ok = 1;
  char name[32];

  /* Most lists die at once; every 50th is kept in a global with a name. */
  for (round = 0; round < ROUNDS; ++round) {
    obj_t list = make_list(LENGTH);
    if (sum_list(list) != (long)LENGTH * (LENGTH + 1) / 2) ok = 0;
    if (round % 50 == 0) {
      obj_t entry = make_vector(2, NULL);
      sprintf(name, "list %d", round);
      entry->vector.slots[0] = make_string(name);
      entry->vector.slots[1] = list;
      globals[(round / 50) % GLOBALS] = entry;
    }
    read_messages(round == 0);
  }
  printf("%d rounds of %d pairs: %lu collections started, %lu finished\n", ROUNDS, LENGTH,
         gc_started, gc_finished);

  /* An explicit full collection. It returns with the arena parked. */
  check(mps_arena_collect(arena), "collection");
  mps_arena_release(arena);
  read_messages(1);

  census = take_census();
  printf(
      "after a full collection: %lu integers, %lu pairs, %lu strings, %lu vectors"
      " (%lu bytes)\n",
      census.count[TYPE_INT], census.count[TYPE_PAIR], census.count[TYPE_STRING],
      census.count[TYPE_VECTOR], census.bytes);
  /* The kept lists survive; ambiguous stack words may keep a little more
   * (a stale word that still designates a pair of a dropped list keeps the
   * rest of that list: how much depends on where the pool placed it). */
  if (census.count[TYPE_VECTOR] < ROUNDS / 50 || census.count[TYPE_PAIR] < ROUNDS / 50 * LENGTH)
    ok = 0;
  if (census.count[TYPE_PAIR] > (ROUNDS / 50 + 3) * LENGTH) ok = 0;

  /* Idle time: the collector may use it (nothing allocated since: no work). */
  printf("idle step did work: %s\n", mps_arena_step(arena, 0.01, 1.0) ? "yes" : "no");

  for (round = 0; round < GLOBALS; ++round) {
    obj_t entry = globals[round];
    if (entry == NULL) continue;
    if (sum_list(entry->vector.slots[1]) != (long)LENGTH * (LENGTH + 1) / 2) ok = 0;
    if (strncmp(entry->vector.slots[0]->string.chars, "list ", 5) != 0) ok = 0;
  }
  printf("%s\n", ok ? "every kept list is intact" : "a kept list was damaged");
  return ok;
}

int main(void) {
  void* marker; /* its address is the cold end of the stack root */
  int ok;
  heap_create(&marker);
  ok = run();
  heap_destroy();
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
