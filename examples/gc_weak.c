/* gc_weak.c: weak-key hash tables, finalization and location dependencies
 * in the heap of a small language runtime.
 *
 * The runtime's ordinary objects (atoms, integers, strings, ports and the
 * table headers) live in an AMC pool, so they move. A table keeps its keys
 * and its values in two arrays in an AWL pool: the keys array is allocated
 * on an allocation point of weak rank, the values array on one of exact
 * rank, and each names the other as its dependent object. When a collection
 * finds that a key is otherwise dead it splats the key's slot, and the scan
 * method deletes the value beside it in the dependent values array. Tables
 * hash keys by address: each table has a location dependency, and a lookup
 * that misses rehashes when the dependency says keys may have moved.
 *
 * Ports are objects that own an external resource (a malloc'd buffer): each
 * is registered for finalization, and the finalization message handler
 * releases the buffer. A port with unflushed output is resurrected by its
 * handler, flushed, and finalized a second time. Ports closed by the
 * program are definalized. A weak-key table maps each port to its name,
 * which the handler looks up: weak references to an object are still valid
 * when its finalization message is posted.
 *
 * The program checks that every kept key is found with its value after
 * its key moved, that the entries of dead keys disappear (and their values
 * die too), and that every port's resource is released exactly once. It
 * exits 0 if all holds. The guide chapter
 * manual/guide/weak-references-and-finalization.md quotes this file.
 *
 * Build: the CMake target mps_gc_weak (examples/CMakeLists.txt).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mps.h"
#include "mpsavm.h"  /* mps_arena_class_vm */
#include "mpscamc.h" /* mps_class_amc */
#include "mpscawl.h" /* mps_class_awl, MPS_KEY_AWL_FIND_DEPENDENT */

/* Objects ------------------------------------------------------------------ */

/* Every object starts with a header word: a type, a size or length, and
 * the low bit set. AWL requires every word of its objects to be either a
 * word-aligned reference or a value with a low bit set; the header obeys
 * that everywhere, and the arrays' other words are references, NULL or
 * tagged. */
enum {
  TYPE_INT = 1,
  TYPE_ATOM,
  TYPE_STRING, /* length in the header */
  TYPE_PORT,
  TYPE_TABLE,
  TYPE_KEYS,   /* AWL, weak: a table's keys; length in the header */
  TYPE_VALUES, /* AWL, exact: a table's values; length in the header */
  TYPE_FWD,    /* AMC: forwarding marker; size in the header */
  TYPE_PAD     /* AMC: padding; size in the header */
};

#define HEADER(type, n) (((mps_word_t)(n) << 8) | ((mps_word_t)(type) << 2) | 1)
#define HEADER_TYPE(h) ((int)(((h) >> 2) & 0x3F))
#define HEADER_N(h) ((size_t)((h) >> 8))

typedef union obj_u* obj_t;

typedef struct int_s {
  mps_word_t header;
  long value;
} int_s;

typedef struct atom_s {
  mps_word_t header;
  long id;
} atom_s;

typedef struct string_s {
  mps_word_t header;
  char chars[1]; /* really HEADER_N(header) + 1 */
} string_s;

/* An output port: text written to it accumulates in a malloc'd buffer,
 * which the port owns. `id` names its entry in the resource registry. */
typedef struct port_s {
  mps_word_t header;
  long id;
  char* buffer; /* not a reference: memory outside the arena */
  size_t used, flushed;
} port_s;

/* A table: its arrays, the location dependency of the keys' addresses,
 * the number of slots in use (live keys and deleted entries), and the
 * entries deleted by earlier arrays. */
typedef struct table_s {
  mps_word_t header;
  obj_t keys, values;
  size_t used;
  size_t dropped;
  mps_ld_s ld;
} table_s;

/* A table's keys or values. The slots hold references, NULL (never used)
 * or DELETED (a tagged word). `deleted` counts, tagged, the keys this
 * array's scan found dead. */
typedef struct array_s {
  mps_word_t header;
  obj_t dependent; /* the other array of the table */
  mps_word_t deleted;
  obj_t slots[1]; /* really HEADER_N(header) */
} array_s;

typedef struct fwd_s {
  mps_word_t header;
  obj_t to;
} fwd_s;

typedef union obj_u {
  mps_word_t header;
  int_s i;
  atom_s atom;
  string_s string;
  port_s port;
  table_s table;
  array_s array;
  fwd_s fwd;
} obj_u;

#define TYPE(obj) HEADER_TYPE((obj)->header)

/* A tagged word in a slot whose entry was deleted. */
#define DELETED ((obj_t)(mps_word_t)0xDE1)
/* Whether a slot holds a reference: not NULL and not tagged. */
#define IS_REF(obj) ((obj) != NULL && ((mps_word_t)(obj)&1) == 0)
#define TAG_COUNT(n) (((mps_word_t)(n) << 1) | 1)
#define UNTAG_COUNT(w) ((size_t)((w) >> 1))

#define ALIGNMENT sizeof(mps_word_t)
#define ALIGN_UP(size) (((size) + ALIGNMENT - 1) & ~(ALIGNMENT - 1))

static size_t string_size(size_t length) {
  return ALIGN_UP(offsetof(string_s, chars) + length + 1);
}

static size_t array_size(size_t length) {
  return ALIGN_UP(offsetof(array_s, slots) + length * sizeof(obj_t));
}

/* The object format ---------------------------------------------------------- */

static mps_addr_t obj_skip(mps_addr_t addr) {
  obj_t obj = addr;
  switch (TYPE(obj)) {
    case TYPE_INT:
      return (char*)addr + ALIGN_UP(sizeof(int_s));
    case TYPE_ATOM:
      return (char*)addr + ALIGN_UP(sizeof(atom_s));
    case TYPE_STRING:
      return (char*)addr + string_size(HEADER_N(obj->header));
    case TYPE_PORT:
      return (char*)addr + ALIGN_UP(sizeof(port_s));
    case TYPE_TABLE:
      return (char*)addr + ALIGN_UP(sizeof(table_s));
    case TYPE_KEYS:
    case TYPE_VALUES:
      return (char*)addr + array_size(HEADER_N(obj->header));
    case TYPE_FWD:
    case TYPE_PAD:
      return (char*)addr + HEADER_N(obj->header);
    default:
      fprintf(stderr, "obj_skip: not an object at %p\n", addr);
      abort();
  }
}

/* Fixes the reference in an obj_t lvalue; returns from the scan method if
 * the collector reports an error. */
#define FIX(ref)                                  \
  do {                                            \
    mps_addr_t fix_addr = (ref);                  \
    mps_res_t fix_res = MPS_FIX12(ss, &fix_addr); \
    if (fix_res != MPS_RES_OK) return fix_res;    \
    (ref) = fix_addr;                             \
  } while (0)

/* The keys array of a table, scanned with weak rank. A key the collector
 * found dead comes back from MPS_FIX2 as NULL (it passed MPS_FIX1, so it
 * was not NULL before): the entry is deleted, key and value. The values
 * array is the keys array's dependent object, so the scan may write it. */
static mps_res_t scan_keys(mps_ss_t ss, array_s* keys) {
  size_t i, length = HEADER_N(keys->header);
  array_s* values;
  MPS_SCAN_BEGIN(ss) {
    FIX(keys->dependent); /* weak too; the table keeps the values alive */
    values = keys->dependent != NULL ? &keys->dependent->array : NULL;
    for (i = 0; i < length; ++i) {
      mps_addr_t key = keys->slots[i];
      mps_res_t res;
      if (!IS_REF(keys->slots[i]) || !MPS_FIX1(ss, key)) continue;
      res = MPS_FIX2(ss, &key);
      if (res != MPS_RES_OK) return res;
      if (key == NULL) { /* splatted */
        keys->slots[i] = DELETED;
        if (values != NULL) values->slots[i] = DELETED;
        keys->deleted = TAG_COUNT(UNTAG_COUNT(keys->deleted) + 1);
      } else {
        keys->slots[i] = key; /* the key may have moved */
      }
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

static mps_res_t obj_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  MPS_SCAN_BEGIN(ss) {
    while (base < limit) {
      obj_t obj = base;
      size_t i;
      switch (TYPE(obj)) {
        case TYPE_TABLE:
          FIX(obj->table.keys);
          FIX(obj->table.values);
          break;
        case TYPE_KEYS: {
          mps_res_t res;
          MPS_FIX_CALL(ss, res = scan_keys(ss, &obj->array));
          if (res != MPS_RES_OK) return res;
          break;
        }
        case TYPE_VALUES:
          FIX(obj->array.dependent);
          for (i = 0; i < HEADER_N(obj->header); ++i)
            if (IS_REF(obj->array.slots[i])) FIX(obj->array.slots[i]);
          break;
        default: /* the others hold no references */
          break;
      }
      base = obj_skip(base);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

static void obj_fwd(mps_addr_t old, mps_addr_t to) {
  obj_t obj = old;
  size_t size = (size_t)((char*)obj_skip(old) - (char*)old);
  obj->fwd.header = HEADER(TYPE_FWD, size);
  obj->fwd.to = to;
}

static mps_addr_t obj_isfwd(mps_addr_t addr) {
  obj_t obj = addr;
  return TYPE(obj) == TYPE_FWD ? obj->fwd.to : NULL;
}

static void obj_pad(mps_addr_t addr, size_t size) {
  obj_t obj = addr;
  obj->header = HEADER(TYPE_PAD, size);
}

/* AWL asks, before it scans an array, which object the scan may write. */
static mps_addr_t array_find_dependent(mps_addr_t addr) {
  obj_t obj = addr;
  if (TYPE(obj) != TYPE_KEYS && TYPE(obj) != TYPE_VALUES) return NULL;
  return obj->array.dependent;
}

/* The heap ------------------------------------------------------------------- */

static mps_arena_t arena;
static mps_fmt_t obj_fmt;
static mps_chain_t obj_chain;
static mps_pool_t amc_pool, awl_pool;
static mps_ap_t obj_ap;             /* AMC */
static mps_ap_t weak_ap, strong_ap; /* AWL: rank weak (keys), exact (values) */
static mps_thr_t main_thread;
static mps_root_t stack_root, globals_root, atoms_root, ports_root, queue_root;

/* The runtime's global variables (exact roots): two tables, the atoms and
 * ports the program keeps, and the queue of ports to flush. */
enum { ATOM_PROPS, PORT_NAMES, GLOBALS };
static obj_t globals[GLOBALS];
#define KEEP_ATOMS 500
static obj_t kept_atoms[KEEP_ATOMS];
#define PORTS 64
static obj_t kept_ports[PORTS];
static obj_t flush_queue[PORTS];

static void check(mps_res_t res, const char* what) {
  if (res != MPS_RES_OK) {
    fprintf(stderr, "%s failed: result code %d\n", what, res);
    exit(EXIT_FAILURE);
  }
}

/* Reserves and commits an object of `size` bytes on `ap` whose words are
 * all `fill` except the header; loops while the commit fails. */
static obj_t alloc_obj(mps_ap_t ap, size_t size, mps_word_t header, mps_word_t fill) {
  mps_addr_t addr;
  size_t i;
  do {
    check(mps_reserve(&addr, ap, size), "allocation");
    ((mps_word_t*)addr)[0] = header;
    for (i = 1; i < size / sizeof(mps_word_t); ++i)
      ((mps_word_t*)addr)[i] = fill;
  } while (!mps_commit(ap, addr, size));
  return addr;
}

static obj_t make_int(long value) {
  size_t size = ALIGN_UP(sizeof(int_s));
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_int");
    obj = addr;
    obj->i.header = HEADER(TYPE_INT, 0);
    obj->i.value = value;
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

static obj_t make_atom(long id) {
  size_t size = ALIGN_UP(sizeof(atom_s));
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_atom");
    obj = addr;
    obj->atom.header = HEADER(TYPE_ATOM, 0);
    obj->atom.id = id;
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

static obj_t make_string(const char* chars) {
  size_t length = strlen(chars);
  size_t size = string_size(length);
  mps_addr_t addr;
  obj_t obj;
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_string");
    obj = addr;
    obj->string.header = HEADER(TYPE_STRING, length);
    memcpy(obj->string.chars, chars, length + 1);
  } while (!mps_commit(obj_ap, addr, size));
  return obj;
}

/* Weak-key tables ---------------------------------------------------------------- */

#define MIN_LENGTH 64 /* a power of two */

static unsigned long rehashes;

static size_t hash_addr(obj_t key, size_t length) {
  mps_word_t h = (mps_word_t)key >> 3;
  h ^= h >> 15;
  h *= (mps_word_t)2654435761u;
  return (size_t)(h ^ (h >> 13)) & (length - 1);
}

/* Makes the two arrays of a table of `length` slots, each the other's
 * dependent. Neither is reachable from a root yet: the stack keeps them
 * (ambiguous references keep AWL objects). */
static void make_arrays(size_t length, obj_t* keys_o, obj_t* values_o) {
  obj_t keys = alloc_obj(weak_ap, array_size(length), HEADER(TYPE_KEYS, length), 0);
  obj_t values = alloc_obj(strong_ap, array_size(length), HEADER(TYPE_VALUES, length), 0);
  keys->array.deleted = TAG_COUNT(0);
  values->array.deleted = TAG_COUNT(0);
  keys->array.dependent = values;
  values->array.dependent = keys;
  *keys_o = keys;
  *values_o = values;
}

static obj_t make_table(void) {
  obj_t keys, values, table;
  mps_addr_t addr;
  size_t size = ALIGN_UP(sizeof(table_s));
  make_arrays(MIN_LENGTH, &keys, &values);
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_table");
    table = addr;
    table->table.header = HEADER(TYPE_TABLE, 0);
    table->table.keys = keys;
    table->table.values = values;
    table->table.used = 0;
    table->table.dropped = 0;
  } while (!mps_commit(obj_ap, addr, size));
  mps_ld_reset(&table->table.ld, arena);
  return table;
}

/* The slot of `key`, or of the empty slot where the probe ended if the key
 * is not there (-1 if the table is full of other keys). */
static long probe(obj_t table, obj_t key, int* found) {
  array_s* keys = &table->table.keys->array;
  size_t length = HEADER_N(keys->header), i = hash_addr(key, length), n;
  long first_free = -1;
  *found = 0;
  for (n = 0; n < length; ++n, i = (i + 1) & (length - 1)) {
    obj_t k = keys->slots[i];
    if (k == key) {
      *found = 1;
      return (long)i;
    }
    if (k == NULL) return first_free >= 0 ? first_free : (long)i;
    if (k == DELETED && first_free < 0) first_free = (long)i;
  }
  return first_free;
}

/* Moves the live entries into new arrays of at least `length` slots,
 * hashing each key by its current address. The location dependency is
 * reset first and each key's address added to it before it is hashed, so
 * a collection that moves a key afterwards makes it stale. */
static void rehash(obj_t table, size_t length) {
  obj_t keys, values;
  array_s *old_keys, *old_values;
  size_t i, old_length, live = 0;
  make_arrays(length, &keys, &values); /* may collect: read the old arrays after */
  old_keys = &table->table.keys->array;
  old_values = &table->table.values->array;
  old_length = HEADER_N(old_keys->header);
  mps_ld_reset(&table->table.ld, arena);
  for (i = 0; i < old_length; ++i) {
    obj_t key = old_keys->slots[i];
    size_t j;
    if (!IS_REF(key)) continue;
    mps_ld_add(&table->table.ld, arena, key);
    for (j = hash_addr(key, length); keys->array.slots[j] != NULL; j = (j + 1) & (length - 1)) {
    }
    keys->array.slots[j] = key;
    values->array.slots[j] = old_values->slots[i];
    ++live;
  }
  table->table.dropped += UNTAG_COUNT(old_keys->deleted);
  table->table.keys = keys;
  table->table.values = values;
  table->table.used = live;
  ++rehashes;
}

/* Rehashes into arrays sized for the live entries (at least twice as many
 * slots, and at least MIN_LENGTH). */
static void rehash_to_fit(obj_t table) {
  array_s* keys = &table->table.keys->array;
  size_t i, live = 0, length = MIN_LENGTH;
  for (i = 0; i < HEADER_N(keys->header); ++i)
    live += IS_REF(keys->slots[i]);
  while (length < 2 * (live + 1))
    length *= 2;
  rehash(table, length);
}

/* The value of `key`, or NULL. A miss may be because keys moved since they
 * were hashed: if the location dependency says so, rehash and look again. */
static obj_t table_ref(obj_t table, obj_t key) {
  int found;
  long i = probe(table, key, &found);
  if (!found && mps_ld_isstale(&table->table.ld, arena, key)) {
    rehash_to_fit(table);
    i = probe(table, key, &found);
  }
  return found ? table->table.values->array.slots[i] : NULL;
}

/* Sets the value of `key`. The key's address is added to the location
 * dependency before it is hashed (again after a rehash, which resets the
 * dependency to the keys already in the table). */
static void table_set(obj_t table, obj_t key, obj_t value) {
  int found;
  long i;
  size_t length;
  mps_ld_add(&table->table.ld, arena, key);
  i = probe(table, key, &found);
  if (!found && mps_ld_isstale(&table->table.ld, arena, key)) {
    rehash_to_fit(table);
    mps_ld_add(&table->table.ld, arena, key);
    i = probe(table, key, &found);
  }
  length = HEADER_N(table->table.keys->array.header);
  if (!found && (i < 0 || (table->table.used + 1) * 4 > length * 3)) {
    rehash_to_fit(table); /* at most half full after */
    mps_ld_add(&table->table.ld, arena, key);
    i = probe(table, key, &found);
  }
  if (!found) {
    if (table->table.keys->array.slots[i] == NULL) ++table->table.used;
    table->table.keys->array.slots[i] = key;
  }
  table->table.values->array.slots[i] = value;
}

/* The live entries. */
static size_t table_count(obj_t table) {
  array_s* keys = &table->table.keys->array;
  size_t i, live = 0;
  for (i = 0; i < HEADER_N(keys->header); ++i)
    live += IS_REF(keys->slots[i]);
  return live;
}

/* The entries the collector deleted since the table was made. */
static size_t table_dropped(obj_t table) {
  return table->table.dropped + UNTAG_COUNT(table->table.keys->array.deleted);
}

/* Ports and their resources ---------------------------------------------------------- */

/* The resource registry: what the runtime knows about every port's
 * resource, outside the arena. */
static struct {
  char* buffer;
  int open;
  int releases;      /* must end at exactly 1 */
  int finalizations; /* messages handled */
  int registered;    /* finalization registrations held */
  int late;          /* released at shutdown, not by finalization */
} resources[PORTS];

static unsigned long closed_by_program, closed_by_finalization, resurrections, bytes_flushed;

static obj_t make_port(long id) {
  size_t size = ALIGN_UP(sizeof(port_s));
  mps_addr_t addr;
  obj_t port;
  char* buffer = malloc(256);
  if (buffer == NULL) check(MPS_RES_MEMORY, "port buffer");
  do {
    check(mps_reserve(&addr, obj_ap, size), "make_port");
    port = addr;
    port->port.header = HEADER(TYPE_PORT, 0);
    port->port.id = id;
    port->port.buffer = buffer;
    port->port.used = port->port.flushed = 0;
  } while (!mps_commit(obj_ap, addr, size));
  resources[id].buffer = buffer;
  resources[id].open = 1;
  /* Registered by address: the MPS reads the reference under its lock. */
  addr = port;
  check(mps_finalize(arena, &addr), "mps_finalize");
  ++resources[id].registered;
  return port;
}

static void port_write(obj_t port, const char* text) {
  size_t n = strlen(text);
  if (port->port.used + n > 256) n = 256 - port->port.used;
  memcpy(port->port.buffer + port->port.used, text, n);
  port->port.used += n;
}

static void port_flush(obj_t port) {
  bytes_flushed += (unsigned long)(port->port.used - port->port.flushed);
  port->port.flushed = port->port.used;
}

/* Releases a port's resource. Both ways of closing end here. */
static void release(obj_t port) {
  long id = port->port.id;
  free(resources[id].buffer);
  resources[id].buffer = NULL;
  resources[id].open = 0;
  ++resources[id].releases;
  port->port.buffer = NULL;
}

/* The program closes a port it is done with: it will not need finalizing. */
static void port_close(obj_t port) {
  mps_addr_t ref = port;
  port_flush(port);
  check(mps_definalize(arena, &ref), "mps_definalize");
  --resources[port->port.id].registered;
  release(port);
  ++closed_by_program;
}

/* The finalization message handler. The port is dead to the program but
 * kept alive by the message; the weak-key table still maps it to its name.
 * A port with unflushed output is resurrected: stored in the flush queue
 * (a root) and registered again; the runtime flushes the queue later and
 * the port dies a second time. */
static int finalize_port(obj_t port) {
  long id = port->port.id;
  obj_t name = table_ref(globals[PORT_NAMES], port);
  char expected[32];
  mps_addr_t ref = port;
  ++resources[id].finalizations;
  --resources[id].registered;
  sprintf(expected, "port %ld", id);
  if (name == NULL || TYPE(name) != TYPE_STRING || strcmp(name->string.chars, expected) != 0) {
    fprintf(stderr, "finalized %s: its name is lost\n", expected);
    return 0;
  }
  if (port->port.used > port->port.flushed) {
    flush_queue[id] = port; /* resurrected */
    check(mps_finalize(arena, &ref), "mps_finalize again");
    ++resources[id].registered;
    ++resurrections;
    return 1;
  }
  release(port);
  ++closed_by_finalization;
  return 1;
}

/* Messages ------------------------------------------------------------------------- */

static unsigned long gc_count, finalization_messages;

static int read_messages(void) {
  mps_message_type_t type;
  int ok = 1;
  while (mps_message_queue_type(&type, arena)) {
    mps_message_t message;
    if (!mps_message_get(&message, arena, type)) break;
    if (type == mps_message_type_finalization()) {
      mps_addr_t ref;
      mps_message_finalization_ref(&ref, arena, message);
      ++finalization_messages;
      if (!finalize_port(ref)) ok = 0;
    } else if (type == mps_message_type_gc()) {
      ++gc_count;
    }
    mps_message_discard(arena, message);
  }
  return ok;
}

/* Flushes the resurrected ports and lets them go. */
static void flush_queued_ports(void) {
  size_t i;
  for (i = 0; i < PORTS; ++i) {
    if (flush_queue[i] == NULL) continue;
    port_flush(flush_queue[i]);
    flush_queue[i] = NULL;
  }
}

/* Heap census ------------------------------------------------------------------------ */

static void count_step(mps_addr_t addr, mps_fmt_t fmt, mps_pool_t pool, void* p, size_t s) {
  unsigned long* count = p;
  obj_t obj = addr;
  (void)fmt, (void)pool, (void)s;
  if (TYPE(obj) < TYPE_FWD) ++count[TYPE(obj)];
}

static void census(unsigned long count[TYPE_PAD + 1]) {
  memset(count, 0, (TYPE_PAD + 1) * sizeof count[0]);
  mps_arena_park(arena);
  mps_arena_formatted_objects_walk(arena, count_step, count, 0);
  mps_arena_release(arena);
}

/* Clears the stack below the caller, so that stale copies of references
 * left by earlier calls do not keep objects alive (ambiguous references
 * retain what they point at: they are how a dead object lives on).
 * AddressSanitizer would put a red zone between the frame's top and the
 * block, which is never written: the words just below the caller's frame,
 * where the previous call's locals were, would survive. */
#if defined(__GNUC__)
#define NOT_SANITIZED __attribute__((no_sanitize_address))
#else
#define NOT_SANITIZED
#endif
NOT_SANITIZED static void clear_stack(void) {
  volatile mps_word_t block[1024];
  size_t i;
  for (i = 0; i < sizeof block / sizeof block[0]; ++i)
    block[i] = 0;
}

/* Functions that make objects the program then drops are called through
 * these volatile pointers, which the compiler cannot inline: their locals
 * (references to the dropped objects) then die with their own frames,
 * which clear_stack wipes, instead of living on in the caller's. */
static void make_round(int round);
static void make_ports(void);
static void (*volatile make_round_call)(int) = make_round;
static void (*volatile make_ports_call)(void) = make_ports;

static void collect(void) {
  clear_stack();
  check(mps_arena_collect(arena), "collection");
  mps_arena_release(arena);
}

/* The program ------------------------------------------------------------------------- */

#define ROUNDS 50
#define ATOMS_PER_ROUND 1000
#define KEEP_EVERY (ATOMS_PER_ROUND * ROUNDS / KEEP_ATOMS)
#define SLACK 8 /* objects a stale stack word may keep */

static long value_of(long id) {
  return id * 3 + 1;
}

/* Interns a round of atoms in the table, each with an integer value; every
 * KEEP_EVERY-th is kept in a global, the rest die. */
static void make_round(int round) {
  long k;
  for (k = 0; k < ATOMS_PER_ROUND; ++k) {
    long id = (long)round * ATOMS_PER_ROUND + k;
    obj_t atom = make_atom(id);
    table_set(globals[ATOM_PROPS], atom, make_int(value_of(id)));
    if (id % KEEP_EVERY == 0) kept_atoms[id / KEEP_EVERY] = atom;
  }
}

/* Every kept atom is found with its value. */
static int check_kept_atoms(size_t* count_o) {
  size_t i, count = 0;
  int ok = 1;
  for (i = 0; i < KEEP_ATOMS; ++i) {
    obj_t atom = kept_atoms[i], value;
    if (atom == NULL) continue;
    value = table_ref(globals[ATOM_PROPS], atom);
    if (value == NULL || TYPE(value) != TYPE_INT || value->i.value != value_of(atom->atom.id)) {
      fprintf(stderr, "atom %ld: value lost\n", atom->atom.id);
      ok = 0;
    }
    ++count;
  }
  *count_o = count;
  return ok;
}

static int in_range(const char* what, size_t value, size_t low, size_t high) {
  if (value >= low && value <= high) return 1;
  fprintf(stderr, "%s: %lu, expected %lu..%lu\n", what, (unsigned long)value, (unsigned long)low,
          (unsigned long)high);
  return 0;
}

/* The kept atoms' addresses before a collection, as integers in memory the
 * collector does not scan (on the stack they would pin the atoms). */
static mps_word_t kept_before[KEEP_ATOMS];

static int weak_table_part(void) {
  int round, ok = 1;
  size_t kept, i, live;
  unsigned long moved = 0, count[TYPE_PAD + 1];

  globals[ATOM_PROPS] = make_table();
  for (round = 0; round < ROUNDS; ++round) {
    make_round_call(round);
    ok &= read_messages();
    ok &= check_kept_atoms(&kept);
  }
  printf("weak table: %d atoms interned, %lu kept; %lu collections and %lu rehashes so far\n",
         ROUNDS * ATOMS_PER_ROUND, (unsigned long)kept, gc_count, rehashes);

  /* A full collection: the dead atoms' entries go, the kept atoms move. */
  for (i = 0; i < KEEP_ATOMS; ++i)
    kept_before[i] = (mps_word_t)kept_atoms[i];
  collect();
  ok &= read_messages();
  for (i = 0; i < KEEP_ATOMS; ++i)
    moved += (mps_word_t)kept_atoms[i] != kept_before[i];
  ok &= check_kept_atoms(&kept);
  live = table_count(globals[ATOM_PROPS]);
  printf(
      "after a full collection: %lu live entries (%lu kept), %lu deleted by the collector;"
      " %lu of the kept atoms moved; %lu rehashes\n",
      (unsigned long)live, (unsigned long)kept, (unsigned long)table_dropped(globals[ATOM_PROPS]),
      moved, rehashes);
  ok &= in_range("live entries", live, KEEP_ATOMS, KEEP_ATOMS + SLACK);
  ok &= in_range("live and deleted entries", table_dropped(globals[ATOM_PROPS]) + live,
                 ROUNDS * ATOMS_PER_ROUND, ROUNDS * ATOMS_PER_ROUND);
  ok &= in_range("kept atoms moved", moved, 1, KEEP_ATOMS);

  /* Half the kept atoms are dropped: their entries go too, and a second
   * collection reclaims the values the first one's scan deleted. */
  for (i = 0; i < KEEP_ATOMS; i += 2)
    kept_atoms[i] = NULL;
  collect();
  collect();
  ok &= read_messages();
  ok &= check_kept_atoms(&kept);
  live = table_count(globals[ATOM_PROPS]);
  census(count);
  printf("half dropped: %lu live entries, %lu atoms and %lu integers left in the heap\n",
         (unsigned long)live, count[TYPE_ATOM], count[TYPE_INT]);
  ok &= in_range("live entries", live, KEEP_ATOMS / 2, KEEP_ATOMS / 2 + SLACK);
  ok &= in_range("atoms", count[TYPE_ATOM], KEEP_ATOMS / 2, KEEP_ATOMS / 2 + SLACK);
  ok &= in_range("integers", count[TYPE_INT], KEEP_ATOMS / 2, KEEP_ATOMS / 2 + SLACK);
  return ok;
}

/* Makes the ports: each is registered for finalization and named in the
 * PORT_NAMES table; every fourth is kept, port 1 is closed at once, and
 * every eighth from 3 is left with unflushed output. */
static void make_ports(void) {
  long id;
  char name[32];
  for (id = 0; id < PORTS; ++id) {
    obj_t port = make_port(id);
    sprintf(name, "port %ld", id);
    table_set(globals[PORT_NAMES], port, make_string(name));
    port_write(port, "hello, ");
    if (id % 8 != 3) port_flush(port);
    if (id % 4 == 0) kept_ports[id] = port;
    if (id == 1) port_close(port);
  }
}

static int finalization_part(void) {
  int ok = 1, round;
  unsigned long late;
  long id;
  unsigned long expected_finalized = 0, expected_resurrected = 0;

  globals[PORT_NAMES] = make_table();
  make_ports_call();
  for (id = 0; id < PORTS; ++id) {
    if (id % 4 != 0 && id != 1) ++expected_finalized;
    if (id % 4 != 0 && id % 8 == 3) ++expected_resurrected;
  }

  /* Collections find the dropped ports dead. There is no promptness
   * guarantee: collect until every message has arrived (or give up). */
  for (round = 0; round < 8 && closed_by_finalization + resurrections < expected_finalized;
       ++round) {
    collect();
    ok &= read_messages();
  }
  printf("ports: %lu finalized (%lu resurrected with unflushed output) in %d collection%s\n",
         finalization_messages, resurrections, round, round == 1 ? "" : "s");
  ok &= in_range("resurrections", resurrections, expected_resurrected, expected_resurrected);

  /* Flush the resurrected ports and drop them again. */
  flush_queued_ports();
  for (round = 0; round < 8 && closed_by_finalization < expected_finalized; ++round) {
    collect();
    ok &= read_messages();
  }
  collect(); /* the finalized ports die: their names' entries go */
  ok &= read_messages();
  printf("after flushing: %lu closed by finalization, %lu bytes flushed, %lu names left\n",
         closed_by_finalization, bytes_flushed, (unsigned long)table_count(globals[PORT_NAMES]));
  /* A stale word on the stack (how stale depends on the compiler and its
   * options) may keep a dropped port alive: finalization has no promptness
   * guarantee, so up to SLACK ports may still be open; the runtime releases
   * those itself at shutdown, below. */
  ok &= in_range("closed by finalization", closed_by_finalization, expected_finalized - SLACK,
                 expected_finalized);
  ok &= in_range("finalization messages", finalization_messages,
                 expected_finalized + expected_resurrected - 2 * SLACK,
                 expected_finalized + expected_resurrected);
  ok &= in_range("names left", table_count(globals[PORT_NAMES]), PORTS / 4, PORTS / 4 + SLACK);

  /* The program closes the ports it kept. */
  for (id = 0; id < PORTS; ++id) {
    if (kept_ports[id] == NULL) continue;
    port_close(kept_ports[id]);
    kept_ports[id] = NULL;
  }
  /* Shutdown: what finalization has not released yet (ports a stale stack
   * word keeps), the runtime releases itself; their registrations go with
   * the arena. */
  late = 0;
  for (id = 0; id < PORTS; ++id) {
    if (!resources[id].open) continue;
    free(resources[id].buffer);
    resources[id].buffer = NULL;
    resources[id].open = 0;
    ++resources[id].releases;
    resources[id].late = 1;
    ++late;
  }
  ok &= in_range("ports released at shutdown", late, 0, SLACK);
  for (id = 0; id < PORTS; ++id) {
    /* Kept and closed ports are never finalized; resurrected ones twice. */
    int finalizations = id % 4 == 0 || id == 1 ? 0 : id % 8 == 3 ? 2 : 1;
    int settled =
        resources[id].late
            ? resources[id].finalizations < finalizations && resources[id].registered == 1
            : resources[id].finalizations == finalizations && resources[id].registered == 0;
    if (resources[id].releases != 1 || resources[id].open || !settled) {
      fprintf(stderr, "port %ld: released %d times, %s, %d registrations, finalized %d times\n", id,
              resources[id].releases, resources[id].open ? "open" : "closed",
              resources[id].registered, resources[id].finalizations);
      ok = 0;
    }
  }
  printf(
      "every port closed exactly once: %s (%lu by the program, %lu by finalization,"
      " %lu at shutdown; %lu finalization messages)\n",
      ok ? "yes" : "no", closed_by_program, closed_by_finalization, late, finalization_messages);
  return ok;
}

static void heap_create(void* stack_cold_end) {
  mps_gen_param_s gens[] = {{256, 0.8}, {2048, 0.4}};

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, (size_t)64 << 20);
    check(mps_arena_create_k(&arena, mps_arena_class_vm(), args), "arena");
  }
  MPS_ARGS_END(args);

  /* One format for both pools: AMC uses fwd, isfwd and pad; AWL only scan
   * and skip. */
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, ALIGNMENT);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, obj_scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, obj_skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, obj_fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, obj_isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, obj_pad);
    check(mps_fmt_create_k(&obj_fmt, arena, args), "format");
  }
  MPS_ARGS_END(args);

  check(mps_chain_create(&obj_chain, arena, sizeof gens / sizeof gens[0], gens), "chain");

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, obj_fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, obj_chain);
    check(mps_pool_create_k(&amc_pool, arena, mps_class_amc(), args), "AMC pool");
  }
  MPS_ARGS_END(args);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, obj_fmt);
    MPS_ARGS_ADD(args, MPS_KEY_AWL_FIND_DEPENDENT, array_find_dependent);
    check(mps_pool_create_k(&awl_pool, arena, mps_class_awl(), args), "AWL pool");
  }
  MPS_ARGS_END(args);

  check(mps_ap_create_k(&obj_ap, amc_pool, mps_args_none), "AMC allocation point");
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
    check(mps_ap_create_k(&weak_ap, awl_pool, args), "weak allocation point");
  }
  MPS_ARGS_END(args);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_exact());
    check(mps_ap_create_k(&strong_ap, awl_pool, args), "exact allocation point");
  }
  MPS_ARGS_END(args);

  check(mps_thread_reg(&main_thread, arena), "thread registration");
  check(mps_root_create_thread(&stack_root, arena, main_thread, stack_cold_end), "stack root");
  check(mps_root_create_table(&globals_root, arena, mps_rank_exact(), 0, (mps_addr_t*)globals,
                              GLOBALS),
        "globals root");
  check(mps_root_create_table(&atoms_root, arena, mps_rank_exact(), 0, (mps_addr_t*)kept_atoms,
                              KEEP_ATOMS),
        "atoms root");
  check(mps_root_create_table(&ports_root, arena, mps_rank_exact(), 0, (mps_addr_t*)kept_ports,
                              PORTS),
        "ports root");
  check(mps_root_create_table(&queue_root, arena, mps_rank_exact(), 0, (mps_addr_t*)flush_queue,
                              PORTS),
        "flush queue root");

  /* Before any block can become finalizable. */
  mps_message_type_enable(arena, mps_message_type_finalization());
  mps_message_type_enable(arena, mps_message_type_gc());
}

/* Parked: the pools hold registered blocks (none here, but a runtime that
 * exits with ports open would), and nothing may be finalized or moved
 * while they go. Messages still queued are discarded first. */
static void heap_destroy(void) {
  mps_message_t message;
  mps_arena_park(arena);
  while (mps_message_get(&message, arena, mps_message_type_finalization()))
    mps_message_discard(arena, message);
  mps_root_destroy(queue_root);
  mps_root_destroy(ports_root);
  mps_root_destroy(atoms_root);
  mps_root_destroy(globals_root);
  mps_root_destroy(stack_root);
  mps_thread_dereg(main_thread);
  mps_ap_destroy(strong_ap);
  mps_ap_destroy(weak_ap);
  mps_ap_destroy(obj_ap);
  mps_pool_destroy(awl_pool);
  mps_pool_destroy(amc_pool);
  mps_chain_destroy(obj_chain);
  mps_fmt_destroy(obj_fmt);
  mps_arena_destroy(arena);
}

int main(void) {
  void* marker; /* its address is the cold end of the stack root */
  int ok;
  heap_create(&marker);
  ok = weak_table_part();
  ok &= finalization_part();
  heap_destroy();
  printf("%s\n", ok ? "all checks passed" : "a check failed");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
