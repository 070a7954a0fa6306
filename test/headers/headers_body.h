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
#include "mpscams.h"
#include "mpscawl.h"
#include "mpsclo.h"
#include "mpscmfs.h"
#include "mpscmvff.h"
#include "mpscmvt.h"
#include "mpscmv2.h"
#include "mpscsnc.h"
#include "mpslib.h"
#include "mpstd.h"

/* Compile-time checks, written as array sizes so that C89 accepts them. */
typedef char mps_check_res_ok[MPS_RES_OK == 0 ? 1 : -1];
typedef char mps_check_res_param[MPS_RES_PARAM == 8 ? 1 : -1];
typedef char mps_check_res_limit[_mps_MPS_RES_LIMIT == 9 ? 1 : -1];
typedef char mps_check_word[sizeof(mps_word_t) == sizeof(void*) ? 1 : -1];
typedef char mps_check_word_width[sizeof(mps_word_t) * CHAR_BIT == MPS_WORD_WIDTH ? 1 : -1];
typedef char mps_check_t_word[sizeof(MPS_T_WORD) == sizeof(mps_word_t) ? 1 : -1];
typedef char mps_check_word_shift[(1 << MPS_WORD_SHIFT) == MPS_WORD_WIDTH ? 1 : -1];
typedef char mps_check_sac_limit[MPS_SAC_CLASS_LIMIT == 8 ? 1 : -1];
typedef char mps_check_args_max[MPS_ARGS_MAX == 32 ? 1 : -1];
typedef char mps_check_ld[sizeof(mps_ld_s) == 2 * sizeof(mps_word_t) ? 1 : -1];
typedef char mps_check_message_fin[mps_message_type_finalization() == 0 ? 1 : -1];
typedef char mps_check_message_gc[mps_message_type_gc() == 1 ? 1 : -1];
typedef char mps_check_message_start[mps_message_type_gc_start() == 2 ? 1 : -1];

/* Client code written for MPS declares its own enumerations with the
 * result-code macros, and no semicolon after _mps_ENUM_DEF (its expansion
 * ends the declaration): an extra one would be an empty declaration, which
 * -pedantic rejects. */
#define check_COLOUR_ENUM(R, X) R(X, RED, "red") R(X, GREEN, "green") R(X, BLUE, "blue")
/* clang-format off */
_mps_ENUM_DEF(check_COLOUR_ENUM, CHECK_COLOUR_)
typedef char mps_check_enum_def[CHECK_COLOUR_BLUE == 2 && _mps_CHECK_COLOUR_LIMIT == 3 ? 1 : -1];
/* clang-format on */

#if !defined(MPS_OS_LI) && !defined(MPS_OS_FR) && !defined(MPS_OS_XC) && !defined(MPS_OS_W3)
#error "mpstd.h defines no MPS_OS_*"
#endif

static mps_res_t check_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  (void)ss;
  (void)base;
  (void)limit;
  return MPS_RES_OK;
}

static mps_addr_t check_skip(mps_addr_t addr) {
  return addr;
}

static mps_addr_t check_find_dependent(mps_addr_t addr) {
  return addr;
}

static void check_copy(mps_addr_t old, mps_addr_t new_) {
  (void)old;
  (void)new_;
}

static mps_addr_t check_isfwd(mps_addr_t addr) {
  return addr;
}

static void check_pad(mps_addr_t addr, size_t size) {
  (void)addr;
  (void)size;
}

static void check_extended(mps_arena_t arena, void* base, size_t size) {
  (void)arena;
  (void)base;
  (void)size;
}

/* Positional initialisers, as clients write them: member order matters. */
static struct mps_fmt_A_s check_fmt_A = {MPS_PF_ALIGN, &check_scan,  &check_skip, &check_copy,
                                         &check_copy,  &check_isfwd, &check_pad};
static mps_fmt_B_s check_fmt_B = {MPS_PF_ALIGN, &check_scan,  &check_skip, &check_copy,
                                  &check_copy,  &check_isfwd, &check_pad,  &check_skip};
static mps_fmt_auto_header_s check_fmt_ah = {MPS_PF_ALIGN, &check_scan, &check_skip, &check_copy,
                                             &check_isfwd, &check_pad,  16};
static mps_fmt_fixed_s check_fmt_fixed = {MPS_PF_ALIGN, &check_scan, &check_copy, &check_isfwd,
                                          &check_pad};
static struct mps_pool_debug_option_s check_debug = {"fencepost", 9, "free", 4};
static mps_gen_param_s check_gens[2] = {{6000, 0.90}, {8000, 0.65}};
static mps_scan_tag_s check_tag = {0x7, 0x1};

mps_res_t mps_check_headers(mps_arena_t arena, mps_pool_t pool, mps_sac_t sac, size_t size);

mps_res_t mps_check_headers(mps_arena_t arena, mps_pool_t pool, mps_sac_t sac, size_t size) {
  mps_res_t res = MPS_RES_OK;
  mps_addr_t p = NULL;
  mps_pool_t found = NULL;
  mps_arena_t cl_arena;
  mps_sac_t new_sac;
  mps_ap_s ap;
  mps_ss_s ss;
  mps_ld_s ld;
  _mps_sac_freelist_block_s* freelist;
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
  mps_word_t telemetry;
  double pause;

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
    }
    MPS_ARGS_END(cl_args);
  }
  MPS_ARGS_END(args);

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
  }
  MPS_ARGS_END(args);

  res = mps_arena_create_k(&arena, mps_arena_class_vm(), mps_args_none);
  res = mps_arena_create(&arena, mps_arena_class_vm(), (size_t)1 << 20);
  res = mps_arena_extend(cl_arena, p, size);
  res = mps_arena_vm_growth(arena, size, size);
  res = mps_arena_commit_limit_set(arena, mps_arena_commit_limit(arena));
  mps_arena_spare_set(arena, mps_arena_spare(arena));
  mps_arena_spare_commit_limit_set(arena, mps_arena_spare_commit_limit(arena));
  size = mps_arena_reserved(arena) + mps_arena_committed(arena) + mps_arena_spare_committed(arena);

  res = mps_pool_create(&pool, arena, mps_class_mfs(), (size_t)65536, (size_t)32);
  res = mps_pool_create(&pool, arena, mps_class_mvff(), (size_t)65536, (size_t)32, (mps_align_t)8,
                        (mps_bool_t)0, (mps_bool_t)0, (mps_bool_t)1);
  size = mps_pool_free_size(pool) + mps_pool_total_size(pool) + mps_mvff_free_size(pool) +
         mps_mvff_size(pool);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ALIGN, align);
    MPS_ARGS_ADD(args, MPS_KEY_MIN_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MEAN_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MAX_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_MVT_RESERVE_DEPTH, (mps_word_t)1024);
    MPS_ARGS_ADD(args, MPS_KEY_MVT_FRAG_LIMIT, 0.3);
    res = mps_pool_create_k(&pool, arena, mps_class_mvt(), args);
  }
  MPS_ARGS_END(args);
  /* The variadic form takes the fragmentation limit as a percentage. */
  res = mps_pool_create(&pool, arena, mps_class_mvt(), (size_t)8, (size_t)32, (size_t)8192,
                        (mps_word_t)1024, (mps_word_t)30);
  size += mps_mvt_free_size(pool) + mps_mvt_size(pool);
  if (mps_arena_has_addr(arena, p) && mps_addr_pool(&found, arena, p)) pool = found;

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
    if (!mps_message_get(&message, arena, message_type)) break;
    switch (mps_message_type(arena, message)) {
      case mps_message_type_gc():
        size += mps_message_gc_live_size(arena, message) +
                mps_message_gc_condemned_size(arena, message) +
                mps_message_gc_not_condemned_size(arena, message);
        mps_message_gc_pauses(arena, message, NULL, NULL, NULL);
        break;
      case mps_message_type_gc_start():
        if (mps_message_gc_start_why(arena, message) == NULL) res = MPS_RES_FAIL;
        mps_message_finalization_ref(&p, arena, message);
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
  if (res == MPS_RES_FAIL) mps_lib_assert_fail(__FILE__, __LINE__, "res != MPS_RES_FAIL");
  (void)mps_lib_fputc('x', mps_lib_stderr);
  if (mps_lib_fputs("text", mps_lib_stdout) == mps_lib_EOF) res = MPS_RES_IO;
  (void)(mps_lib_memset)(buffer, 0, sizeof buffer);
  (void)mps_lib_memset(buffer, 0, sizeof buffer);
  (void)mps_lib_memcpy(buffer, "abc", 4);
  if (mps_lib_memcmp(buffer, "abc", 4) != 0) res = MPS_RES_FAIL;
  started = mps_clock();
  if (mps_clock() - started > mps_clocks_per_sec()) res = MPS_RES_LIMIT;
  label = (mps_label_t)mps_lib_telemetry_control();

  /* Telemetry control, callable before any arena exists. */
  mps_telemetry_set((mps_word_t)1 << 6);
  mps_telemetry_reset((mps_word_t)1 << 6);
  telemetry = mps_telemetry_get();
  label += mps_telemetry_intern("check label");
  mps_telemetry_label(p, label);
  mps_telemetry_flush();
  label += telemetry;

  pause = mps_arena_pause_time(arena);
  mps_arena_pause_time_set(arena, pause);
  mps_pool_check_fenceposts(pool);
  mps_pool_check_free_space(pool);
  if (mps_addr_object(&p, arena, p) == MPS_RES_UNIMPL) res = MPS_RES_UNIMPL;
  mps_arena_postmortem(arena);

  size += (size_t)(fmt_A_ptr->align + fmt_B_ptr->align + check_fmt_ah.mps_headerSize +
                   check_fmt_fixed.align + check_gens[0].mps_capacity + check_tag.mask + label +
                   rm + message_type + posted);
  if (deprecated_class == mps_class_mvff() || size == 0 || ap.limit != NULL || ss._ufs != 0 ||
      ld._rs != 0 || check_gens[1].mps_mortality > 1.0 || check_fmt_B.mps_class == NULL)
    res = MPS_RES_UNIMPL;
  return res;
}

/* The collector's interface: formats, the scan macros, roots, threads,
 * allocation points and their macros, AMS and LO, arena control, walking. */

static mps_res_t check_gc_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  mps_res_t res = MPS_RES_OK;
  MPS_SCAN_BEGIN(ss) {
    mps_addr_t* p;
    for (p = (mps_addr_t*)base; p < (mps_addr_t*)limit; ++p) {
      if (MPS_FIX1(ss, *p)) {
        res = MPS_FIX2(ss, p);
        if (res != MPS_RES_OK) return res;
      }
      res = MPS_FIX12(ss, p);
      if (res != MPS_RES_OK) return res;
      res = MPS_FIX(ss, p);
      if (res != MPS_RES_OK) return res;
    }
  }
  MPS_SCAN_END(ss);
  return res;
}

/* A scanner that only delegates: none of the scan state's locals but the
 * summary is touched, and -Wall must still be quiet. */
static mps_res_t check_fix_call_scan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  mps_res_t res = MPS_RES_OK;
  MPS_SCAN_BEGIN(ss) {
    MPS_FIX_CALL(ss, res = check_gc_scan(ss, base, limit));
  }
  MPS_SCAN_END(ss);
  if (res == MPS_RES_OK) res = mps_fix(ss, (mps_addr_t*)base);
  return res;
}

static mps_res_t check_root_scan(mps_ss_t ss, void* p, size_t s) {
  (void)s;
  return mps_scan_area(ss, p, (char*)p + sizeof(mps_addr_t), NULL);
}

static void check_stepper(mps_addr_t addr, mps_fmt_t fmt, mps_pool_t pool, void* p, size_t s) {
  (void)addr;
  (void)fmt;
  (void)pool;
  (void)p;
  (void)s;
}

static void check_roots_stepper(mps_addr_t* ref, mps_root_t root, void* p, size_t s) {
  (void)ref;
  (void)root;
  (void)p;
  (void)s;
}

static mps_addr_t check_gc_table[4];
static mps_word_t check_gc_area[4];

mps_res_t mps_check_gc_headers(mps_arena_t arena, size_t size);

mps_res_t mps_check_gc_headers(mps_arena_t arena, size_t size) {
  mps_res_t res = MPS_RES_OK;
  mps_fmt_t fmt = NULL;
  mps_chain_t chain = NULL;
  mps_pool_t ams = NULL, lo = NULL, awl = NULL, snc = NULL;
  mps_ap_t ap = NULL;
  mps_frame_t frame = NULL;
  mps_thr_t thread = NULL;
  mps_root_t root = NULL;
  mps_addr_t p = NULL;
  mps_fmt_t found = NULL;
  mps_rank_t ranks[3];
  mps_word_t collections;
  mps_scan_tag_s tag = {0x7, 0x1};
  int cold = 0;

  ranks[0] = mps_rank_ambig();
  ranks[1] = mps_rank_exact();
  ranks[2] = mps_rank_weak();

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, (mps_align_t)MPS_PF_ALIGN);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_HEADER_SIZE, (size_t)0);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, &check_fix_call_scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, &check_skip);
    res = mps_fmt_create_k(&fmt, arena, args);
  }
  MPS_ARGS_END(args);
  res = mps_fmt_create_A(&fmt, arena, &check_fmt_A);
  res = mps_fmt_create_B(&fmt, arena, &check_fmt_B);
  res = mps_fmt_create_auto_header(&fmt, arena, &check_fmt_ah);
  res = mps_fmt_create_fixed(&fmt, arena, &check_fmt_fixed);
  res = mps_chain_create(&chain, arena, 2, check_gens);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
    MPS_ARGS_ADD(args, MPS_KEY_GEN, 0u);
    MPS_ARGS_ADD(args, MPS_KEY_AMS_SUPPORT_AMBIGUOUS, 1);
    res = mps_pool_create_k(&ams, arena, mps_class_ams(), args);
  }
  MPS_ARGS_END(args);
  res = mps_pool_create(&lo, arena, mps_class_lo(), fmt);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_AWL_FIND_DEPENDENT, check_find_dependent);
    res = mps_pool_create_k(&awl, arena, mps_class_awl(), args);
  }
  MPS_ARGS_END(args);
  res = mps_pool_create(&awl, arena, mps_class_awl(), fmt, check_find_dependent);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_weak());
    res = mps_ap_create_k(&ap, awl, args);
  }
  MPS_ARGS_END(args);
  res = mps_finalize(arena, &p);
  res = mps_definalize(arena, &p);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_RANK, mps_rank_ambig());
    res = mps_ap_create_k(&ap, ams, args);
  }
  MPS_ARGS_END(args);
  res = mps_ap_create(&ap, ams, mps_rank_exact());
  res = mps_ap_alloc_pattern_begin(ap, mps_alloc_pattern_ramp());
  res = mps_ap_alloc_pattern_begin(ap, mps_alloc_pattern_ramp_collect_all());
  res = mps_ap_alloc_pattern_end(ap, mps_alloc_pattern_ramp_collect_all());
  res = mps_ap_alloc_pattern_reset(ap);

  do {
    res = mps_reserve(&p, ap, size);
    if (res != MPS_RES_OK) return res;
  } while (!mps_commit(ap, p, size));
  do {
    MPS_RESERVE_BLOCK(res, p, ap, size);
    if (res != MPS_RES_OK) return res;
  } while (!(mps_commit)(ap, p, size));
  res = (mps_reserve)(&p, ap, size);
  if (!mps_ap_trip(ap, p, size)) res = mps_ap_fill(&p, ap, size);
  mps_ap_destroy(ap);

  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    res = mps_pool_create_k(&snc, arena, mps_class_snc(), args);
  }
  MPS_ARGS_END(args);
  res = mps_pool_create(&snc, arena, mps_class_snc(), fmt);
  res = mps_ap_create(&ap, snc, mps_rank_exact());
  res = mps_ap_frame_push(&frame, ap);
  res = (mps_ap_frame_push)(&frame, ap);
  res = mps_ap_frame_pop(ap, frame);
  res = (mps_ap_frame_pop)(ap, frame);
  mps_ap_destroy(ap);
  mps_pool_destroy(snc);

  res = mps_thread_reg(&thread, arena);
  res = mps_root_create_thread(&root, arena, thread, &cold);
  res = mps_root_create_thread_tagged(&root, arena, mps_rank_ambig(), 0, thread,
                                      &mps_scan_area_tagged, 0x7, 0, &cold);
  res = mps_root_create_thread_scanned(&root, arena, mps_rank_ambig(), 0, thread,
                                       &mps_scan_area_tagged_or_zero, &tag, &cold);
  res = mps_root_create_reg(&root, arena, mps_rank_ambig(), 0, thread, mps_stack_scan_ambig, &cold,
                            0);
  res = mps_root_create(&root, arena, ranks[1], 0, &check_root_scan, check_gc_table, 0);
  res = mps_root_create_table(&root, arena, ranks[0], MPS_RM_CONST, check_gc_table, 4);
  res = mps_root_create_table_masked(&root, arena, ranks[1], MPS_RM_PROT, check_gc_table, 4, 7);
  res = mps_root_create_area(&root, arena, ranks[2], MPS_RM_PROT_INNER, check_gc_area,
                             check_gc_area + 4, &mps_scan_area_masked, &tag);
  res = mps_root_create_area_tagged(&root, arena, ranks[1], 0, check_gc_area, check_gc_area + 4,
                                    &mps_scan_area_tagged, 0x7, 0x1);
  res = mps_root_create_fmt(&root, arena, ranks[1], 0, &check_gc_scan, check_gc_area,
                            check_gc_area + 4);
  mps_root_destroy(root);
  mps_thread_dereg(thread);

  mps_arena_park(arena);
  mps_arena_clamp(arena);
  res = mps_arena_collect(arena);
  res = mps_arena_start_collect(arena);
  mps_arena_release(arena);
  if (mps_arena_step(arena, 0.01, 1.0) && mps_arena_busy(arena)) res = MPS_RES_FAIL;
  collections = mps_collections(arena);
  mps_arena_pauses(arena, NULL, NULL, NULL);
  mps_arena_gc_workers_set(arena, 2u);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 2u);
    res = mps_arena_create_k(&arena, mps_arena_class_vm(), args);
  }
  MPS_ARGS_END(args);
  if (mps_addr_fmt(&found, arena, p) && found != fmt) res = MPS_RES_FAIL;
  mps_arena_formatted_objects_walk(arena, &check_stepper, NULL, 0);
  res = mps_pool_walk(ams, &mps_scan_area, NULL);
  mps_arena_roots_walk(arena, &check_roots_stepper, NULL, 0);
  {
    mps_transform_t transform;
    mps_addr_t olds[1], news[1];
    mps_bool_t applied = 0;
    olds[0] = p;
    news[0] = p;
    res = mps_transform_create(&transform, arena);
    res = mps_transform_add_oldnew(transform, olds, news, 1);
    res = mps_transform_apply(&applied, transform);
    if (!applied) res = MPS_RES_FAIL;
    mps_transform_destroy(transform);
  }
  mps_pool_destroy(lo);
  mps_pool_destroy(ams);
  mps_chain_destroy(chain);
  mps_fmt_destroy(fmt);
  return collections == 0 ? res : MPS_RES_OK;
}
