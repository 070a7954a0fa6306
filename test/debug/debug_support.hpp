// Shared by the debugging pool tests: the text of the reports.
#pragma once

#include <cstdio>
#include <string>

#include "assertions.hpp"
#include "mps.h"
#include "mpsavm.h"

namespace mps::test {

// An address as the library's reports write it (0x and lower-case hex).
inline std::string hexAddress(const void* p) {
  char buf[2 + 2 * sizeof(void*) + 1];
  std::snprintf(buf, sizeof buf, "0x%llx",
                static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(p)));
  return buf;
}

// The report of a damaged fencepost found by `check` whose first bad byte is
// at `bad`, in the block at `block`.
inline std::string fenceReport(const char* check, const void* bad, const void* block) {
  return assertionReportContaining(std::string(check) + ": fencepost overwritten at " +
                                   hexAddress(bad)) +
         ".*" + regexLiteral("the block " + hexAddress(block));
}

// The report of free space overwritten, first at `bad`.
inline std::string freeReport(const char* check, const void* bad) {
  return assertionReportContaining(std::string(check) + ": free space overwritten at " +
                                   hexAddress(bad));
}

// A 64 MiB VM arena, or null.
inline mps_arena_t makeTestArena() {
  mps_arena_t arena = nullptr;
  MPS_ARGS_BEGIN(args) {
    MPS_ARGS_ADD(args, MPS_KEY_ARENA_SIZE, size_t(64) << 20);
    if (mps_arena_create_k(&arena, mps_arena_class_vm(), args) != MPS_RES_OK) arena = nullptr;
  }
  MPS_ARGS_END(args);
  return arena;
}

// A client's stray write of one byte, undone by repair() (so that the test
// process, which the death test left alone, can destroy the pool, which
// checks again).
class StrayWrite {
 public:
  explicit StrayWrite(char* p) : p_(p), saved_(*p) { *p = char(saved_ ^ 0x5A); }
  void repair() { *p_ = saved_; }

 private:
  char* p_;
  char saved_;
};

}  // namespace mps::test
