// Telemetry control (telemetry.md) and the library's version string.
//
// MPS++ emits no event stream yet. The functions keep the filter word (its
// initial value read through the plinth, so MPS_TELEMETRY_CONTROL works as
// documented), hand out labels and accept addresses to label, so that
// clients written for MPS link and behave consistently; nothing is written
// anywhere (manual/reference/telemetry.md).
#include <string.h>  // strnlen (POSIX)

#include <atomic>

#include "base/check.hpp"
#include "mps.h"
#include "mpslib.h"

#ifndef MPS_VERSION_TEXT
#error "the build defines MPS_VERSION_TEXT (api/CMakeLists.txt)"
#endif

namespace {

// The filter, read from the plinth on first use: telemetry functions may be
// called before any arena exists (telemetry.md), and a client plinth's
// mps_lib_telemetry_control must not run before main.
std::atomic<mps_word_t>& filter() {
  static std::atomic<mps_word_t> word{static_cast<mps_word_t>(mps_lib_telemetry_control())};
  return word;
}

// Labels are handed out in order from 1, so 0 never names a string.
std::atomic<mps_label_t> lastLabel{0};

}  // namespace

extern "C" {

mps_word_t mps_telemetry_get(void) {
  return filter().load(std::memory_order_relaxed);
}

void mps_telemetry_set(mps_word_t setMask) {
  filter().fetch_or(setMask, std::memory_order_relaxed);
}

void mps_telemetry_reset(mps_word_t resetMask) {
  filter().fetch_and(~resetMask, std::memory_order_relaxed);
}

mps_label_t mps_telemetry_intern(const char* label) {
  // telemetry.md: at most 256 characters including the terminating NUL.
  MPS_AVER_ALWAYS(label != NULL && ::strnlen(label, 256) < 256 &&
                  "a telemetry label is a string of at most 255 characters");
  return lastLabel.fetch_add(1, std::memory_order_relaxed) + 1;
}

void mps_telemetry_label(mps_addr_t, mps_label_t) {}

void mps_telemetry_flush(void) {}

// Not declared in any header, as in MPS: clients that print the version
// declare these themselves. `what` and `ident` find the "@(#)" marker in a
// binary linked with the library.
char MPSVersionString[] =
    "@(#)MPS++ " MPS_VERSION_TEXT ", an MPS-compatible memory pool system (interface of MPS 1.118)";

char* MPSVersion(void) {
  return MPSVersionString;
}

}  // extern "C"
