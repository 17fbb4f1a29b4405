// File: tools/loadgen/resp_reply.h
//
// RESP2 replies (simple string, error, integer, bulk string, array — nested, and the
// null bulk and null array) parsed off the front of a buffer.
#ifndef CONNSCHED_LOADGEN_RESP_REPLY_H_
#define CONNSCHED_LOADGEN_RESP_REPLY_H_

#include <string>
#include <string_view>

#include "reply_parse.h"

namespace loadgen {

/// One RESP2 reply from the front of `bytes`; an error reply ('-') sets is_error.
ReplyParse parse_resp_reply(std::string_view bytes);

/// `command` ("SET k v", split on spaces) as a RESP2 array of bulk strings.
std::string encode_resp_command(std::string_view command);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_RESP_REPLY_H_
