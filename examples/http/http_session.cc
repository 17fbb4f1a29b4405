// File: examples/http/http_session.cc
#include "http_session.h"

#include <fmt/format.h>

#include "http_response.h"
#include "http_routes.h"

namespace http {

namespace {
std::string close_with(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return format_response(r, /*keep_alive=*/false, 1);
}
}  // namespace

// One request per call; a malformed or oversized one is answered (400/413/417/431/505)
// and the connection closed, since the bytes after it cannot be trusted to start a
// request. A client that sent "Expect: 100-continue" waits for "100 Continue" before
// its body (curl waits a second, then sends anyway): it gets it once per request, as
// soon as the head passed every check (a refusal is the final answer instead).
std::size_t HttpSession::handle(std::string_view input, connsched::Reply& out,
                                connsched::RequestContext& ctx) {
  HttpRequest request = parse_http_request(input, limits_);
  switch (request.status) {
    case HttpRequest::Status::kIncomplete:
      if (request.expect_continue && !continue_sent_) {
        out.append(kContinue);
        continue_sent_ = true;
      }
      return 0;
    case HttpRequest::Status::kError:
      out.append(close_with(request.error_status, request.error + "\n"));
      ctx.close_after_reply();
      return input.size();
    case HttpRequest::Status::kComplete:
      continue_sent_ = false;
      break;
  }
  HttpResponse response = route_request(request, ctx);
  // Read after the route ran: a request that was served while the drain began is the
  // connection's last, and its reply says so (a client then reconnects elsewhere).
  const bool keep_alive = request.keep_alive && !ctx.draining();
  out.append(format_response(response, keep_alive, request.http_minor, request.method == "HEAD"));
  if (!keep_alive) ctx.close_after_reply();
  return request.consumed;
}

std::string HttpProtocol::too_many_connections_reply() const {
  return close_with(503, "too many connections\n");
}

std::string HttpProtocol::request_too_large_reply(std::size_t limit) const {
  return close_with(413, fmt::format("request larger than {} bytes\n", limit));
}

std::string HttpProtocol::request_timeout_reply(std::uint32_t seconds) const {
  return close_with(408, fmt::format("request not complete within {} s\n", seconds));
}

std::string HttpProtocol::internal_error_reply(std::string_view what) const {
  return close_with(500, fmt::format("internal error: {}\n", what));
}

}  // namespace http
