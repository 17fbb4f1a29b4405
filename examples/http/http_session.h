// File: examples/http/http_session.h
//
// One http_server connection (keep-alive, pipelining, "Expect: 100-continue") and the
// protocol object that words core's refusals as HTTP responses (503, 413, 500).
#ifndef CONNSCHED_EXAMPLES_HTTP_HTTP_SESSION_H_
#define CONNSCHED_EXAMPLES_HTTP_HTTP_SESSION_H_

#include <memory>

#include "connsched/protocol.h"
#include "http_request.h"

namespace http {

class HttpSession final : public connsched::Session {
 public:
  explicit HttpSession(HttpLimits limits) : limits_(limits) {}
  std::size_t handle(std::string_view input, connsched::Reply& out,
                     connsched::RequestContext& ctx) override;
  void reset() override { continue_sent_ = false; }

 private:
  HttpLimits limits_;
  bool continue_sent_ = false;  ///< "100 Continue" went out for the request being read
};

class HttpProtocol final : public connsched::Protocol {
 public:
  explicit HttpProtocol(HttpLimits limits) : limits_(limits) {}
  std::unique_ptr<connsched::Session> new_session() override {
    return std::make_unique<HttpSession>(limits_);
  }
  std::string too_many_connections_reply() const override;
  std::string request_too_large_reply(std::size_t limit) const override;
  std::string internal_error_reply(std::string_view what) const override;
  std::string request_timeout_reply(std::uint32_t seconds) const override;

 private:
  HttpLimits limits_;
};

}  // namespace http

#endif  // CONNSCHED_EXAMPLES_HTTP_HTTP_SESSION_H_
