#include "base/check.hpp"

#include <cstdlib>

#include "mpslib.h"

namespace mps::core {

void assertFail(const char* file, unsigned line, const char* condition) {
  mps_lib_assert_fail(file, line, condition);
  // A client handler must not return (plinth.md); if it does, stopping here is
  // the only way to avoid running on with a broken invariant.
  std::abort();
}

}  // namespace mps::core
