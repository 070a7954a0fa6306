// libFuzzer entry for the converter's reader and writers (design/mps-events.md
// .events.fuzz): built with clang when MPS_BUILD_FUZZERS is on, as
// test/events/events_libfuzzer. Run: events_libfuzzer -runs=1000000 [corpus/]
// The seeded mutation test (fuzz_test.cpp) runs in every CI build; this is
// for longer, coverage-guided runs.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "formats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const mps::events::Stream s = mps::events::parse(std::vector<unsigned char>(data, data + size));
  if (s.error && s.error->offset > size) __builtin_trap();
  if (s.headerValid && s.events.size() < 4096) {
    std::ostringstream out;
    mps::events::writeText(s, "fuzz", out);
    mps::events::writeJsonLines(s, "fuzz", out);
    mps::events::writeHtml(s, "fuzz", out);
  }
  return 0;
}
