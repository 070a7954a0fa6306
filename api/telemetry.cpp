// Telemetry control (telemetry.md) and the library's version string.
//
// The filter word and the event stream belong to the event module
// (event/event.hpp, design/event.md); these are the client's entry points.
#include <string.h>  // strnlen (POSIX)

#include <atomic>

#include "base/check.hpp"
#include "event/event.hpp"
#include "mps.h"

#ifndef MPS_VERSION_TEXT
#error "the build defines MPS_VERSION_TEXT (api/CMakeLists.txt)"
#endif

namespace {

// Labels are handed out in order from 1, so 0 never names a string.
std::atomic<mps_label_t> lastLabel{0};

}  // namespace

extern "C" {

// The filter is read through the plinth on first use: telemetry functions
// may be called before any arena exists (telemetry.md), and a client
// plinth's mps_lib_telemetry_control must not run before main.
mps_word_t mps_telemetry_get(void) {
  return mps::event::filter();
}

void mps_telemetry_set(mps_word_t setMask) {
  mps::event::setFilter(setMask);
}

void mps_telemetry_reset(mps_word_t resetMask) {
  mps::event::resetFilter(resetMask);
}

mps_label_t mps_telemetry_intern(const char* label) {
  // telemetry.md: at most 256 characters including the terminating NUL.
  MPS_AVER_ALWAYS(label != NULL && ::strnlen(label, 256) < 256 &&
                  "a telemetry label is a string of at most 255 characters");
  mps_label_t interned = lastLabel.fetch_add(1, std::memory_order_relaxed) + 1;
  MPS_EVENT(Intern, interned, label);
  return interned;
}

void mps_telemetry_label(mps_addr_t address, mps_label_t label) {
  MPS_EVENT(Label, address, label);
}

void mps_telemetry_flush(void) {
  mps::event::flush();
}

// Not declared in any header, as in MPS: clients that print the version
// declare these themselves. `what` and `ident` find the "@(#)" marker in a
// binary linked with the library.
char MPSVersionString[] =
    "@(#)MPS++ " MPS_VERSION_TEXT ", an MPS-compatible memory pool system (interface of MPS 1.118)";

char* MPSVersion(void) {
  return MPSVersionString;
}

}  // extern "C"
