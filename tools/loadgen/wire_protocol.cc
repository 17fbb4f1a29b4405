// File: tools/loadgen/wire_protocol.cc
#include "wire_protocol.h"

#include "http_reply.h"
#include "resp_reply.h"

namespace loadgen {

std::optional<WireProtocol> protocol_from_name(std::string_view name) {
  if (name == "resp") return WireProtocol::kResp;
  if (name == "http") return WireProtocol::kHttp;
  if (name == "line") return WireProtocol::kLine;
  return std::nullopt;
}

std::string_view protocol_name(WireProtocol protocol) {
  switch (protocol) {
    case WireProtocol::kResp:
      return "resp";
    case WireProtocol::kHttp:
      return "http";
    case WireProtocol::kLine:
      return "line";
  }
  return "?";
}

std::string encode_request(WireProtocol protocol, std::string_view request) {
  switch (protocol) {
    case WireProtocol::kResp:
      return encode_resp_command(request);
    case WireProtocol::kHttp:
      return encode_http_get(request);
    case WireProtocol::kLine:
      break;
  }
  return std::string(request) + "\n";
}

ReplyParse parse_line_reply(std::string_view bytes) {
  ReplyParse out;
  const auto newline = bytes.find('\n');
  if (newline == std::string_view::npos) return out;
  out.status = ParseStatus::kComplete;
  out.consumed = newline + 1;
  out.first_line = bytes.substr(0, newline);
  if (out.first_line.ends_with('\r')) out.first_line.remove_suffix(1);
  out.is_error = out.first_line.starts_with("ERROR");
  return out;
}

ReplyParse parse_reply(WireProtocol protocol, std::string_view bytes) {
  switch (protocol) {
    case WireProtocol::kResp:
      return parse_resp_reply(bytes);
    case WireProtocol::kHttp:
      return parse_http_response(bytes);
    case WireProtocol::kLine:
      break;
  }
  return parse_line_reply(bytes);
}

}  // namespace loadgen
