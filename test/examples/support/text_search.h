// File: test/examples/support/text_search.h
//
// Small helpers to pick numbers out of tool output and logs (no std::regex: libstdc++'s
// recursion can overflow the stack on long inputs under the sanitizers).
#ifndef CONNSCHED_TEST_SERVERS_TEXT_SEARCH_H_
#define CONNSCHED_TEST_SERVERS_TEXT_SEARCH_H_

#include <optional>
#include <string>
#include <string_view>

namespace connsched::testing {

/// The decimal number right after the first `marker` in `text` (after `from`).
inline std::optional<long long> number_after(std::string_view text, std::string_view marker,
                                             std::size_t from = 0) {
  auto at = text.find(marker, from);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + marker.size();
  std::size_t start = i;
  long long value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 18) {
    value = value * 10 + (text[i] - '0');
    ++i;
  }
  if (i == start) return std::nullopt;
  return value;
}

/// The number just before the first `marker` ("76201 requests in").
inline std::optional<long long> number_before(std::string_view text, std::string_view marker) {
  auto at = text.find(marker);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  std::size_t start = at;
  while (start > 0 && text[start - 1] >= '0' && text[start - 1] <= '9' && at - start < 18) --start;
  if (start == at) return std::nullopt;
  return std::stoll(std::string(text.substr(start, at - start)));
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SERVERS_TEXT_SEARCH_H_
