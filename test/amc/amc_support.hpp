// Helpers for AMC tests: an arena with AMC, AMCZ and AMS pools on one chain,
// exact and ambiguous table roots, nursery collections through the core
// (the C interface only offers full ones), and a graph dump that names
// objects by id so that two heaps can be compared whatever their addresses.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <set>
#include <vector>

#include "arena/arena.hpp"
#include "arena/segment.hpp"
#include "moving_format.hpp"
#include "tracer/chain.hpp"
#include "tracer/collector.hpp"

namespace mps::test {

// A parked VM arena of `size` bytes whose collections use `workers` workers.
inline mps_res_t makeParkedArena(mps_arena_t* arena, unsigned workers,
                                 size_t size = size_t(64) << 20) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size);
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_GC_WORKERS, workers);
    res = mps_arena_create_k(arena, mps_arena_class_vm(), args);
  }
  MPS_ARGS_END(args);
  if (res == MPS_RES_OK) mps_arena_park(*arena);
  return res;
}

// A pool of either class on its own two-generation chain, with the test
// format: for tests that run one program on AMS and on AMC.
enum class PoolKind { ams, amc };
// gtest names parameters by these (rather than by their bytes).
inline void PrintTo(PoolKind kind, std::ostream* os) {
  *os << (kind == PoolKind::ams ? "AMS" : "AMC");
}
struct PoolOnChain {
  mps_fmt_t fmt = nullptr;
  mps_chain_t chain = nullptr;
  mps_pool_t pool = nullptr;
};
inline mps_res_t makePoolOnChain(PoolOnChain* out, mps_arena_t arena, PoolKind kind,
                                 mps_gen_param_s nursery, mps_gen_param_s older) {
  mps_res_t res =
      kind == PoolKind::amc ? makeMovingFormat(&out->fmt, arena) : makeFormat(&out->fmt, arena);
  if (res != MPS_RES_OK) return res;
  mps_gen_param_s gens[2] = {nursery, older};
  res = mps_chain_create(&out->chain, arena, 2, gens);
  if (res != MPS_RES_OK) return res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FORMAT, out->fmt);
    MPS_ARGS_ADD(args, MPS_KEY_CHAIN, out->chain);
    res = mps_pool_create_k(&out->pool, arena,
                            kind == PoolKind::amc ? mps_class_amc() : mps_class_ams(), args);
  }
  MPS_ARGS_END(args);
  return res;
}
inline void destroyPoolOnChain(PoolOnChain* p) {
  if (p->pool != nullptr) mps_pool_destroy(p->pool);
  if (p->chain != nullptr) mps_chain_destroy(p->chain);
  if (p->fmt != nullptr) mps_fmt_destroy(p->fmt);
  *p = PoolOnChain{};
}

// Collects generations 0..top of `chain` now (a nursery collection when
// top is 0).
inline mps_res_t collectGenerations(mps_arena_t arena, mps_chain_t chain, unsigned top) {
  auto* a = reinterpret_cast<core::Arena*>(arena);
  a->lock().claim();
  core::Res res = core::Collector::of(a)->collectChain(reinterpret_cast<core::Chain*>(chain), top,
                                                       "test: collect generations");
  a->lock().release();
  return mps_res_t(res);
}

// The generation index of the segment holding `p` (-1 if none).
inline int generationOf(mps_arena_t arena, void* p) {
  core::Segment* seg = reinterpret_cast<core::Arena*>(arena)->segmentOf(p);
  return seg != nullptr && seg->gen != nullptr ? int(seg->gen->index) : -1;
}

// Every object of the arena's formatted pools by id.
inline std::map<mps_word_t, Object*> objectsById(mps_arena_t arena) {
  std::map<mps_word_t, Object*> byId;
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t addr, mps_fmt_t, mps_pool_t, void* p, size_t) {
        auto* m = static_cast<std::map<mps_word_t, Object*>*>(p);
        auto* o = static_cast<Object*>(addr);
        EXPECT_EQ(tagOf(o), kObjectTag) << "a walker saw a forwarding or padding object";
        EXPECT_TRUE(m->emplace(o->id, o).second) << "object " << o->id << " walked twice";
      },
      &byId, 0);
  return byId;
}

// The graph reachable from `roots`, as (id, referent ids) in id order.
inline std::map<mps_word_t, std::vector<mps_word_t>> graphFrom(const std::vector<Object*>& roots) {
  std::map<mps_word_t, std::vector<mps_word_t>> graph;
  std::vector<Object*> work(roots.begin(), roots.end());
  while (!work.empty()) {
    Object* o = work.back();
    work.pop_back();
    if (o == nullptr || graph.count(o->id)) continue;
    EXPECT_EQ(tagOf(o), kObjectTag);
    std::vector<mps_word_t>& out = graph[o->id];
    for (size_t i = 0; i < refCount(o); ++i) {
      auto* to = static_cast<Object*>(o->refs[i]);
      out.push_back(to ? to->id : 0);
      work.push_back(to);
    }
  }
  return graph;
}

}  // namespace mps::test
