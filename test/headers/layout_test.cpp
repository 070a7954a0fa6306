// The layouts and constants that macros expanded into client code depend
// on. Client object files bake these offsets in, so any change here is a
// binary incompatibility, not merely a test update.

#include <gtest/gtest.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "mps.h"
#include "mpslib.h"
#include "mpstd.h"

// MPS_SAC_ALLOC_FAST and MPS_SAC_FREE_FAST expand to calls of these on
// their slow paths. The tests below stay on the fast paths; these weak
// stand-ins only let the test link whether or not the library's own
// definitions are pulled in (they win when they are).
extern "C" __attribute__((weak)) mps_res_t mps_sac_fill(mps_addr_t*, mps_sac_t, size_t,
                                                        mps_bool_t) {
  ADD_FAILURE() << "MPS_SAC_ALLOC_FAST left its fast path";
  return MPS_RES_FAIL;
}

extern "C" __attribute__((weak)) void mps_sac_empty(mps_sac_t, mps_addr_t, size_t) {
  ADD_FAILURE() << "MPS_SAC_FREE_FAST left its fast path";
}

namespace {

constexpr std::size_t kWord = sizeof(void*);

TEST(HeaderLayout, ScalarTypes) {
  static_assert(sizeof(mps_word_t) == sizeof(void*));
  static_assert(std::is_unsigned_v<mps_word_t>);
#if !defined(_WIN64)
  // Clients print it with %lu.
  static_assert(std::is_same_v<mps_word_t, unsigned long>);
#endif
  static_assert(std::is_same_v<mps_addr_t, void*>);
  static_assert(std::is_same_v<mps_align_t, std::size_t>);
  static_assert(std::is_same_v<mps_res_t, int>);
  static_assert(std::is_same_v<mps_bool_t, int>);
  static_assert(std::is_same_v<mps_rank_t, unsigned>);
  static_assert(std::is_same_v<mps_rm_t, unsigned>);
  static_assert(std::is_same_v<mps_clock_t, mps_word_t>);
  static_assert(std::is_same_v<mps_label_t, mps_word_t>);
  static_assert(std::is_same_v<mps_class_t, mps_pool_class_t>);
  static_assert(std::is_same_v<mps_sac_t, _mps_sac_s*>);
  static_assert(std::is_same_v<mps_key_t, const mps_key_s*>);
  static_assert(std::is_same_v<mps_lib_FILE, mps_lib_stream_s>);
}

TEST(HeaderLayout, ResultCodes) {
  static_assert(MPS_RES_OK == 0);
  static_assert(MPS_RES_FAIL == 1);
  static_assert(MPS_RES_RESOURCE == 2);
  static_assert(MPS_RES_MEMORY == 3);
  static_assert(MPS_RES_LIMIT == 4);
  static_assert(MPS_RES_UNIMPL == 5);
  static_assert(MPS_RES_IO == 6);
  static_assert(MPS_RES_COMMIT_LIMIT == 7);
  static_assert(MPS_RES_PARAM == 8);
  static_assert(_mps_MPS_RES_LIMIT == 9);
}

TEST(HeaderLayout, AllocationPoint) {
  static_assert(offsetof(mps_ap_s, init) == 0);
  static_assert(offsetof(mps_ap_s, alloc) == kWord);
  static_assert(offsetof(mps_ap_s, limit) == 2 * kWord);
  static_assert(sizeof(mps_ap_s) == 3 * kWord);
}

TEST(HeaderLayout, ScanStateAndLocationDependency) {
  static_assert(offsetof(mps_ss_s, _zs) == 0);
  static_assert(offsetof(mps_ss_s, _w) == sizeof(mps_word_t));
  static_assert(offsetof(mps_ss_s, _ufs) == 2 * sizeof(mps_word_t));
  static_assert(sizeof(mps_ss_s) == 3 * sizeof(mps_word_t));
  static_assert(offsetof(mps_ld_s, _epoch) == 0);
  static_assert(offsetof(mps_ld_s, _rs) == sizeof(mps_word_t));
  static_assert(sizeof(mps_ld_s) == 2 * sizeof(mps_word_t));
  static_assert(alignof(mps_ld_s) == alignof(mps_word_t));
}

TEST(HeaderLayout, KeywordArguments) {
  static_assert(MPS_ARGS_MAX == 32);
  static_assert(offsetof(mps_arg_s, key) == 0);
  static_assert(offsetof(mps_arg_s, val) == kWord);
  // The widest members are pointers, size_t and double.
  static_assert(sizeof(mps_arg_s) == 2 * kWord);
  static_assert(std::is_same_v<decltype(mps_arg_s{}.val.size), std::size_t>);
  static_assert(std::is_same_v<decltype(mps_arg_s{}.val.d), double>);
  static_assert(std::is_same_v<decltype(mps_arg_s{}.val.b), mps_bool_t>);
  static_assert(std::is_same_v<decltype(mps_arg_s{}.val.count), mps_word_t>);
  static_assert(
      std::is_same_v<decltype(mps_arg_s{}.val.pool_debug_options), mps_pool_debug_option_s*>);
}

TEST(HeaderLayout, SegregatedAllocationCache) {
  static_assert(std::is_same_v<std::remove_cv_t<decltype(MPS_SAC_CLASS_LIMIT)>, std::size_t>);
  static_assert(MPS_SAC_CLASS_LIMIT == 8);

  static_assert(offsetof(_mps_sac_freelist_block_s, _size) == 0);
  static_assert(offsetof(_mps_sac_freelist_block_s, _count) == sizeof(std::size_t));
  static_assert(offsetof(_mps_sac_freelist_block_s, _count_max) == 2 * sizeof(std::size_t));
  static_assert(offsetof(_mps_sac_freelist_block_s, _blocks) == 3 * sizeof(std::size_t));
  static_assert(sizeof(_mps_sac_freelist_block_s) == 3 * sizeof(std::size_t) + kWord);

  static_assert(offsetof(_mps_sac_s, _middle) == 0);
  static_assert(offsetof(_mps_sac_s, _trapped) == sizeof(std::size_t));
  static_assert(offsetof(_mps_sac_s, _freelists) == 2 * sizeof(std::size_t));
  static_assert(sizeof(_mps_sac_s{}._freelists) ==
                2 * MPS_SAC_CLASS_LIMIT * sizeof(_mps_sac_freelist_block_s));

  static_assert(offsetof(mps_sac_class_s, mps_block_size) == 0);
  static_assert(offsetof(mps_sac_class_s, mps_cached_count) == sizeof(std::size_t));
  static_assert(offsetof(mps_sac_class_s, mps_frequency) == 2 * sizeof(std::size_t));
  static_assert(std::is_same_v<mps_sac_classes_s, mps_sac_class_s>);

  // The class table the macros read just before every cache.
  static_assert(_MPS_SAC_LOOKUP_SLOTS == 256);
  static_assert(offsetof(_mps_sac_lookup_s, _entry) == 0);
  static_assert(sizeof(_mps_sac_lookup_s{}._entry) == 256);
  static_assert(offsetof(_mps_sac_lookup_s, _limit) == 256);
  static_assert(offsetof(_mps_sac_lookup_s, _shift) == 256 + sizeof(std::size_t));
  static_assert(sizeof(_mps_sac_lookup_s) == 256 + 2 * sizeof(std::size_t));
  static_assert(sizeof(_mps_sac_lookup_s) % alignof(_mps_sac_s) == 0);
}

TEST(HeaderLayout, PositionallyInitialisedStructures) {
  static_assert(offsetof(mps_gen_param_s, mps_capacity) == 0);
  static_assert(offsetof(mps_gen_param_s, mps_mortality) == sizeof(std::size_t));

  static_assert(offsetof(mps_fmt_A_s, align) == 0);
  static_assert(offsetof(mps_fmt_A_s, scan) == 1 * kWord);
  static_assert(offsetof(mps_fmt_A_s, skip) == 2 * kWord);
  static_assert(offsetof(mps_fmt_A_s, copy) == 3 * kWord);
  static_assert(offsetof(mps_fmt_A_s, fwd) == 4 * kWord);
  static_assert(offsetof(mps_fmt_A_s, isfwd) == 5 * kWord);
  static_assert(offsetof(mps_fmt_A_s, pad) == 6 * kWord);
  static_assert(sizeof(mps_fmt_A_s) == 7 * kWord);

  static_assert(offsetof(mps_fmt_B_s, pad) == 6 * kWord);
  static_assert(offsetof(mps_fmt_B_s, mps_class) == 7 * kWord);

  static_assert(offsetof(mps_fmt_auto_header_s, fwd) == 3 * kWord);
  static_assert(offsetof(mps_fmt_auto_header_s, mps_headerSize) == 6 * kWord);

  static_assert(offsetof(mps_fmt_fixed_s, scan) == 1 * kWord);
  static_assert(offsetof(mps_fmt_fixed_s, fwd) == 2 * kWord);
  static_assert(offsetof(mps_fmt_fixed_s, pad) == 4 * kWord);
  static_assert(sizeof(mps_fmt_fixed_s) == 5 * kWord);

  static_assert(offsetof(mps_pool_debug_option_s, fence_template) == 0);
  static_assert(offsetof(mps_pool_debug_option_s, fence_size) == kWord);
  static_assert(offsetof(mps_pool_debug_option_s, free_template) == 2 * kWord);
  static_assert(offsetof(mps_pool_debug_option_s, free_size) == 3 * kWord);

  static_assert(offsetof(mps_scan_tag_s, mask) == 0);
  static_assert(offsetof(mps_scan_tag_s, pattern) == sizeof(mps_word_t));
}

TEST(HeaderLayout, PlatformMacros) {
  static_assert(MPS_WORD_WIDTH == sizeof(mps_word_t) * CHAR_BIT);
  static_assert((1 << MPS_WORD_SHIFT) == MPS_WORD_WIDTH);
  static_assert(sizeof(MPS_T_WORD) == sizeof(mps_word_t));
  static_assert(MPS_PF_ALIGN >= alignof(void*) && MPS_PF_ALIGN >= alignof(double));
  static_assert((MPS_PF_ALIGN & (MPS_PF_ALIGN - 1)) == 0);
#if defined(__linux__)
#if !defined(MPS_OS_LI)
  FAIL() << "MPS_OS_LI not defined on Linux";
#endif
  EXPECT_EQ(std::string(MPS_PF_STRING).substr(0, 2), "li");
#endif
}

// A cache for classes of 16, 32 and 64 bytes with 32 as the middle class,
// encoded as sac.md describes: even entries above the middle in increasing
// size, then the overlarge sentinel; odd entries the middle and below in
// decreasing size, each holding the next smaller class's size. Just before
// it, the class table the macros read first (_mps_sac_lookup_s): with
// useTable_, slots of 16 bytes up to 64; without, no slots, so that every
// size takes the search of the entries.
class SacMacros : public ::testing::TestWithParam<bool> {
 protected:
  static constexpr std::size_t kEntry64 = 0, kEntry32 = 1, kSentinel = 2, kEntry16 = 3;

  void SetUp() override {
    static_assert(offsetof(Cache, sac) == sizeof(_mps_sac_lookup_s));
    _mps_sac_lookup_s& lookup = cache_.lookup;
    for (std::size_t k = 0; k < _MPS_SAC_LOOKUP_SLOTS; ++k)
      lookup._entry[k] = 0;
    lookup._shift = 4;
    lookup._limit = GetParam() ? 4 : 0;
    lookup._entry[0] = kEntry16;
    lookup._entry[1] = kEntry32;
    lookup._entry[2] = lookup._entry[3] = kEntry64;
    sac_._middle = 32;
    sac_._trapped = 0;
    // Unused entries continue each side's order, as every cache's do: even
    // ones overlarge, odd ones 0.
    for (std::size_t i = 0; i < 2 * MPS_SAC_CLASS_LIMIT; ++i)
      setEntry(i, i % 2 == 0 ? SIZE_MAX : 0, 0);
    setEntry(kEntry64, 64, 2);
    setEntry(kEntry32, 16, 3);
    setEntry(kSentinel, SIZE_MAX, 0);
    setEntry(kEntry16, 0, 4);
  }

  void setEntry(std::size_t i, std::size_t size, std::size_t countMax) {
    sac_._freelists[i]._size = size;
    sac_._freelists[i]._count = 0;
    sac_._freelists[i]._count_max = countMax;
    sac_._freelists[i]._blocks = nullptr;
  }

  // Pushes `block` by hand, linking through its first word.
  void give(std::size_t i, void** block) {
    *block = sac_._freelists[i]._blocks;
    sac_._freelists[i]._blocks = block;
    ++sac_._freelists[i]._count;
  }

  struct Cache {
    _mps_sac_lookup_s lookup;
    _mps_sac_s sac;
  } cache_{};
  _mps_sac_s& sac_ = cache_.sac;
  mps_sac_t sac = &cache_.sac;
  void* blocks_[4][2] = {};
};

TEST_P(SacMacros, AllocPopsFromTheClassHoldingTheSize) {
  const struct {
    std::size_t size, entry;
  } cases[] = {{0, kEntry16},  {1, kEntry16},  {16, kEntry16}, {17, kEntry32},
               {32, kEntry32}, {33, kEntry64}, {64, kEntry64}};
  for (const auto& c : cases) {
    SetUp();
    give(kEntry64, blocks_[0]);
    give(kEntry32, blocks_[1]);
    give(kEntry16, blocks_[3]);
    void** expected = static_cast<void**>(sac_._freelists[c.entry]._blocks);
    mps_res_t res = MPS_RES_FAIL;
    mps_addr_t p = nullptr;
    MPS_SAC_ALLOC_FAST(res, p, sac, c.size, 0);
    EXPECT_EQ(res, MPS_RES_OK) << "size " << c.size;
    EXPECT_EQ(p, expected) << "size " << c.size;
    EXPECT_EQ(sac_._freelists[c.entry]._count, 0u) << "size " << c.size;
    EXPECT_EQ(sac_._freelists[c.entry]._blocks, nullptr) << "size " << c.size;
  }
}

TEST_P(SacMacros, AllocFollowsTheLinkWord) {
  give(kEntry16, blocks_[0]);
  give(kEntry16, blocks_[1]);
  mps_res_t res = MPS_RES_FAIL;
  mps_addr_t p = nullptr;
  MPS_SAC_ALLOC(res, p, sac, 8, 0);
  EXPECT_EQ(res, MPS_RES_OK);
  EXPECT_EQ(p, blocks_[1]);
  EXPECT_EQ(sac_._freelists[kEntry16]._blocks, blocks_[0]);
  EXPECT_EQ(sac_._freelists[kEntry16]._count, 1u);
}

TEST_P(SacMacros, FreePushesOntoTheClassHoldingTheSize) {
  const struct {
    std::size_t size, entry;
  } cases[] = {{0, kEntry16},  {1, kEntry16},  {16, kEntry16}, {17, kEntry32},
               {32, kEntry32}, {33, kEntry64}, {64, kEntry64}};
  for (const auto& c : cases) {
    SetUp();
    give(c.entry, blocks_[0]);
    MPS_SAC_FREE_FAST(sac, blocks_[1], c.size);
    EXPECT_EQ(sac_._freelists[c.entry]._blocks, blocks_[1]) << "size " << c.size;
    EXPECT_EQ(blocks_[1][0], blocks_[0]) << "size " << c.size;
    EXPECT_EQ(sac_._freelists[c.entry]._count, 2u) << "size " << c.size;
  }
  SetUp();
  MPS_SAC_FREE(sac, blocks_[2], 24);
  EXPECT_EQ(sac_._freelists[kEntry32]._blocks, blocks_[2]);
  EXPECT_EQ(sac_._freelists[kEntry32]._count, 1u);
}

INSTANTIATE_TEST_SUITE_P(TableAndSearch, SacMacros, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Table" : "Search");
                         });

}  // namespace
