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

AssertReport& AssertReport::text(const char* s) {
  while (*s != '\0' && len_ + 1 < kSize)
    buf_[len_++] = *s++;
  buf_[len_] = '\0';
  return *this;
}

AssertReport& AssertReport::address(const void* p) {
  char digits[2 + 2 * sizeof(void*) + 1];
  unsigned n = sizeof(digits) - 1;
  digits[n] = '\0';
  auto v = reinterpret_cast<std::uintptr_t>(p);
  do {
    digits[--n] = "0123456789abcdef"[v & 0xF];
    v >>= 4;
  } while (v != 0);
  digits[--n] = 'x';
  digits[--n] = '0';
  return text(digits + n);
}

AssertReport& AssertReport::number(std::uint64_t v) {
  char digits[21];
  unsigned n = sizeof(digits) - 1;
  digits[n] = '\0';
  do {
    digits[--n] = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return text(digits + n);
}

AssertReport& AssertReport::in(const char* function, const char* kind, const void* object) {
  text(" (in ").text(function).text(": ").text(kind).text(" ");
  return address(object);
}

void AssertReport::fail(const char* file, unsigned line) const {
  assertFail(file, line, buf_);
}

void misuseFail(const char* file, unsigned line, const char* rule, const char* function,
                const char* kind, const void* object) {
  AssertReport().text(rule).in(function, kind, object).text(")").fail(file, line);
}

}  // namespace mps::core
