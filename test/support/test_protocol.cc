// File: test/support/test_protocol.cc
#include "test_protocol.h"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "connsched/scoped_wait.h"

namespace connsched::testing {

void burn_cpu_us(long us) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  volatile unsigned long sink = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 100; ++i) sink = sink + static_cast<unsigned long>(i);
  }
}

namespace {

class TestSession final : public Session {
 public:
  explicit TestSession(std::shared_ptr<Probe> probe) : probe_(std::move(probe)) {}

  std::size_t handle(std::string_view input, Reply& out, RequestContext& ctx) override {
    auto newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;
    std::string_view line = input.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    int now = probe_->running.fetch_add(1) + 1;
    int peak = probe_->peak.load();
    while (now > peak && !probe_->peak.compare_exchange_weak(peak, now)) {
    }
    if (probe_->record.load()) {
      std::lock_guard lock(probe_->order_mutex);
      probe_->order.push_back(fmt::format("{}:{}", ctx.connection_id(), line));
    }
    struct Done {
      Probe& p;
      ~Done() {
        p.running.fetch_sub(1);
        p.completed.fetch_add(1);
      }
    } done{*probe_};
    execute(line, out, ctx);
    return newline + 1;
  }

 private:
  static long number(std::string_view text) {
    long value = 0;
    for (char c : text) {
      if (c < '0' || c > '9') throw std::invalid_argument(fmt::format("not a number: '{}'", text));
      value = value * 10 + (c - '0');
    }
    return value;
  }

  void execute(std::string_view line, Reply& out, RequestContext& ctx) {
    auto space = line.find(' ');
    std::string_view verb = line.substr(0, space);
    std::string_view arg =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (verb == "echo") {
      out.append(arg);
    } else if (verb == "burn") {
      burn_cpu_us(number(arg));
      out.append("ok");
    } else if (verb == "sleep") {
      ScopedWait wait(WaitType::kSleep);
      std::this_thread::sleep_for(std::chrono::milliseconds(number(arg)));
      out.append("ok");
    } else if (verb == "begin") {
      ctx.set_in_transaction(true);
      out.append("ok");
    } else if (verb == "commit") {
      ctx.set_in_transaction(false);
      out.append("ok");
    } else if (verb == "big") {
      out.buffer().append(static_cast<std::size_t>(number(arg)), 'x');
    } else if (verb == "id") {
      out.append(std::to_string(ctx.connection_id()));
    } else if (verb == "addr") {
      out.append(ctx.client_address());
    } else if (verb == "throw") {
      throw std::runtime_error("the handler threw on purpose");
    } else if (verb == "draining") {
      // As HTTP's Connection: close: a reply that knows of the drain says so and ends it.
      out.append(ctx.draining() ? "draining" : "serving");
      if (ctx.draining()) ctx.close_after_reply();
    } else if (verb == "quit") {
      out.append("bye");
      ctx.close_after_reply();
    } else {
      out.append(line);
    }
    out.append('\n');
  }

  std::shared_ptr<Probe> probe_;
};

}  // namespace

std::unique_ptr<Session> TestProtocol::new_session() {
  return std::make_unique<TestSession>(probe_);
}

std::string TestProtocol::request_too_large_reply(std::size_t limit) const {
  return fmt::format("ERROR request larger than {} bytes\n", limit);
}

std::string TestProtocol::internal_error_reply(std::string_view what) const {
  return fmt::format("ERROR {}\n", what);
}

}  // namespace connsched::testing
