// File: examples/kv_proxy/kv_proxy.cc
//
// kv_proxy: a RESP proxy that protects its upstream (kv_server or redis-server) with a
// connection pool, on whichever scheduler backend the operator picks.
// Try: kv_server --port=6380 & kv_proxy --port=6390 --upstream=127.0.0.1:6380, then
// `redis-cli -p 6390 set k v`.
#include <CLI/CLI.hpp>

#include <memory>

#include "connsched/server.h"
#include "proxy_session.h"

int main(int argc, char** argv) {
  kv_proxy::ProxyConfig config;
  std::string upstream = config.upstream.to_string();
  std::int64_t borrow_ms = config.borrow_timeout.count();
  std::int64_t connect_ms = config.connect_timeout.count();
  std::int64_t reply_ms = config.reply_timeout.count();
  std::int64_t pin_ms = config.pin_timeout.count();
  connsched::ServerSpec spec;
  spec.name = "kv_proxy";
  spec.description =
      "connsched RESP proxy: forwards each command to --upstream over pooled connections "
      "(MULTI..EXEC keeps one); past --upstream-borrow-timeout clients get '-ERR upstream busy'.";
  spec.default_port = 6390;
  spec.add_options = [&](CLI::App& app) {
    app.add_option("--upstream", upstream, "The upstream RESP server, host:port")
        ->capture_default_str();
    app.add_option("--upstream-pool-max,--upstream_pool_max", config.pool_max,
                   "Most upstream connections at once; 0 opens a new one per command (no pool)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000}));
    app.add_option("--upstream-pool-min-idle,--upstream_pool_min_idle", config.pool_min_idle,
                   "Upstream connections kept open and idle")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000}));
    app.add_option(
           "--upstream-borrow-timeout,--upstream_borrow_timeout", borrow_ms,
           "Milliseconds a command waits for a pooled connection before '-ERR upstream busy'")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{600000}));
    app.add_option("--upstream-connect-timeout,--upstream_connect_timeout", connect_ms,
                   "Milliseconds to connect to the upstream")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{600000}));
    app.add_option("--upstream-timeout,--upstream_timeout", reply_ms,
                   "Milliseconds the upstream may take to answer one command")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
    app.add_option("--upstream-pin-timeout,--upstream_pin_timeout", pin_ms,
                   "Milliseconds a MULTI may sit idle holding an upstream connection; then it "
                   "is aborted and the client's next command refused (pgbouncer's "
                   "idle_transaction_timeout)")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{3600000}));
    app.add_option("--upstream-pin-share,--upstream_pin_share", config.pin_share,
                   "Percent of --upstream-pool-max that MULTI..EXEC may hold at once; past it "
                   "MULTI gets '-ERR upstream busy', so other clients always find a connection")
        ->capture_default_str()
        ->check(CLI::Range(0U, 100U));
  };
  spec.make_protocol = [&] {
    config.upstream = kv_proxy::UpstreamAddress::parse(upstream);
    config.borrow_timeout = std::chrono::milliseconds(borrow_ms);
    config.connect_timeout = std::chrono::milliseconds(connect_ms);
    config.reply_timeout = std::chrono::milliseconds(reply_ms);
    config.pin_timeout = std::chrono::milliseconds(pin_ms);
    if (config.pool_min_idle > config.pool_max) config.pool_min_idle = config.pool_max;
    return std::make_unique<kv_proxy::ProxyProtocol>(
        std::make_shared<kv_proxy::ProxyShared>(config));
  };
  return connsched::run_server_main(argc, argv, spec);
}
