// File: examples/http/http_server.cc
//
// http_server: HTTP/1.1 with keep-alive and pipelining (curl, wrk, browsers), on
// whichever scheduler backend the operator picks.
// Try: http_server --thread-handling=pool-of-threads, then `curl 127.0.0.1:8080/sleep?ms=100`.
#include <CLI/CLI.hpp>

#include <memory>

#include "connsched/server.h"
#include "http_session.h"

int main(int argc, char** argv) {
  http::HttpLimits limits;
  connsched::ServerSpec spec;
  spec.name = "http_server";
  spec.description =
      "connsched HTTP/1.1 server: / (a small body), /burn?us=N (CPU work), /sleep?ms=N (a "
      "reported blocking wait); keep-alive and pipelining.";
  spec.default_port = 8080;
  spec.add_options = [&](CLI::App& app) {
    app.add_option("--max-header-size,--max_header_size", limits.max_head_bytes,
                   "Largest request line plus headers in bytes; more gets 431 and a close")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 20));
    app.add_option("--max-body-size,--max_body_size", limits.max_body_bytes,
                   "Largest request body in bytes; more gets 413 and a close")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  };
  spec.make_protocol = [&] { return std::make_unique<http::HttpProtocol>(limits); };
  return connsched::run_server_main(argc, argv, spec);
}
