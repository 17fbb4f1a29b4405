// File: examples/kv/resp_parser.cc
#include "resp_parser.h"

#include <algorithm>
#include <charconv>
#include <optional>

namespace kv {

namespace {

// Longest "*<count>\r\n" or "$<length>\r\n" line we wait for before calling it garbage.
constexpr std::size_t kMaxHeaderLine = 32;

using Status = RespRequest::Status;

RespRequest error(std::string message) {
  RespRequest r;
  r.status = Status::kError;
  r.error = std::move(message);
  return r;
}

// A strict decimal integer (optional '-', digits, nothing else); nullopt otherwise.
std::optional<long long> parse_length(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The CRLF-terminated line starting at `pos`: its text, and where the next one starts.
// nullopt while the line is incomplete; `too_long` when no CRLF within `limit` bytes.
struct Line {
  std::string_view text;
  std::size_t next = 0;
};
std::optional<Line> header_line(std::string_view input, std::size_t pos, bool& too_long) {
  std::size_t end = input.find("\r\n", pos);
  if (end == std::string_view::npos) {
    too_long = input.size() - pos > kMaxHeaderLine;
    return std::nullopt;
  }
  return Line{input.substr(pos, end - pos), end + 2};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Redis's sdssplitargs: words split on spaces; "double quotes" take \n \r \t \b \a \\ \"
// and \xHH; 'single quotes' take \'; a closing quote must be followed by a space.
bool split_inline(std::string_view line, std::vector<std::string>& args) {
  std::size_t i = 0;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (true) {
    while (i < line.size() && space(line[i])) ++i;
    if (i >= line.size()) return true;
    std::string word;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (in_double) {
        if (i >= line.size()) return false;  // unterminated quotes
        char c = line[i];
        if (c == '\\' && i + 3 < line.size() && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 &&
            hex_digit(line[i + 3]) >= 0) {
          word.push_back(static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3])));
          i += 3;
        } else if (c == '\\' && i + 1 < line.size()) {
          ++i;
          switch (line[i]) {
            case 'n':
              word.push_back('\n');
              break;
            case 'r':
              word.push_back('\r');
              break;
            case 't':
              word.push_back('\t');
              break;
            case 'b':
              word.push_back('\b');
              break;
            case 'a':
              word.push_back('\a');
              break;
            default:
              word.push_back(line[i]);
              break;
          }
        } else if (c == '"') {
          if (i + 1 < line.size() && !space(line[i + 1])) return false;
          done = true;
        } else {
          word.push_back(c);
        }
      } else if (in_single) {
        if (i >= line.size()) return false;
        char c = line[i];
        if (c == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
          ++i;
          word.push_back('\'');
        } else if (c == '\'') {
          if (i + 1 < line.size() && !space(line[i + 1])) return false;
          done = true;
        } else {
          word.push_back(c);
        }
      } else {
        if (i >= line.size()) {
          done = true;
          break;
        }
        char c = line[i];
        if (space(c)) {
          done = true;
          break;
        }
        if (c == '"') {
          in_double = true;
        } else if (c == '\'') {
          in_single = true;
        } else {
          word.push_back(c);
        }
      }
      if (i < line.size()) ++i;
    }
    args.push_back(std::move(word));
  }
}

// An inline command ends at '\n' (a '\r' before it is dropped); a line that has not
// ended within max_inline_length is refused rather than buffered without bound.
RespRequest parse_inline(std::string_view input, const RespLimits& limits) {
  std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    if (input.size() > limits.max_inline_length)
      return error("Protocol error: too big inline request");
    return {};
  }
  if (newline > limits.max_inline_length) return error("Protocol error: too big inline request");
  std::string_view line = input.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  RespRequest r;
  if (!split_inline(line, r.args)) return error("Protocol error: unbalanced quotes in request");
  if (r.args.size() > limits.max_arguments)
    return error("Protocol error: invalid multibulk length");
  r.status = Status::kComplete;
  r.consumed = newline + 1;
  return r;
}

// Walks the array without copying until every bulk is present, so an incomplete
// request costs a scan, not an allocation.
RespRequest parse_multibulk(std::string_view input, const RespLimits& limits) {
  bool too_long = false;
  auto count_line = header_line(input, 1, too_long);
  if (!count_line) {
    return too_long ? error("Protocol error: too big mbulk count string") : RespRequest{};
  }
  auto count = parse_length(count_line->text);
  if (!count || *count > static_cast<long long>(limits.max_arguments)) {
    return error("Protocol error: invalid multibulk length");
  }
  RespRequest r;
  if (*count <= 0) {  // "*0" and "*-1": nothing to do, as Redis treats them
    r.status = Status::kComplete;
    r.consumed = count_line->next;
    return r;
  }
  struct Span {
    std::size_t start, length;
  };
  std::vector<Span> spans;
  spans.reserve(static_cast<std::size_t>(std::min<long long>(*count, 64)));
  std::size_t pos = count_line->next;
  for (long long i = 0; i < *count; ++i) {
    if (pos >= input.size()) return {};
    if (input[pos] != '$') {
      return error(std::string("Protocol error: expected '$', got '") + input[pos] + "'");
    }
    auto length_line = header_line(input, pos + 1, too_long);
    if (!length_line) {
      return too_long ? error("Protocol error: too big bulk count string") : RespRequest{};
    }
    auto length = parse_length(length_line->text);
    if (!length || *length < 0 ||
        static_cast<unsigned long long>(*length) > limits.max_bulk_length) {
      return error("Protocol error: invalid bulk length");
    }
    std::size_t start = length_line->next;
    std::size_t bytes = static_cast<std::size_t>(*length);
    if (input.size() - start < bytes + 2) {  // the bulk has not all arrived
      RespRequest incomplete;
      incomplete.needed = start + bytes + 2;
      return incomplete;
    }
    if (input.substr(start + bytes, 2) != "\r\n") {
      return error("Protocol error: expected CRLF after a bulk string");
    }
    spans.push_back({start, bytes});
    pos = start + bytes + 2;
  }
  r.args.reserve(spans.size());
  for (const auto& s : spans) r.args.emplace_back(input.substr(s.start, s.length));
  r.status = Status::kComplete;
  r.consumed = pos;
  return r;
}

}  // namespace

// The first byte decides, as in Redis: '*' starts a multi-bulk request, anything else
// is an inline command.
RespRequest parse_resp_request(std::string_view input, const RespLimits& limits) {
  if (input.empty()) return {};
  if (input[0] == '*') return parse_multibulk(input, limits);
  return parse_inline(input, limits);
}

}  // namespace kv
