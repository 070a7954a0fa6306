/* Shared body of the header compilation checks (c89.c, c99.c, cxx.cpp).
 *
 * Written in the common subset of C89 and C++ so that the same text proves
 * the public headers in all three language modes: it includes every header
 * and expands every macro within the current scope inside a function that
 * is compiled but never run (the objects are not linked). Every key is
 * passed through MPS_ARGS_ADD so that a missing or mistyped *_FIELD macro
 * breaks the build. */

#include "mps.h"
#include "mpsavm.h"
#include "mpsacl.h"
#include "mpscamc.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpslib.h"
#include "mpstd.h"

/* Compile-time checks, written as array sizes so that C89 accepts them. */
typedef char mps_check_res_ok[MPS_RES_OK == 0 ? 1 : -1];
typedef char mps_check_res_param[MPS_RES_PARAM == 8 ? 1 : -1];
typedef char mps_check_res_limit[_mps_MPS_RES_LIMIT == 9 ? 1 : -1];
typedef char mps_check_word[sizeof(mps_word_t) == sizeof(void *) ? 1 : -1];
typedef char mps_check_word_width[sizeof(mps_word_t) * CHAR_BIT == MPS_WORD_WIDTH ? 1 : -1];
typedef char mps_check_t_word[sizeof(MPS_T_WORD) == sizeof(mps_word_t) ? 1 : -1];
typedef char mps_check_word_shift[(1 << MPS_WORD_SHIFT) == MPS_WORD_WIDTH ? 1 : -1];
typedef char mps_check_sac_limit[MPS_SAC_CLASS_LIMIT == 8 ? 1 : -1];
typedef char mps_check_args_max[MPS_ARGS_MAX == 32 ? 1 : -1];
typedef char mps_check_ld[sizeof(mps_ld_s) == 2 * sizeof(mps_word_t) ? 1 : -1];
typedef char mps_check_message_fin[mps_message_type_finalization() == 0 ? 1 : -1];
typedef char mps_check_message_gc[mps_message_type_gc() == 1 ? 1 : -1];
typedef char mps_check_message_start[mps_message_type_gc_start() == 2 ? 1 : -1];

#if !defined(MPS_OS_LI) && !defined(MPS_OS_FR) && !defined(MPS_OS_XC) && !defined(MPS_OS_W3)
#error "mpstd.h defines no MPS_OS_*"
#endif

static mps_res_t check_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit)
{
  (void)ss;
  (void)base;
  (void)limit;
  return MPS_RES_OK;
}

static mps_addr_t check_skip(mps_addr_t addr) { return addr; }

static void check_copy(mps_addr_t old, mps_addr_t new_)
{
  (void)old;
  (void)new_;
}

static mps_addr_t check_isfwd(mps_addr_t addr) { return addr; }

static void check_pad(mps_addr_t addr, size_t size)
{
  (void)addr;
  (void)size;
}

static void check_extended(mps_arena_t arena, void *base, size_t size)
{
  (void)arena;
  (void)base;
  (void)size;
}

/* Positional initialisers, as clients write them: member order matters. */
static struct mps_fmt_A_s check_fmt_A = {
  MPS_PF_ALIGN, &check_scan, &check_skip, &check_copy, &check_copy, &check_isfwd, &check_pad
};
static mps_fmt_B_s check_fmt_B = {
  MPS_PF_ALIGN, &check_scan, &check_skip, &check_copy, &check_copy, &check_isfwd, &check_pad,
  &check_skip
};
static mps_fmt_auto_header_s check_fmt_ah = {
  MPS_PF_ALIGN, &check_scan, &check_skip, &check_copy, &check_isfwd, &check_pad, 16
};
static mps_fmt_fixed_s check_fmt_fixed = {
  MPS_PF_ALIGN, &check_scan, &check_copy, &check_isfwd, &check_pad
};
static struct mps_pool_debug_option_s check_debug = {"fencepost", 9, "free", 4};
static mps_gen_param_s check_gens[2] = {{6000, 0.90}, {8000, 0.65}};
static mps_scan_tag_s check_tag = {0x7, 0x1};

mps_res_t mps_check_headers(mps_arena_t arena, mps_pool_t pool, mps_sac_t sac, size_t size);

mps_res_t mps_check_headers(mps_arena_t arena, mps_pool_t pool, mps_sac_t sac, size_t size)
{
  mps_res_t res = MPS_RES_OK;
  mps_addr_t p = NULL;
  mps_pool_t found = NULL;
  mps_arena_t cl_arena;
  mps_sac_t new_sac;
  mps_ap_s ap;
  mps_ss_s ss;
  mps_ld_s ld;
  _mps_sac_freelist_block_s *freelist;
  mps_sac_classes_s classes[2] = {{16, 100, 3}, {64, 10, 1}};
  mps_lib_assert_fail_t old_handler;
  mps_clock_t started;
  char buffer[16];
  mps_fmt_A_t fmt_A_ptr = &check_fmt_A;
  mps_fmt_B_t fmt_B_ptr = &check_fmt_B;
  mps_class_t deprecated_class = mps_class_mfs();
  mps_label_t label = 0;
  mps_rm_t rm = 0;
  mps_message_type_t message_type = 0;
  mps_message_t message = NULL;
  mps_clock_t posted = 0;
  mps_align_t align = MPS_PF_ALIGN;

  MPS_BEGIN
    ap.init = ap.alloc = ap.limit = NULL;
    ss._zs = ss._w = ss._ufs = 0;
    ld._epoch = ld._rs = 0;
  MPS_END;

  /* Every mps.h key, split over two lists because each holds at most
   * MPS_ARGS_MAX - 1 arguments; the nested block needs its own name. */
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GRAIN_SIZE, (size_t)4096);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_ZONED, 1);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_EXTENDED, (mps_fun_t)&check_extended);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_CONTRACTED, (mps_fun_t)&check_extended);
    MPS_ARGS_ADD(args, MPS_KEY_COMMIT_LIMIT, size);
    MPS_ARGS_ADD(args, MPS_KEY_SPARE_COMMIT_LIMIT, size);
    MPS_ARGS_ADD(args, MPS_KEY_SPARE, 0.5);
    MPS_ARGS_ADD(args, MPS_KEY_PAUSE_TIME, 0.1);
    MPS_ARGS_ADD(args, MPS_KEY_VMW3_TOP_DOWN, 0);
    res = mps_arena_create_k(&arena, mps_arena_class_vm(), args);
    MPS_ARGS_BEGIN(cl_args) {
      MPS_ARGS_ADD(cl_args, MPS_KEY_ARENA_CL_BASE, p);
      MPS_ARGS_ADD(cl_args, MPS_KEY_ARENA_SIZE, size);
      MPS_ARGS_DONE(cl_args);
      res = mps_arena_create_k(&cl_arena, mps_arena_class_cl(), cl_args);
    } MPS_ARGS_END(cl_args);
  } MPS_ARGS_END(args);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, (mps_fmt_t)NULL);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, (mps_chain_t)NULL);
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 1u);
    MPS_ARGS_ADD(args, MPS_KEY_RANK, (mps_rank_t)1);
    MPS_ARGS_ADD(args, MPS_KEY_EXTEND_BY, size);
    MPS_ARGS_ADD(args, MPS_KEY_LARGE_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MIN_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MEAN_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MAX_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_ALIGN, align);
    MPS_ARGS_ADD(args, MPS_KEY_INTERIOR, 0);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_HEADER_SIZE, (size_t)0);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, &check_scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, &check_skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, &check_copy);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, &check_isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, &check_pad);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_CLASS, &check_skip);
    MPS_ARGS_ADD(args, MPS_KEY_AP_HASH_ARRAYS, 1);
    MPS_ARGS_ADD(args, MPS_KEY_POOL_DEBUG_OPTIONS, &check_debug);
    MPS_ARGS_ADD(args, MPS_KEY_MFS_UNIT_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_SLOT_HIGH, 0);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_ARENA_HIGH, 0);
    MPS_ARGS_ADD(args, MPS_KEY_MVFF_FIRST_FIT, 1);
    MPS_ARGS_ADD_FIELD(args, MPS_KEY_SPARE, d, 0.75);
    res = mps_pool_create_k(&pool, arena, mps_class_mvff(), args);
  } MPS_ARGS_END(args);

  res = mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none);
  res = mps_arena_create(&arena, mps_arena_class_vm(), (size_t)1 << 20);
  res = mps_arena_extend(cl_arena, p, size);
  res = mps_arena_vm_growth(arena, size, size);
  res = mps_arena_commit_limit_set(arena, mps_arena_commit_limit(arena));
  mps_arena_spare_set(arena, mps_arena_spare(arena));
  mps_arena_spare_commit_limit_set(arena, mps_arena_spare_commit_limit(arena));
  size = mps_arena_reserved(arena) + mps_arena_committed(arena) + mps_arena_spare_committed(arena);

  res = mps_pool_create(&pool, arena, mps_class_mfs(), (size_t)65536, (size_t)32);
  res = mps_pool_create(&pool, arena, mps_class_mvff(), (size_t)65536, (size_t)32,
                        (mps_align_t)8, (mps_bool_t)0, (mps_bool_t)0, (mps_bool_t)1);
  size = mps_pool_free_size(pool) + mps_pool_total_size(pool) + mps_mvff_free_size(pool) +
         mps_mvff_size(pool);
  if (mps_arena_has_addr(arena, p) && mps_addr_pool(&found, arena, p))
    pool = found;

  res = mps_alloc(&p, pool, size);
  mps_free(pool, p, size);

  res = mps_sac_create(&new_sac, pool, 2, classes);
  res = mps_sac_alloc(&p, new_sac, size, 0);
  mps_sac_free(new_sac, p, size);
  mps_sac_flush(new_sac);
  mps_sac_destroy(new_sac);
  MPS_SAC_ALLOC_FAST(res, p, sac, size, 0);
  MPS_SAC_FREE_FAST(sac, p, size);
  MPS_SAC_ALLOC(res, p, sac, size, 0);
  MPS_SAC_FREE(sac, p, size);
  if (res != MPS_RES_OK)
    res = mps_sac_fill(&p, sac, size, 0);
  else
    mps_sac_empty(sac, p, size);
  freelist = &sac->_freelists[0];
  size += freelist->_size + freelist->_count + freelist->_count_max + sac->_middle;
  if (sac->_trapped && freelist->_blocks == NULL)
    size += classes[0].mps_block_size + classes[0].mps_cached_count + classes[0].mps_frequency;

  /* Messages: the type "functions" are constants usable as case labels. */
  mps_message_type_enable(arena, mps_message_type_gc());
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_disable(arena, mps_message_type_finalization());
  while (mps_message_poll(arena) && mps_message_queue_type(&message_type, arena)) {
    if (!mps_message_get(&message, arena, message_type))
      break;
    switch (mps_message_type(arena, message)) {
    case mps_message_type_gc():
      size += mps_message_gc_live_size(arena, message) +
              mps_message_gc_condemned_size(arena, message) +
              mps_message_gc_not_condemned_size(arena, message);
      break;
    case mps_message_type_gc_start():
      if (mps_message_gc_start_why(arena, message) == NULL)
        res = MPS_RES_FAIL;
      break;
    default:
      break;
    }
    posted += mps_message_clock(arena, message);
    mps_message_discard(arena, message);
  }

  mps_pool_destroy(pool);
  mps_arena_destroy(arena);

  old_handler = mps_lib_assert_fail_install(NULL);
  (void)mps_lib_assert_fail_install(old_handler);
  if (res == MPS_RES_FAIL)
    mps_lib_assert_fail(__FILE__, __LINE__, "res != MPS_RES_FAIL");
  (void)mps_lib_fputc('x', mps_lib_stderr);
  if (mps_lib_fputs("text", mps_lib_stdout) == mps_lib_EOF)
    res = MPS_RES_IO;
  (void)(mps_lib_memset)(buffer, 0, sizeof buffer);
  (void)mps_lib_memset(buffer, 0, sizeof buffer);
  (void)mps_lib_memcpy(buffer, "abc", 4);
  if (mps_lib_memcmp(buffer, "abc", 4) != 0)
    res = MPS_RES_FAIL;
  started = mps_clock();
  if (mps_clock() - started > mps_clocks_per_sec())
    res = MPS_RES_LIMIT;
  label = (mps_label_t)mps_lib_telemetry_control();

  size += (size_t)(fmt_A_ptr->align + fmt_B_ptr->align + check_fmt_ah.mps_headerSize +
                   check_fmt_fixed.align + check_gens[0].mps_capacity + check_tag.mask + label +
                   rm + message_type + posted);
  if (deprecated_class == mps_class_mvff() || size == 0 || ap.limit != NULL || ss._ufs != 0 ||
      ld._rs != 0 || check_gens[1].mps_mortality > 1.0 || check_fmt_B.mps_class == NULL)
    res = MPS_RES_UNIMPL;
  return res;
}
