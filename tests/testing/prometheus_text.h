// FirstMalformedLine: a strict line check of Prometheus text exposition
// format 0.0.4, for tests of /metrics.
#ifndef WXVAULT_TESTS_TESTING_PROMETHEUS_TEXT_H_
#define WXVAULT_TESTS_TESTING_PROMETHEUS_TEXT_H_

#include <regex>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace wxvault::testing {

// Checks every line of `text`: "# HELP name text", "# TYPE name
// counter|gauge|histogram", or a sample "name{label="value",...} number"
// with properly escaped label values; the text ends with a newline.
// Returns the first offending line, or "" when all are well-formed.
inline std::string FirstMalformedLine(const std::string& text) {
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex kType(R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))");
  static const std::regex kSample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")"
      R"((,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN))");
  if (!text.empty() && text.back() != '\n') return "<no final newline>";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::string s(line);
    if (!std::regex_match(s, kHelp) && !std::regex_match(s, kType) && !std::regex_match(s, kSample)) return s;
  }
  return "";
}

}  // namespace wxvault::testing

#endif  // WXVAULT_TESTS_TESTING_PROMETHEUS_TEXT_H_
