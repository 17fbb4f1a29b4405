// File: tools/loadgen/http_reply.cc
#include "http_reply.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace loadgen {

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view value, std::string_view token) {
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    if (iequals(trim(value.substr(start, end - start)), token)) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

ReplyParse parse_http_response(std::string_view bytes) {
  // Headers first (all of them must be here), then the body length they announce.
  ReplyParse out;
  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    const bool plausible =
        std::string_view("HTTP/").starts_with(bytes.substr(0, 5)) && bytes.size() < kMaxHeaderBytes;
    out.status = plausible ? ParseStatus::kIncomplete : ParseStatus::kInvalid;
    return out;
  }
  const std::string_view head = bytes.substr(0, head_end);
  const auto status_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, status_end);
  out.first_line = status_line;
  // "HTTP/1.1 200 OK": version, space, three digits.
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    out.status = ParseStatus::kInvalid;
    return out;
  }
  const bool http10 = status_line[7] == '0';
  int code = 0;
  auto [code_end, code_ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, code);
  if (code_ec != std::errc{} || code_end != status_line.data() + 12 || code < 100) {
    out.status = ParseStatus::kInvalid;
    return out;
  }
  out.http_status = code;
  out.is_error = code >= 400;
  out.closes = http10;

  std::uint64_t content_length = 0;
  std::size_t line_start = status_end == std::string_view::npos ? head.size() : status_end + 2;
  while (line_start < head.size()) {
    auto line_end = head.find("\r\n", line_start);
    if (line_end == std::string_view::npos) line_end = head.size();
    const std::string_view line = head.substr(line_start, line_end - line_start);
    line_start = line_end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      out.status = ParseStatus::kInvalid;
      return out;
    }
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (ec != std::errc{} || end != value.data() + value.size()) {
        out.status = ParseStatus::kInvalid;
        return out;
      }
    } else if (iequals(name, "Connection")) {
      if (contains_token(value, "close")) out.closes = true;
      if (contains_token(value, "keep-alive")) out.closes = false;
    } else if (iequals(name, "Transfer-Encoding") && !iequals(value, "identity")) {
      out.status = ParseStatus::kInvalid;
      return out;
    }
  }
  // 1xx, 204 and 304 carry no body whatever the headers say.
  if (code < 200 || code == 204 || code == 304) content_length = 0;
  const std::size_t total = head_end + 4 + content_length;
  if (bytes.size() < total) return ReplyParse{};  // kIncomplete
  out.status = ParseStatus::kComplete;
  out.consumed = total;
  return out;
}

std::string encode_http_get(std::string_view target) {
  return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: connsched_loadgen\r\n\r\n",
                     target);
}

}  // namespace loadgen
