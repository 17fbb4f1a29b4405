// File: examples/echo/echo_server.cc
//
// The smallest connsched server: every line a client sends comes back to it.
// Try: echo_server --port=7000 --thread-handling=no-threads, then `nc 127.0.0.1 7000`.
#include <fmt/format.h>

#include <memory>

#include "connsched/server.h"

namespace {

class EchoSession final : public connsched::Session {
 public:
  std::size_t handle(std::string_view input, connsched::Reply& out,
                     connsched::RequestContext&) override {
    auto newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;  // partial line: wait for the rest
    out.append(input.substr(0, newline + 1));
    return newline + 1;
  }
};

class EchoProtocol final : public connsched::Protocol {
 public:
  std::unique_ptr<connsched::Session> new_session() override {
    return std::make_unique<EchoSession>();
  }
  std::string too_many_connections_reply() const override { return "ERROR too many connections\n"; }
  std::string request_too_large_reply(std::size_t limit) const override {
    return fmt::format("ERROR line longer than {} bytes\n", limit);
  }
  std::string internal_error_reply(std::string_view what) const override {
    return fmt::format("ERROR {}\n", what);
  }
};

}  // namespace

int main(int argc, char** argv) {
  connsched::ServerSpec spec;
  spec.name = "echo_server";
  spec.description = "connsched echo server: sends every line back to its client.";
  spec.default_port = 7000;
  spec.make_protocol = [] { return std::make_unique<EchoProtocol>(); };
  return connsched::run_server_main(argc, argv, spec);
}
