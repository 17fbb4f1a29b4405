// File: test/tools/loadgen/open_loop_test.cc
//
// The load generator's open loop, the way wrk2 measures: intended send times follow the
// rate (constant spacing and Poisson arrivals) and not the replies, and a server that
// stops answering for a second shows in the corrected latency (about rate x 1 s requests
// delayed by up to 1 s) while the service time shows only the few requests that were
// in flight — the coordinated omission a closed loop suffers. Against a small line
// server on a thread of this test, on loopback.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "arrival_schedule.h"
#include "connsched/unique_fd.h"
#include "load_generator.h"

using namespace std::chrono_literals;
using connsched::UniqueFd;
using Clock = std::chrono::steady_clock;

namespace {

// A line server on one thread: answers "ok" to every line, in order, except during one
// stall window (starting `stall_after` after the first request, lasting `stall_for`).
// In the window it either stops altogether (reads nothing, answers nothing) or, with
// `keep_reading`, reads and records requests but holds their replies until the window
// ends. Records when each request line arrived.
class StallingLineServer {
 public:
  StallingLineServer(std::chrono::milliseconds stall_after, std::chrono::milliseconds stall_for,
                     bool keep_reading = false)
      : stall_after_(stall_after), stall_for_(stall_for), keep_reading_(keep_reading) {
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
  /// Arrival times of every request line; read after the load has finished.
  std::vector<Clock::time_point> arrivals() {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }

 private:
  void serve(std::stop_token stop) {
    // poll() over the listener and the clients; whole lines answered with "ok\n".
    std::vector<UniqueFd> clients;
    std::vector<std::string> pending, held;
    std::optional<Clock::time_point> first;
    while (!stop.stop_requested()) {
      const auto now = Clock::now();
      const bool stalled =
          first && now >= *first + stall_after_ && now < *first + stall_after_ + stall_for_;
      if (stalled && !keep_reading_) {
        std::this_thread::sleep_for(1ms);  // the stall: nothing read, nothing answered
        continue;
      }
      if (!stalled) {  // replies held through a stall go out, in order, once it is over
        for (std::size_t i = 0; i < held.size(); ++i) {
          if (held[i].empty()) continue;
          ::send(clients[i].get(), held[i].data(), held[i].size(), MSG_NOSIGNAL);
          held[i].clear();
        }
      }
      std::vector<pollfd> fds{{listener_.get(), POLLIN, 0}};
      for (auto& c : clients) fds.push_back({c.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 5) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        clients.emplace_back(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        pending.emplace_back();
        held.emplace_back();
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) continue;
        const auto at = Clock::now();
        if (!first) first = at;
        std::string& in = pending[i - 1];
        in.append(buf, static_cast<std::size_t>(n));
        std::string out;
        for (auto nl = in.find('\n'); nl != std::string::npos; nl = in.find('\n')) {
          in.erase(0, nl + 1);
          out += "ok\n";
          std::lock_guard lock(mutex_);
          arrivals_.push_back(at);
        }
        if (stalled) {
          held[i - 1] += out;
        } else if (!out.empty()) {
          ::send(fds[i].fd, out.data(), out.size(), MSG_NOSIGNAL);
        }
      }
    }
  }

  std::chrono::milliseconds stall_after_, stall_for_;
  bool keep_reading_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<Clock::time_point> arrivals_;
  std::jthread thread_;  // last: it uses everything above
};

loadgen::LoadSpec open_loop_spec(std::uint16_t port, double rate, std::uint32_t connections,
                                 std::uint32_t pipeline, std::chrono::milliseconds duration) {
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.protocol = loadgen::WireProtocol::kLine;
  spec.connections = connections;
  spec.pipeline = pipeline;
  spec.threads = 1;
  spec.warmup = 0ms;
  spec.duration = duration;
  spec.rate = rate;
  spec.open_loop = true;
  spec.timeline_interval = 100ms;
  spec.classes.push_back({.name = "line", .request = "hello", .connections = 0});
  return spec;
}

double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

TEST_CASE("constant arrivals are spaced exactly 1/rate apart, from a phase within one gap") {
  const auto start = Clock::now();
  loadgen::ArrivalSchedule schedule(loadgen::Arrivals::kConstant, 1000.0, start, 7);
  const auto first = schedule.next();
  CHECK(first >= start);
  CHECK(first < start + 1ms);
  for (int i = 1; i <= 10000; ++i) schedule.advance();
  // No drift: the 10,000th gap ends 10 s after the first arrival, to the nanosecond.
  CHECK(std::abs(std::chrono::duration<double>(schedule.next() - first).count() - 10.0) < 1e-6);
}

TEST_CASE("Poisson arrivals have exponential gaps: mean 1/rate, standard deviation the same") {
  loadgen::ArrivalSchedule schedule(loadgen::Arrivals::kPoisson, 500.0, Clock::now(), 11);
  std::vector<double> gaps;
  for (int i = 0; i < 50000; ++i) {
    const auto before = schedule.next();
    schedule.advance();
    gaps.push_back(std::chrono::duration<double>(schedule.next() - before).count());
  }
  double mean = 0;
  for (double g : gaps) mean += g;
  mean /= static_cast<double>(gaps.size());
  double var = 0;
  for (double g : gaps) var += (g - mean) * (g - mean);
  const double sd = std::sqrt(var / static_cast<double>(gaps.size()));
  CHECK(mean == doctest::Approx(1.0 / 500).epsilon(0.03));
  CHECK(sd / mean == doctest::Approx(1.0).epsilon(0.05));  // an exponential's CV is 1
  // Memoryless: about e^-1 of the gaps are longer than the mean.
  const auto longer = std::count_if(gaps.begin(), gaps.end(), [&](double g) { return g > mean; });
  CHECK(static_cast<double>(longer) / static_cast<double>(gaps.size()) ==
        doctest::Approx(std::exp(-1.0)).epsilon(0.05));
}

TEST_CASE("an open loop keeps sending on schedule while replies are 500 ms late") {
  // One connection, 100 requests per second, room for 200 in flight; the server reads
  // every request at once but holds the replies of half a second. A closed loop would
  // send nothing in that half second; the open loop must go on every 10 ms.
  StallingLineServer server(300ms, 500ms, /*keep_reading=*/true);
  const auto result = loadgen::run_load(open_loop_spec(server.port(), 100, 1, 200, 1500ms));
  CHECK(result.errors() == 0);
  CHECK(result.unsent <= 8);  // at most the few due at the very end, behind a busy connection
  const auto arrivals = server.arrivals();
  REQUIRE(arrivals.size() >= 120);
  CHECK(arrivals.size() <= 160);
  const auto first = arrivals.front();
  std::size_t in_stall = 0;
  double widest_gap_ms = 0;
  for (std::size_t i = 1; i < arrivals.size(); ++i) {
    widest_gap_ms =
        std::max(widest_gap_ms,
                 std::chrono::duration<double, std::milli>(arrivals[i] - arrivals[i - 1]).count());
    if (arrivals[i] >= first + 320ms && arrivals[i] < first + 780ms) ++in_stall;
  }
  CAPTURE(widest_gap_ms);
  CHECK(in_stall >= 35);       // about 46 were due while replies were held
  CHECK(widest_gap_ms < 100);  // never the 500 ms a closed loop would wait
  // The held replies show in the latency: from about 500 ms down to nothing.
  const auto& latency = result.classes[0].latency;
  CHECK(ms(latency.max()) > 400);
  CHECK(ms(latency.max()) < 2000);
}

TEST_CASE(
    "coordinated omission is corrected: a 1 s stall shows in corrected latency, not in "
    "service time") {
  // 1,000 requests per second on 4 connections for 5 s; the server stops altogether for
  // 1 s two seconds in. About 1,000 requests were due in that second: their corrected
  // latencies spread from 1 s down to 0, so p90 and p99 show the stall. Only the 4
  // requests in flight when it began waited in the server: the service time has a
  // handful of slow samples, which is all a closed-loop client would have seen.
  StallingLineServer server(2000ms, 1000ms);
  const auto result = loadgen::run_load(open_loop_spec(server.port(), 1000, 4, 1, 5000ms));
  CHECK(result.errors() == 0);
  CHECK(result.unsent <= 8);  // at most the few due at the very end, behind a busy connection
  CHECK(result.requests >= 4000);
  const auto& corrected = result.classes[0].latency;
  const auto& service = result.classes[0].service;
  CAPTURE(ms(corrected.percentile(90)));
  CAPTURE(ms(corrected.percentile(99)));
  CAPTURE(ms(service.percentile(99)));
  CHECK(ms(corrected.max()) > 900);
  CHECK(ms(corrected.max()) < 1500);
  CHECK(ms(corrected.percentile(99)) > 700);
  CHECK(ms(corrected.percentile(90)) > 200);
  const auto delayed = corrected.count() - corrected.count_at_or_below(100'000'000);
  CHECK(delayed >= 600);  // about 900: the requests due in the stall's last 900 ms
  CHECK(delayed <= 1300);
  const auto slow_service = service.count() - service.count_at_or_below(100'000'000);
  CHECK(slow_service >= 1);
  CHECK(slow_service <= 20);  // the few in flight when it stalled (4 connections)
  CHECK(ms(service.percentile(99)) < 100);
  CHECK(ms(service.max()) > 900);
  CHECK(result.queued >= 600);  // requests that waited behind the stalled ones
  // The timeline shows the stall as a gap: intervals well inside it completed nothing.
  REQUIRE(result.timeline.size() >= 45);
  for (std::size_t i = 22; i < 29; ++i) {
    CAPTURE(i);
    CHECK(result.timeline[i].completed == 0);
  }
  CHECK(result.timeline[10].completed >= 50);  // about 100 per 100 ms before it
}
