// File: connsched/option_text.h
//
// How an option's text value reads as an integer, a boolean or one of an enum's choices.
// Header-only and shared: core validates a value with these before a backend sees it,
// and a backend reads the validated text with the same functions (connsched/backend.h),
// so the two can never disagree on what "on" or "016" means.
#ifndef CONNSCHED_OPTION_TEXT_H_
#define CONNSCHED_OPTION_TEXT_H_

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace connsched {

/// A decimal integer, the whole text: "016" is 16 (never octal), "12ms" is no integer.
inline std::optional<std::int64_t> parse_int(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

/// mysqld's boolean words, in any case: 1|on|true|yes and 0|off|false|no.
inline std::optional<bool> parse_bool(std::string_view text) {
  auto is = [text](std::string_view word) {
    if (text.size() != word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(text[i])) != word[i]) return false;
    }
    return true;
  };
  if (is("1") || is("on") || is("true") || is("yes")) return true;
  if (is("0") || is("off") || is("false") || is("no")) return false;
  return std::nullopt;
}

/// The position of `value` among `choices` ("a|b|c"), or nullopt.
inline std::optional<int> choice_index(std::string_view choices, std::string_view value) {
  for (int index = 0;; ++index) {
    const auto bar = choices.find('|');
    if (choices.substr(0, bar) == value) return index;
    if (bar == std::string_view::npos) return std::nullopt;
    choices.remove_prefix(bar + 1);
  }
}

}  // namespace connsched

#endif  // CONNSCHED_OPTION_TEXT_H_
