// A moving variant of test/gc/object_format.hpp for AMC and AMCZ: the same
// objects (header with the reference count and kObjectTag, id, references),
// plus forwarding markers and padding objects, which carry their size in
// words in the header so that skip handles them:
//   forwarding marker: word 0 (size in words << 8) | kFwdTag, word 1 new address
//   padding object:    word 0 (size in words << 8) | kPadTag
#pragma once

#include <cstring>

#include "mpscamc.h"
#include "object_format.hpp"

namespace mps::test {

constexpr mps_word_t kFwdTag = 0xF1;
constexpr mps_word_t kPadTag = 0xAD;

inline mps_word_t tagOf(const void* p) {
  return *static_cast<const mps_word_t*>(p) & 0xFF;
}
inline size_t wordsOf(const void* p) {
  return size_t(*static_cast<const mps_word_t*>(p) >> 8);
}

extern "C" inline mps_addr_t movingSkip(mps_addr_t p) {
  mps_word_t tag = tagOf(p);
  if (tag == kFwdTag || tag == kPadTag)
    return static_cast<char*>(p) + wordsOf(p) * sizeof(mps_word_t);
  return testSkip(p);
}

extern "C" inline mps_res_t movingScan(mps_ss_t ss, mps_addr_t base, mps_addr_t limit) {
  ScanControl& control = scanControl();
  if (control.failAfter == 0) return MPS_RES_FAIL;
  if (control.failAfter > 0) --control.failAfter;
  MPS_SCAN_BEGIN(ss) {
    for (char* p = static_cast<char*>(base); p < static_cast<char*>(limit);) {
      if (tagOf(p) != kObjectTag) {
        p = static_cast<char*>(movingSkip(p));
        continue;
      }
      auto* o = reinterpret_cast<Object*>(p);
      size_t n = refCount(o);
      for (size_t i = 0; i < n; ++i) {
        mps_res_t res = MPS_FIX12(ss, &o->refs[i]);
        if (res != MPS_RES_OK) return res;
      }
      p += objectSize(n);
    }
  }
  MPS_SCAN_END(ss);
  return MPS_RES_OK;
}

extern "C" inline void movingFwd(mps_addr_t old, mps_addr_t to) {
  auto* w = static_cast<mps_word_t*>(old);
  size_t words = objectSize(refCount(static_cast<Object*>(old))) / sizeof(mps_word_t);
  w[0] = (mps_word_t(words) << 8) | kFwdTag;
  w[1] = reinterpret_cast<mps_word_t>(to);
}

extern "C" inline mps_addr_t movingIsfwd(mps_addr_t p) {
  if (tagOf(p) != kFwdTag) return nullptr;
  return reinterpret_cast<mps_addr_t>(static_cast<mps_word_t*>(p)[1]);
}

extern "C" inline void movingPad(mps_addr_t p, size_t size) {
  *static_cast<mps_word_t*>(p) = (mps_word_t(size / sizeof(mps_word_t)) << 8) | kPadTag;
}

inline mps_res_t makeMovingFormat(mps_fmt_t* fmt, mps_arena_t arena, bool leaf = false) {
  mps_res_t res;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ALIGN, sizeof(mps_word_t));
    if (!leaf) MPS_ARGS_ADD(args, MPS_KEY_FMT_SCAN, movingScan);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_SKIP, movingSkip);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_FWD, movingFwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_ISFWD, movingIsfwd);
    MPS_ARGS_ADD(args, MPS_KEY_FMT_PAD, movingPad);
    res = mps_fmt_create_k(fmt, arena, args);
  }
  MPS_ARGS_END(args);
  return res;
}

}  // namespace mps::test
