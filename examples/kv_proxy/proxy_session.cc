// File: examples/kv_proxy/proxy_session.cc
#include "proxy_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

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

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The pin of this session was aborted by the reaper while the client was idle.
class PinAborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// MULTI past pins_max: the rest of the pool is kept for clients outside a transaction.
class PinsExhausted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
  pins_max = config.pool_max * std::min(config.pin_share, 100U) / 100;
  if (pins_max > 0) reaper_ = std::jthread([this](std::stop_token stop) { reap(stop); });
}

// The reaper stops first (it is the last member), then the pool and its connections go.
ProxyShared::~ProxyShared() = default;

// Reserved before the borrow, under one lock, so two MULTIs cannot both take the last
// place; the pin is registered at once, empty until MULTI is answered.
std::shared_ptr<Pin> ProxyShared::reserve_pin() {
  std::lock_guard lock(pins_mutex_);
  if (pins_.size() >= pins_max) return nullptr;
  pins_.push_back(std::make_shared<Pin>());
  return pins_.back();
}

void ProxyShared::release_pin(const std::shared_ptr<Pin>& pin) {
  std::lock_guard lock(pins_mutex_);
  auto it = std::find(pins_.begin(), pins_.end(), pin);
  if (it != pins_.end()) pins_.erase(it);
}

// pgbouncer's idle_transaction_timeout: a pin whose client sent nothing for pin_timeout
// loses its upstream connection, which is closed (the upstream then discards the
// transaction) rather than given back mid-MULTI. A pin in use (its mutex held for a
// round trip) is not idle and is skipped.
void ProxyShared::reap(std::stop_token stop) {
  const auto tick = std::clamp(config.pin_timeout / 4, std::chrono::milliseconds(10),
                               std::chrono::milliseconds(250));
  std::mutex sleep_mutex;
  std::unique_lock sleeping(sleep_mutex);
  while (!stop.stop_requested()) {
    reaper_wake_.wait_for(sleeping, stop, tick, [] { return false; });
    std::vector<std::shared_ptr<Pin>> pins;
    {
      std::lock_guard lock(pins_mutex_);
      pins = pins_;
    }
    const std::int64_t now = steady_ms();
    for (const auto& pin : pins) {
      std::unique_lock lock(pin->mutex, std::try_to_lock);
      if (!lock.owns_lock() || !pin->handle || now - pin->last_used_ms < config.pin_timeout.count())
        continue;
      pin->handle->invalidate();
      pin->handle.reset();
      pin->aborted = true;
      pins_aborted.fetch_add(1);
      release_pin(pin);
      fmt::print(stderr,
                 "kv_proxy: aborted a MULTI idle for more than {} ms (upstream_pin_timeout); its "
                 "upstream connection is closed and the client's next command is refused\n",
                 config.pin_timeout.count());
    }
  }
}

std::string ProxyShared::stats_text() const {
  std::string out = fmt::format(
      "upstream:{}\r\npool_max:{}\r\nforwarded:{}\r\nupstream_errors:{}\r\nbusy_errors:{}\r\n"
      "unpooled_connects:{}\r\n",
      config.upstream.to_string(), config.pool_max, forwarded.load(), upstream_errors.load(),
      busy_errors.load(), unpooled_connects.load());
  {
    std::lock_guard lock(pins_mutex_);
    out += fmt::format("pins_active:{}\r\npins_max:{}\r\npin_timeout_ms:{}\r\n", pins_.size(),
                       pins_max, config.pin_timeout.count());
  }
  out += fmt::format("pins_refused:{}\r\npins_aborted:{}\r\n", pins_refused.load(),
                     pins_aborted.load());
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
// Inside MULTI the command goes over the pin, under its mutex (so the reaper never
// takes a pin mid-command); MULTI itself first reserves a pin's place.
std::string ProxySession::forward(std::string_view request, bool begins_pin, bool ends_pin) {
  ProxyShared& shared = *shared_;
  connsched::ScopedWait wait(connsched::WaitType::kNet);
  if (!shared.pool) {
    shared.unpooled_connects.fetch_add(1);
    UpstreamConnection fresh(shared.config.upstream, shared.config.connect_timeout);
    return fresh.round_trip(request, shared.config.reply_timeout);
  }
  if (pin_) {
    std::shared_ptr<Pin> pin = pin_;  // outlives the lock even when pin_ is reset
    std::lock_guard lock(pin->mutex);
    if (pin->aborted || !pin->handle) {
      pin_.reset();
      throw PinAborted("idle inside MULTI");
    }
    std::string reply;
    try {
      reply = (*pin->handle)->round_trip(request, shared.config.reply_timeout);
    } catch (...) {
      pin->handle->invalidate();  // broken mid-request: never reused
      pin->handle.reset();
      shared.release_pin(pin);
      pin_.reset();
      throw;
    }
    pin->last_used_ms = steady_ms();
    if (ends_pin) {  // EXEC/DISCARD answered: back to the pool
      pin->handle.reset();
      shared.release_pin(pin);
      pin_.reset();
    }
    return reply;
  }
  std::shared_ptr<Pin> reserved;
  if (begins_pin) {
    reserved = shared.reserve_pin();
    if (!reserved) {
      shared.pins_refused.fetch_add(1);
      throw PinsExhausted(fmt::format(
          "{} of {} upstream connections are held by transactions (upstream_pin_share {}%)",
          shared.pins_max, shared.config.pool_max, shared.config.pin_share));
    }
  }
  std::optional<UpstreamPool::Handle> borrowed;
  std::string reply;
  try {
    borrowed = shared.pool->borrow();
    reply = (*borrowed)->round_trip(request, shared.config.reply_timeout);
  } catch (...) {
    if (borrowed) borrowed->invalidate();  // broken mid-request: never reused
    if (reserved) shared.release_pin(reserved);
    throw;
  }
  if (reserved) {
    if (reply.rfind("+OK", 0) == 0) {
      std::lock_guard lock(reserved->mutex);
      reserved->handle = std::move(*borrowed);
      reserved->last_used_ms = steady_ms();
      pin_ = reserved;
    } else {
      shared.release_pin(reserved);
    }
  }
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
  } catch (const PinAborted&) {
    out.append(error_reply(fmt::format(
        "ERR transaction aborted: idle inside MULTI for more than {} ms (upstream_pin_timeout); "
        "nothing queued ran",
        shared_->config.pin_timeout.count())));
    ctx.close_after_reply();
  } catch (const PinsExhausted& e) {
    shared_->busy_errors.fetch_add(1);
    out.append(error_reply(fmt::format("ERR upstream busy: {}", e.what())));
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
  ctx.set_in_transaction(pin_ != nullptr);
  return request.consumed;
}

// A client that leaves inside MULTI leaves its upstream connection mid-transaction:
// that connection is destroyed, never handed to someone else.
void ProxySession::reset() {
  if (!pin_) return;
  {
    std::lock_guard lock(pin_->mutex);
    if (pin_->handle) {
      pin_->handle->invalidate();
      pin_->handle.reset();
    }
  }
  shared_->release_pin(pin_);
  pin_.reset();
}

std::string ProxyProtocol::request_too_large_reply(std::size_t limit) const {
  return error_reply(fmt::format("ERR Protocol error: request larger than {} bytes", limit));
}

std::string ProxyProtocol::internal_error_reply(std::string_view what) const {
  return error_reply(fmt::format("ERR internal error: {}", what));
}

}  // namespace kv_proxy
