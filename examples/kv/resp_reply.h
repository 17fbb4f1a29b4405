// File: examples/kv/resp_reply.h
//
// RESP2 replies appended to an output string: +simple, -error, :integer, $bulk, *array.
#ifndef CONNSCHED_EXAMPLES_KV_RESP_REPLY_H_
#define CONNSCHED_EXAMPLES_KV_RESP_REPLY_H_

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kv::resp {

inline void simple(std::string& out, std::string_view text) {
  out.push_back('+');
  out.append(text);
  out.append("\r\n");
}

/// `-ERR text`; CR and LF in the text become spaces, so the reply stays one line.
inline void error(std::string& out, std::string_view text) {
  out.push_back('-');
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out.append("\r\n");
}

inline void integer(std::string& out, std::int64_t value) {
  fmt::format_to(std::back_inserter(out), ":{}\r\n", value);
}

inline void bulk(std::string& out, std::string_view bytes) {
  fmt::format_to(std::back_inserter(out), "${}\r\n", bytes.size());
  out.append(bytes);
  out.append("\r\n");
}

inline void null_bulk(std::string& out) {
  out.append("$-1\r\n");
}

inline void array(std::string& out, std::size_t count) {
  fmt::format_to(std::back_inserter(out), "*{}\r\n", count);
}

}  // namespace kv::resp

#endif  // CONNSCHED_EXAMPLES_KV_RESP_REPLY_H_
