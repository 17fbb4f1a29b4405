// File: test/tools/loadgen/request_sequence_test.cc
//
// Request sequences in the load generator: how "GET_LOCK lk{rand%4} 5 | INCR n |
// RELEASE_LOCK lk{rand%4}" is read (steps, names, placeholders, refusals), and how a run
// is sent and recorded — step after step on one connection, each timed, a GET_LOCK
// answered 0 counted as a lock-wait timeout that ends the run — against a small line
// server on a thread of this test that answers GET_LOCK by the lock's name.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connsched/unique_fd.h"
#include "load_generator.h"
#include "request_class.h"
#include "request_sequence.h"

using namespace std::chrono_literals;
using connsched::UniqueFd;

namespace {

// A line server on one thread. "GET_LOCK <name> ..." is answered "0" (timed out) when
// the name starts with "busy", else "1"; every other line "ok". Each connection's lines
// are kept, in order, for the test to read once the load is over.
class LockLineServer {
 public:
  LockLineServer() {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener_.get(), 64) == 0);
    REQUIRE(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
  }
  std::uint16_t port() const { return port_; }
  /// Every connection's lines so far, in arrival order per connection.
  std::vector<std::vector<std::string>> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  void serve(std::stop_token stop) {
    // poll() over the listener and the clients; whole lines answered at once.
    std::vector<UniqueFd> clients;
    std::vector<std::string> pending;
    while (!stop.stop_requested()) {
      std::vector<pollfd> fds{{.fd = listener_.get(), .events = POLLIN, .revents = 0}};
      for (const auto& c : clients) fds.push_back({.fd = c.get(), .events = POLLIN, .revents = 0});
      if (::poll(fds.data(), fds.size(), 5) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        clients.emplace_back(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        pending.emplace_back();
        std::lock_guard lock(mutex_);
        lines_.emplace_back();
      }
      for (std::size_t i = 0; i + 1 < fds.size(); ++i) {
        if (!(fds[i + 1].revents & (POLLIN | POLLHUP)) || !clients[i].valid()) continue;
        char buf[4096];
        const ssize_t n = ::recv(clients[i].get(), buf, sizeof buf, 0);
        if (n <= 0) {
          clients[i].reset();
          continue;
        }
        pending[i].append(buf, static_cast<std::size_t>(n));
        std::string out;
        for (auto nl = pending[i].find('\n'); nl != std::string::npos; nl = pending[i].find('\n')) {
          std::string line = pending[i].substr(0, nl);
          pending[i].erase(0, nl + 1);
          out += line.starts_with("GET_LOCK busy") ? "0\n"
                 : line.starts_with("GET_LOCK")    ? "1\n"
                                                   : "ok\n";
          std::lock_guard lock(mutex_);
          lines_[i].push_back(std::move(line));
        }
        if (!out.empty()) (void)::send(clients[i].get(), out.data(), out.size(), MSG_NOSIGNAL);
      }
    }
  }

  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<std::vector<std::string>> lines_;
  std::jthread thread_;
};

loadgen::LoadSpec line_spec(std::uint16_t port, const std::string& request,
                            std::uint32_t connections) {
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.protocol = loadgen::WireProtocol::kLine;
  spec.connections = connections;
  spec.threads = 1;
  spec.warmup = 100ms;
  spec.duration = 700ms;
  spec.classes.push_back(
      {.name = loadgen::class_name(request), .request = request, .connections = 0});
  return spec;
}

// The last word of a line ("RELEASE_LOCK busy3" → "busy3").
std::string last_word(const std::string& line) {
  return line.substr(line.rfind(' ') + 1);
}

}  // namespace

TEST_CASE("a sequence is read as steps separated by ' | ', each named by its command word") {
  std::string error;
  const auto seq =
      loadgen::parse_sequence("GET_LOCK lk{rand%4} 5 |  INCR row | RELEASE_LOCK lk{rand%4}", error);
  REQUIRE(seq.has_value());
  CHECK(error.empty());
  REQUIRE(seq->steps.size() == 3);
  CHECK(seq->is_sequence());
  CHECK(seq->has_lock_wait());
  CHECK(seq->steps[0].name == "get_lock");
  CHECK(seq->steps[0].lock_wait);
  CHECK(seq->steps[0].templated());
  CHECK(seq->steps[1].text == "INCR row");
  CHECK_FALSE(seq->steps[1].templated());
  CHECK_FALSE(seq->steps[1].lock_wait);
  CHECK(seq->steps[2].name == "release_lock");
  CHECK(loadgen::class_name("GET_LOCK a 5 | INCR n | RELEASE_LOCK a") ==
        "get_lock+incr+release_lock");

  // One request stays one step; a '|' inside a word is part of it.
  const auto plain = loadgen::parse_sequence("SET k a|b", error);
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->is_sequence());
  CHECK(plain->steps[0].text == "SET k a|b");
  CHECK(loadgen::class_name("SET k a|b") == "set");
}

TEST_CASE("{conn%K} is the connection's number and {rand%K} the run's draw, modulo K") {
  std::string error;
  const auto seq = loadgen::parse_sequence("GET_LOCK c{conn%4}r{rand%3} 5 | X {rand%100}", error);
  REQUIRE(seq.has_value());
  CHECK(seq->steps[0].expand(6, 10) == "GET_LOCK c2r1 5");
  CHECK(seq->steps[1].expand(6, 10) == "X 10");
  CHECK(seq->steps[0].expand(3, 2) == "GET_LOCK c3r2 5");
  // Braces that are not a placeholder are text.
  const auto literal = loadgen::parse_sequence("SET {a} {conn} {x%2}", error);
  REQUIRE(literal.has_value());
  CHECK_FALSE(literal->steps[0].templated());
  CHECK(literal->steps[0].expand(1, 1) == "SET {a} {conn} {x%2}");
}

TEST_CASE("an empty step or a malformed placeholder is refused with one line") {
  for (const char* bad : {"GET_LOCK a 5 |  | RELEASE_LOCK a", " | PING", "PING | ", "X {rand%0}",
                          "X {conn%}", "X {rand%4", "X {conn%two}", "X {rand%-1}"}) {
    CAPTURE(bad);
    std::string error;
    CHECK_FALSE(loadgen::parse_sequence(bad, error).has_value());
    CHECK(!error.empty());
    CHECK(error.find('\n') == std::string::npos);
  }
}

TEST_CASE("a GET_LOCK reply of 0 is a lock-wait timeout; 1, errors and other values are not") {
  const auto reply = [](std::string_view line, bool error = false) {
    loadgen::ReplyParse r;
    r.status = loadgen::ParseStatus::kComplete;
    r.first_line = line;
    r.is_error = error;
    return r;
  };
  CHECK(loadgen::is_lock_wait_timeout(reply(":0")));
  CHECK(loadgen::is_lock_wait_timeout(reply("0")));
  CHECK_FALSE(loadgen::is_lock_wait_timeout(reply(":1")));
  CHECK_FALSE(loadgen::is_lock_wait_timeout(reply(":10")));
  CHECK_FALSE(loadgen::is_lock_wait_timeout(reply("$-1")));
  CHECK_FALSE(loadgen::is_lock_wait_timeout(reply("-ERR GET_LOCK interrupted", true)));
}

TEST_CASE("a sequence needs pipeline 1 and no churn; a malformed one is refused before the run") {
  auto spec = line_spec(1, "GET_LOCK a 5 | RELEASE_LOCK a", 4);
  CHECK(loadgen::check_spec(spec).empty());
  spec.pipeline = 2;
  CHECK(loadgen::check_spec(spec).find("pipeline 1") != std::string::npos);
  spec.pipeline = 1;
  spec.churn = true;
  CHECK(loadgen::check_spec(spec).find("no churn") != std::string::npos);
  spec.churn = false;
  spec.classes.push_back({.name = "x", .request = "X {rand%0}", .connections = 1});
  CHECK(loadgen::check_spec(spec).find("{rand%K}") != std::string::npos);
}

TEST_CASE("each run goes step by step; a timed-out GET_LOCK ends it before the work and release") {
  LockLineServer server;
  // One connection locks "free..." names and completes its runs; the other locks
  // "busy..." names, always answered 0.
  const auto sequence = [](const std::string& prefix) {
    return fmt::format(
        "GET_LOCK {0}{{conn%2}}lk{{rand%3}} 5 | WORK {{rand%3}} | RELEASE_LOCK "
        "{0}{{conn%2}}lk{{rand%3}}",
        prefix);
  };
  // Two classes, one connection each, so each has a known fate.
  auto spec = line_spec(server.port(), sequence("free"), 2);
  spec.classes.push_back({.name = "busy", .request = sequence("busy"), .connections = 1});
  const auto result = loadgen::run_load(spec);
  REQUIRE(result.classes.size() == 2);
  const auto& done = result.classes[0];
  const auto& busy = result.classes[1];
  CHECK(result.errors() == 0);

  REQUIRE(done.steps.size() == 3);
  CHECK(done.steps[0].name == "get_lock");
  CHECK(done.steps[2].name == "release_lock");
  CHECK(done.requests > 10);
  CHECK(done.lock_timeouts == 0);
  // A run counts once, when its last step's reply comes: every release recorded is one.
  CHECK(done.requests == done.steps[2].replies);
  // The window cuts at most one run of the connection at each end.
  CHECK(done.steps[0].replies <= done.steps[2].replies + 1);
  CHECK(done.steps[0].replies + 1 >= done.steps[2].replies);
  CHECK(done.steps[1].latency.count() == done.steps[1].replies);
  CHECK(done.latency.count() == done.requests);
  // The work and the release are sent holding the lock: both are holder's requests.
  CHECK(done.holder_requests.count() == done.steps[1].replies + done.steps[2].replies);

  REQUIRE(busy.steps.size() == 3);
  CHECK(busy.requests == 0);
  CHECK(busy.lock_timeouts > 10);
  CHECK(busy.lock_timeouts == busy.steps[0].replies);
  CHECK(busy.steps[0].lock_timeouts == busy.lock_timeouts);
  CHECK(busy.steps[1].replies == 0);
  CHECK(busy.steps[2].replies == 0);
  CHECK(busy.holder_requests.count() == 0);
  CHECK(busy.errors == 0);
  CHECK(result.lock_timeouts == busy.lock_timeouts);

  // On the wire: runs in order, one {rand%3} draw per run in every step, and nothing but
  // GET_LOCKs from the connection that never got its lock.
  bool saw_free = false, saw_busy = false;
  std::map<std::string, int> draws;
  for (const auto& lines : server.lines()) {
    if (lines.empty()) continue;
    if (lines[0].starts_with("GET_LOCK busy")) {
      saw_busy = true;
      for (const auto& line : lines) CHECK(line.starts_with("GET_LOCK busy"));
      continue;
    }
    saw_free = true;
    for (std::size_t i = 0; i + 2 < lines.size(); i += 3) {
      CAPTURE(i);
      REQUIRE(lines[i].starts_with("GET_LOCK free"));
      REQUIRE(lines[i + 1].starts_with("WORK "));
      REQUIRE(lines[i + 2].starts_with("RELEASE_LOCK free"));
      const std::string name = lines[i].substr(9, lines[i].rfind(' ') - 9);
      CHECK(last_word(lines[i + 2]) == name);
      CHECK(name.back() == last_word(lines[i + 1]).back());
      ++draws[name];
    }
  }
  CHECK(saw_free);
  CHECK(saw_busy);
  CHECK(draws.size() == 3);  // {rand%3} took every value
}

TEST_CASE("in an open loop a run is one scheduled arrival, timed from its intended start") {
  LockLineServer server;
  auto spec = line_spec(server.port(), "GET_LOCK lk{rand%2} 5 | WORK | RELEASE_LOCK lk{rand%2}", 4);
  spec.open_loop = true;
  spec.rate = 200;  // 50 runs a second per connection
  spec.duration = 1000ms;
  spec.warmup = 200ms;
  const auto result = loadgen::run_load(spec);
  const auto& cls = result.classes[0];
  CHECK(result.errors() == 0);
  // About 200 runs in 1 s (not 600 requests): the schedule counts runs.
  CHECK(cls.requests >= 150);
  CHECK(cls.requests <= 250);
  CHECK(cls.steps[2].replies == cls.requests);
  CHECK(result.offered_rate == 200);
  // A run's corrected latency counts from its intended start, so it is at least its
  // service time, which spans its three steps.
  CHECK(cls.latency.count() == cls.requests);
  CHECK(cls.latency.percentile(50) >= cls.service.percentile(50));
  CHECK(cls.service.percentile(50) >= cls.steps[0].latency.percentile(50));
}
