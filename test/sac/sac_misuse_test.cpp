// Misuse tests: one client mistake each, expecting the plinth's report of the
// violated rule. Rules checked only in checked builds are guarded by
// MPS_CHECKED.

#include "sac_fixture.hpp"

namespace mps::test {
namespace {

class SacMisuseDeathTest : public SacTest {
 protected:
  Res create(Pool* pool, const std::vector<mps_sac_class_s>& classes) {
    SegregatedCache* cache;
    return SegregatedCache::create(&cache, pool, classes.size(), classes.data());
  }
};

TEST_F(SacMisuseDeathTest, NoClasses) {
  GrainPool* pool = grainPool();
  EXPECT_DEATH(create(pool, {}), assertionReport("classesCount >= 1"));
}

TEST_F(SacMisuseDeathTest, ClassSizesNotIncreasing) {
  GrainPool* pool = grainPool();
  EXPECT_DEATH(create(pool, {{32, 1, 1}, {64, 1, 1}, {64, 1, 1}}),
               assertionReport("classes[c].mps_block_size > classes[c - 1].mps_block_size"));
  EXPECT_DEATH(create(pool, {{64, 1, 1}, {32, 1, 1}}),
               assertionReport("classes[c].mps_block_size > classes[c - 1].mps_block_size"));
}

TEST_F(SacMisuseDeathTest, ClassSizeNotAMultipleOfTheAlignment) {
  GrainPool* pool = grainPool(16);
  EXPECT_DEATH(create(pool, {{32, 1, 1}, {40, 1, 1}}),
               assertionReport("isAligned(classes[c].mps_block_size, pool->alignment())"));
}

TEST_F(SacMisuseDeathTest, SmallestClassBelowAWord) {
  GrainPool* pool = grainPool(4);
  EXPECT_DEATH(create(pool, {{4, 1, 1}, {16, 1, 1}}),
               assertionReport("classes[0].mps_block_size >= sizeof(void*)"));
}

TEST_F(SacMisuseDeathTest, PoolWithoutManualAllocation) {
  Pool* pool = nullptr;
  ASSERT_EQ(kPoolClassGrainNoManual.create(&pool, arena_, mps_args_none), Res::ok);
  pools_.push_back(pool);
  EXPECT_DEATH(create(pool, {{32, 1, 1}}),
               assertionReport("poolClass->has(kPoolAttrAlloc) && poolClass->has(kPoolAttrFree)"));
}

TEST_F(SacMisuseDeathTest, DestroyingAPoolWithACache) {
  GrainPool* pool = grainPool();
  makeCache(pool, {{32, 1, 1}});
  EXPECT_DEATH(pool->destroy(), assertionReport("pool has no segregated allocation caches: "
                                                "destroy them before the pool"));
}

#if MPS_CHECKED

TEST_F(SacMisuseDeathTest, FreeingABlockOfAnotherPool) {
  GrainPool* other = grainPool();
  SegregatedCache* cache = makeCache(grainPool(), {{32, 4, 1}});
  Addr p = nullptr;
  ASSERT_EQ(other->alloc(&p, 32), Res::ok);
  EXPECT_DEATH(cache->empty(p, 32), assertionReport("pool_->arena()->poolOf(p) == pool_"));
  other->free(p, 32);
}

TEST_F(SacMisuseDeathTest, CorruptedCountIsFoundByCheck) {
  SegregatedCache* cache = makeCache(grainPool(), {{32, 4, 1}});
  Addr p = nullptr;
  ASSERT_EQ(cache->alloc(&p, 32), Res::ok);
  cache->free(p, 32);
  auto* entry = &SegregatedCache::entriesOf(cache->external())[1];
  ASSERT_EQ(entry->_count, 3u);
  // A client scribbling on the cache: more blocks than the list may hold.
  entry->_count = entry->_count_max + 1;
  EXPECT_DEATH(cache->flush(), assertionReport("entry->_count <= entry->_count_max"));
  entry->_count = 3;
}

TEST_F(SacMisuseDeathTest, CorruptedClassTableIsFoundByCheck) {
  SegregatedCache* cache = makeCache(grainPool(), {{16, 4, 1}, {32, 4, 1}, {64, 4, 1}});
  _mps_sac_lookup_s* lookup = SegregatedCache::lookupOf(cache->external());
  ASSERT_EQ(lookup->_limit, 4u);
  // Sizes 33 to 48 sent to the entry of the 32-byte class.
  unsigned char saved = lookup->_entry[2];
  lookup->_entry[2] = lookup->_entry[1];
  EXPECT_DEATH(cache->flush(),
               assertionReport("lookup->_entry[k] == search(ext_, (k + 1) << lookup->_shift)"));
  lookup->_entry[2] = saved;
}

TEST_F(SacMisuseDeathTest, StaleHandle) {
  SegregatedCache* cache = makeCache(grainPool(), {{32, 4, 1}});
  mps_sac_t sac = cache->external();
  destroyCache(cache);
  EXPECT_DEATH(SegregatedCache::ofExternal(sac),
               assertionReport("cache != nullptr && cache->sig == kSig && cache->ext_ == sac"));
}

#endif  // MPS_CHECKED

}  // namespace
}  // namespace mps::test
