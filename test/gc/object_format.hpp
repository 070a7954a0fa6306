// A small object format for collector tests: every object is
//   word 0: (number of references << 8) | kTag
//   word 1: the object's id (a test's shadow model names objects by it)
//   words 2..: references (exact or ambiguous, per the pool's rank)
// so skip and scan need nothing else, and a walk can report ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mps.h"
#include "mpsavm.h"
#include "mpscams.h"
#include "mpsclo.h"

namespace mps::test {

constexpr mps_word_t kObjectTag = 0x5A;

struct Object {
  mps_word_t header;
  mps_word_t id;
  mps_addr_t refs[1];  // really refCount(this)
};

inline size_t refCount(const Object* o) { return size_t(o->header >> 8); }
inline size_t objectSize(size_t refs) { return (2 + refs) * sizeof(mps_word_t); }

extern "C" inline mps_addr_t testSkip(mps_addr_t p) {
  auto* o = static_cast<Object*>(p);
  return static_cast<char*>(p) + objectSize(refCount(o));
}

// Counts calls, and fails on request, so tests can check error handling.
struct ScanControl {
  int failAfter = -1;  // scans left before one returns MPS_RES_FAIL; -1 never
};
inline ScanControl& scanControl() {
  static ScanControl control;
  return control;
}

extern "C" inline mps_res_t testScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  ScanControl& control = scanControl();
  if (control.failAfter == 0) return MPS_RES_FAIL;
  if (control.failAfter > 0) --control.failAfter;
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
      auto* o = reinterpret_cast<Object*>(p);
      size_t n = refCount(o);
      for (size_t i = 0; i < n; ++i) {
        mps_res_t res = MPS_FIX12(ss, &o->refs[i]);
        if (res != MPS_RES_OK) return res;
      }
      p += objectSize(n);
    }
  } MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

inline mps_res_t makeFormat(mps_fmt_t* fmt, mps_arena_t arena, bool leaf = false) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    if (!leaf) MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, testScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, testSkip);
    res = mps_fmt_create_k(fmt, arena, args);
  } MPS_ARGS_END(args);
  return res;
}

// Allocates an object with `refs` null references through `ap`.
inline Object* allocObject(mps_ap_t ap, mps_word_t id, size_t refs) {
  size_t size = objectSize(refs);
  mps_addr_t p;
  do {
    if (mps_reserve(&p, ap, size) != MPS_RES_OK) return nullptr;
    auto* o = static_cast<Object*>(p);
    o->header = (mps_word_t(refs) << 8) | kObjectTag;
    o->id = id;
    for (size_t i = 0; i < refs; ++i) o->refs[i] = nullptr;
  } while (!mps_commit(ap, p, size));
  return static_cast<Object*>(p);
}

// The ids of every object the arena's formatted pools hold.
inline std::vector<mps_word_t> walkIds(mps_arena_t arena) {
  std::vector<mps_word_t> ids;
  mps_arena_formatted_objects_walk(
      arena,
      [](mps_addr_t addr, mps_fmt_t, mps_pool_t, void* p, size_t) {
        static_cast<std::vector<mps_word_t>*>(p)->push_back(static_cast<Object*>(addr)->id);
      },
      &ids, 0);
  return ids;
}

}  // namespace mps::test
