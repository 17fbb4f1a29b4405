// File: core/src/admin_http.cc
#include "admin_http.h"

#include <fmt/format.h>

#include <algorithm>

#include "connsched/http_status.h"

namespace connsched {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The value of the Authorization header in `headers` (the lines after the request line),
// trimmed; empty when absent. Only this header is kept: the token check needs it.
std::string find_authorization(std::string_view headers) {
  constexpr std::string_view kName = "authorization:";
  while (!headers.empty()) {
    std::string_view line = headers.substr(0, headers.find('\n'));
    headers.remove_prefix(std::min(headers.size(), line.size() + 1));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < kName.size()) continue;
    bool match = std::equal(kName.begin(), kName.end(), line.begin(), [](char a, char b) {
      return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
    });
    if (!match) continue;
    std::string_view value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return std::string(value);
  }
  return {};
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Where the head's blank line ends, or npos: the first line that is empty once a trailing
// CR is dropped, so "\r\n\r\n", "\n\n" and mixes such as "\n\r\n" all end a head, as
// they do for http-parser and curl.
std::size_t head_length(std::string_view bytes) {
  for (std::size_t nl = bytes.find('\n'); nl != std::string_view::npos;
       nl = bytes.find('\n', nl + 1)) {
    std::size_t next = nl + 1;
    if (next < bytes.size() && bytes[next] == '\r') ++next;
    if (next < bytes.size() && bytes[next] == '\n') return next + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Only the request line matters to the admin port; headers are skipped but bounded,
// and the head must end (blank line) within kAdminMaxRequestBytes.
AdminParse parse_admin_request(std::string_view bytes) {
  AdminParse result;
  auto bad = [&](std::string why) {
    result.status = AdminParse::Status::kBad;
    result.error = std::move(why);
    return result;
  };
  std::size_t head_end = head_length(bytes);
  if (head_end == std::string_view::npos) {
    if (bytes.size() > kAdminMaxRequestBytes) return bad("request head too large");
    // A request line that is already wrong need not wait for the rest.
    std::size_t first = bytes.find('\n');
    if (first == std::string_view::npos && bytes.size() > 0 && !is_token_char(bytes[0])) {
      return bad("malformed request line");
    }
    return result;
  }
  if (head_end > kAdminMaxRequestBytes) return bad("request head too large");
  std::size_t line_end = bytes.find('\n');
  std::string_view line = bytes.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    return bad("malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty()) return bad("malformed request line");
  for (char c : method) {
    if (!is_token_char(c)) return bad("malformed method");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad("unsupported HTTP version");
  if (target.empty() || target[0] != '/') return bad("the target must start with '/'");
  std::string_view raw_path = target.substr(0, target.find('?'));
  auto path = percent_decode(raw_path);
  if (!path) return bad("bad %-escape in the path");
  if (line_end < head_end) {
    result.request.authorization =
        find_authorization(bytes.substr(line_end + 1, head_end - line_end - 1));
  }
  result.request.method = std::string(method);
  result.request.path = std::move(*path);
  if (auto q = target.find('?'); q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      std::string_view pair = query.substr(0, query.find('&'));
      query.remove_prefix(std::min(query.size(), pair.size() + 1));
      if (pair.empty()) continue;
      std::size_t eq = pair.find('=');
      auto name = percent_decode(pair.substr(0, eq));
      auto value =
          percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
      if (!name || !value) return bad("bad %-escape in the query");
      result.request.query.emplace_back(std::move(*name), std::move(*value));
    }
  }
  result.status = AdminParse::Status::kComplete;
  return result;
}

std::string format_admin_response(const AdminResponse& response) {
  std::string head =
      fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", response.status,
                  http_reason_phrase(response.status), response.content_type, response.body.size());
  if (!response.allow.empty()) head += fmt::format("Allow: {}\r\n", response.allow);
  if (!response.www_authenticate.empty()) {
    head += fmt::format("WWW-Authenticate: {}\r\n", response.www_authenticate);
  }
  head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
  return head + response.body;
}

}  // namespace connsched
