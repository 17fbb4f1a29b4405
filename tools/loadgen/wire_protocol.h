// File: tools/loadgen/wire_protocol.h
//
// The protocols the load generator speaks, chosen at run time: how one request is
// encoded and one reply recognised for each.
#ifndef CONNSCHED_LOADGEN_WIRE_PROTOCOL_H_
#define CONNSCHED_LOADGEN_WIRE_PROTOCOL_H_

#include <optional>
#include <string>
#include <string_view>

#include "reply_parse.h"

namespace loadgen {

enum class WireProtocol { kResp, kHttp, kLine };

/// "resp", "http", "line" → the protocol; nullopt for anything else.
std::optional<WireProtocol> protocol_from_name(std::string_view name);
std::string_view protocol_name(WireProtocol protocol);

/// The bytes of one request: a RESP command ("BURN 200"), an HTTP target ("/burn?us=200")
/// or a line of text (sent with "\n").
std::string encode_request(WireProtocol protocol, std::string_view request);

/// One reply of `protocol` from the front of `bytes`.
ReplyParse parse_reply(WireProtocol protocol, std::string_view bytes);

/// One echo-server reply: a line; "ERROR ..." lines are errors.
ReplyParse parse_line_reply(std::string_view bytes);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_WIRE_PROTOCOL_H_
