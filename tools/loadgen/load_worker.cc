// File: tools/loadgen/load_worker.cc
#include "load_worker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace loadgen {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

// Nanoseconds from `from` to `now`, never negative.
std::uint64_t elapsed_ns(Clock::time_point from, Clock::time_point now) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(now - from).count()));
}

// splitmix64 (https://prng.di.unimi.it/splitmix64.c): a sequence run's {rand%K} draw,
// cheap and well spread for any modulus.
std::uint64_t next_draw(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A refusal is a server turning a connection away for capacity, worded per protocol.
bool is_refusal(const ReplyParse& reply) {
  return reply.http_status == 503 ||
         reply.first_line.find("max number of clients") != std::string_view::npos ||
         reply.first_line.find("too many connections") != std::string_view::npos;
}

}  // namespace

LoadWorker::LoadWorker(const LoadSpec& spec, LoadControl& control, std::vector<ConnectionPlan> plan,
                       double rate, double per_connection_rate, std::uint64_t seed)
    : spec_(spec),
      control_(control),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      // An open loop keeps its own schedule; the token bucket paces only a closed one.
      pacer_(spec.open_loop ? 0 : rate, default_burst(rate), Clock::now()),
      open_loop_(spec.open_loop && per_connection_rate > 0),
      per_connection_rate_(per_connection_rate),
      seed_(seed),
      draws_(seed * 0x9e3779b97f4a7c15ULL),
      last_publish_(Clock::now()) {
  // Everything is allocated up front: the loop itself only moves bytes.
  if (!epoll_.valid())
    throw std::runtime_error(fmt::format("epoll_create1: {}", std::strerror(errno)));
  conns_.resize(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    conns_[i].idle = plan[i].idle;
    conns_[i].class_index = plan[i].class_index;
    conns_[i].number = plan[i].number;
    to_connect_.push_back(i);
  }
  result_.classes.resize(spec_.classes.size());
  for (std::size_t i = 0; i < spec_.classes.size(); ++i) {
    std::string error;
    auto sequence = parse_sequence(spec_.classes[i].request, error);
    if (!sequence) throw std::invalid_argument(error);  // check_spec() refused it already
    auto& encoded = encoded_.emplace_back();
    for (const auto& step : sequence->steps) {
      encoded.push_back(step.templated() ? std::string()
                                         : encode_request(spec_.protocol, step.text));
    }
    result_.classes[i].name = spec_.classes[i].name;
    if (sequence->is_sequence()) {
      result_.classes[i].steps.resize(sequence->steps.size());
      for (std::size_t s = 0; s < sequence->steps.size(); ++s)
        result_.classes[i].steps[s].name = sequence->steps[s].name;
    }
    sequences_.push_back(std::move(*sequence));
  }
  scratch_.resize(kReadChunk);
}

void LoadWorker::run() {
  // One loop: open connections at a bounded rate, react to the phase, dispatch events.
  std::array<epoll_event, 512> events{};
  while (true) {
    phase_ = control_.phase.load(std::memory_order_acquire);
    if (phase_ == Phase::kDone) break;
    if (phase_ == Phase::kMeasure && measure_start_ == Clock::time_point{}) {
      measure_start_ = Clock::time_point(
          std::chrono::nanoseconds(control_.measure_start_ns.load(std::memory_order_acquire)));
    }
    const auto now = Clock::now();
    if (phase_ < Phase::kStop) start_connects(now);
    if (sending_allowed()) {
      release_paced(now);
      release_due(now);
    }
    if (phase_ == Phase::kMeasure) count_interval_errors(now);
    if (spec_.progress != nullptr && now - last_publish_ >= std::chrono::milliseconds(100)) {
      last_publish_ = now;
      publish_progress();
    }
    if (!started_ && sending_allowed()) {
      started_ = true;
      if (open_loop_) start_schedules(now);
      for (auto& conn : conns_) {
        if (!conn.idle && conn.state == ClientConnection::State::kOpen) fill_pipeline(conn, now);
      }
    }
    if (phase_ == Phase::kStop && !cut_runs_) cut_runs();
    if (phase_ == Phase::kStop && !drained_ && in_flight_ == 0) {
      drained_ = true;
      control_.drained.fetch_add(1, std::memory_order_acq_rel);
    }
    // Sleep until the next intended send at most (ns precision), 2 ms when none is due.
    const timespec timeout{.tv_sec = 0, .tv_nsec = wait_timeout_ns(Clock::now())};
    const int n = ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                 &timeout, nullptr);
    if (n < 0 && errno != EINTR)
      throw std::runtime_error(fmt::format("epoll_wait: {}", std::strerror(errno)));
    const auto after = Clock::now();
    for (int i = 0; i < n; ++i) on_event(events[i].data.u64, events[i].events, after);
  }
  // The run is over: whatever is still unanswered or unconnected is a failure.
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    auto& conn = conns_[i];
    if (conn.state == ClientConnection::State::kConnecting && !conn.settled) {
      ++result_.connect_failures;
      note_error("connect did not complete before the run ended");
    }
    result_.unanswered += conn.sent_at.size();
    result_.unsent += conn.backlog.size();
    if (conn.idle && conn.state == ClientConnection::State::kOpen) ++result_.idle_open_at_end;
    conn.fd.reset();
  }
  for (const auto& cls : result_.classes) result_.requests += cls.requests;
  if (spec_.progress != nullptr) publish_progress();
}

void LoadWorker::cut_runs() {
  // A sequence run still in progress when the load stops is closed, not waited for: its
  // connection may hold a lock that others wait for, up to their GET_LOCK timeout, and
  // behind a deadlocked pool (the point of the locks scenario) no wait would end soon.
  // The server gives a closed connection's locks back, as MySQL does.
  cut_runs_ = true;
  for (auto& conn : conns_) {
    if (conn.state != ClientConnection::State::kOpen || conn.sent_at.empty() ||
        !sequences_[conn.class_index].is_sequence()) {
      continue;
    }
    ++result_.runs_cut;
    in_flight_ -= conn.sent_at.size();
    conn.sent_at.clear();
    conn.fd.reset();  // closing removes it from the epoll set
    conn.state = ClientConnection::State::kClosed;
  }
}

void LoadWorker::publish_progress() {
  // Deltas since the last publication, so several workers can share one LoadProgress.
  std::uint64_t requests = 0;
  for (const auto& cls : result_.classes) requests += cls.requests;
  const std::uint64_t errors = result_.errors();
  spec_.progress->requests.fetch_add(requests - published_requests_, std::memory_order_relaxed);
  spec_.progress->errors.fetch_add(errors - published_errors_, std::memory_order_relaxed);
  published_requests_ = requests;
  published_errors_ = errors;
}

bool LoadWorker::sending_allowed() const {
  return phase_ == Phase::kWarmup || phase_ == Phase::kMeasure;
}

void LoadWorker::start_connects(Clock::time_point now) {
  // A bounded number of connects in flight keeps the server's listen backlog from
  // overflowing (which would cost a 1 s SYN retransmit, not measure the server).
  while (connecting_ < spec_.connects_in_flight && !to_connect_.empty()) {
    const std::size_t index = to_connect_.front();
    auto& conn = conns_[index];
    // Churn reconnects wait for the load phases; first connects go at once.
    if (conn.settled && !sending_allowed()) break;
    // A churn reconnect is the next request: it waits for the pacer's token.
    if (conn.settled && spec_.churn && !pacer_.try_take(now)) break;
    to_connect_.pop_front();
    connect(index, now);
  }
}

void LoadWorker::connect(std::size_t index, Clock::time_point now) {
  auto& conn = conns_[index];
  conn.in.clear();
  conn.out.clear();
  conn.out_sent = 0;
  conn.writing = false;
  conn.refused = false;
  conn.connect_started = now;
  conn.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!conn.fd.valid()) {
    ++result_.connect_failures;
    note_error(fmt::format("socket: {}", std::strerror(errno)));
    conn.state = ClientConnection::State::kClosed;
    settle(conn);
    return;
  }
  const int one = 1;
  ::setsockopt(conn.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(spec_.port);
  ::inet_pton(AF_INET, spec_.host.c_str(), &addr.sin_addr);
  const int rc = ::connect(conn.fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) {
    if (errno == ECONNREFUSED) {
      ++result_.refused;
    } else {
      ++result_.connect_failures;
    }
    note_error(fmt::format("connect: {}", std::strerror(errno)));
    conn.fd.reset();
    conn.state = ClientConnection::State::kClosed;
    settle(conn);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = index;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, conn.fd.get(), &ev);
  conn.state = ClientConnection::State::kConnecting;
  ++connecting_;
}

void LoadWorker::settle(ClientConnection& conn) {
  if (conn.settled) return;
  conn.settled = true;
  control_.settled.fetch_add(1, std::memory_order_acq_rel);
}

void LoadWorker::on_event(std::size_t index, std::uint32_t events, Clock::time_point now) {
  auto& conn = conns_[index];
  if (conn.state == ClientConnection::State::kConnecting) {
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(conn.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error == 0 && (events & (EPOLLOUT | EPOLLIN))) {
      on_connected(conn, now);
    } else {
      --connecting_;
      if (error == ECONNREFUSED) {
        ++result_.refused;
      } else {
        ++result_.connect_failures;
      }
      note_error(fmt::format("connect: {}", std::strerror(error != 0 ? error : ECONNRESET)));
      conn.fd.reset();
      conn.state = ClientConnection::State::kClosed;
      settle(conn);
      return;
    }
  }
  if (conn.state != ClientConnection::State::kOpen) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(index, now);
  if (conn.state == ClientConnection::State::kOpen && (events & EPOLLOUT) && conn.writing)
    flush(conn);
}

void LoadWorker::on_connected(ClientConnection& conn, Clock::time_point now) {
  --connecting_;
  ++result_.connections_opened;
  conn.state = ClientConnection::State::kOpen;
  set_writing(conn, false);  // from now on, EPOLLOUT only while a write is partial
  settle(conn);
  if (conn.idle) return;
  if (spec_.churn) {
    if (sending_allowed()) send_request(conn, now);
  } else if (started_ && sending_allowed()) {
    fill_pipeline(conn, now);
  }
  flush(conn);
}

void LoadWorker::fill_pipeline(ClientConnection& conn, Clock::time_point now) {
  if (scheduled(conn)) {  // its schedule, not the pipeline's room, says when to send
    send_backlog(conn, now);
    return;
  }
  const std::size_t depth = spec_.churn ? 1 : spec_.pipeline;
  if (pacer_.paced() && !spec_.churn) {  // each slot waits for a token like any request
    const auto index = static_cast<std::size_t>(&conn - conns_.data());
    for (std::size_t slot = conn.sent_at.size(); slot < depth; ++slot) send_paced(index, now);
    flush(conn);
    return;
  }
  while (conn.sent_at.size() < depth) {
    const std::size_t before = conn.sent_at.size();
    send_request(conn, now);
    if (conn.sent_at.size() == before) break;  // the budget is spent
  }
  flush(conn);
}

void LoadWorker::send_request(ClientConnection& conn, Clock::time_point now) {
  // A closed loop means to send a request when it does: intended and actual agree.
  send_request(conn, now, spec_.churn ? conn.connect_started : now);
}

void LoadWorker::send_request(ClientConnection& conn, Clock::time_point now,
                              Clock::time_point intended) {
  // A fixed-count run hands out its measured requests from a shared budget.
  if (phase_ == Phase::kMeasure && spec_.requests > 0 &&
      control_.budget.fetch_sub(1, std::memory_order_acq_rel) <= 0) {
    return;
  }
  // A request starts a run of its class's steps (a plain request is a run of one).
  conn.step = 0;
  conn.draw = next_draw(draws_);
  conn.run_intended = intended;
  conn.run_sent = spec_.churn ? conn.connect_started : now;
  conn.holding = false;
  send_step(conn, now, intended);
}

void LoadWorker::send_step(ClientConnection& conn, Clock::time_point now,
                           Clock::time_point intended) {
  // A fixed step goes out as encoded once; one with placeholders is filled in first.
  const auto& step = sequences_[conn.class_index].steps[conn.step];
  if (step.templated()) {
    conn.out += encode_request(spec_.protocol, step.expand(conn.number, conn.draw));
  } else {
    conn.out += encoded_[conn.class_index][conn.step];
  }
  conn.sent_at.push_back({.intended = intended, .sent = spec_.churn ? conn.connect_started : now});
  ++in_flight_;
}

bool LoadWorker::continue_sequence(ClientConnection& conn, const ReplyParse& reply,
                                   const InFlight& request, Clock::time_point now) {
  // One step of a sequence answered: record it, and send the next step at once unless
  // the run is over — its last step, an error, a lock-wait timeout (the connection does
  // not hold the lock, so the work and the release are not sent), or the end of load.
  // Returns true when the next step went out.
  const auto& steps = sequences_[conn.class_index].steps;
  const bool timed_out = steps[conn.step].lock_wait && is_lock_wait_timeout(reply);
  const bool last = conn.step + 1 == steps.size();
  const bool over = last || timed_out || reply.is_error || reply.closes;
  const bool holder_step = conn.holding;  // sent while the connection held a lock
  if (steps[conn.step].lock_wait && !timed_out && !reply.is_error) conn.holding = true;
  if (phase_ == Phase::kMeasure) {
    auto& cls = result_.classes[conn.class_index];
    auto& step = cls.steps[conn.step];
    ++step.replies;
    step.latency.record(elapsed_ns(request.sent, now));
    if (holder_step) cls.holder_requests.record(elapsed_ns(request.sent, now));
    if (reply.is_error) {
      ++step.errors;
      ++cls.errors;
    }
    if (timed_out) {
      ++step.lock_timeouts;
      ++cls.lock_timeouts;
      ++result_.lock_timeouts;
    }
    if (last) {
      ++cls.requests;
      const std::uint64_t corrected = elapsed_ns(conn.run_intended, now);
      cls.latency.record(corrected);
      cls.service.record(elapsed_ns(conn.run_sent, now));
      if (auto* interval = interval_at(now)) {
        ++interval->completed;
        if (conn.class_index == 0) interval->latency.record(corrected);
      }
    }
    if (over && spec_.requests > 0)
      control_.measured_replies.fetch_add(1, std::memory_order_relaxed);
  }
  if (over || !sending_allowed()) return false;
  ++conn.step;
  send_step(conn, now, now);
  return true;
}

bool LoadWorker::scheduled(const ClientConnection& conn) const {
  // Only the first class follows the open loop's schedule; a mix's other classes are
  // its closed-loop background (the burners of the mixed scenario).
  return open_loop_ && !conn.idle && conn.class_index == 0;
}

void LoadWorker::start_schedules(Clock::time_point now) {
  // Every scheduled connection gets its own arrivals from the moment load starts,
  // connected or not: a request due on a connection not yet open waits like any other.
  arrivals_.reserve(conns_.size());
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    arrivals_.emplace_back(spec_.arrivals, per_connection_rate_, now,
                           seed_ * 0x100000001b3ULL + i * 0x9e3779b97f4a7c15ULL + 1);
    if (scheduled(conns_[i])) due_.push({arrivals_[i].next(), i});
  }
}

void LoadWorker::release_due(Clock::time_point now) {
  // Every intended time that has come joins its connection's backlog; the backlog goes
  // out as far as the pipeline has room. What waits is counted as queued.
  while (!due_.empty() && due_.top().first <= now) {
    const auto [at, index] = due_.top();
    due_.pop();
    auto& conn = conns_[index];
    conn.backlog.push_back(at);
    const bool room = conn.state == ClientConnection::State::kOpen && conn.backlog.size() == 1 &&
                      conn.sent_at.size() < spec_.pipeline;
    if (!room && phase_ == Phase::kMeasure) ++result_.queued;
    arrivals_[index].advance();
    due_.push({arrivals_[index].next(), index});
    if (room) send_backlog(conn, now);
  }
}

void LoadWorker::send_backlog(ClientConnection& conn, Clock::time_point now) {
  // The oldest due requests first, each keeping its intended time.
  if (conn.state != ClientConnection::State::kOpen) return;
  bool sent = false;
  while (!conn.backlog.empty() && conn.sent_at.size() < spec_.pipeline && sending_allowed()) {
    const std::size_t before = conn.sent_at.size();
    send_request(conn, now, conn.backlog.front());
    if (conn.sent_at.size() == before) break;
    conn.backlog.pop_front();
    sent = true;
  }
  if (sent) flush(conn);
}

int LoadWorker::wait_timeout_ns(Clock::time_point now) const {
  // The next intended send bounds the sleep; otherwise a 2 ms tick keeps phases fresh.
  constexpr std::int64_t kTick = 2'000'000;
  if (!open_loop_ || due_.empty() || !sending_allowed()) return static_cast<int>(kTick);
  const std::int64_t until =
      std::chrono::duration_cast<std::chrono::nanoseconds>(due_.top().first - now).count();
  return static_cast<int>(std::clamp<std::int64_t>(until, 0, kTick));
}

TimelineInterval* LoadWorker::interval_at(Clock::time_point now) {
  // The interval of the measured window `now` falls into; none past a day's worth.
  if (spec_.timeline_interval.count() <= 0 || phase_ != Phase::kMeasure ||
      measure_start_ == Clock::time_point{} || now < measure_start_) {
    return nullptr;
  }
  const auto index = static_cast<std::size_t>((now - measure_start_) / spec_.timeline_interval);
  if (index >= 864000) return nullptr;
  if (result_.timeline.size() <= index) result_.timeline.resize(index + 1);
  return &result_.timeline[index];
}

void LoadWorker::count_interval_errors(Clock::time_point now) {
  // Errors are counted in many places; the timeline takes their growth once a tick.
  const std::uint64_t errors = result_.errors();
  if (errors == timeline_errors_seen_) return;
  if (auto* interval = interval_at(now)) interval->errors += errors - timeline_errors_seen_;
  timeline_errors_seen_ = errors;
}

void LoadWorker::send_paced(std::size_t index, Clock::time_point now) {
  // Sends now if a token is free and nobody waits before us; else queues for one.
  if (!pacer_.paced() || (paced_.empty() && pacer_.try_take(now))) {
    send_request(conns_[index], now);
    return;
  }
  paced_.push_back(index);
}

void LoadWorker::release_paced(Clock::time_point now) {
  // Waiting requests go out in arrival order as tokens accrue; a connection closed
  // meanwhile just gives its turn up.
  while (!paced_.empty() && pacer_.try_take(now)) {
    auto& conn = conns_[paced_.front()];
    paced_.pop_front();
    if (conn.state != ClientConnection::State::kOpen || conn.idle) continue;
    send_request(conn, now);
    flush(conn);
  }
}

void LoadWorker::flush(ClientConnection& conn) {
  while (conn.out_sent < conn.out.size()) {
    const ssize_t n = ::send(conn.fd.get(), conn.out.data() + conn.out_sent,
                             conn.out.size() - conn.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      conn.out_sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_writing(conn, true);
      return;
    }
    return;  // the error shows up as EPOLLERR/EOF on the read side
  }
  conn.out.clear();
  conn.out_sent = 0;
  if (conn.writing) set_writing(conn, false);
}

void LoadWorker::set_writing(ClientConnection& conn, bool writing) {
  conn.writing = writing;
  epoll_event ev{};
  ev.events = EPOLLIN | (writing ? EPOLLOUT : 0u);
  ev.data.u64 = static_cast<std::uint64_t>(&conn - conns_.data());
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev);
}

void LoadWorker::on_readable(std::size_t index, Clock::time_point now) {
  // Read what is there, then take every whole reply off the front of the buffer.
  auto& conn = conns_[index];
  bool eof = false;
  int read_errno = 0;
  while (true) {
    const ssize_t n = ::recv(conn.fd.get(), scratch_.data(), scratch_.size(), 0);
    if (n > 0) {
      conn.in.append(scratch_.data(), static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < scratch_.size()) break;
      continue;
    }
    if (n == 0) {
      eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof = true;
      read_errno = errno;
    }
    break;
  }
  std::size_t offset = 0;
  bool closed = false;
  while (offset < conn.in.size()) {
    const ReplyParse reply = parse_reply(spec_.protocol, std::string_view(conn.in).substr(offset));
    if (reply.status == ParseStatus::kIncomplete) break;
    if (reply.status == ParseStatus::kInvalid) {
      ++result_.invalid_replies;
      note_error(fmt::format("invalid reply: '{}'", std::string_view(conn.in).substr(offset, 60)));
      close(index, true, "");
      return;
    }
    offset += reply.consumed;
    on_reply(index, reply, now);
    if (conn.state != ClientConnection::State::kOpen ||
        conn.fd.get() < 0) {  // churn closed (or reopened) it
      closed = true;
      break;
    }
  }
  if (closed) return;
  conn.in.erase(0, offset);
  if (eof) {
    // A refused connection was counted once, as refused; the close that follows is not
    // a second failure.
    const bool expected =
        conn.refused || (phase_ >= Phase::kStop && conn.sent_at.empty() && !conn.idle);
    if (!expected && reopen(index)) return;
    close(index, !expected,
          read_errno != 0 ? fmt::format("connection error: {}", std::strerror(read_errno))
                          : std::string("connection closed by the server"));
    return;
  }
  flush(conn);
}

void LoadWorker::on_reply(std::size_t index, const ReplyParse& reply, Clock::time_point now) {
  auto& conn = conns_[index];
  if (reply.is_error) {
    if (is_refusal(reply)) {
      ++result_.refused;
      conn.refused = true;
    } else {
      ++result_.error_replies;
    }
    note_error(fmt::format("error reply: '{}'", reply.first_line));
  }
  if (conn.sent_at.empty()) {  // unsolicited: a greeting or a refusal before any request
    if (!reply.is_error) {
      ++result_.invalid_replies;
      note_error(fmt::format("unsolicited reply: '{}'", reply.first_line));
    }
    return;
  }
  const auto request = conn.sent_at.front();
  conn.sent_at.pop_front();
  --in_flight_;
  if (spec_.check_counters && conn.class_index == 0 && !reply.is_error) check_counter(conn, reply);
  if (sequences_[conn.class_index].is_sequence()) {
    if (continue_sequence(conn, reply, request, now)) return;
  } else if (phase_ == Phase::kMeasure) {
    auto& cls = result_.classes[conn.class_index];
    ++cls.requests;
    if (reply.is_error) ++cls.errors;
    const std::uint64_t corrected = elapsed_ns(request.intended, now);
    cls.latency.record(corrected);
    cls.service.record(elapsed_ns(request.sent, now));
    if (auto* interval = interval_at(now)) {
      ++interval->completed;
      if (conn.class_index == 0) interval->latency.record(corrected);
    }
    if (spec_.requests > 0) control_.measured_replies.fetch_add(1, std::memory_order_relaxed);
  }
  if (reply.closes && !spec_.churn && reopen(index)) return;
  if (spec_.churn || reply.closes) {
    close(index, false, "");
    if (spec_.churn && phase_ < Phase::kStop) to_connect_.push_front(index);
    return;
  }
  if (!sending_allowed()) return;
  if (scheduled(conn)) {
    send_backlog(conn, now);
  } else {
    send_paced(index, now);
  }
}

void LoadWorker::close(std::size_t index, bool failure, std::string_view why) {
  auto& conn = conns_[index];
  if (failure) {
    ++result_.dropped;
    if (!why.empty()) note_error(why);
  }
  result_.unanswered += conn.sent_at.size();
  in_flight_ -= conn.sent_at.size();
  conn.sent_at.clear();
  conn.fd.reset();  // closing removes it from the epoll set
  conn.state = ClientConnection::State::kClosed;
}

// --reconnect: the server ended an active connection while the load runs; it is counted
// apart from the errors and opened again at once (an open loop's requests due meanwhile
// wait in its backlog, their latency counted from their intended times). False when the
// close is to be handled as usual.
bool LoadWorker::reopen(std::size_t index) {
  auto& conn = conns_[index];
  if (!spec_.reconnect || conn.idle || phase_ >= Phase::kStop) return false;
  ++result_.reconnects;
  result_.unanswered_at_close += conn.sent_at.size();
  in_flight_ -= conn.sent_at.size();
  conn.sent_at.clear();
  conn.fd.reset();
  conn.state = ClientConnection::State::kClosed;
  to_connect_.push_back(index);
  return true;
}

// check_counters: the reply to the connection's INCR must be its last count plus one; a
// gap is a lost (or doubled, or reordered) reply. The count then follows the reply, so
// one loss counts once.
void LoadWorker::check_counter(ClientConnection& conn, const ReplyParse& reply) {
  std::int64_t value = -1;
  const std::string_view line = reply.first_line;
  if (line.size() > 1 && line[0] == ':') {
    const auto [end, ec] = std::from_chars(line.data() + 1, line.data() + line.size(), value);
    if (ec != std::errc() || end != line.data() + line.size()) value = -1;
  }
  if (value != conn.last_count + 1) {
    ++result_.mismatched_replies;
    note_error(
        fmt::format("connection {}: INCR answered '{}' after {} (a reply lost or out of "
                    "order)",
                    conn.number, line, conn.last_count));
  }
  conn.last_count = value;
}

void LoadWorker::note_error(std::string_view what) {
  if (result_.first_error.empty()) result_.first_error = std::string(what);
}

}  // namespace loadgen
