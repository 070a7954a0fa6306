// The C entry points of the collector: formats, chains, threads, roots,
// allocation points, scanning, arena control and walking.
#include <cstdarg>
#include <new>

#include "api/handles.hpp"
#include "arena/buffer.hpp"
#include "base/keys.hpp"
#include "format/format.hpp"
#include "mps.h"
#include "mpscamc.h"
#include "mpscams.h"
#include "mpscawl.h"
#include "mpsclo.h"
#include "mpscsnc.h"
#include "pools/amc/amc.hpp"
#include "pools/ams/ams.hpp"
#include "pools/ams/amsdebug.hpp"
#include "pools/awl/awl.hpp"
#include "pools/lo/lo.hpp"
#include "pools/snc/snc.hpp"
#include "protect/thread.hpp"
#include "shield/shield.hpp"
#include "tracer/autopool.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"
#include "tracer/root.hpp"
#include "tracer/scan.hpp"
#include "tracer/thread.hpp"

using mps::core::Addr;
using mps::core::AutoPool;
using mps::core::Buffer;
using mps::core::Chain;
using mps::core::Collector;
using mps::core::Format;
using mps::core::MutatorThread;
using mps::core::Rank;
using mps::core::Root;
using mps::core::ScanState;
using mps::core::Segment;
using mps::core::Size;
using mps::core::Word;
using namespace mps::api;

namespace {

Format* toFormat(mps_fmt_t f) {
  return reinterpret_cast<Format*>(f);
}
mps_fmt_t toHandle(Format* f) {
  return reinterpret_cast<mps_fmt_t>(f);
}
Chain* toChain(mps_chain_t c) {
  return reinterpret_cast<Chain*>(c);
}
MutatorThread* toThread(mps_thr_t t) {
  return reinterpret_cast<MutatorThread*>(t);
}
Root* toRoot(mps_root_t r) {
  return reinterpret_cast<Root*>(r);
}
Buffer* toBuffer(mps_ap_t ap) {
  return Buffer::of(ap);
}

// Ranks a root or allocation point may name (roots.md): any other value is
// a client error reported by name.
Rank checkedRank(mps_rank_t rank) {
  // Final is the tracer's own rank (for finalization), never a root's.
  MPS_AVER_ALWAYS(rank < mps::core::kRankCount && rank != mps_rank_t(Rank::final) &&
                  "rank is a rank (ambiguous, exact or weak)");
  return Rank(rank);
}

// A request for more than half the address space (the top bit set: a
// negative size converted, or garbage) is no real request and can never be
// met: mps_ap_fill refuses it at once with MPS_RES_RESOURCE, in every build
// (allocation.md: MMQA argerr 59 expects the code, not an assertion), and
// tries no collection for it.
constexpr Size kMaxRequestSize = ~Size(0) >> 1;

void checkMode(mps_rm_t rm) {
  MPS_AVER_ALWAYS((rm & ~(MPS_RM_CONST | MPS_RM_PROT)) == 0 && "root mode is a root mode");
}

template <class T, class... A>
Res newInControl(T** out, Arena* arena, A&&... a) {
  void* p;
  Res res = arena->controlAlloc(&p, sizeof(T));
  if (res != Res::ok) return res;
  *out = new (p) T(static_cast<A&&>(a)...);
  return Res::ok;
}

template <class T>
void deleteInControl(T* object, Arena* arena) {
  object->~T();
  arena->controlFree(object, sizeof(T));
}

// Ends every allocation pattern open on the buffer (allocation.md).
void endPatterns(Buffer* buffer, Collector* collector) {
  for (; buffer->ramps > 0; --buffer->ramps)
    collector->rampEnded(false);
  for (; buffer->rampsCollectAll > 0; --buffer->rampsCollectAll)
    collector->rampEnded(true);
}

}  // namespace

extern "C" {

// Pool classes ------------------------------------------------------------------------

mps_pool_class_t mps_class_ams(void) {
  return toHandle(&mps::core::kPoolClassAMS);
}
mps_pool_class_t mps_class_ams_debug(void) {
  return toHandle(&mps::core::kPoolClassAMSDebug);
}
mps_pool_class_t mps_class_lo(void) {
  return toHandle(&mps::core::kPoolClassLO);
}
mps_pool_class_t mps_class_awl(void) {
  return toHandle(&mps::core::kPoolClassAWL);
}
mps_pool_class_t mps_class_snc(void) {
  return toHandle(&mps::core::kPoolClassSNC);
}

// Finalization (finalization.md) ---------------------------------------------------

mps_res_t mps_finalize(mps_arena_t handle, mps_addr_t* refIO) {
  MPS_AVER_ALWAYS(refIO != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  // The reference is read under the lock: the caller's copy need not be a
  // root while the call is made.
  Addr ref = static_cast<Addr>(*refIO);
  Pool* pool = arena->poolOf(ref);
  MPS_AVER(pool != nullptr && "PoolOfAddr: mps_finalize's block is managed by the arena");
  MPS_AVER((pool == nullptr || mps::core::isCollected(pool)) &&
           "PoolHasAttr(refpool, AttrGC): mps_finalize's block is in an automatic pool");
  if (pool == nullptr || !mps::core::isCollected(pool)) return MPS_RES_PARAM;
  // A registration of anything but an object's client address would later
  // be fixed as an object (copied from the middle of one, in AMC).
  Segment* seg = arena->segmentOf(ref);
  bool isObject = seg != nullptr && seg->isObjectNow(ref);
  MPS_AVER(isObject && "mps_finalize's reference is the address of an object");
  if (!isObject) return MPS_RES_PARAM;
  return toRes(collectorOf(arena)->finalize(ref));
}

mps_res_t mps_definalize(mps_arena_t handle, mps_addr_t* refIO) {
  MPS_AVER_ALWAYS(refIO != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Addr ref = static_cast<Addr>(*refIO);
  MPS_AVER(arena->poolOf(ref) != nullptr &&
           "PoolOfAddr: mps_definalize's block is managed by the arena");
  Res res = collectorOf(arena)->definalize(ref);
  MPS_AVER(res == Res::ok && "mps_definalize's block is registered for finalization");
  return toRes(res);
}

// Ranks -------------------------------------------------------------------------------

mps_rank_t mps_rank_ambig(void) {
  return mps_rank_t(Rank::ambig);
}
mps_rank_t mps_rank_exact(void) {
  return mps_rank_t(Rank::exact);
}
mps_rank_t mps_rank_weak(void) {
  return mps_rank_t(Rank::weak);
}

// Formats -----------------------------------------------------------------------------

mps_res_t mps_fmt_create_k(mps_fmt_t* fmtOut, mps_arena_t handle, mps_arg_s args[]) {
  MPS_AVER_ALWAYS(fmtOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Format* format;
  Res res = newInControl(&format, arena, args);
  if (res != Res::ok) return toRes(res);
  MPS_AVER_ALWAYS(mps::core::isPowerOfTwo(format->alignment) &&
                  "format alignment is a power of two");
  format->arenaLink = arena;
  collectorOf(arena)->addFormat(format);
  *fmtOut = toHandle(format);
  return MPS_RES_OK;
}
mps_pool_class_t mps_class_amc(void) {
  return toHandle(&mps::core::kPoolClassAMC);
}
mps_pool_class_t mps_class_amcz(void) {
  return toHandle(&mps::core::kPoolClassAMCZ);
}

mps_res_t mps_fmt_create_A(mps_fmt_t* fmtOut, mps_arena_t arena, mps_fmt_A_s* a) {
  MPS_AVER_ALWAYS(a != NULL);
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, a->align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, a->scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, a->skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, a->fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, a->isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, a->pad);
    res = mps_fmt_create_k(fmtOut, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

mps_res_t mps_fmt_create_B(mps_fmt_t* fmtOut, mps_arena_t arena, mps_fmt_B_s* b) {
  MPS_AVER_ALWAYS(b != NULL);
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, b->align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, b->scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, b->skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, b->fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, b->isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, b->pad);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_CLASS, b->mps_class);
    res = mps_fmt_create_k(fmtOut, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

mps_res_t mps_fmt_create_auto_header(mps_fmt_t* fmtOut, mps_arena_t arena,
                                     mps_fmt_auto_header_s* h) {
  MPS_AVER_ALWAYS(h != NULL);
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, h->align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, h->scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, h->skip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, h->fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, h->isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, h->pad);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_HEADER_SIZE, h->mps_headerSize);
    res = mps_fmt_create_k(fmtOut, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

mps_res_t mps_fmt_create_fixed(mps_fmt_t* fmtOut, mps_arena_t arena, mps_fmt_fixed_s* f) {
  MPS_AVER_ALWAYS(f != NULL);
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, f->align);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, f->scan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, f->fwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, f->isfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, f->pad);
    res = mps_fmt_create_k(fmtOut, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

void mps_fmt_destroy(mps_fmt_t handle) {
  Format* format = toFormat(handle);
  MPS_API_AVER_SIG(Format, format);
  Arena* arena = static_cast<Arena*>(format->arenaLink);
  ArenaEntry entry(arena);
  MPS_AVERT(Format, format);
  if (format->users != 0)
    mps::core::assertFail(__FILE__, __LINE__,
                          "format is not used by any pool: destroy its pools first");
  collectorOf(arena)->removeFormat(format);
  deleteInControl(format, arena);
}

// Chains --------------------------------------------------------------------------------

mps_res_t mps_chain_create(mps_chain_t* chainOut, mps_arena_t handle, size_t count,
                           mps_gen_param_s* params) {
  MPS_AVER_ALWAYS(chainOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Chain* chain;
  Res res = Chain::create(&chain, collectorOf(arena), count, params);
  if (res != Res::ok) return toRes(res);
  *chainOut = reinterpret_cast<mps_chain_t>(chain);
  return MPS_RES_OK;
}

void mps_chain_destroy(mps_chain_t handle) {
  Chain* chain = toChain(handle);
  MPS_API_AVER_SIG(Chain, chain);
  Arena* arena = chain->collector()->arena();
  ArenaEntry entry(arena);
  MPS_AVER_ALWAYS(chain != collectorOf(arena)->defaultChain() &&
                  "the arena's default chain is not destroyed by the client");
  chain->destroy();
}

// Threads -------------------------------------------------------------------------------

mps_res_t mps_thread_reg(mps_thr_t* thrOut, mps_arena_t handle) {
  MPS_AVER_ALWAYS(thrOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Collector* collector = collectorOf(arena);
  MutatorThread* thread;
  Res res = newInControl(&thread, arena, collector);
  if (res != Res::ok) return toRes(res);
  res = thread->os.initCurrent();
  if (res != Res::ok) {
    deleteInControl(thread, arena);
    return toRes(res);
  }
  collector->addThread(thread);
  *thrOut = reinterpret_cast<mps_thr_t>(thread);
  return MPS_RES_OK;
}

void mps_thread_dereg(mps_thr_t handle) {
  MutatorThread* thread = toThread(handle);
  MPS_API_AVER_SIG(MutatorThread, thread);
  Arena* arena = thread->collector->arena();
  ArenaEntry entry(arena);
  // Its roots would go on scanning a stack the collector no longer knows
  // (threads.md): the report names the thread and how many roots it has.
  if (thread->roots != 0)
    mps::core::AssertReport()
        .text("thread has no thread roots: destroy its roots before deregistering it")
        .in(__func__, "thread", thread)
        .text(" has ")
        .number(thread->roots)
        .text(thread->roots == 1 ? " thread root)" : " thread roots)")
        .fail(__FILE__, __LINE__);
  thread->collector->removeThread(thread);
  thread->os.finish();
  deleteInControl(thread, arena);
}

// Scanning ------------------------------------------------------------------------------

mps_res_t _mps_fix2(mps_ss_t ss, mps_addr_t* refIO) {
  return toRes(ScanState::of(ss)->fix2(reinterpret_cast<Addr*>(refIO)));
}

mps_res_t mps_fix(mps_ss_t ss, mps_addr_t* refIO) {
  return toRes(ScanState::of(ss)->fix12(reinterpret_cast<Addr*>(refIO)));
}

mps_res_t mps_scan_area(mps_ss_t ss, void* base, void* limit, void*) {
  return toRes(mps::core::scanAreaWords(ScanState::of(ss), static_cast<Word*>(base),
                                        static_cast<Word*>(limit)));
}

static mps_res_t scanTagged(mps_ss_t ss, void* base, void* limit, void* closure,
                            mps::core::TagFilter filter) {
  MPS_AVER_ALWAYS(closure != NULL);
  auto* tag = static_cast<mps_scan_tag_s*>(closure);
  return toRes(mps::core::scanAreaMasked(ScanState::of(ss), static_cast<Word*>(base),
                                         static_cast<Word*>(limit), tag->mask, tag->pattern,
                                         filter));
}

mps_res_t mps_scan_area_masked(mps_ss_t ss, void* base, void* limit, void* closure) {
  return scanTagged(ss, base, limit, closure, mps::core::TagFilter::all);
}

mps_res_t mps_scan_area_tagged(mps_ss_t ss, void* base, void* limit, void* closure) {
  return scanTagged(ss, base, limit, closure, mps::core::TagFilter::pattern);
}

mps_res_t mps_scan_area_tagged_or_zero(mps_ss_t ss, void* base, void* limit, void* closure) {
  return scanTagged(ss, base, limit, closure, mps::core::TagFilter::patternOrZero);
}

// Roots ---------------------------------------------------------------------------------

static Res makeRoot(Root** rootOut, Arena* arena, Root::Kind kind, Rank rank, mps_rm_t rm) {
  return newInControl(rootOut, arena, collectorOf(arena), kind, rank, rm);
}

static mps_res_t registerRoot(mps_root_t* rootOut, Arena* arena, Root* root) {
  MPS_AVERT(Root, root);
  collectorOf(arena)->addRoot(root);
  *rootOut = reinterpret_cast<mps_root_t>(root);
  return MPS_RES_OK;
}

static Root::Builtin builtinOf(mps_area_scan_t scan) {
  if (scan == mps_scan_area) return Root::Builtin::words;
  if (scan == mps_scan_area_tagged) return Root::Builtin::tagged;
  if (scan == mps_scan_area_tagged_or_zero) return Root::Builtin::taggedOrZero;
  return Root::Builtin::none;
}

static void checkArea(void* base, void* limit) {
  MPS_AVER_ALWAYS(base != NULL && "root base is not null");
  MPS_AVER_ALWAYS(mps::core::isAligned(base, sizeof(Word)) && "root base is word aligned");
  MPS_AVER_ALWAYS(mps::core::isAligned(limit, sizeof(Word)) && "root limit is word aligned");
  MPS_AVER_ALWAYS(base < limit && "root base is below its limit");
}

mps_res_t mps_root_create_area(mps_root_t* rootOut, mps_arena_t handle, mps_rank_t rank,
                               mps_rm_t rm, void* base, void* limit, mps_area_scan_t scanArea,
                               void* closure) {
  MPS_AVER_ALWAYS(rootOut != NULL);
  Rank r = checkedRank(rank);
  checkMode(rm);
  checkArea(base, limit);
  MPS_AVER_ALWAYS(scanArea != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Root* root;
  Res res = makeRoot(&root, arena, Root::Kind::area, r, rm);
  if (res != Res::ok) return toRes(res);
  root->base = base;
  root->limit = limit;
  root->areaScan = scanArea;
  root->closure = closure;
  root->builtin = scanArea == mps_scan_area ? Root::Builtin::words : Root::Builtin::none;
  return registerRoot(rootOut, arena, root);
}

mps_res_t mps_root_create_area_tagged(mps_root_t* rootOut, mps_arena_t handle, mps_rank_t rank,
                                      mps_rm_t rm, void* base, void* limit,
                                      mps_area_scan_t scanArea, mps_word_t mask,
                                      mps_word_t pattern) {
  MPS_AVER_ALWAYS(rootOut != NULL);
  Rank r = checkedRank(rank);
  checkMode(rm);
  checkArea(base, limit);
  MPS_AVER_ALWAYS(scanArea != NULL);
  MPS_AVER_ALWAYS((pattern & ~mask) == 0 && "tag pattern lies within the mask");
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Root* root;
  Res res = makeRoot(&root, arena, Root::Kind::areaTagged, r, rm);
  if (res != Res::ok) return toRes(res);
  root->base = base;
  root->limit = limit;
  root->areaScan = scanArea;
  root->tag = mps_scan_tag_s{mask, pattern};
  root->closure = &root->tag;
  root->builtin = builtinOf(scanArea);
  return registerRoot(rootOut, arena, root);
}

mps_res_t mps_root_create_table(mps_root_t* rootOut, mps_arena_t arena, mps_rank_t rank,
                                mps_rm_t rm, mps_addr_t* base, size_t count) {
  MPS_AVER_ALWAYS(base != NULL && count > 0);
  return mps_root_create_area(rootOut, arena, rank, rm, base, base + count, mps_scan_area, NULL);
}

mps_res_t mps_root_create_table_masked(mps_root_t* rootOut, mps_arena_t arena, mps_rank_t rank,
                                       mps_rm_t rm, mps_addr_t* base, size_t count,
                                       mps_word_t mask) {
  MPS_AVER_ALWAYS(base != NULL && count > 0);
  return mps_root_create_area_tagged(rootOut, arena, rank, rm, base, base + count,
                                     mps_scan_area_tagged, mask, 0);
}

mps_res_t mps_root_create_fmt(mps_root_t* rootOut, mps_arena_t handle, mps_rank_t rank, mps_rm_t rm,
                              mps_fmt_scan_t scan, mps_addr_t base, mps_addr_t limit) {
  MPS_AVER_ALWAYS(rootOut != NULL && scan != NULL);
  Rank r = checkedRank(rank);
  checkMode(rm);
  MPS_AVER_ALWAYS(base != NULL && base < limit && "root base is below its limit");
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Root* root;
  Res res = makeRoot(&root, arena, Root::Kind::formatted, r, rm);
  if (res != Res::ok) return toRes(res);
  root->base = base;
  root->limit = limit;
  root->formatScan = scan;
  return registerRoot(rootOut, arena, root);
}

mps_res_t mps_root_create(mps_root_t* rootOut, mps_arena_t handle, mps_rank_t rank, mps_rm_t rm,
                          mps_root_scan_t scan, void* p, size_t s) {
  MPS_AVER_ALWAYS(rootOut != NULL && scan != NULL);
  Rank r = checkedRank(rank);
  MPS_AVER_ALWAYS(rm == 0 && "root mode is 0 for a function root");
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Root* root;
  Res res = makeRoot(&root, arena, Root::Kind::function, r, rm);
  if (res != Res::ok) return toRes(res);
  root->functionScan = scan;
  root->functionP = p;
  root->functionS = s;
  return registerRoot(rootOut, arena, root);
}

static mps_res_t createThreadRoot(mps_root_t* rootOut, mps_arena_t handle, mps_rank_t rank,
                                  mps_rm_t rm, mps_thr_t thr, mps_area_scan_t scanArea,
                                  void* closure, bool tagged, mps_word_t mask, mps_word_t pattern,
                                  void* cold) {
  MPS_AVER_ALWAYS(rootOut != NULL && scanArea != NULL);
  Rank r = checkedRank(rank);
  MPS_AVER_ALWAYS(r == Rank::ambig && "a thread root is ambiguous");
  MPS_AVER_ALWAYS(rm == 0 && "root mode is 0 for a thread root");
  MPS_AVER_ALWAYS(cold != NULL && mps::core::isAligned(cold, sizeof(Word)) &&
                  "the cold end of a thread root is a word-aligned address");
  MutatorThread* thread = toThread(thr);
  MPS_API_AVER_SIG(MutatorThread, thread);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  MPS_AVER_ALWAYS(thread->collector == collectorOf(arena) &&
                  "the thread is registered with the root's arena");
  Root* root;
  Res res = makeRoot(&root, arena, Root::Kind::thread, r, rm);
  if (res != Res::ok) return toRes(res);
  root->thread = thread;
  root->coldEnd = cold;
  root->areaScan = scanArea;
  if (tagged) {
    root->tag = mps_scan_tag_s{mask, pattern};
    root->closure = &root->tag;
    root->builtin = builtinOf(scanArea);
  } else {
    root->closure = closure;
    root->builtin = scanArea == mps_scan_area ? Root::Builtin::words : Root::Builtin::none;
  }
  ++thread->roots;
  return registerRoot(rootOut, arena, root);
}

mps_res_t mps_root_create_thread(mps_root_t* rootOut, mps_arena_t arena, mps_thr_t thr,
                                 void* cold) {
  return createThreadRoot(rootOut, arena, mps_rank_ambig(), 0, thr, mps_scan_area_tagged, NULL,
                          true, sizeof(mps_word_t) - 1, 0, cold);
}

mps_res_t mps_root_create_thread_tagged(mps_root_t* rootOut, mps_arena_t arena, mps_rank_t rank,
                                        mps_rm_t rm, mps_thr_t thr, mps_area_scan_t scanArea,
                                        mps_word_t mask, mps_word_t pattern, void* cold) {
  return createThreadRoot(rootOut, arena, rank, rm, thr, scanArea, NULL, true, mask, pattern, cold);
}

mps_res_t mps_root_create_thread_scanned(mps_root_t* rootOut, mps_arena_t arena, mps_rank_t rank,
                                         mps_rm_t rm, mps_thr_t thr, mps_area_scan_t scanArea,
                                         void* closure, void* cold) {
  return createThreadRoot(rootOut, arena, rank, rm, thr, scanArea, closure, false, 0, 0, cold);
}

mps_res_t mps_stack_scan_ambig(mps_ss_t, mps_thr_t, void*, size_t) {
  mps::core::assertFail(__FILE__, __LINE__,
                        "mps_stack_scan_ambig is only passed to mps_root_create_reg");
}

mps_res_t mps_root_create_reg(mps_root_t* rootOut, mps_arena_t arena, mps_rank_t rank, mps_rm_t rm,
                              mps_thr_t thr, mps_reg_scan_t regScan, void* p, size_t) {
  MPS_AVER_ALWAYS(regScan == mps_stack_scan_ambig && "reg_scan is mps_stack_scan_ambig");
  return createThreadRoot(rootOut, arena, rank, rm, thr, mps_scan_area_tagged, NULL, true,
                          sizeof(mps_word_t) - 1, 0, p);
}

void mps_root_destroy(mps_root_t handle) {
  Root* root = toRoot(handle);
  MPS_API_AVER_SIG(Root, root);
  Arena* arena = root->collector()->arena();
  ArenaEntry entry(arena);
  MPS_AVERT(Root, root);
  if (root->kind() == Root::Kind::thread) --root->thread->roots;
  collectorOf(arena)->removeRoot(root);
  deleteInControl(root, arena);
}

// Allocation points ------------------------------------------------------------------------

mps_res_t mps_ap_create_k(mps_ap_t* apOut, mps_pool_t handle, mps_arg_s args[]) {
  MPS_AVER_ALWAYS(apOut != NULL);
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  Arena* arena = pool->arena();
  ArenaEntry entry(arena);
  MPS_AVERT(Pool, pool);
  MPS_AVER_ALWAYS(pool->poolClass()->has(mps::core::kPoolAttrBuffer) &&
                  "pool class supports allocation points");
  Buffer* buffer;
  Res res = newInControl(&buffer, arena, pool);
  if (res != Res::ok) return toRes(res);
  res = pool->bufferInit(buffer, args);
  if (res != Res::ok) {
    deleteInControl(buffer, arena);
    return toRes(res);
  }
  pool->addBuffer(buffer);
  *apOut = buffer->handle();
  return MPS_RES_OK;
}

mps_res_t mps_ap_create_v(mps_ap_t* apOut, mps_pool_t handle, va_list varargs) {
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  mps_arg_s args[mps::core::kPoolVarargsMax + 1];
  args[0].key = MPS_KEY_ARGS_END;
  if (pool->poolClass()->apVarargs != nullptr) pool->poolClass()->apVarargs(args, varargs);
  return mps_ap_create_k(apOut, handle, args);
}

mps_res_t mps_ap_create(mps_ap_t* apOut, mps_pool_t pool, ...) {
  va_list varargs;
  va_start(varargs, pool);
  mps_res_t res = mps_ap_create_v(apOut, pool, varargs);
  va_end(varargs);
  return res;
}

void mps_ap_destroy(mps_ap_t ap) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  Pool* pool = buffer->pool;
  Arena* arena = pool->arena();
  ArenaEntry entry(arena);
  MPS_AVERT(Buffer, buffer);
  MPS_AVER_ALWAYS(!buffer->hasReservation() &&
                  "allocation point has no reserved block: commit it before destroying the "
                  "allocation point");
  // Patterns left open end with the allocation point (no collection is
  // started from here: a destroy does no collection work).
  endPatterns(buffer, collectorOf(arena));
  buffer->empty();
  pool->bufferFinish(buffer);
  pool->removeBuffer(buffer);
  deleteInControl(buffer, arena);
}

mps_res_t mps_ap_fill(mps_addr_t* pOut, mps_ap_t ap, size_t size) {
  MPS_AVER_ALWAYS(pOut != NULL && ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  Arena* arena = buffer->pool->arena();
  ArenaEntry entry(arena);
  if (size > kMaxRequestSize) return MPS_RES_RESOURCE;
  Collector* collector = collectorOf(arena);
  // The main place where collection work gets done (chains.md).
  collector->poll();
  Addr p;
  Res res = buffer->fill(&p, size);
  if ((res == Res::commitLimit || res == Res::memory || res == Res::resource) &&
      !collector->isClamped() && !collector->collecting()) {
    // Short of memory: a full collection may free enough (chains.md,
    // "dynamic criterion"); the arena stays unclamped.
    if (collector->collect("The arena is short of memory.") == Res::ok) {
      collector->release();
      res = buffer->fill(&p, size);
    } else {
      collector->release();
    }
  }
  if (res != Res::ok) return toRes(res);
  *pOut = p;
  return MPS_RES_OK;
}

mps_bool_t mps_ap_trip(mps_ap_t ap, mps_addr_t p, size_t size) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  ArenaEntry entry(buffer->pool->arena());
  return buffer->trip(static_cast<Addr>(p), size) ? 1 : 0;
}

mps_res_t(mps_reserve)(mps_addr_t* pOut, mps_ap_t ap, size_t size) {
  MPS_AVER_ALWAYS(pOut != NULL && ap != NULL);
  MPS_API_AVER_SIG(Buffer, toBuffer(ap));
  MPS_AVER_ALWAYS(ap->init == ap->alloc && "reserve: the previous reservation was committed");
  MPS_AVER_ALWAYS(size > 0 && "reserve: size is not zero");
  // The inline macro cannot afford this test (its fill slow path makes it);
  // the function can, and catches a misaligned size before it corrupts the
  // pool's record of object boundaries.
  MPS_AVER_ALWAYS(mps::core::isAligned(Size(size), toBuffer(ap)->pool->alignment()) &&
                  "reserve: size is a multiple of the pool's alignment");
  return mps_reserve(pOut, ap, size);
}

mps_bool_t(mps_commit)(mps_ap_t ap, mps_addr_t p, size_t size) {
  MPS_AVER_ALWAYS(ap != NULL && p != NULL);
  MPS_API_AVER_SIG(Buffer, toBuffer(ap));
  MPS_AVER_ALWAYS(size > 0 && "commit: size is not zero");
  MPS_AVER_ALWAYS(p == ap->init && static_cast<char*>(p) + size == ap->alloc &&
                  "commit: the block committed is the one reserved");
  return mps_commit(ap, p, size);
}

mps_res_t(mps_ap_frame_push)(mps_frame_t* frameOut, mps_ap_t ap) {
  MPS_AVER_ALWAYS(frameOut != NULL && ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  // Between reserve and commit: a result code, not an assertion
  // (allocation.md; clients test for it).
  if (ap->init != ap->alloc) return MPS_RES_FAIL;
  if (!buffer->pool->poolClass()->has(mps::core::kPoolAttrFrames)) {
    // A hint the class ignores: the allocation point's position, opaque to
    // the client, and no lock.
    *frameOut = reinterpret_cast<mps_frame_t>(ap->init);
    return MPS_RES_OK;
  }
  ArenaEntry entry(buffer->pool->arena());
  MPS_AVERT(Buffer, buffer);
  return toRes(buffer->pool->framePush(buffer, frameOut));
}

mps_res_t(mps_ap_frame_pop)(mps_ap_t ap, mps_frame_t frame) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  if (ap->init != ap->alloc) return MPS_RES_FAIL;
  if (!buffer->pool->poolClass()->has(mps::core::kPoolAttrFrames)) return MPS_RES_OK;
  ArenaEntry entry(buffer->pool->arena());
  MPS_AVERT(Buffer, buffer);
  return toRes(buffer->pool->framePop(buffer, frame));
}

// Allocation patterns (allocation.md) --------------------------------------------------

namespace {

// The pattern handles are the addresses of these: constant and distinct.
const char rampPattern = 0;
const char rampCollectAllPattern = 0;

mps_alloc_pattern_t patternHandle(const char* token) {
  return reinterpret_cast<mps_alloc_pattern_t>(const_cast<char*>(token));
}

// The allocation point's count of open patterns of the kind `pattern`
// names; whether the kind is ramp_collect_all in *collectAllOut.
unsigned* patternCount(Buffer* buffer, mps_alloc_pattern_t pattern, bool* collectAllOut) {
  *collectAllOut = pattern == patternHandle(&rampCollectAllPattern);
  MPS_AVER_ALWAYS((*collectAllOut || pattern == patternHandle(&rampPattern)) &&
                  "the allocation pattern is mps_alloc_pattern_ramp() or "
                  "mps_alloc_pattern_ramp_collect_all()");
  return *collectAllOut ? &buffer->rampsCollectAll : &buffer->ramps;
}

}  // namespace

mps_alloc_pattern_t mps_alloc_pattern_ramp(void) {
  return patternHandle(&rampPattern);
}

mps_alloc_pattern_t mps_alloc_pattern_ramp_collect_all(void) {
  return patternHandle(&rampCollectAllPattern);
}

mps_res_t mps_ap_alloc_pattern_begin(mps_ap_t ap, mps_alloc_pattern_t pattern) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  Arena* arena = buffer->pool->arena();
  ArenaEntry entry(arena);
  bool collectAll;
  ++*patternCount(buffer, pattern, &collectAll);
  collectorOf(arena)->rampBegun();
  return MPS_RES_OK;
}

mps_res_t mps_ap_alloc_pattern_end(mps_ap_t ap, mps_alloc_pattern_t pattern) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  Arena* arena = buffer->pool->arena();
  ArenaEntry entry(arena);
  bool collectAll;
  unsigned* count = patternCount(buffer, pattern, &collectAll);
  if (*count == 0) return MPS_RES_FAIL;  // no matching begin
  --*count;
  Collector* collector = collectorOf(arena);
  collector->rampEnded(collectAll);
  // The deferred full collection, if this was the last ramp.
  collector->poll();
  return MPS_RES_OK;
}

mps_res_t mps_ap_alloc_pattern_reset(mps_ap_t ap) {
  MPS_AVER_ALWAYS(ap != NULL);
  Buffer* buffer = toBuffer(ap);
  MPS_API_AVER_SIG(Buffer, buffer);
  Arena* arena = buffer->pool->arena();
  ArenaEntry entry(arena);
  Collector* collector = collectorOf(arena);
  endPatterns(buffer, collector);
  collector->poll();
  return MPS_RES_OK;
}

// Arena control ----------------------------------------------------------------------------

mps_res_t mps_arena_collect(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return toRes(collectorOf(arena)->collect("Client requests: immediate full collection."));
}

mps_res_t mps_arena_start_collect(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  // The collection's first pause runs now; the polls of allocation, steps,
  // the read barrier and park or collect do the rest.
  return toRes(collectorOf(arena)->startCollect("Client requests: start full collection."));
}

mps_bool_t mps_arena_step(mps_arena_t handle, double interval, double multiplier) {
  MPS_AVER_ALWAYS(interval >= 0.0 && multiplier >= 0.0);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return collectorOf(arena)->step(interval, multiplier) ? 1 : 0;
}

void mps_arena_clamp(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  collectorOf(arena)->clamp();
}

void mps_arena_park(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  collectorOf(arena)->park();
}

void mps_arena_release(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Collector* collector = collectorOf(arena);
  collector->release();
  collector->poll();
}

mps_bool_t mps_arena_busy(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  MPS_API_AVER_SIG(Arena, arena);
  Collector* collector = Collector::of(arena);
  return collector != nullptr && collector->collecting() ? 1 : 0;
}

mps_word_t mps_collections(mps_arena_t handle) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  return collectorOf(arena)->collections();
}

void mps_arena_pauses(mps_arena_t handle, size_t* countOut, double* totalOut, double* maxOut) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  const mps::core::PauseSummary& p = collectorOf(arena)->pauseTotals();
  if (countOut != nullptr) *countOut = p.count;
  if (totalOut != nullptr) *totalOut = p.seconds;
  if (maxOut != nullptr) *maxOut = p.maxSeconds;
}

void mps_arena_gc_workers_set(mps_arena_t handle, unsigned workers) {
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  // The collection in progress holds its workers.
  Collector* collector = collectorOf(arena);
  (void)collector->finishCollection();
  collector->setWorkers(workers);
}

mps_bool_t mps_addr_fmt(mps_fmt_t* fmtOut, mps_arena_t handle, mps_addr_t addr) {
  MPS_AVER_ALWAYS(fmtOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  Segment* seg = arena->segmentOf(addr);
  if (seg == nullptr || !mps::core::isAutoPool(seg->pool)) return 0;
  Format* format = static_cast<AutoPool*>(seg->pool)->format();
  if (format == nullptr) return 0;
  *fmtOut = toHandle(format);
  return 1;
}

mps_res_t mps_addr_object(mps_addr_t* pOut, mps_arena_t handle, mps_addr_t addr) {
  MPS_AVER_ALWAYS(pOut != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  // arena.md: FAIL when no object holds the address (outside the arena, in
  // memory no pool owns, or in an AMC pool but in no object or in one that
  // has moved); UNIMPL when a pool holds it but its class cannot answer,
  // whatever the address (a manual pool's block or free space alike), so the
  // answer does not depend on the pool's layout.
  Pool* pool = arena->poolOf(addr);
  if (pool == nullptr) return MPS_RES_FAIL;
  const mps::core::PoolClass* c = pool->poolClass();
  if (c != &mps::core::kPoolClassAMC && c != &mps::core::kPoolClassAMCZ) return MPS_RES_UNIMPL;
  Segment* seg = arena->segmentOf(addr);
  Addr client;
  if (seg == nullptr ||
      !static_cast<mps::core::AMCSegment*>(seg)->objectContaining(static_cast<Addr>(addr), &client))
    return MPS_RES_FAIL;
  *pOut = client;
  return MPS_RES_OK;
}

// Walking ----------------------------------------------------------------------------------

namespace {

struct StepperClosure {
  mps_formatted_objects_stepper_t f;
  Format* format;
  Pool* pool;
  void* p;
  size_t s;
};

}  // namespace

void mps_arena_formatted_objects_walk(mps_arena_t handle, mps_formatted_objects_stepper_t f,
                                      void* p, size_t s) {
  MPS_AVER_ALWAYS(f != NULL);
  Arena* arena = toArena(handle);
  ArenaEntry entry(arena);
  // walking.md: the heap is walked with no collection in progress (its
  // grey segments are protected against reads, and the read barrier may
  // end the collection and free segments under the walk).
  (void)collectorOf(arena)->finishCollection();
  arena->forEachPool([&](Pool* pool) {
    if (!mps::core::isAutoPool(pool)) return;
    auto* autoPool = static_cast<AutoPool*>(pool);
    if (autoPool->format() == nullptr) return;
    StepperClosure c{f, autoPool->format(), pool, p, s};
    // The stepper only reads (walking.md), which the write barrier allows:
    // segments keep their protection, so a store by another thread during
    // the walk still faults and widens the summary.
    autoPool->forEachSegment([&](Segment* seg) {
      seg->walk(
          [](Segment*, Addr object, void* closure) {
            auto* sc = static_cast<StepperClosure*>(closure);
            sc->f(object, toHandle(sc->format), toHandle(sc->pool), sc->p, sc->s);
          },
          &c);
    });
  });
}

namespace {

struct PoolWalkClosure {
  mps_area_scan_t scanArea;
  void* closure;
  Format* format;
  ScanState* ss;
  mps_res_t res;
};

}  // namespace

mps_res_t mps_pool_walk(mps_pool_t handle, mps_area_scan_t scanArea, void* closure) {
  MPS_AVER_ALWAYS(scanArea != NULL);
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  Arena* arena = pool->arena();
  ArenaEntry entry(arena);
  MPS_AVER_ALWAYS(collectorOf(arena)->isClamped() && "the arena is parked for mps_pool_walk");
  // Clamped, a collection may still be in progress: it ends first (the
  // walk lifts the barrier of every segment it visits).
  (void)collectorOf(arena)->finishCollection();
  if (!mps::core::isAutoPool(pool)) return MPS_RES_OK;
  auto* autoPool = static_cast<AutoPool*>(pool);
  if (autoPool->format() == nullptr) return MPS_RES_OK;
  // A scan state with an empty white set: MPS_FIX1 is always false.
  ScanState ss(arena, nullptr, nullptr);
  PoolWalkClosure c{scanArea, closure, autoPool->format(), &ss, MPS_RES_OK};
  autoPool->forEachSegment([&](Segment* seg) {
    if (c.res != MPS_RES_OK) return;
    // The scanner may store references (walking.md): the segment leaves the
    // barrier (universal summary, unprotected) until a collection scans it
    // again. Lifting the protection only for the walk would miss stores by
    // other threads meanwhile, which the walk does not stop.
    mps::core::Shield::dropBarrier(seg);
    seg->walk(
        [](Segment*, Addr object, void* cl) {
          auto* w = static_cast<PoolWalkClosure*>(cl);
          if (w->res != MPS_RES_OK) return;
          Addr limit = static_cast<Addr>(w->format->skip(object));
          w->res = w->scanArea(w->ss->handle(), object, limit, w->closure);
        },
        &c);
  });
  return c.res;
}

void mps_amc_apply(mps_pool_t handle, mps_amc_apply_stepper_t f, void* p, size_t s) {
  MPS_AVER_ALWAYS(f != NULL);
  Pool* pool = toPool(handle);
  MPS_API_AVER_SIG(Pool, pool);
  Arena* arena = pool->arena();
  ArenaEntry entry(arena);
  MPS_AVER_ALWAYS((pool->poolClass() == &mps::core::kPoolClassAMC ||
                   pool->poolClass() == &mps::core::kPoolClassAMCZ) &&
                  "mps_amc_apply is given an AMC or AMCZ pool");
  // As mps_arena_formatted_objects_walk: no collection in progress.
  (void)collectorOf(arena)->finishCollection();
  struct Apply {
    mps_amc_apply_stepper_t f;
    void* p;
    size_t s;
  } apply{f, p, s};
  // Read-only, like mps_arena_formatted_objects_walk: protection stays.
  static_cast<AutoPool*>(pool)->forEachSegment([&](Segment* seg) {
    seg->walk(
        [](Segment*, Addr object, void* closure) {
          auto* a = static_cast<Apply*>(closure);
          a->f(object, a->p, a->s);
        },
        &apply);
  });
}

}  // extern "C"
