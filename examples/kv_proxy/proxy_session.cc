// File: examples/kv_proxy/proxy_session.cc
#include "proxy_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "connsched/scoped_wait.h"

namespace kv_proxy {

namespace {

std::string upper(std::string_view word) {
  std::string out(word);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string error_reply(std::string_view text) {
  std::string out = "-";
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out += "\r\n";
  return out;
}

// RESP2 commands whose replies are not one reply per request: a per-command pool
// cannot carry them.
bool unsupported(const std::string& command) {
  return command == "SUBSCRIBE" || command == "PSUBSCRIBE" || command == "MONITOR" ||
         command == "SYNC" || command == "PSYNC" || command == "WATCH";
}

}  // namespace

ProxyShared::ProxyShared(ProxyConfig cfg) : config(std::move(cfg)) {
  if (config.pool_max == 0) return;  // a connection per command: the baseline
  UpstreamPool::Factory factory;
  const UpstreamAddress address = config.upstream;
  const auto connect_timeout = config.connect_timeout;
  factory.create = [address, connect_timeout] {
    return std::make_unique<UpstreamConnection>(address, connect_timeout);
  };
  // A cheap peek: catches an upstream that restarted (its FIN or RST is waiting).
  factory.validate = [](UpstreamConnection& c) { return c.alive(); };
  connsched::PoolSettings settings;
  settings.max_total = config.pool_max;
  settings.max_idle = config.pool_max;
  settings.min_idle = std::min(config.pool_min_idle, config.pool_max);
  settings.max_wait = config.borrow_timeout;
  settings.test_on_borrow = true;
  settings.test_while_idle = true;
  settings.maintenance_interval = std::chrono::milliseconds(1000);
  settings.log = [](const std::string& line) { fmt::print(stderr, "kv_proxy: {}\n", line); };
  pool = std::make_unique<UpstreamPool>("upstream " + address.to_string(), std::move(factory),
                                        settings);
}

std::string ProxyShared::stats_text() const {
  std::string out = fmt::format(
      "upstream:{}\r\npool_max:{}\r\nforwarded:{}\r\nupstream_errors:{}\r\nbusy_errors:{}\r\n"
      "unpooled_connects:{}\r\n",
      config.upstream.to_string(), config.pool_max, forwarded.load(), upstream_errors.load(),
      busy_errors.load(), unpooled_connects.load());
  if (pool) {
    auto s = pool->stats();
    out += fmt::format(
        "pool_active:{}\r\npool_idle:{}\r\npool_waiting:{}\r\npool_created:{}\r\npool_destroyed:{}"
        "\r\n"
        "pool_timeouts:{}\r\npool_validation_failures:{}\r\npool_create_failures:{}\r\n"
        "pool_wait_p99_us:{}\r\n",
        s.active, s.idle, s.waiting, s.created, s.destroyed, s.timeouts, s.validation_failures,
        s.create_failures, s.wait_p99.count());
  }
  return out;
}

// One command to the upstream and its reply back. The borrow and the round trip are
// waits for the upstream: reported as NET waits so pool-of-threads serves others.
std::string ProxySession::forward(std::string_view request, bool begins_pin, bool ends_pin) {
  ProxyShared& shared = *shared_;
  connsched::ScopedWait wait(connsched::WaitType::kNet);
  if (!shared.pool) {
    shared.unpooled_connects.fetch_add(1);
    UpstreamConnection fresh(shared.config.upstream, shared.config.connect_timeout);
    return fresh.round_trip(request, shared.config.reply_timeout);
  }
  std::optional<UpstreamPool::Handle> borrowed;
  UpstreamPool::Handle* conn = nullptr;
  if (pinned_) {
    conn = &*pinned_;
  } else {
    borrowed = shared.pool->borrow();
    conn = &*borrowed;
  }
  std::string reply;
  try {
    reply = (*conn)->round_trip(request, shared.config.reply_timeout);
  } catch (...) {
    conn->invalidate();  // broken mid-request: never reused
    pinned_.reset();
    throw;
  }
  if (begins_pin && !pinned_ && reply.rfind("+OK", 0) == 0) pinned_ = std::move(*borrowed);
  if (ends_pin && pinned_) pinned_.reset();  // EXEC/DISCARD answered: back to the pool
  return reply;
}

std::size_t ProxySession::handle(std::string_view input, connsched::Reply& out,
                                 connsched::RequestContext& ctx) {
  kv::RespRequest request = kv::parse_resp_request(input, shared_->config.limits);
  if (request.status == kv::RespRequest::Status::kIncomplete) return 0;
  if (request.status == kv::RespRequest::Status::kError) {
    out.append(error_reply("ERR " + request.error));
    ctx.close_after_reply();
    return std::max<std::size_t>(request.consumed, 1);
  }
  if (request.args.empty()) return request.consumed;
  const std::string command = upper(request.args[0]);
  if (command == "QUIT") {
    out.append("+OK\r\n");
    ctx.close_after_reply();
    return request.consumed;
  }
  if (command == "PROXYSTATS") {
    std::string text = shared_->stats_text();
    out.append(fmt::format("${}\r\n{}\r\n", text.size(), text));
    return request.consumed;
  }
  if (unsupported(command)) {
    out.append(
        error_reply(fmt::format("ERR '{}' is not supported through kv_proxy", request.args[0])));
    return request.consumed;
  }
  const bool begins_pin = command == "MULTI";
  const bool ends_pin = command == "EXEC" || command == "DISCARD";
  try {
    out.append(forward(input.substr(0, request.consumed), begins_pin, ends_pin));
    shared_->forwarded.fetch_add(1);
  } catch (const connsched::PoolExhausted& e) {
    shared_->busy_errors.fetch_add(1);
    out.append(error_reply(fmt::format("ERR upstream busy: {}", e.what())));
  } catch (const connsched::PoolCreateError& e) {
    shared_->upstream_errors.fetch_add(1);
    out.append(error_reply(fmt::format("ERR upstream unavailable: {}", e.what())));
  } catch (const UpstreamError& e) {
    shared_->upstream_errors.fetch_add(1);
    out.append(error_reply(fmt::format("ERR upstream unavailable: {}", e.what())));
  }
  ctx.set_in_transaction(pinned_.has_value());
  return request.consumed;
}

// A client that leaves inside MULTI leaves its upstream connection mid-transaction:
// that connection is destroyed, never handed to someone else.
void ProxySession::reset() {
  if (pinned_) {
    pinned_->invalidate();
    pinned_.reset();
  }
}

std::string ProxyProtocol::request_too_large_reply(std::size_t limit) const {
  return error_reply(fmt::format("ERR Protocol error: request larger than {} bytes", limit));
}

std::string ProxyProtocol::internal_error_reply(std::string_view what) const {
  return error_reply(fmt::format("ERR internal error: {}", what));
}

}  // namespace kv_proxy
