// The collector's C interface, point by point where ams_test.cpp leaves
// gaps: the deprecated format structures and in-band headers, every form of
// the scan protocol (FIX1 and FIX2 apart, FIX_CALL, mps_fix, the area
// scanners), area roots with each scanner, thread roots with a chosen or a
// tagged scanner and the legacy register root, arena control through the C
// functions, GC_WORKERS from the environment, GC messages for a chain
// collection, the allocation-point forms, LO's promise never to scan, and
// random ambiguous words that must neither crash nor resurrect.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpslib.h"
#include "object_format.hpp"
#include "seed.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"

namespace mps::test {
namespace {

using Ids = std::set<mps_word_t>;

Ids survivorIds(mps_arena_t arena) {
  auto ids = walkIds(arena);
  return Ids(ids.begin(), ids.end());
}

// An arena, the test format (or one a test makes) and an AMS pool with one
// exact allocation point, on a chain too large to collect by itself.
class GcApi : public ::testing::Test {
 public:
  void SetUp() override {
    scanControl() = ScanControl{};
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
      ASSERT_EQ(mps_arena_create_k(&arena, mps_arena_class_vm(), args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    mps_gen_param_s gens[1] = {{size_t(1) << 20, 0.5}};
    ASSERT_EQ(mps_chain_create(&chain, arena, 1, gens), MPS_RES_OK);
  }

  void TearDown() override {
    for (mps_root_t r : roots)
      mps_root_destroy(r);
    for (mps_ap_t a : aps)
      mps_ap_destroy(a);
    for (mps_pool_t p : pools)
      mps_pool_destroy(p);
    if (chain) mps_chain_destroy(chain);
    for (mps_fmt_t f : fmts)
      mps_fmt_destroy(f);
    if (arena) mps_arena_destroy(arena);
  }

  mps_fmt_t testFormat(bool leaf = false) {
    mps_fmt_t fmt = nullptr;
    EXPECT_EQ(makeFormat(&fmt, arena, leaf), MPS_RES_OK);
    fmts.push_back(fmt);
    return fmt;
  }

  mps_pool_t makePool(mps_pool_class_t cls, mps_fmt_t fmt) {
    mps_pool_t pool = nullptr;
    MPS_ARGS_BEGIN(args) {
      MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
      MPS_ARGS_ADD(args, MPS_KEY_CHAIN, chain);
      EXPECT_EQ(mps_pool_create_k(&pool, arena, cls, args), MPS_RES_OK);
    }
    MPS_ARGS_END(args);
    pools.push_back(pool);
    return pool;
  }

  mps_ap_t makeAp(mps_pool_t pool) {
    mps_ap_t ap = nullptr;
    EXPECT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
    aps.push_back(ap);
    return ap;
  }

  // An AMS pool and allocation point in the test format.
  mps_ap_t amsAp() { return makeAp(makePool(mps_class_ams(), testFormat())); }

  void exactTable(mps_addr_t* table, size_t count) {
    mps_root_t root;
    ASSERT_EQ(mps_root_create_table(&root, arena, mps_rank_exact(), 0, table, count), MPS_RES_OK);
    roots.push_back(root);
  }

  mps_arena_t arena = nullptr;
  mps_chain_t chain = nullptr;
  std::vector<mps_fmt_t> fmts;
  std::vector<mps_pool_t> pools;
  std::vector<mps_ap_t> aps;
  std::vector<mps_root_t> roots;
};

// Formats ------------------------------------------------------------------------------

// Methods a non-moving pool must never call.
int unexpectedCalls = 0;
extern "C" void neverCopy(mps_addr_t, mps_addr_t) {
  ++unexpectedCalls;
}
extern "C" mps_addr_t neverIsFwd(mps_addr_t) {
  ++unexpectedCalls;
  return nullptr;
}
extern "C" void padTo(mps_addr_t addr, size_t size) {
  // Padding is an object with no references the size of the gap.
  auto* o = static_cast<Object*>(addr);
  o->header = (mps_word_t((size - objectSize(0)) / sizeof(mps_word_t)) << 8) | kObjectTag;
  o->id = 0;
  for (size_t i = 0; i < refCount(o); ++i)
    o->refs[i] = nullptr;
}
extern "C" mps_addr_t classOf(mps_addr_t addr) {
  return reinterpret_cast<mps_addr_t>(static_cast<Object*>(addr)->header & 0xFF);
}

// a -> b, c garbage, d only in the table: {a, b, d} survive, c goes.
void keepsAndFreesTheRightObjects(GcApi* t, mps_fmt_t fmt) {
  mps_pool_t pool = t->makePool(mps_class_ams(), fmt);
  mps_ap_t ap = t->makeAp(pool);
  Object* a = allocObject(ap, 1, 1);
  Object* b = allocObject(ap, 2, 0);
  Object* c = allocObject(ap, 3, 1);
  Object* d = allocObject(ap, 4, 0);
  ASSERT_TRUE(a && b && c && d);
  a->refs[0] = b;
  c->refs[0] = d;
  static mps_addr_t table[2];
  table[0] = a;
  table[1] = d;
  t->exactTable(table, 2);
  ASSERT_EQ(mps_arena_collect(t->arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(t->arena), (Ids{1, 2, 4}));
  mps_fmt_t found = nullptr;
  EXPECT_TRUE(mps_addr_fmt(&found, t->arena, b));
  EXPECT_EQ(found, fmt);
  mps_arena_release(t->arena);
}

TEST_F(GcApi, DeprecatedFormatAWithPositionalInitialisers) {
  unexpectedCalls = 0;
  mps_fmt_A_s a = {sizeof(mps_word_t), testScan, testSkip, neverCopy, neverCopy, neverIsFwd, padTo};
  mps_fmt_t fmt;
  ASSERT_EQ(mps_fmt_create_A(&fmt, arena, &a), MPS_RES_OK);
  fmts.push_back(fmt);
  std::memset(&a, 0, sizeof a);  // read during the call only
  keepsAndFreesTheRightObjects(this, fmt);
  EXPECT_EQ(unexpectedCalls, 0);
}

TEST_F(GcApi, DeprecatedFormatBWithAClassMethod) {
  unexpectedCalls = 0;
  mps_fmt_B_s b = {sizeof(mps_word_t), testScan,   testSkip, neverCopy,
                   neverCopy,          neverIsFwd, padTo,    classOf};
  mps_fmt_t fmt;
  ASSERT_EQ(mps_fmt_create_B(&fmt, arena, &b), MPS_RES_OK);
  fmts.push_back(fmt);
  keepsAndFreesTheRightObjects(this, fmt);
  EXPECT_EQ(unexpectedCalls, 0);
}

// In-band headers of two words, each holding a magic number: every format
// method but pad sees client pointers (just past the header); reserve and
// commit deal in base pointers; references are client pointers.
constexpr size_t kHeader = 2 * sizeof(mps_word_t);
constexpr mps_word_t kMagic0 = 0xC0FFEE00, kMagic1 = 0xBEEF00;
int headerViolations = 0;

bool hasHeader(const void* client) {
  const auto* w = static_cast<const mps_word_t*>(client);
  return w[-2] == kMagic0 && w[-1] == kMagic1;
}
extern "C" mps_addr_t headerSkip2(mps_addr_t client) {
  if (!hasHeader(client)) ++headerViolations;
  return static_cast<char*>(client) + objectSize(refCount(static_cast<Object*>(client))) + kHeader;
}
extern "C" mps_res_t headerScan2(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
    if (!hasHeader(p)) ++headerViolations;
    auto* o = reinterpret_cast<Object*>(p);
    mps_res_t res = testScan(ss, p, p + objectSize(refCount(o)));
    if (res != MPS_RES_OK) return res;
    p += objectSize(refCount(o)) + kHeader;
  }
  return MPS_RES_OK;
}

Object* allocWithHeader(mps_ap_t ap, mps_word_t id, size_t refs) {
  size_t size = kHeader + objectSize(refs);
  mps_addr_t p;
  Object* o;
  do {
    if (mps_reserve(&p, ap, size) != MPS_RES_OK) return nullptr;
    auto* w = static_cast<mps_word_t*>(p);
    w[0] = kMagic0;
    w[1] = kMagic1;
    o = reinterpret_cast<Object*>(w + 2);
    o->header = (mps_word_t(refs) << 8) | kObjectTag;
    o->id = id;
    for (size_t i = 0; i < refs; ++i)
      o->refs[i] = nullptr;
  } while (!mps_commit(ap, p, size));
  return o;
}

void headersOffsetClientPointers(GcApi* t, mps_fmt_t fmt) {
  headerViolations = 0;
  mps_pool_t pool = t->makePool(mps_class_ams(), fmt);
  mps_ap_t ap = t->makeAp(pool);
  Object* a = allocWithHeader(ap, 1, 2);
  Object* b = allocWithHeader(ap, 2, 0);
  Object* c = allocWithHeader(ap, 3, 1);
  Object* d = allocWithHeader(ap, 4, 0);
  Object* e = allocWithHeader(ap, 5, 0);
  ASSERT_TRUE(a && b && c && d && e);
  a->refs[0] = b;
  a->refs[1] = a;
  c->refs[0] = d;  // c is garbage, so d is too
  static mps_addr_t table[1];
  table[0] = a;
  t->exactTable(table, 1);
  // The block base of e is not its canonical reference: ambiguously it
  // keeps nothing.
  static mps_addr_t ambig[1];
  ambig[0] = reinterpret_cast<char*>(e) - kHeader;
  mps_root_t root;
  ASSERT_EQ(mps_root_create_table(&root, t->arena, mps_rank_ambig(), 0, ambig, 1), MPS_RES_OK);
  t->roots.push_back(root);
  ASSERT_EQ(mps_arena_collect(t->arena), MPS_RES_OK);
  // The walk hands out client pointers.
  std::vector<mps_addr_t> walked;
  mps_arena_formatted_objects_walk(
      t->arena,
      [](mps_addr_t addr, mps_fmt_t, mps_pool_t, void* p, size_t) {
        static_cast<std::vector<mps_addr_t>*>(p)->push_back(addr);
      },
      &walked, 0);
  std::set<mps_addr_t> walkedSet(walked.begin(), walked.end());
  EXPECT_EQ(walkedSet, (std::set<mps_addr_t>{a, b}));
  EXPECT_EQ(survivorIds(t->arena), (Ids{1, 2}));
  EXPECT_EQ(headerViolations, 0);
  EXPECT_EQ(a->refs[0], b);
  EXPECT_TRUE(hasHeader(a) && hasHeader(b));
  ASSERT_EQ(mps_arena_collect(t->arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(t->arena), (Ids{1, 2}));
  mps_arena_release(t->arena);
}

TEST_F(GcApi, AutoHeaderFormatOffsetsClientPointersByTheHeader) {
  mps_fmt_auto_header_s h = {
      sizeof(mps_word_t), headerScan2, headerSkip2, nullptr, nullptr, nullptr, kHeader};
  mps_fmt_t fmt;
  ASSERT_EQ(mps_fmt_create_auto_header(&fmt, arena, &h), MPS_RES_OK);
  fmts.push_back(fmt);
  headersOffsetClientPointers(this, fmt);
}

TEST_F(GcApi, KeywordFormatWithAHeaderSize) {
  mps_fmt_t fmt;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    MPS_ARGS_ADD(args, MPS_KEY_FMT_HEADER_SIZE, kHeader);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, headerScan2);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, headerSkip2);
    ASSERT_EQ(mps_fmt_create_k(&fmt, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  fmts.push_back(fmt);
  headersOffsetClientPointers(this, fmt);
}

// The scan protocol ------------------------------------------------------------------------

// How the scan method below fixes each object's references.
enum class FixStyle { fix12, fix1ThenFix2, fixCall, fixFunction, fixDeprecated, scanAreaCall };
FixStyle fixStyle = FixStyle::fix12;
int protocolViolations = 0;

mps_word_t zoneBit(mps_ss_t ss, mps_addr_t ref) {
  return mps_word_t(1) << ((reinterpret_cast<mps_word_t>(ref) >> ss->_zs) &
                           (sizeof(mps_word_t) * 8 - 1));
}

// A scanner in its own function, as MPS_FIX_CALL expects.
mps_res_t scanRefs(mps_ss_t ss, mps_addr_t* refs, size_t n) {
  MPS_SCAN_BEGIN(ss) {
    for (size_t i = 0; i < n; ++i) {
      mps_res_t res = MPS_FIX12(ss, &refs[i]);
      if (res != MPS_RES_OK) return res;
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

extern "C" mps_res_t styleScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
    auto* o = reinterpret_cast<Object*>(p);
    size_t n = refCount(o);
    mps_word_t zones = 0;
    for (size_t i = 0; i < n; ++i)
      zones |= zoneBit(ss, o->refs[i]);
    mps_res_t res = MPS_RES_OK;
    switch (fixStyle) {
      case FixStyle::fix12:
        MPS_SCAN_BEGIN(ss) {
          for (size_t i = 0; i < n && res == MPS_RES_OK; ++i)
            res = MPS_FIX12(ss, &o->refs[i]);
        }
        MPS_SCAN_END(ss);
        break;
      case FixStyle::fix1ThenFix2:
        MPS_SCAN_BEGIN(ss) {
          for (size_t i = 0; i < n && res == MPS_RES_OK; ++i) {
            mps_addr_t ref = o->refs[i];
            // A full collection condemns the whole pool: every reference
            // into it is interesting.
            if (!MPS_FIX1(ss, ref)) {
              if (ref != nullptr) ++protocolViolations;
              continue;
            }
            res = MPS_FIX2(ss, &ref);
            if (res == MPS_RES_OK) o->refs[i] = ref;
          }
        }
        MPS_SCAN_END(ss);
        break;
      case FixStyle::fixCall:
        MPS_SCAN_BEGIN(ss) {
          MPS_FIX_CALL(ss, res = scanRefs(ss, o->refs, n));
        }
        MPS_SCAN_END(ss);
        break;
      case FixStyle::fixFunction:
        for (size_t i = 0; i < n && res == MPS_RES_OK; ++i)
          res = mps_fix(ss, &o->refs[i]);
        break;
      case FixStyle::fixDeprecated:
        MPS_SCAN_BEGIN(ss) {
          for (size_t i = 0; i < n && res == MPS_RES_OK; ++i)
            res = MPS_FIX(ss, &o->refs[i]);
        }
        MPS_SCAN_END(ss);
        break;
      case FixStyle::scanAreaCall:
        MPS_SCAN_BEGIN(ss) {
          if (n > 0) MPS_FIX_CALL(ss, res = mps_scan_area(ss, o->refs, o->refs + n, nullptr));
        }
        MPS_SCAN_END(ss);
        break;
    }
    if (res != MPS_RES_OK) return res;
    // Whatever the style, the zones of every reference seen reach the
    // unfixed summary (FIX_CALL merges the callee's).
    if ((ss->_ufs & zones) != zones) ++protocolViolations;
    p += objectSize(n);
  }
  return MPS_RES_OK;
}

class ScanProtocol : public GcApi, public ::testing::WithParamInterface<FixStyle> {};

TEST_P(ScanProtocol, EveryStyleKeepsExactlyTheReachableGraph) {
  fixStyle = GetParam();
  protocolViolations = 0;
  mps_fmt_t fmt;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, styleScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, testSkip);
    ASSERT_EQ(mps_fmt_create_k(&fmt, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  fmts.push_back(fmt);
  mps_ap_t ap = makeAp(makePool(mps_class_ams(), fmt));
  // A chain 1 -> 2 -> ... -> 200 with side branches to odd ids, plus garbage.
  std::vector<Object*> chainObjects;
  Object* prev = nullptr;
  for (mps_word_t id = 1; id <= 200; ++id) {
    Object* o = allocObject(ap, id, 3);
    ASSERT_NE(o, nullptr);
    if (prev) prev->refs[0] = o;
    if (id % 2 == 0) o->refs[1] = allocObject(ap, 1000 + id, 0);
    o->refs[2] = o;  // a self reference
    prev = o;
    chainObjects.push_back(o);
  }
  for (mps_word_t id = 5000; id < 5500; ++id)
    ASSERT_NE(allocObject(ap, id, 2), nullptr);
  static mps_addr_t table[1];
  table[0] = chainObjects[0];
  exactTable(table, 1);
  Ids expected;
  for (mps_word_t id = 1; id <= 200; ++id) {
    expected.insert(id);
    if (id % 2 == 0) expected.insert(1000 + id);
  }
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(survivorIds(arena), expected) << "round " << round;
  }
  EXPECT_EQ(protocolViolations, 0);
  // Cutting the chain in the middle frees the second half.
  chainObjects[99]->refs[0] = nullptr;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  Ids half;
  for (mps_word_t id : expected)
    if (id <= 100 || (id > 1000 && id <= 1100)) half.insert(id);
  EXPECT_EQ(survivorIds(arena), half);
  EXPECT_EQ(protocolViolations, 0);
  mps_arena_release(arena);
}

std::string styleName(const ::testing::TestParamInfo<FixStyle>& info) {
  static const char* const names[] = {"Fix12",       "Fix1ThenFix2",  "FixCall",
                                      "FixFunction", "FixDeprecated", "ScanAreaCall"};
  return names[int(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Styles, ScanProtocol,
                         ::testing::Values(FixStyle::fix12, FixStyle::fix1ThenFix2,
                                           FixStyle::fixCall, FixStyle::fixFunction,
                                           FixStyle::fixDeprecated, FixStyle::scanAreaCall),
                         styleName);

// Area roots with each area scanner ------------------------------------------------------

TEST_F(GcApi, AreaRootsWithEachAreaScanner) {
  mps_ap_t ap = amsAp();
  Object* o[12];
  for (mps_word_t i = 0; i < 12; ++i)
    ASSERT_NE(o[i] = allocObject(ap, i, 0), nullptr);
  auto word = [&](int i, mps_word_t tag) { return reinterpret_cast<mps_word_t>(o[i]) | tag; };
  // mps_scan_area over an exact area: every word is a reference.
  static mps_word_t plain[2];
  plain[0] = word(0, 0);
  plain[1] = 0;
  // mps_scan_area_masked: every word, tag stripped and kept.
  static mps_word_t masked[2];
  static mps_scan_tag_s maskedTag = {7, 0};
  masked[0] = word(1, 5);
  masked[1] = word(2, 0);
  // mps_scan_area_tagged with the client's closure: only tag 3.
  static mps_word_t tagged[3];
  static mps_scan_tag_s taggedTag = {7, 3};
  tagged[0] = word(3, 3);
  tagged[1] = word(4, 1);  // other tag: not a reference
  tagged[2] = 42;          // an integer, tag 2
  // mps_scan_area_tagged_or_zero: tag 6 or untagged.
  static mps_word_t orZero[4];
  static mps_scan_tag_s orZeroTag = {7, 6};
  orZero[0] = word(5, 6);
  orZero[1] = word(6, 0);
  orZero[2] = word(7, 2);  // other tag
  orZero[3] = 0;
  // Through mps_root_create_area_tagged: the root's own tag is the closure.
  static mps_word_t rootTagged[2];
  rootTagged[0] = word(8, 1);
  rootTagged[1] = word(9, 4);  // masked scanner: every word, any tag
  static mps_word_t rootOrZero[2];
  rootOrZero[0] = word(10, 0);
  rootOrZero[1] = word(11, 3);  // not the pattern
  struct Area {
    mps_word_t* base;
    size_t count;
    mps_area_scan_t scan;
    mps_scan_tag_s* closure;
  } areas[] = {{plain, 2, mps_scan_area, nullptr},
               {masked, 2, mps_scan_area_masked, &maskedTag},
               {tagged, 3, mps_scan_area_tagged, &taggedTag},
               {orZero, 4, mps_scan_area_tagged_or_zero, &orZeroTag}};
  for (const Area& a : areas) {
    mps_root_t root;
    ASSERT_EQ(mps_root_create_area(&root, arena, mps_rank_exact(), 0, a.base, a.base + a.count,
                                   a.scan, a.closure),
              MPS_RES_OK);
    roots.push_back(root);
  }
  mps_root_t r1, r2;
  ASSERT_EQ(mps_root_create_area_tagged(&r1, arena, mps_rank_exact(), 0, rootTagged, rootTagged + 2,
                                        mps_scan_area_masked, 7, 1),
            MPS_RES_OK);
  ASSERT_EQ(mps_root_create_area_tagged(&r2, arena, mps_rank_ambig(), 0, rootOrZero, rootOrZero + 2,
                                        mps_scan_area_tagged_or_zero, 7, 1),
            MPS_RES_OK);
  roots.push_back(r1);
  roots.push_back(r2);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(arena), (Ids{0, 1, 2, 3, 5, 6, 8, 9, 10}));
  // Tags survive the fixing.
  EXPECT_EQ(masked[0], word(1, 5));
  EXPECT_EQ(tagged[0], word(3, 3));
  EXPECT_EQ(tagged[2], 42u);
  EXPECT_EQ(orZero[0], word(5, 6));
  EXPECT_EQ(rootTagged[1], word(9, 4));
  mps_arena_release(arena);
}

// Function, formatted and ambiguous roots report a scan error too.
TEST_F(GcApi, AnErrorFromARootScanFunctionFailsTheCollectionAndFreesNothing) {
  mps_ap_t ap = amsAp();
  Object* kept = allocObject(ap, 1, 0);
  for (mps_word_t i = 2; i < 50; ++i)
    ASSERT_NE(allocObject(ap, i, 0), nullptr);
  static mps_addr_t slot;
  static bool fail;
  slot = kept;
  fail = true;
  mps_root_t root;
  ASSERT_EQ(mps_root_create(
                &root, arena, mps_rank_exact(), 0,
                [](mps_ss_t ss, void* p, size_t s) -> mps_res_t {
                  EXPECT_EQ(s, 17u);
                  if (fail) return MPS_RES_MEMORY;
                  return scanRefs(ss, static_cast<mps_addr_t*>(p), 1);
                },
                &slot, 17),
            MPS_RES_OK);
  roots.push_back(root);
  mps_word_t before = mps_collections(arena);
  EXPECT_EQ(mps_arena_collect(arena), MPS_RES_MEMORY);
  EXPECT_EQ(mps_collections(arena), before);
  EXPECT_EQ(survivorIds(arena).size(), 49u);
  fail = false;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(arena), Ids{1});
  EXPECT_EQ(mps_collections(arena), before + 1);
  mps_arena_release(arena);
}

// Thread roots -----------------------------------------------------------------------------

// Allocates an object and returns its address with `tag` in the low bits.
// Out of line, so no untagged copy stays in a live frame.
__attribute__((noinline)) mps_word_t allocTagged(mps_ap_t ap, mps_word_t id, mps_word_t tag) {
  return reinterpret_cast<mps_word_t>(allocObject(ap, id, 0)) | tag;
}

// Overwrites the dead frames below the caller.
__attribute__((noinline)) void scrubStack() {
  volatile char junk[4096];
  for (size_t i = 0; i < sizeof junk; ++i)
    junk[i] = 0;
}

struct ScannedCalls {
  int calls = 0;
  int badClosure = 0;
  std::vector<std::pair<void*, void*>> ranges;
};
ScannedCalls scannedCalls;

extern "C" mps_res_t recordingScanner(mps_ss_t ss, void* base, void* limit, void* closure) {
  ++scannedCalls.calls;
  if (closure != &scannedCalls) ++scannedCalls.badClosure;
  scannedCalls.ranges.emplace_back(base, limit);
  return mps_scan_area(ss, base, limit, nullptr);
}

TEST_F(GcApi, ThreadRootWithAClientScannerAndClosure) {
  mps_ap_t ap = amsAp();
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_thread_scanned(&root, arena, mps_rank_ambig(), 0, thread,
                                           recordingScanner, &scannedCalls, cold),
            MPS_RES_OK);
  scannedCalls = ScannedCalls{};
  volatile mps_word_t held = allocTagged(ap, 1, 0);
  for (mps_word_t i = 2; i < 200; ++i)
    (void)allocTagged(ap, i, 0);
  scrubStack();
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_GE(scannedCalls.calls, 1);
  EXPECT_EQ(scannedCalls.badClosure, 0);
  // One of the areas is the stack, up to the cold end, holding `held`.
  const void* local = const_cast<const mps_word_t*>(&held);
  bool coversLocal = false;
  for (auto [b, l] : scannedCalls.ranges)
    if (b <= local && local < l && l == cold) coversLocal = true;
  EXPECT_TRUE(coversLocal);
  Ids ids = survivorIds(arena);
  EXPECT_TRUE(ids.count(1));
  EXPECT_LT(ids.size(), 20u);  // the garbage went (a few stale words may hold some)
  EXPECT_EQ(reinterpret_cast<Object*>(held)->id, 1u);
  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

// A thread root with a tag: a word on the stack tagged with the pattern
// keeps its object; the same word under a root looking for another tag does
// not (and no untagged copy is anywhere the root considers).
void taggedThreadRoot(GcApi* t, mps_ap_t ap, mps_word_t pattern, bool expectKept) {
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, t->arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(mps_root_create_thread_tagged(&root, t->arena, mps_rank_ambig(), 0, thread,
                                          mps_scan_area_tagged, 7, pattern, cold),
            MPS_RES_OK);
  volatile mps_word_t held = allocTagged(ap, 7, 1);
  scrubStack();
  ASSERT_EQ(mps_arena_collect(t->arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(t->arena).count(7), expectKept ? 1u : 0u) << "pattern " << pattern;
  EXPECT_EQ(held & 7, 1u);
  if (expectKept) {
    EXPECT_EQ(reinterpret_cast<Object*>(held - 1)->id, 7u);
  }
  mps_arena_release(t->arena);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

TEST_F(GcApi, TaggedThreadRootConsidersOnlyItsPattern) {
  mps_ap_t ap = amsAp();
  taggedThreadRoot(this, ap, 1, true);
  taggedThreadRoot(this, ap, 2, false);
}

TEST_F(GcApi, LegacyRegisterRootWithStackScanAmbig) {
  mps_ap_t ap = amsAp();
  void* cold = __builtin_frame_address(0);
  mps_thr_t thread;
  ASSERT_EQ(mps_thread_reg(&thread, arena), MPS_RES_OK);
  mps_root_t root;
  ASSERT_EQ(
      mps_root_create_reg(&root, arena, mps_rank_ambig(), 0, thread, mps_stack_scan_ambig, cold, 0),
      MPS_RES_OK);
  volatile mps_word_t held = allocTagged(ap, 1, 0);
  volatile mps_word_t misaligned = allocTagged(ap, 2, 4);  // not word aligned: ignored
  for (mps_word_t i = 3; i < 200; ++i)
    (void)allocTagged(ap, i, 0);
  scrubStack();
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  Ids ids = survivorIds(arena);
  EXPECT_TRUE(ids.count(1));
  EXPECT_FALSE(ids.count(2));
  EXPECT_LT(ids.size(), 20u);
  EXPECT_EQ(reinterpret_cast<Object*>(held)->id, 1u);
  (void)misaligned;
  mps_arena_release(arena);
  mps_root_destroy(root);
  mps_thread_dereg(thread);
}

// Arena control through the C functions --------------------------------------------------------

TEST_F(GcApi, ParkedOrClampedArenasCollectOnlyWhenAskedOrReleased) {
  mps_gen_param_s gens[1] = {{128, 0.9}};  // 128 KiB
  mps_chain_t small;
  ASSERT_EQ(mps_chain_create(&small, arena, 1, gens), MPS_RES_OK);
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, testFormat());
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, small);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t ap;
  ASSERT_EQ(mps_ap_create_k(&ap, pool, mps_args_none), MPS_RES_OK);
  // Nothing allocated yet: idle time finds nothing to do.
  EXPECT_FALSE(mps_arena_step(arena, 10.0, 1.0));
  auto allocate = [&](size_t bytes) {
    for (size_t done = 0; done < bytes; done += objectSize(2))
      ASSERT_NE(allocObject(ap, 0, 2), nullptr);
  };
  mps_word_t n = mps_collections(arena);
  for (void (*stop)(mps_arena_t) : {mps_arena_park, mps_arena_clamp}) {
    stop(arena);
    allocate(size_t(1) << 20);  // eight times the capacity
    EXPECT_EQ(mps_collections(arena), n);
    EXPECT_FALSE(mps_arena_step(arena, 10.0, 1.0));
    EXPECT_EQ(mps_collections(arena), n);
    // An explicit collection still runs, and leaves the arena parked.
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    EXPECT_EQ(mps_collections(arena), ++n);
    allocate(size_t(1) << 20);
    EXPECT_EQ(mps_collections(arena), n);
    // Released, the generation over capacity is collected (release itself
    // polls the chains, else idle time would)...
    mps_arena_release(arena);
    (void)mps_arena_step(arena, 10.0, 1.0);
    EXPECT_GT(mps_collections(arena), n);
    n = mps_collections(arena);
    // ...as it is by allocation.
    allocate(size_t(1) << 20);
    EXPECT_GT(mps_collections(arena), n);
    n = mps_collections(arena);
    // Idle time with something allocated and time enough collects, and
    // says so; then there is nothing left to do.
    allocate(size_t(16) << 10);
    n = mps_collections(arena);
    EXPECT_TRUE(mps_arena_step(arena, 10.0, 1.0));
    EXPECT_EQ(mps_collections(arena), ++n);
    EXPECT_FALSE(mps_arena_step(arena, 10.0, 1.0));
    EXPECT_EQ(mps_collections(arena), n);
  }
  // start_collect runs one collection and leaves the arena released.
  ASSERT_EQ(mps_arena_start_collect(arena), MPS_RES_OK);
  EXPECT_EQ(mps_collections(arena), n + 1);
  EXPECT_FALSE(mps_arena_busy(arena));
  allocate(size_t(1) << 20);
  EXPECT_GT(mps_collections(arena), n + 1);
  mps_arena_park(arena);
  mps_ap_destroy(ap);
  mps_pool_destroy(pool);
  mps_chain_destroy(small);
}

TEST(GcWorkers, TheEnvironmentSetsTheDefaultAndTheKeyOverridesIt) {
  const char* saved = std::getenv("MPS_GC_WORKERS");
  std::string savedValue = saved ? saved : "";
  setenv("MPS_GC_WORKERS", "3", 1);
  mps_arena_t a, b;
  ASSERT_EQ(mps_arena_create_k(&a, mps_arena_class_vm(), mps_args_none), MPS_RES_OK);
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, 2u);
    ASSERT_EQ(mps_arena_create_k(&b, mps_arena_class_vm(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  if (saved)
    setenv("MPS_GC_WORKERS", savedValue.c_str(), 1);
  else
    unsetenv("MPS_GC_WORKERS");
  auto workers = [](mps_arena_t arena) {
    return mps::core::Collector::of(reinterpret_cast<mps::core::Arena*>(arena))->workers();
  };
  EXPECT_EQ(workers(a), 3u);
  EXPECT_EQ(workers(b), 2u);
  mps_arena_gc_workers_set(b, 0);  // at least one
  EXPECT_EQ(workers(b), 1u);
  // More workers than the machine has threads: accepted, and quiet (oneTBB
  // warns on stderr when asked for more threads than its limit).
  testing::internal::CaptureStderr();
  mps_arena_gc_workers_set(b, 4 * std::thread::hardware_concurrency() + 4);
  EXPECT_EQ(workers(b), 4 * std::thread::hardware_concurrency() + 4);
  ASSERT_EQ(mps_arena_collect(b), MPS_RES_OK);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  mps_arena_destroy(a);
  mps_arena_destroy(b);
}

// GC messages for a collection of one chain --------------------------------------------

TEST_F(GcApi, GcMessagesOfAChainCollectionCountTheOtherPoolAsNotCondemned) {
  // Pool `big` holds ~400 KiB of live objects on the large chain; pool
  // `small` allocates on a 128 KiB chain until that chain is collected.
  mps_fmt_t fmt = testFormat();
  mps_ap_t bigAp = makeAp(makePool(mps_class_ams(), fmt));
  static mps_addr_t table[1];
  exactTable(table, 1);
  Object* head = nullptr;
  size_t bigBytes = 0;
  for (mps_word_t i = 0; i < 10000; ++i) {
    Object* o = allocObject(bigAp, i, 3);
    ASSERT_NE(o, nullptr);
    o->refs[0] = head;
    head = o;
    bigBytes += objectSize(3);
  }
  table[0] = head;
  mps_gen_param_s gens[1] = {{128, 0.9}};
  mps_chain_t small;
  ASSERT_EQ(mps_chain_create(&small, arena, 1, gens), MPS_RES_OK);
  mps_pool_t smallPool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, small);
    ASSERT_EQ(mps_pool_create_k(&smallPool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  mps_ap_t smallAp;
  ASSERT_EQ(mps_ap_create_k(&smallAp, smallPool, mps_args_none), MPS_RES_OK);
  mps_message_type_enable(arena, mps_message_type_gc_start());
  mps_message_type_enable(arena, mps_message_type_gc());
  mps_word_t n = mps_collections(arena);
  mps_clock_t before = mps_clock();
  while (mps_collections(arena) == n)
    ASSERT_NE(allocObject(smallAp, 99999, 1), nullptr);
  ASSERT_TRUE(mps_message_poll(arena));
  mps_message_type_t type;
  ASSERT_TRUE(mps_message_queue_type(&type, arena));
  EXPECT_EQ(type, mps_message_type_gc_start());
  mps_message_t start, end;
  ASSERT_TRUE(mps_message_get(&start, arena, mps_message_type_gc_start()));
  ASSERT_TRUE(mps_message_get(&end, arena, mps_message_type_gc()));
  EXPECT_FALSE(mps_message_poll(arena));
  EXPECT_STREQ(mps_message_gc_start_why(arena, start),
               "Generation 0 of a chain has reached capacity.");
  EXPECT_GE(mps_message_clock(arena, start), before);
  EXPECT_LE(mps_message_clock(arena, start), mps_message_clock(arena, end));
  size_t live = mps_message_gc_live_size(arena, end);
  size_t condemned = mps_message_gc_condemned_size(arena, end);
  size_t notCondemned = mps_message_gc_not_condemned_size(arena, end);
  EXPECT_LE(live, condemned);
  EXPECT_GT(condemned, 0u);
  EXPECT_LE(condemned, mps_pool_total_size(smallPool));
  EXPECT_GE(notCondemned, bigBytes);
  // The collected generation learnt its mortality from this collection (the
  // estimate moves 40% of the way to what was measured) and its live size;
  // the generation that was not collected kept its own.
  {
    auto* smallGen = reinterpret_cast<mps::core::Chain*>(small)->gen(0);
    auto* bigGen = reinterpret_cast<mps::core::Chain*>(chain)->gen(0);
    double measured = 1.0 - double(live) / double(condemned);
    EXPECT_NEAR(smallGen->mortality, 0.6 * 0.9 + 0.4 * measured, 1e-9);
    EXPECT_EQ(smallGen->liveSize, live);
    EXPECT_EQ(smallGen->collections, 1u);
    EXPECT_EQ(bigGen->mortality, 0.5);
    EXPECT_EQ(bigGen->collections, 0u);
  }
  mps_message_discard(arena, start);
  mps_message_discard(arena, end);
  // The big pool was not collected (nothing refers to its objects but one).
  Ids ids = survivorIds(arena);
  for (mps_word_t i = 0; i < 10000; ++i)
    ASSERT_TRUE(ids.count(i)) << i;

  // A full collection with no buffers: nothing is left out, the live size
  // is the big pool's objects.
  mps_ap_destroy(smallAp);
  for (mps_ap_t a : aps)
    mps_ap_destroy(a);
  aps.clear();
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  ASSERT_TRUE(mps_message_get(&start, arena, mps_message_type_gc_start()));
  ASSERT_TRUE(mps_message_get(&end, arena, mps_message_type_gc()));
  EXPECT_EQ(mps_message_gc_not_condemned_size(arena, end), 0u);
  EXPECT_EQ(mps_message_gc_live_size(arena, end), bigBytes);
  mps_message_discard(arena, start);
  mps_message_discard(arena, end);
  mps_arena_release(arena);
  mps_pool_destroy(smallPool);
  mps_chain_destroy(small);
}

// Allocation points ---------------------------------------------------------------------

TEST_F(GcApi, VarargsRankIsTakenByAms) {
  mps_pool_t pool = makePool(mps_class_ams(), testFormat());
  mps_ap_t exact = makeAp(pool);
  mps_ap_t ambig;
  ASSERT_EQ(mps_ap_create(&ambig, pool, mps_rank_ambig()), MPS_RES_OK);
  aps.push_back(ambig);
  // Weak is accepted (MMQA conerr 33) and allocates.
  mps_ap_t weak;
  ASSERT_EQ(mps_ap_create(&weak, pool, mps_rank_weak()), MPS_RES_OK);
  aps.push_back(weak);
  ASSERT_NE(allocObject(weak, 9, 0), nullptr);
  Object* holder = allocObject(ambig, 1, 2);
  Object* target = allocObject(exact, 2, 0);
  Object* other = allocObject(exact, 3, 0);
  // Were the rank ignored (exact), the interior reference would be a
  // client error the collector reports.
  holder->refs[0] = reinterpret_cast<char*>(other) + sizeof(mps_word_t);
  holder->refs[1] = target;
  static mps_addr_t table[1];
  table[0] = holder;
  exactTable(table, 1);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(arena), (Ids{1, 2}));
  mps_arena_release(arena);
}

TEST_F(GcApi, ReserveAndCommitAsFunctions) {
  mps_ap_t ap = amsAp();
  static mps_addr_t table[1];
  exactTable(table, 1);
  Object* prev = nullptr;
  for (mps_word_t id = 1; id <= 100; ++id) {
    size_t size = objectSize(1);
    mps_addr_t p;
    do {
      ASSERT_EQ((mps_reserve)(&p, ap, size), MPS_RES_OK);
      auto* o = static_cast<Object*>(p);
      o->header = (mps_word_t(1) << 8) | kObjectTag;
      o->id = id;
      o->refs[0] = prev;
    } while (!(mps_commit)(ap, p, size));
    prev = static_cast<Object*>(p);
    if (id == 50) table[0] = p;
  }
  // The function form fails a commit across a flip just as the macro does.
  mps_addr_t p;
  ASSERT_EQ((mps_reserve)(&p, ap, objectSize(0)), MPS_RES_OK);
  static_cast<Object*>(p)->header = kObjectTag;
  static_cast<Object*>(p)->id = 999;
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_FALSE((mps_commit)(ap, p, objectSize(0)));
  Ids expected;
  for (mps_word_t id = 1; id <= 50; ++id)
    expected.insert(id);
  EXPECT_EQ(survivorIds(arena), expected);
  mps_arena_release(arena);
}

TEST_F(GcApi, AmsWithoutAmbiguousSupportCollectsExactly) {
  mps_pool_t pool;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, testFormat());
    MPS_ARGS_ADD(args, MPS_KEY_AMS_SUPPORT_AMBIGUOUS, 0);
    ASSERT_EQ(mps_pool_create_k(&pool, arena, mps_class_ams(), args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  pools.push_back(pool);
  mps_ap_t ap = makeAp(pool);
  Object* a = allocObject(ap, 1, 1);
  a->refs[0] = allocObject(ap, 2, 0);
  allocObject(ap, 3, 0);
  static mps_addr_t table[1];
  table[0] = a;
  exactTable(table, 1);
  ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
  EXPECT_EQ(survivorIds(arena), (Ids{1, 2}));
  mps_arena_release(arena);
}

// Random words in an ambiguous root: those that are exactly an object's
// address keep it (and what it reaches); interior, unaligned, free, dead,
// foreign and unmapped words keep nothing and crash nothing.
TEST_F(GcApi, RandomAmbiguousWordsKeepExactlyTheObjectsTheyName) {
  uint64_t seed = testSeed(31337);
  Rng rng(seed);
  mps_ap_t ap = amsAp();
  const size_t n = 2000;
  std::vector<Object*> objects;
  std::vector<std::vector<size_t>> edges(n);
  for (size_t i = 0; i < n; ++i) {
    Object* o = allocObject(ap, i, size_t(rng.below(4)));
    ASSERT_NE(o, nullptr);
    objects.push_back(o);
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < refCount(objects[i]); ++k)
      if (rng.below(4) == 0) {
        size_t j = size_t(rng.below(n));
        objects[i]->refs[k] = objects[j];
        edges[i].push_back(j);
      }
  constexpr size_t kWords = 256;
  static mps_word_t table[kWords];
  mps_root_t root;
  ASSERT_EQ(mps_root_create_area(&root, arena, mps_rank_ambig(), 0, table, table + kWords,
                                 mps_scan_area, nullptr),
            MPS_RES_OK);
  roots.push_back(root);
  std::vector<char> foreign(4096);
  std::vector<bool> alive(n, true);
  mps_word_t lo = reinterpret_cast<mps_word_t>(objects.front());
  mps_word_t hi = reinterpret_cast<mps_word_t>(objects.back());
  for (int round = 0; round < 4; ++round) {
    std::vector<size_t> named;
    for (size_t w = 0; w < kWords; ++w) {
      size_t i = size_t(rng.below(n));
      mps_word_t base = reinterpret_cast<mps_word_t>(objects[i]);
      switch (rng.below(8)) {
        case 0:  // an object's address: only counts if the object lives
          table[w] = base;
          if (alive[i]) named.push_back(i);
          break;
        case 1:  // interior
          table[w] = base + sizeof(mps_word_t) * (1 + rng.below(2));
          break;
        case 2:  // unaligned
          table[w] = base + 1 + rng.below(sizeof(mps_word_t) - 1);
          break;
        case 3:  // anywhere among the objects, free space included
          table[w] = lo + rng.below(hi - lo + 4096);
          break;
        case 4:  // foreign memory
          table[w] = reinterpret_cast<mps_word_t>(&foreign[rng.below(foreign.size())]);
          break;
        case 5:  // unmapped or non-canonical
          table[w] = rng.next();
          break;
        case 6:  // small integers
          table[w] = rng.below(65536);
          break;
        default:  // the object's address in a dead object only
          table[w] = alive[i] ? 0 : base;
          break;
      }
    }
    // Which of the "anywhere" words happen to be exact object addresses.
    std::map<mps_word_t, size_t> byAddress;
    for (size_t i = 0; i < n; ++i)
      if (alive[i]) byAddress[reinterpret_cast<mps_word_t>(objects[i])] = i;
    for (mps_word_t w : table) {
      auto it = byAddress.find(w);
      if (it != byAddress.end()) named.push_back(it->second);
    }
    std::vector<bool> reached(n, false);
    while (!named.empty()) {
      size_t i = named.back();
      named.pop_back();
      if (reached[i]) continue;
      reached[i] = true;
      for (size_t j : edges[i])
        named.push_back(j);
    }
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    Ids expected;
    for (size_t i = 0; i < n; ++i) {
      if (reached[i]) expected.insert(i);
      alive[i] = reached[i];
    }
    ASSERT_EQ(survivorIds(arena), expected) << "round " << round << " seed " << seed;
  }
  mps_arena_release(arena);
}

// LO ----------------------------------------------------------------------------------------

struct LoWatch {
  mps_word_t lo = 0, hi = 0;  // the LO objects' addresses
  int scansOfLo = 0, scans = 0;
};
LoWatch loWatch;

extern "C" mps_res_t watchingScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  ++loWatch.scans;
  auto b = reinterpret_cast<mps_word_t>(base);
  if (b >= loWatch.lo && b <= loWatch.hi) ++loWatch.scansOfLo;
  return testScan(ss, base, limit);
}

TEST_F(GcApi, LoObjectsAreNeverScannedNorMoved) {
  // One format with a scan method for both pools: LO must never call it.
  mps_fmt_t fmt;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, watchingScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, testSkip);
    ASSERT_EQ(mps_fmt_create_k(&fmt, arena, args), MPS_RES_OK);
  }
  MPS_ARGS_END(args);
  fmts.push_back(fmt);
  mps_pool_t loPool = makePool(mps_class_lo(), fmt);
  mps_ap_t lo = makeAp(loPool);
  mps_ap_t ams = makeAp(makePool(mps_class_ams(), fmt));
  loWatch = LoWatch{};
  // LO objects whose "references" point at AMS garbage: were they scanned,
  // the garbage would survive.
  std::vector<Object*> leaves;
  for (mps_word_t i = 0; i < 100; ++i) {
    Object* garbage = allocObject(ams, 1000 + i, 0);
    Object* leaf = allocObject(lo, i, 1);
    ASSERT_TRUE(garbage && leaf);
    leaf->refs[0] = garbage;
    leaves.push_back(leaf);
  }
  loWatch.lo = reinterpret_cast<mps_word_t>(*std::min_element(leaves.begin(), leaves.end()));
  loWatch.hi = reinterpret_cast<mps_word_t>(*std::max_element(leaves.begin(), leaves.end()));
  // Every even leaf is held by an AMS object, which is scanned.
  Object* holder = allocObject(ams, 5000, 50);
  for (size_t i = 0; i < 50; ++i)
    holder->refs[i] = leaves[2 * i];
  static mps_addr_t table[1];
  table[0] = holder;
  exactTable(table, 1);
  std::vector<Object*> before(leaves);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(mps_arena_collect(arena), MPS_RES_OK);
    Ids expected{5000};
    for (mps_word_t i = 0; i < 100; i += 2)
      expected.insert(i);
    EXPECT_EQ(survivorIds(arena), expected) << "round " << round;
    mps_arena_release(arena);
  }
  EXPECT_GT(loWatch.scans, 0);
  EXPECT_EQ(loWatch.scansOfLo, 0);
  // Never moved: the holder's references and the leaves' contents stand.
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(holder->refs[i], before[2 * i]);
    EXPECT_EQ(static_cast<Object*>(holder->refs[i])->id, 2 * i);
    mps_pool_t found;
    EXPECT_TRUE(mps_addr_pool(&found, arena, holder->refs[i]));
    EXPECT_EQ(found, loPool);
  }
}

// Walking ------------------------------------------------------------------------------

TEST_F(GcApi, WalksPassTheirClosuresAndPoolWalkStopsAtAnError) {
  mps_pool_t pool = makePool(mps_class_ams(), testFormat());
  mps_ap_t ap = makeAp(pool);
  for (mps_word_t i = 1; i <= 30; ++i)
    ASSERT_NE(allocObject(ap, i, 0), nullptr);
  struct Seen {
    int calls = 0;
    bool closureOk = true;
  } seen;
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t, mps_fmt_t, mps_pool_t, void* p, size_t s) {
        auto* v = static_cast<Seen*>(p);
        ++v->calls;
        v->closureOk &= s == 1234;
      },
      &seen, 1234);
  EXPECT_EQ(seen.calls, 30);
  EXPECT_TRUE(seen.closureOk);
  mps_arena_park(arena);
  int calls = 0;
  EXPECT_EQ(mps_pool_walk(
                pool,
                [](mps_ss_t, void*, void*, void* closure) -> mps_res_t {
                  return ++*static_cast<int*>(closure) == 5 ? MPS_RES_IO : MPS_RES_OK;
                },
                &calls),
            MPS_RES_IO);
  EXPECT_EQ(calls, 5);
  // The area scanners themselves walk: nothing is white, nothing changes.
  EXPECT_EQ(mps_pool_walk(pool, mps_scan_area, nullptr), MPS_RES_OK);
  EXPECT_EQ(survivorIds(arena).size(), 30u);
  mps_arena_release(arena);
}

}  // namespace
}  // namespace mps::test
