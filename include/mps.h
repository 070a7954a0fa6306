/* mps.h: MPS++ public C interface (MPS-compatible).
 *
 * This header must stay valid C89, C99 and C++: clients written against
 * the original MPS compile it in all three. Hence block comments only, no
 * inline functions, and declarations wrapped in extern "C" only for C++.
 *
 * Prototypes omit parameter names so that a client macro with the same
 * name as a parameter cannot break them.
 */

#ifndef mps_h
#define mps_h

#include <stddef.h> /* size_t, NULL: clients expect them from here */
#include <stdarg.h> /* va_list for the _v creation functions */
#include <limits.h> /* CHAR_BIT, for the scanning macros */

#ifdef __cplusplus
extern "C" {
#endif

/* Scalar types (types.md) */

/* Exactly as wide as a data pointer. Clients print it with %lu on LP64
 * Unix, so it must stay unsigned long there. */
#if defined(_MSC_VER) && defined(_WIN32) && defined(_WIN64) && defined(_M_X64)
typedef unsigned __int64 mps_word_t;
#else
typedef unsigned long mps_word_t;
#endif

typedef int mps_bool_t;
typedef int mps_res_t;
typedef void* mps_addr_t;
typedef size_t mps_align_t;
typedef unsigned mps_rm_t;
typedef unsigned mps_rank_t;
typedef unsigned mps_message_type_t;
typedef mps_word_t mps_clock_t;
typedef mps_word_t mps_label_t;
typedef void (*mps_fun_t)(void);

/* Opaque handles (types.md). The struct tags are part of the interface. */

typedef struct mps_arena_s* mps_arena_t;
typedef struct mps_arena_class_s* mps_arena_class_t;
typedef struct mps_pool_s* mps_pool_t;
typedef struct mps_chain_s* mps_chain_t;
typedef struct mps_fmt_s* mps_fmt_t;
typedef struct mps_root_s* mps_root_t;
typedef struct mps_pool_class_s* mps_pool_class_t;
typedef mps_pool_class_t mps_class_t; /* deprecated */
typedef struct mps_thr_s* mps_thr_t;
typedef struct mps_ap_s* mps_ap_t;
typedef struct mps_ld_s* mps_ld_t;
typedef struct mps_ss_s* mps_ss_t;
typedef struct mps_message_s* mps_message_t;
typedef struct mps_alloc_pattern_s* mps_alloc_pattern_t;
typedef struct mps_frame_s* mps_frame_t;
typedef const struct mps_key_s* mps_key_t;
typedef struct _mps_sac_s* mps_sac_t;
typedef struct mps_transform_s* mps_transform_t;

/* Result codes (errors.md)
 *
 * The codes are generated from one table so that the library can reuse it
 * for messages. The row order fixes the values and must not change:
 * clients store, print and switch on them. */

#define _mps_RES_ENUM(R, X)                         \
  R(X, OK, "success (always zero)")                 \
  R(X, FAIL, "unspecified failure")                 \
  R(X, RESOURCE, "unable to obtain resources")      \
  R(X, MEMORY, "unable to obtain memory")           \
  R(X, LIMIT, "internal limitation reached")        \
  R(X, UNIMPL, "unimplemented facility")            \
  R(X, IO, "system I/O error")                      \
  R(X, COMMIT_LIMIT, "arena commit limit exceeded") \
  R(X, PARAM, "illegal user parameter value")

#define _mps_ENUM_DEF_ROW(prefix, ident, doc) prefix##ident,

/* The extra enumerator both counts the rows and avoids a trailing comma,
 * which C89 rejects. The expansion ends with the semicolon, as MPS's does:
 * code written for MPS declares its own enums with this macro and no
 * semicolon after it (one more would be an empty declaration, which
 * -pedantic rejects at file scope). */
#define _mps_ENUM_DEF(REL, prefix) enum { REL(_mps_ENUM_DEF_ROW, prefix) _mps_##prefix##LIMIT };

/* Without a semicolon after the invocation clang-format would indent what
 * follows as its continuation. */
/* clang-format off */
_mps_ENUM_DEF(_mps_RES_ENUM, MPS_RES_)

/* Statement brackets: make multi-statement macros a single statement that
 * needs a trailing semicolon. */

#define MPS_BEGIN do {
#define MPS_END \
  }             \
  while (0)

/* Allocation point (allocation.md). The three words are read and written
 * by inline macros and by clients directly, so their order is fixed. */

typedef struct mps_ap_s {
  mps_addr_t init;
  mps_addr_t alloc;
  mps_addr_t limit;
} mps_ap_s;
/* clang-format on */

/* Scan state (scanning.md): private members touched by the scan macros. */

typedef struct mps_ss_s {
  mps_word_t _zs;
  mps_word_t _w;
  mps_word_t _ufs;
} mps_ss_s;

/* Location dependency (ld.md): public only so clients can embed it. */

typedef struct mps_ld_s {
  mps_word_t _epoch, _rs;
} mps_ld_s;

/* Generation parameters (chains.md); clients initialise them positionally. */

typedef struct mps_gen_param_s {
  size_t mps_capacity;
  double mps_mortality;
} mps_gen_param_s;

/* Format methods and the deprecated format structures (format.md). */

typedef mps_res_t (*mps_fmt_scan_t)(mps_ss_t, mps_addr_t, mps_addr_t);
typedef mps_addr_t (*mps_fmt_skip_t)(mps_addr_t);
typedef void (*mps_fmt_copy_t)(mps_addr_t, mps_addr_t);
typedef void (*mps_fmt_fwd_t)(mps_addr_t, mps_addr_t);
typedef mps_addr_t (*mps_fmt_isfwd_t)(mps_addr_t);
typedef void (*mps_fmt_pad_t)(mps_addr_t, size_t);
typedef mps_addr_t (*mps_fmt_class_t)(mps_addr_t);

typedef struct mps_fmt_A_s {
  mps_align_t align;
  mps_fmt_scan_t scan;
  mps_fmt_skip_t skip;
  mps_fmt_copy_t copy;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
} mps_fmt_A_s;
typedef struct mps_fmt_A_s* mps_fmt_A_t; /* deprecated */

typedef struct mps_fmt_B_s {
  mps_align_t align;
  mps_fmt_scan_t scan;
  mps_fmt_skip_t skip;
  mps_fmt_copy_t copy;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
  mps_fmt_class_t mps_class;
} mps_fmt_B_s;
typedef struct mps_fmt_B_s* mps_fmt_B_t; /* deprecated */

typedef struct mps_fmt_auto_header_s {
  mps_align_t align;
  mps_fmt_scan_t scan;
  mps_fmt_skip_t skip;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
  size_t mps_headerSize;
} mps_fmt_auto_header_s;

typedef struct mps_fmt_fixed_s {
  mps_align_t align;
  mps_fmt_scan_t scan;
  mps_fmt_fwd_t fwd;
  mps_fmt_isfwd_t isfwd;
  mps_fmt_pad_t pad;
} mps_fmt_fixed_s;

/* Debugging pool options (debugging.md); initialised positionally. */

typedef struct mps_pool_debug_option_s {
  const void* fence_template;
  size_t fence_size;
  const void* free_template;
  size_t free_size;
} mps_pool_debug_option_s;

/* Tag closure for the tagged area scanners (scanning.md). */

typedef struct mps_scan_tag_s {
  mps_word_t mask;
  mps_word_t pattern;
} mps_scan_tag_s;
typedef struct mps_scan_tag_s* mps_scan_tag_t;

/* Arena extension callbacks (arena.md), passed as mps_fun_t. */

typedef void (*mps_arena_extended_t)(mps_arena_t, void*, size_t);
typedef void (*mps_arena_contracted_t)(mps_arena_t, void*, size_t);

/* Keyword arguments (keywords.md). The member names of val are public:
 * clients fill lists by hand and the *_FIELD macros name them. */

typedef struct mps_arg_s {
  mps_key_t key;
  union {
    mps_bool_t b;
    char c;
    const char* string;
    int i;
    unsigned u;
    long l;
    unsigned long ul;
    float f;
    double d;
    size_t size;
    mps_fun_t fun;
    mps_addr_t addr;
    mps_fmt_t format;
    mps_chain_t chain;
    struct mps_pool_debug_option_s* pool_debug_options;
    mps_addr_t (*addr_method)(mps_addr_t);
    mps_align_t align;
    mps_word_t count;
    void* p;
    mps_rank_t rank;
    mps_fmt_scan_t fmt_scan;
    mps_fmt_skip_t fmt_skip;
    mps_fmt_fwd_t fmt_fwd;
    mps_fmt_isfwd_t fmt_isfwd;
    mps_fmt_pad_t fmt_pad;
    mps_fmt_class_t fmt_class;
    mps_pool_t pool;
  } val;
} mps_arg_s;

extern const struct mps_key_s _mps_key_ARGS_END;
#define MPS_KEY_ARGS_END (&_mps_key_ARGS_END)

/* Never modified by the library: callees only remove arguments they use. */
extern mps_arg_s mps_args_none[];

extern const struct mps_key_s _mps_key_ARENA_GRAIN_SIZE;
#define MPS_KEY_ARENA_GRAIN_SIZE (&_mps_key_ARENA_GRAIN_SIZE)
#define MPS_KEY_ARENA_GRAIN_SIZE_FIELD size
extern const struct mps_key_s _mps_key_ARENA_SIZE;
#define MPS_KEY_ARENA_SIZE (&_mps_key_ARENA_SIZE)
#define MPS_KEY_ARENA_SIZE_FIELD size
extern const struct mps_key_s _mps_key_ARENA_ZONED;
#define MPS_KEY_ARENA_ZONED (&_mps_key_ARENA_ZONED)
#define MPS_KEY_ARENA_ZONED_FIELD b
/* These three objects are lower case in the reference; the spelling is
 * kept for link compatibility with objects built against its header. */
extern const struct mps_key_s _mps_key_arena_extended;
#define MPS_KEY_ARENA_EXTENDED (&_mps_key_arena_extended)
#define MPS_KEY_ARENA_EXTENDED_FIELD fun
extern const struct mps_key_s _mps_key_arena_contracted;
#define MPS_KEY_ARENA_CONTRACTED (&_mps_key_arena_contracted)
#define MPS_KEY_ARENA_CONTRACTED_FIELD fun
extern const struct mps_key_s _mps_key_FORMAT;
#define MPS_KEY_FORMAT (&_mps_key_FORMAT)
#define MPS_KEY_FORMAT_FIELD format
extern const struct mps_key_s _mps_key_CHAIN;
#define MPS_KEY_CHAIN (&_mps_key_CHAIN)
#define MPS_KEY_CHAIN_FIELD chain
extern const struct mps_key_s _mps_key_GEN;
#define MPS_KEY_GEN (&_mps_key_GEN)
#define MPS_KEY_GEN_FIELD u
extern const struct mps_key_s _mps_key_RANK;
#define MPS_KEY_RANK (&_mps_key_RANK)
#define MPS_KEY_RANK_FIELD rank
extern const struct mps_key_s _mps_key_COMMIT_LIMIT;
#define MPS_KEY_COMMIT_LIMIT (&_mps_key_COMMIT_LIMIT)
#define MPS_KEY_COMMIT_LIMIT_FIELD size
extern const struct mps_key_s _mps_key_SPARE_COMMIT_LIMIT;
#define MPS_KEY_SPARE_COMMIT_LIMIT (&_mps_key_SPARE_COMMIT_LIMIT)
#define MPS_KEY_SPARE_COMMIT_LIMIT_FIELD size
extern const struct mps_key_s _mps_key_PAUSE_TIME;
#define MPS_KEY_PAUSE_TIME (&_mps_key_PAUSE_TIME)
#define MPS_KEY_PAUSE_TIME_FIELD d
extern const struct mps_key_s _mps_key_EXTEND_BY;
#define MPS_KEY_EXTEND_BY (&_mps_key_EXTEND_BY)
#define MPS_KEY_EXTEND_BY_FIELD size
extern const struct mps_key_s _mps_key_LARGE_SIZE;
#define MPS_KEY_LARGE_SIZE (&_mps_key_LARGE_SIZE)
#define MPS_KEY_LARGE_SIZE_FIELD size
extern const struct mps_key_s _mps_key_MIN_SIZE;
#define MPS_KEY_MIN_SIZE (&_mps_key_MIN_SIZE)
#define MPS_KEY_MIN_SIZE_FIELD size
extern const struct mps_key_s _mps_key_MEAN_SIZE;
#define MPS_KEY_MEAN_SIZE (&_mps_key_MEAN_SIZE)
#define MPS_KEY_MEAN_SIZE_FIELD size
extern const struct mps_key_s _mps_key_MAX_SIZE;
#define MPS_KEY_MAX_SIZE (&_mps_key_MAX_SIZE)
#define MPS_KEY_MAX_SIZE_FIELD size
extern const struct mps_key_s _mps_key_ALIGN;
#define MPS_KEY_ALIGN (&_mps_key_ALIGN)
#define MPS_KEY_ALIGN_FIELD align
extern const struct mps_key_s _mps_key_SPARE;
#define MPS_KEY_SPARE (&_mps_key_SPARE)
#define MPS_KEY_SPARE_FIELD d
extern const struct mps_key_s _mps_key_INTERIOR;
#define MPS_KEY_INTERIOR (&_mps_key_INTERIOR)
#define MPS_KEY_INTERIOR_FIELD b
extern const struct mps_key_s _mps_key_VMW3_TOP_DOWN;
#define MPS_KEY_VMW3_TOP_DOWN (&_mps_key_VMW3_TOP_DOWN)
#define MPS_KEY_VMW3_TOP_DOWN_FIELD b
extern const struct mps_key_s _mps_key_FMT_ALIGN;
#define MPS_KEY_FMT_ALIGN (&_mps_key_FMT_ALIGN)
#define MPS_KEY_FMT_ALIGN_FIELD align
extern const struct mps_key_s _mps_key_FMT_HEADER_SIZE;
#define MPS_KEY_FMT_HEADER_SIZE (&_mps_key_FMT_HEADER_SIZE)
#define MPS_KEY_FMT_HEADER_SIZE_FIELD size
extern const struct mps_key_s _mps_key_FMT_SCAN;
#define MPS_KEY_FMT_SCAN (&_mps_key_FMT_SCAN)
#define MPS_KEY_FMT_SCAN_FIELD fmt_scan
extern const struct mps_key_s _mps_key_FMT_SKIP;
#define MPS_KEY_FMT_SKIP (&_mps_key_FMT_SKIP)
#define MPS_KEY_FMT_SKIP_FIELD fmt_skip
extern const struct mps_key_s _mps_key_FMT_FWD;
#define MPS_KEY_FMT_FWD (&_mps_key_FMT_FWD)
#define MPS_KEY_FMT_FWD_FIELD fmt_fwd
extern const struct mps_key_s _mps_key_FMT_ISFWD;
#define MPS_KEY_FMT_ISFWD (&_mps_key_FMT_ISFWD)
#define MPS_KEY_FMT_ISFWD_FIELD fmt_isfwd
extern const struct mps_key_s _mps_key_FMT_PAD;
#define MPS_KEY_FMT_PAD (&_mps_key_FMT_PAD)
#define MPS_KEY_FMT_PAD_FIELD fmt_pad
extern const struct mps_key_s _mps_key_FMT_CLASS;
#define MPS_KEY_FMT_CLASS (&_mps_key_FMT_CLASS)
#define MPS_KEY_FMT_CLASS_FIELD fmt_class
extern const struct mps_key_s _mps_key_ap_hash_arrays;
#define MPS_KEY_AP_HASH_ARRAYS (&_mps_key_ap_hash_arrays)
#define MPS_KEY_AP_HASH_ARRAYS_FIELD b
extern const struct mps_key_s _mps_key_POOL_DEBUG_OPTIONS;
#define MPS_KEY_POOL_DEBUG_OPTIONS (&_mps_key_POOL_DEBUG_OPTIONS)
#define MPS_KEY_POOL_DEBUG_OPTIONS_FIELD pool_debug_options

/* Argument list construction. A list built by these macros is terminated
 * after every ADD, so it can hold at most MPS_ARGS_MAX - 1 arguments.
 * Index bounds are checked out of line by _mps_args_set_key. */

#define MPS_ARGS_MAX 32
extern void _mps_args_set_key(mps_arg_s[MPS_ARGS_MAX], unsigned, mps_key_t);

/* Opens two scopes: the outer one owns the array and its counter (named
 * by pasting _i onto the array name, so blocks can nest); the inner one
 * holds the client's block. */
#define MPS_ARGS_BEGIN(_mps_a)                             \
  MPS_BEGIN                                                \
  mps_arg_s _mps_a[MPS_ARGS_MAX];                          \
  unsigned _mps_a##_i = 0;                                 \
  _mps_args_set_key(_mps_a, _mps_a##_i, MPS_KEY_ARGS_END); \
  MPS_BEGIN

#define MPS_ARGS_ADD_FIELD(_mps_a, _mps_k, _mps_f, _mps_v) \
  MPS_BEGIN                                                \
  _mps_args_set_key(_mps_a, _mps_a##_i, _mps_k);           \
  _mps_a[_mps_a##_i].val._mps_f = (_mps_v);                \
  ++_mps_a##_i;                                            \
  _mps_args_set_key(_mps_a, _mps_a##_i, MPS_KEY_ARGS_END); \
  MPS_END

/* The key must be written as its MPS_KEY_ macro name: the field is found
 * by pasting _FIELD onto that token. */
#define MPS_ARGS_ADD(_mps_a, _mps_k, _mps_v) \
  MPS_ARGS_ADD_FIELD(_mps_a, _mps_k, _mps_k##_FIELD, _mps_v)

/* Deprecated: terminates the list and makes any later ADD in the block
 * fail the bounds check. */
#define MPS_ARGS_DONE(_mps_a)                              \
  MPS_BEGIN                                                \
  _mps_args_set_key(_mps_a, _mps_a##_i, MPS_KEY_ARGS_END); \
  _mps_a##_i = MPS_ARGS_MAX;                               \
  MPS_END

#define MPS_ARGS_END(_mps_a) \
  MPS_END;                   \
  MPS_END

/* Arenas (arena.md); the class functions are in mpsavm.h and mpsacl.h. */

extern mps_res_t mps_arena_create_k(mps_arena_t*, mps_arena_class_t, mps_arg_s[]);
extern mps_res_t mps_arena_create(mps_arena_t*, mps_arena_class_t, ...);
extern mps_res_t mps_arena_create_v(mps_arena_t*, mps_arena_class_t, va_list);
extern void mps_arena_destroy(mps_arena_t);

extern mps_res_t mps_arena_extend(mps_arena_t, mps_addr_t, size_t);

extern size_t mps_arena_reserved(mps_arena_t);
extern size_t mps_arena_committed(mps_arena_t);
extern size_t mps_arena_spare_committed(mps_arena_t);
extern size_t mps_arena_commit_limit(mps_arena_t);
extern mps_res_t mps_arena_commit_limit_set(mps_arena_t, size_t);
extern double mps_arena_spare(mps_arena_t);
extern void mps_arena_spare_set(mps_arena_t, double);
extern size_t mps_arena_spare_commit_limit(mps_arena_t);           /* deprecated */
extern void mps_arena_spare_commit_limit_set(mps_arena_t, size_t); /* deprecated */

extern mps_bool_t mps_arena_has_addr(mps_arena_t, mps_addr_t);

/* The pause-time target in seconds (MPS_KEY_PAUSE_TIME). */
extern double mps_arena_pause_time(mps_arena_t);
extern void mps_arena_pause_time_set(mps_arena_t, double);

/* For debuggers of a crashed program only: no collection work ever again,
 * no memory protection. The client must not go on normally afterwards. */
extern void mps_arena_postmortem(mps_arena_t);

/* Pools (pool-and-classes.md); class functions are in the mpsc*.h headers. */

extern mps_res_t mps_pool_create_k(mps_pool_t*, mps_arena_t, mps_pool_class_t, mps_arg_s[]);
extern mps_res_t mps_pool_create(mps_pool_t*, mps_arena_t, mps_pool_class_t, ...);
extern mps_res_t mps_pool_create_v(mps_pool_t*, mps_arena_t, mps_pool_class_t, va_list);
extern void mps_pool_destroy(mps_pool_t);

extern size_t mps_pool_total_size(mps_pool_t);
extern size_t mps_pool_free_size(mps_pool_t);
extern mps_bool_t mps_addr_pool(mps_pool_t*, mps_arena_t, mps_addr_t);

/* Manual allocation (allocation.md). */

extern mps_res_t mps_alloc(mps_addr_t*, mps_pool_t, size_t);
extern void mps_free(mps_pool_t, mps_addr_t, size_t);

/* Ranks and root modes (roots.md). */

extern mps_rank_t mps_rank_ambig(void);
extern mps_rank_t mps_rank_exact(void);
extern mps_rank_t mps_rank_weak(void);

#define MPS_RM_CONST (((mps_rm_t)1 << 0))
#define MPS_RM_PROT (((mps_rm_t)1 << 1))
#define MPS_RM_PROT_INNER (((mps_rm_t)1 << 1))

/* Object formats (format.md). */

extern mps_res_t mps_fmt_create_k(mps_fmt_t*, mps_arena_t, mps_arg_s[]);
extern mps_res_t mps_fmt_create_A(mps_fmt_t*, mps_arena_t, mps_fmt_A_s*);
extern mps_res_t mps_fmt_create_B(mps_fmt_t*, mps_arena_t, mps_fmt_B_s*);
extern mps_res_t mps_fmt_create_auto_header(mps_fmt_t*, mps_arena_t, mps_fmt_auto_header_s*);
extern mps_res_t mps_fmt_create_fixed(mps_fmt_t*, mps_arena_t, mps_fmt_fixed_s*);
extern void mps_fmt_destroy(mps_fmt_t);

/* Generation chains (chains.md). */

extern mps_res_t mps_chain_create(mps_chain_t*, mps_arena_t, size_t, mps_gen_param_s*);
extern void mps_chain_destroy(mps_chain_t);

/* Threads (threads.md). */

extern mps_res_t mps_thread_reg(mps_thr_t*, mps_arena_t);
extern void mps_thread_dereg(mps_thr_t);

/* Scanning (scanning.md). The scan macros keep private copies of the scan
 * state's words in locals whose names start with _mps_, so they cannot
 * clash with the client's. */

typedef mps_res_t (*mps_area_scan_t)(mps_ss_t, void*, void*, void*);
typedef mps_res_t (*mps_root_scan_t)(mps_ss_t, void*, size_t);
typedef mps_res_t (*mps_reg_scan_t)(mps_ss_t, mps_thr_t, void*, size_t);

extern mps_res_t _mps_fix2(mps_ss_t, mps_addr_t*);
extern mps_res_t mps_fix(mps_ss_t, mps_addr_t*); /* deprecated */

#define MPS_SCAN_BEGIN(ss)             \
  MPS_BEGIN                            \
  mps_ss_t _mps_ss = (ss);             \
  mps_word_t _mps_zs = _mps_ss->_zs;   \
  mps_word_t _mps_w = _mps_ss->_w;     \
  mps_word_t _mps_ufs = _mps_ss->_ufs; \
  mps_word_t _mps_wt;                  \
  {
#define MPS_SCAN_END(ss)    \
  }                         \
  (void)_mps_zs;            \
  (void)_mps_w;             \
  (void)_mps_wt;            \
  _mps_ss->_ufs = _mps_ufs; \
  MPS_END

#define MPS_FIX1(ss, ref)                                                                     \
  (_mps_wt =                                                                                  \
       (mps_word_t)1 << ((mps_word_t)(ref) >> _mps_zs & (sizeof(mps_word_t) * CHAR_BIT - 1)), \
   _mps_ufs |= _mps_wt, (_mps_w & _mps_wt) != 0)

#define MPS_FIX2(ss, ref_io) _mps_fix2(ss, ref_io)

#define MPS_FIX12(ss, ref_io) (MPS_FIX1(ss, *(ref_io)) ? MPS_FIX2(ss, ref_io) : MPS_RES_OK)

#define MPS_FIX(ss, ref_io) MPS_FIX12(ss, ref_io) /* deprecated */

#define MPS_FIX_CALL(ss, call) \
  MPS_BEGIN(call);             \
  _mps_ufs |= _mps_ss->_ufs;   \
  MPS_END

extern mps_res_t mps_scan_area(mps_ss_t, void*, void*, void*);
extern mps_res_t mps_scan_area_masked(mps_ss_t, void*, void*, void*);
extern mps_res_t mps_scan_area_tagged(mps_ss_t, void*, void*, void*);
extern mps_res_t mps_scan_area_tagged_or_zero(mps_ss_t, void*, void*, void*);

/* Roots (roots.md). */

extern mps_res_t mps_root_create(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, mps_root_scan_t,
                                 void*, size_t);
extern mps_res_t mps_root_create_table(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, mps_addr_t*,
                                       size_t);
extern mps_res_t mps_root_create_table_masked(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t,
                                              mps_addr_t*, size_t, mps_word_t);
extern mps_res_t mps_root_create_area(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, void*, void*,
                                      mps_area_scan_t, void*);
extern mps_res_t mps_root_create_area_tagged(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, void*,
                                             void*, mps_area_scan_t, mps_word_t, mps_word_t);
extern mps_res_t mps_root_create_fmt(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, mps_fmt_scan_t,
                                     mps_addr_t, mps_addr_t);
extern mps_res_t mps_root_create_reg(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t, mps_thr_t,
                                     mps_reg_scan_t, void*, size_t);
extern mps_res_t mps_root_create_thread(mps_root_t*, mps_arena_t, mps_thr_t, void*);
extern mps_res_t mps_root_create_thread_scanned(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t,
                                                mps_thr_t, mps_area_scan_t, void*, void*);
extern mps_res_t mps_root_create_thread_tagged(mps_root_t*, mps_arena_t, mps_rank_t, mps_rm_t,
                                               mps_thr_t, mps_area_scan_t, mps_word_t, mps_word_t,
                                               void*);
extern mps_res_t mps_stack_scan_ambig(mps_ss_t, mps_thr_t, void*, size_t);
extern void mps_root_destroy(mps_root_t);

/* Allocation points (allocation.md). The macros below are expanded into
 * client code; their behaviour is part of the binary contract. */

extern mps_res_t mps_ap_create_k(mps_ap_t*, mps_pool_t, mps_arg_s[]);
extern mps_res_t mps_ap_create(mps_ap_t*, mps_pool_t, ...);
extern mps_res_t mps_ap_create_v(mps_ap_t*, mps_pool_t, va_list);
extern void mps_ap_destroy(mps_ap_t);
extern mps_res_t mps_ap_fill(mps_addr_t*, mps_ap_t, size_t);
extern mps_bool_t mps_ap_trip(mps_ap_t, mps_addr_t, size_t);
extern mps_res_t(mps_reserve)(mps_addr_t*, mps_ap_t, size_t);
extern mps_bool_t(mps_commit)(mps_ap_t, mps_addr_t, size_t);
extern mps_res_t(mps_ap_frame_push)(mps_frame_t*, mps_ap_t);
extern mps_res_t(mps_ap_frame_pop)(mps_ap_t, mps_frame_t);

/* Allocation patterns: hints that nest like brackets on an allocation
 * point. The pattern functions return constant, distinct handles. */
extern mps_alloc_pattern_t mps_alloc_pattern_ramp(void);
extern mps_alloc_pattern_t mps_alloc_pattern_ramp_collect_all(void);
extern mps_res_t mps_ap_alloc_pattern_begin(mps_ap_t, mps_alloc_pattern_t);
extern mps_res_t mps_ap_alloc_pattern_end(mps_ap_t, mps_alloc_pattern_t);
extern mps_res_t mps_ap_alloc_pattern_reset(mps_ap_t);

#define mps_reserve(p_o, ap, size)                                                      \
  ((mps_word_t)(ap)->alloc + (size) > (mps_word_t)(ap)->alloc &&                        \
           (mps_word_t)(ap)->alloc + (size) <= (mps_word_t)(ap)->limit                  \
       ? ((ap)->alloc = (mps_addr_t)((char*)(ap)->alloc + (size)), *(p_o) = (ap)->init, \
          MPS_RES_OK)                                                                   \
       : mps_ap_fill(p_o, ap, size))

#define MPS_RESERVE_BLOCK(res_v, p_v, ap, size)              \
  MPS_BEGIN                                                  \
  mps_word_t _alloc = (mps_word_t)(ap)->alloc;               \
  mps_word_t _next = _alloc + (size);                        \
  if (_next > _alloc && _next <= (mps_word_t)(ap)->limit) {  \
    (ap)->alloc = (mps_addr_t)((char*)(ap)->alloc + (size)); \
    (p_v) = (ap)->init;                                      \
    (res_v) = MPS_RES_OK;                                    \
  } else {                                                   \
    (res_v) = mps_ap_fill(&(p_v), ap, size);                 \
  }                                                          \
  MPS_END

/* The store to init must be visible before limit is read: a compiler
 * barrier where the platform allows one (the collector stops the thread
 * before it reads either, so no hardware fence is needed). */
#if defined(__GNUC__)
#define _mps_COMMIT_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#else
#define _mps_COMMIT_BARRIER() ((void)0)
#endif

#define mps_commit(ap, p, size) \
  ((ap)->init = (ap)->alloc, _mps_COMMIT_BARRIER(), (ap)->limit != 0 || mps_ap_trip(ap, p, size))

/* Arena control and collection (arena.md, chains.md). */

extern mps_res_t mps_arena_collect(mps_arena_t);
extern mps_res_t mps_arena_start_collect(mps_arena_t);
extern mps_bool_t mps_arena_step(mps_arena_t, double, double);
extern void mps_arena_clamp(mps_arena_t);
extern void mps_arena_park(mps_arena_t);
extern void mps_arena_release(mps_arena_t);
extern mps_bool_t mps_arena_busy(mps_arena_t);
extern mps_word_t mps_collections(mps_arena_t);
/* MPS++ extension: every pause of the mutators since the arena was created
 * (abandoned collections' too): how many, total and longest in seconds. */
extern void mps_arena_pauses(mps_arena_t, size_t* count_o, double* total_o, double* max_o);
extern mps_bool_t mps_addr_fmt(mps_fmt_t*, mps_arena_t, mps_addr_t);
/* The base of the object containing an address (pools that support it:
 * AMC and AMCZ); MPS_RES_FAIL if no object holds it (outside the arena, in
 * no pool, or in none of an AMC pool's objects), MPS_RES_UNIMPL if it is in
 * a pool of another class. */
extern mps_res_t mps_addr_object(mps_addr_t*, mps_arena_t, mps_addr_t);

/* Location dependency (ld.md). */
extern void mps_ld_reset(mps_ld_t, mps_arena_t);
extern void mps_ld_add(mps_ld_t, mps_arena_t, mps_addr_t);
extern void mps_ld_merge(mps_ld_t, mps_arena_t, mps_ld_t);
extern mps_bool_t mps_ld_isstale(mps_ld_t, mps_arena_t, mps_addr_t);
extern mps_bool_t mps_ld_isstale_any(mps_ld_t, mps_arena_t);

/* MPS++ extension: the number of threads that mark in parallel (default:
 * the MPS_GC_WORKERS environment variable, else the hardware threads). */
extern const struct mps_key_s _mps_key_ARENA_GC_WORKERS;
#define MPS_KEY_ARENA_GC_WORKERS (&_mps_key_ARENA_GC_WORKERS)
#define MPS_KEY_ARENA_GC_WORKERS_FIELD u
extern void mps_arena_gc_workers_set(mps_arena_t, unsigned);

/* MPS++ extension: whether the arena's collections may protect its memory
 * (default true). False: no write barrier and no read barrier, so no
 * SIGSEGV ever comes from the arena (for clients with SIGSEGV needs of
 * their own, or a debugger session), and every collection stops the world
 * in one pause. The environment variable MPS_BARRIER=0 does the same for
 * every arena. */
extern const struct mps_key_s _mps_key_ARENA_BARRIER;
#define MPS_KEY_ARENA_BARRIER (&_mps_key_ARENA_BARRIER)
#define MPS_KEY_ARENA_BARRIER_FIELD b

/* Walking (walking.md). */

typedef void (*mps_formatted_objects_stepper_t)(mps_addr_t, mps_fmt_t, mps_pool_t, void*, size_t);
extern void mps_arena_formatted_objects_walk(mps_arena_t, mps_formatted_objects_stepper_t, void*,
                                             size_t);
extern mps_res_t mps_pool_walk(mps_pool_t, mps_area_scan_t, void*);

/* Deprecated: calls f(ref_location, root, p, s) for each reference of each
 * root that designates an object of an automatic pool; the arena is
 * parked. */
typedef void (*mps_roots_stepper_t)(mps_addr_t*, mps_root_t, void*, size_t);
extern void mps_arena_roots_walk(mps_arena_t, mps_roots_stepper_t, void*, size_t);

/* Transforms: replace every reference to an old object, in the heap and in
 * the roots, by one to its new object, all or nothing. */
extern mps_res_t mps_transform_create(mps_transform_t*, mps_arena_t);
extern mps_res_t mps_transform_add_oldnew(mps_transform_t, mps_addr_t*, mps_addr_t*, size_t);
extern mps_res_t mps_transform_apply(mps_bool_t*, mps_transform_t);
extern void mps_transform_destroy(mps_transform_t);

/* Messages (messages.md). The message-type "functions" are macros only:
 * clients use them in switch cases. The enumerators' values are shared
 * with the library and must not change. */

enum { _mps_MESSAGE_TYPE_FINALIZATION, _mps_MESSAGE_TYPE_GC, _mps_MESSAGE_TYPE_GC_START };

#define mps_message_type_finalization() _mps_MESSAGE_TYPE_FINALIZATION
#define mps_message_type_gc() _mps_MESSAGE_TYPE_GC
#define mps_message_type_gc_start() _mps_MESSAGE_TYPE_GC_START

extern void mps_message_type_enable(mps_arena_t, mps_message_type_t);
extern void mps_message_type_disable(mps_arena_t, mps_message_type_t);
extern mps_bool_t mps_message_poll(mps_arena_t);
extern mps_bool_t mps_message_queue_type(mps_message_type_t*, mps_arena_t);
extern mps_bool_t mps_message_get(mps_message_t*, mps_arena_t, mps_message_type_t);
extern void mps_message_discard(mps_arena_t, mps_message_t);

extern mps_message_type_t mps_message_type(mps_arena_t, mps_message_t);
extern mps_clock_t mps_message_clock(mps_arena_t, mps_message_t);
extern size_t mps_message_gc_live_size(mps_arena_t, mps_message_t);
extern size_t mps_message_gc_condemned_size(mps_arena_t, mps_message_t);
extern size_t mps_message_gc_not_condemned_size(mps_arena_t, mps_message_t);
extern const char* mps_message_gc_start_why(mps_arena_t, mps_message_t);
extern void mps_message_finalization_ref(mps_addr_t*, mps_arena_t, mps_message_t);

/* Finalization (finalization.md). */

extern mps_res_t mps_finalize(mps_arena_t, mps_addr_t*);
extern mps_res_t mps_definalize(mps_arena_t, mps_addr_t*);
/* MPS++ extension: what the write barrier cost since the collection before
 * this GC message's (the mutator's run and this collection): protection
 * changes (mprotect calls), write faults resolved, and the seconds spent in
 * both. Process-wide: with several arenas, each one's message counts all. */
extern void mps_message_gc_barrier(mps_arena_t, mps_message_t, size_t* protections_o,
                                   size_t* faults_o, double* seconds_o);
/* MPS++ extension: this GC message's collection paused the mutators
 * count_o times, for total_o seconds in all and max_o at most. */
extern void mps_message_gc_pauses(mps_arena_t, mps_message_t, size_t* count_o, double* total_o,
                                  double* max_o);

/* Debugging pools (debugging.md): verify fenceposts and free space. */
extern void mps_pool_check_fenceposts(mps_pool_t);
extern void mps_pool_check_free_space(mps_pool_t);

/* Telemetry (telemetry.md): the filter word, labels, flushing. Callable
 * before any arena exists. */
extern mps_word_t mps_telemetry_get(void);
extern void mps_telemetry_set(mps_word_t);
extern void mps_telemetry_reset(mps_word_t);
extern mps_label_t mps_telemetry_intern(const char*);
extern void mps_telemetry_label(mps_addr_t, mps_label_t);
extern void mps_telemetry_flush(void);

/* Segregated allocation caches (sac.md).
 *
 * The fast macros walk _freelists in client code, so this layout is a
 * binary contract. Even entries hold the classes above the middle in
 * increasing size, ending with an overlarge sentinel (_size is the maximum
 * size_t, _count_max 0); odd entries hold the middle class and those below
 * it in decreasing size, each storing the next smaller class's block size
 * in _size (0 for the smallest). */

#define MPS_SAC_CLASS_LIMIT ((size_t)8)

typedef struct _mps_sac_freelist_block_s {
  size_t _size;
  size_t _count;
  size_t _count_max;
  mps_addr_t _blocks;
} _mps_sac_freelist_block_s;

/* An allocated cache may have more _freelists entries than declared. */
typedef struct _mps_sac_s {
  size_t _middle;
  mps_bool_t _trapped;
  _mps_sac_freelist_block_s _freelists[2 * MPS_SAC_CLASS_LIMIT];
} _mps_sac_s;

/* Not part of MPS's interface: the class table that mps_sac_create places
 * in the same allocation immediately before every cache, which the macros
 * below read as ((const _mps_sac_lookup_s *)sac)[-1]. A request of s bytes,
 * 0 < s <= _limit << _shift, belongs to the class of entry
 * _entry[(s - 1) >> _shift]; every class's block size is a multiple of
 * 1 << _shift, so each slot lies within one class. Other sizes (0, and
 * those above the table) search _freelists as MPS does, 0 as if it were 1.
 * The entries and their encoding are unchanged, so code compiled with
 * MPS's own macros still works with these caches. */
#define _MPS_SAC_LOOKUP_SLOTS 256

typedef struct _mps_sac_lookup_s {
  unsigned char _entry[_MPS_SAC_LOOKUP_SLOTS];
  size_t _limit;
  size_t _shift;
} _mps_sac_lookup_s;

typedef struct mps_sac_class_s {
  size_t mps_block_size;
  size_t mps_cached_count;
  unsigned mps_frequency;
} mps_sac_class_s;

#define mps_sac_classes_s mps_sac_class_s /* older name */

extern mps_res_t mps_sac_create(mps_sac_t*, mps_pool_t, size_t, mps_sac_classes_s*);
extern void mps_sac_destroy(mps_sac_t);
extern mps_res_t mps_sac_alloc(mps_addr_t*, mps_sac_t, size_t, mps_bool_t);
extern void mps_sac_free(mps_sac_t, mps_addr_t, size_t);
extern void mps_sac_flush(mps_sac_t);

/* Out-of-line halves of the fast macros: clients must not call them. */
extern mps_res_t mps_sac_fill(mps_addr_t*, mps_sac_t, size_t, mps_bool_t);
extern void mps_sac_empty(mps_sac_t, mps_addr_t, size_t);

/* Sets _mps_i to the entry of the smallest class whose block size is at
 * least _mps_s (the overlarge sentinel above the largest class; the
 * smallest class for 0). A size in the class table takes one table load and
 * no data-dependent branch: request sizes are usually unpredictable, and a
 * loop over the classes mispredicts. Other sizes search as MPS does: up the
 * even entries from 0 if above _middle (stopping at the sentinel at the
 * latest), else down the odd ones from 1 (stopping at the smallest class,
 * whose _size is 0). So does a size known at compile time (_mps_s_expr, the
 * argument as written, under GCC and Clang): the search then takes the same
 * branches every time, which predict perfectly and let the list be loaded
 * without waiting for the table. */
#if defined(__GNUC__)
#define _mps_SAC_CONSTANT(_mps_s) __builtin_constant_p(_mps_s)
#else
#define _mps_SAC_CONSTANT(_mps_s) 0
#endif
#define _mps_SAC_LOOKUP(_mps_sac) ((const _mps_sac_lookup_s*)(const void*)(_mps_sac)-1)
#define _mps_SAC_FIND(_mps_sac, _mps_s, _mps_i, _mps_s_expr)         \
  MPS_BEGIN                                                          \
  size_t _mps_k;                                                     \
  if (!_mps_SAC_CONSTANT(_mps_s_expr) &&                             \
      (_mps_k = ((_mps_s)-1) >> _mps_SAC_LOOKUP(_mps_sac)->_shift) < \
          _mps_SAC_LOOKUP(_mps_sac)->_limit) {                       \
    (_mps_i) = _mps_SAC_LOOKUP(_mps_sac)->_entry[_mps_k];            \
  } else {                                                           \
    size_t _mps_t = (_mps_s) + ((_mps_s) == 0);                      \
    if (_mps_t > (_mps_sac)->_middle) {                              \
      (_mps_i) = 0;                                                  \
      while (_mps_t > (_mps_sac)->_freelists[_mps_i]._size)          \
        (_mps_i) += 2;                                               \
    } else {                                                         \
      (_mps_i) = 1;                                                  \
      while (_mps_t <= (_mps_sac)->_freelists[_mps_i]._size)         \
        (_mps_i) += 2;                                               \
    }                                                                \
  }                                                                  \
  MPS_END

#define MPS_SAC_ALLOC_FAST(res_o, p_o, sac, size, unused)            \
  MPS_BEGIN                                                          \
  size_t _mps_sac_index;                                             \
  size_t _mps_sac_size = (size);                                     \
  _mps_SAC_FIND(sac, _mps_sac_size, _mps_sac_index, size);           \
  if ((sac)->_freelists[_mps_sac_index]._count != 0) {               \
    (p_o) = (sac)->_freelists[_mps_sac_index]._blocks;               \
    (sac)->_freelists[_mps_sac_index]._blocks = *(mps_addr_t*)(p_o); \
    --(sac)->_freelists[_mps_sac_index]._count;                      \
    (res_o) = MPS_RES_OK;                                            \
  } else {                                                           \
    (res_o) = mps_sac_fill(&(p_o), sac, _mps_sac_size, unused);      \
  }                                                                  \
  MPS_END

#define MPS_SAC_FREE_FAST(sac, p, size)                                                          \
  MPS_BEGIN                                                                                      \
  size_t _mps_sac_index;                                                                         \
  size_t _mps_sac_size = (size);                                                                 \
  _mps_SAC_FIND(sac, _mps_sac_size, _mps_sac_index, size);                                       \
  if ((sac)->_freelists[_mps_sac_index]._count < (sac)->_freelists[_mps_sac_index]._count_max) { \
    *(mps_addr_t*)(p) = (sac)->_freelists[_mps_sac_index]._blocks;                               \
    (sac)->_freelists[_mps_sac_index]._blocks = (p);                                             \
    ++(sac)->_freelists[_mps_sac_index]._count;                                                  \
  } else {                                                                                       \
    mps_sac_empty(sac, p, _mps_sac_size);                                                        \
  }                                                                                              \
  MPS_END

/* Deprecated names. */
#define MPS_SAC_ALLOC(res_o, p_o, sac, size, unused) \
  MPS_SAC_ALLOC_FAST(res_o, p_o, sac, size, unused)
#define MPS_SAC_FREE(sac, p, size) MPS_SAC_FREE_FAST(sac, p, size)

#ifdef __cplusplus
}
#endif

#endif /* mps_h */
