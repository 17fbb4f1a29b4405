// File: tools/loadgen/resp_reply.cc
#include "resp_reply.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <vector>

namespace loadgen {

namespace {

constexpr int kMaxDepth = 32;

// One value starting at `at`; on success advances `at` past it. The recursion handles
// arrays, whose elements are values in turn.
ParseStatus parse_value(std::string_view bytes, std::size_t& at, int depth) {
  if (depth > kMaxDepth) return ParseStatus::kInvalid;
  if (at >= bytes.size()) return ParseStatus::kIncomplete;
  const auto line_end = bytes.find("\r\n", at);
  if (line_end == std::string_view::npos) {
    // A header line may not be longer than a number; garbage without CR LF is invalid.
    const char type = bytes[at];
    if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') {
      return ParseStatus::kInvalid;
    }
    return ParseStatus::kIncomplete;
  }
  const char type = bytes[at];
  const std::string_view body = bytes.substr(at + 1, line_end - at - 1);
  const std::size_t after_line = line_end + 2;
  switch (type) {
    case '+':
    case '-':
      at = after_line;
      return ParseStatus::kComplete;
    case ':':
    case '$':
    case '*': {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), n);
      if (ec != std::errc{} || end != body.data() + body.size()) return ParseStatus::kInvalid;
      if (type == ':') {
        at = after_line;
        return ParseStatus::kComplete;
      }
      if (n < -1) return ParseStatus::kInvalid;
      if (n == -1) {  // null bulk string or null array
        at = after_line;
        return ParseStatus::kComplete;
      }
      if (type == '$') {
        const std::size_t need = after_line + static_cast<std::size_t>(n) + 2;
        if (bytes.size() < need) return ParseStatus::kIncomplete;
        if (bytes.substr(need - 2, 2) != "\r\n") return ParseStatus::kInvalid;
        at = need;
        return ParseStatus::kComplete;
      }
      std::size_t cursor = after_line;
      for (std::int64_t i = 0; i < n; ++i) {
        const ParseStatus element = parse_value(bytes, cursor, depth + 1);
        if (element != ParseStatus::kComplete) return element;
      }
      at = cursor;
      return ParseStatus::kComplete;
    }
    default:
      return ParseStatus::kInvalid;
  }
}

}  // namespace

ReplyParse parse_resp_reply(std::string_view bytes) {
  // Parse the whole value first so a partial array is never half-consumed.
  ReplyParse out;
  std::size_t at = 0;
  out.status = parse_value(bytes, at, 0);
  if (out.status != ParseStatus::kComplete) return out;
  out.consumed = at;
  out.is_error = bytes[0] == '-';
  out.first_line = bytes.substr(0, bytes.find("\r\n"));
  return out;
}

std::string encode_resp_command(std::string_view command) {
  // Clients send commands as arrays of bulk strings; build that from a spaced string.
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start < command.size()) {
    auto end = command.find(' ', start);
    if (end == std::string_view::npos) end = command.size();
    if (end > start) words.push_back(command.substr(start, end - start));
    start = end + 1;
  }
  std::string out = fmt::format("*{}\r\n", words.size());
  for (auto word : words) out += fmt::format("${}\r\n{}\r\n", word.size(), word);
  return out;
}

}  // namespace loadgen
