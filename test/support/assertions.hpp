// Expecting assertion reports in death tests.
//
// The default plinth prints "<file>:<line>: MPS++ ASSERTION FAILED: <condition>"
// and aborts. assertionReport(condition) is a regular expression for exactly
// that line with the condition taken literally, so a test names the rule it
// expects to be violated rather than just "some crash":
//
//   EXPECT_DEATH(mps_alloc(&p, pool, 0), mps::test::assertionReport("size > 0"));
#pragma once

#include <string>
#include <string_view>

namespace mps::test {

// `text` as a POSIX extended regular expression matching it literally.
inline std::string regexLiteral(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
      case '.':
      case '[':
      case ']':
      case '(':
      case ')':
      case '{':
      case '}':
      case '*':
      case '+':
      case '?':
      case '^':
      case '$':
      case '|':
        out += '\\';
        break;
      default:
        break;
    }
    out += c;
  }
  return out;
}

// The report line of a failed assertion on `condition`, from any file.
inline std::string assertionReport(std::string_view condition) {
  return "[^ ]+:[0-9]+: MPS\\+\\+ ASSERTION FAILED: " + regexLiteral(condition);
}

// The same, from a file whose path ends in `fileSuffix` (e.g. "pools/mfs/mfs.hpp").
inline std::string assertionReport(std::string_view fileSuffix, std::string_view condition) {
  return "[^ ]*" + regexLiteral(fileSuffix) +
         ":[0-9]+: MPS\\+\\+ ASSERTION FAILED: " + regexLiteral(condition);
}

// A report whose condition contains `text` somewhere (for conditions that
// carry an explanation, such as `cond && "rule"`).
inline std::string assertionReportContaining(std::string_view text) {
  return "[^ ]+:[0-9]+: MPS\\+\\+ ASSERTION FAILED: .*" + regexLiteral(text);
}

}  // namespace mps::test
