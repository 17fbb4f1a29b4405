// File: tools/loadgen/http_reply.h
//
// HTTP/1.x responses parsed off the front of a buffer: the status line, the headers
// (Content-Length, Connection) and a Content-Length body. Keep-alive follows the
// version's default unless a Connection header says otherwise.
#ifndef CONNSCHED_LOADGEN_HTTP_REPLY_H_
#define CONNSCHED_LOADGEN_HTTP_REPLY_H_

#include <string>
#include <string_view>

#include "reply_parse.h"

namespace loadgen {

/// One response from the front of `bytes`; status >= 400 sets is_error, a response
/// after which the server closes sets `closes`. Chunked bodies are reported invalid
/// (the servers benchmarked here send Content-Length).
ReplyParse parse_http_response(std::string_view bytes);

/// A keep-alive GET of `target` ("/burn?us=200").
std::string encode_http_get(std::string_view target);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_HTTP_REPLY_H_
