// File: core/src/request_processing.cc
//
// do_command and its parts: read what is there, run every complete request, write the
// replies. The decisions that matter: a partial request never blocks a thread (the
// connection goes back to waiting for input, its deadline at most request_timeout after
// its first byte); buffered input is bounded by max_request_size, a reply by
// max_output_buffer, unsent replies above the soft limit by its time, and every
// connection's buffers together by max_connection_memory (the largest closed first); a
// full socket is waited on inside a reported NET wait, bounded by the write timeout, or,
// for a backend that waits for output itself, without a thread (CONNSCHED_NEXT_WAIT_
// OUTPUT, the deadline on core's timer); a throwing handler costs its own connection,
// nothing else.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "connsched/scoped_wait.h"
#include "proxy_header.h"
#include "request_context.h"
#include "server_core.h"

namespace connsched {

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
// Reads per do_command: bounded so one streaming client cannot hold a pool thread; data
// still in the socket makes it readable again, so nothing is lost.
constexpr int kMaxReadRounds = 8;
// Replies are written once this much is pending, not only at the end of the batch.
constexpr std::size_t kFlushThreshold = 64 * 1024;
// An empty buffer keeps at most this much capacity: one large request or reply must not
// pin its memory for the connection's life (connection_pool.cc trims to less when the
// connection ends). Above what a pipelining client needs every turn (kMaxReadRounds reads
// of kReadChunk in, one kFlushThreshold plus a reply out), so steady pipelining never
// frees and regrows them.
constexpr std::size_t kKeepBufferBytes = 256 * 1024;

bool hard_killed(const Connection& c) {
  int k = c.killed.load();
  return k == CONNSCHED_KILL_CONNECTION || k == CONNSCHED_KILL_TIMEOUT;
}

// Marks a connection as running a request for core's idle timer, for as long as
// do_command runs (a request in progress is never closed for wait_timeout).
class InCommand {
 public:
  // Relaxed, so no fence on the request path: the timer acts on deadlines of a second or
  // more, and only a store nanoseconds old can be missed by its read.
  explicit InCommand(Connection& c) : c_(c) {
    c_.in_command.store(true, std::memory_order_relaxed);
  }
  ~InCommand() { c_.in_command.store(false, std::memory_order_relaxed); }
  InCommand(const InCommand&) = delete;
  InCommand& operator=(const InCommand&) = delete;

 private:
  Connection& c_;
};

}  // namespace

void ServerCore::ensure_thread_initialized(Connection& c) {
  // Per thread and per backend instance: a test process may run several servers, and a
  // switch brings a backend whose threads are new.
  thread_local const BackendInstance* initialized_for = nullptr;
  BackendInstance* b = c.owner.load();
  if (b == nullptr || initialized_for == b) return;
  initialized_for = b;
  if (b->table().init_new_connection_thread) b->table().init_new_connection_thread(b->state);
}

// Core asked the owner for the connection back and it can hand it back (ABI 1.2).
bool ServerCore::owner_releases(const Connection& c) const {
  if (!c.release_requested.load()) return false;
  const BackendInstance* b = c.owner.load();
  return b != nullptr && b->can_release();
}

// A connection asked back by a switch goes at its request boundary: when do_command
// would otherwise wait for input (every complete request answered, no reply waiting
// for the socket). Partial input and the session stay in the connection and move on
// with it.
int ServerCore::do_command(Connection& c) {
  int next = do_command_once(c);
  if (next == CONNSCHED_NEXT_WAIT_INPUT && owner_releases(c)) return CONNSCHED_NEXT_RELEASE;
  return next;
}

int ServerCore::do_command_once(Connection& c) {
  ensure_thread_initialized(c);
  CurrentConnectionScope scope(&c);
  InCommand serving(c);
  c.read_capped = false;
  if (hard_killed(c)) return CONNSCHED_NEXT_CLOSE;
  if (c.write_deadline_ms.load() != 0) {
    if (int next = resume_output(c); next >= 0) return next;
  }
  bool eof = false;
  bool received = false;
  char buffer[kReadChunk];
  for (int round = 0; round < kMaxReadRounds; ++round) {
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      CoreCounters::bump(counters_.bytes_received, static_cast<std::uint64_t>(n));
      if (c.in_start == c.in.size()) c.request_started_ms.store(monotonic_ms());
      c.in.append(buffer, static_cast<std::size_t>(n));
      received = true;
      account_buffers(c);
      if (c.screen_proxy_signature && !screen_first_bytes(c)) return CONNSCHED_NEXT_CLOSE;
      // Still a prefix of a signature: held until it is one or is not.
      if (!c.screen_proxy_signature) {
        switch (process_input(c)) {
          case Processed::kClose:
            return CONNSCHED_NEXT_CLOSE;
          case Processed::kWaitOutput:
            // No more is read until the client reads: its unsent replies are the bound.
            c.idle_deadline_ms.store(idle_deadline_from_now(), std::memory_order_relaxed);
            return CONNSCHED_NEXT_WAIT_OUTPUT;
          case Processed::kWaitInput:
            break;
        }
      }
      if (static_cast<std::size_t>(n) < sizeof buffer) break;
      if (round + 1 == kMaxReadRounds) c.read_capped = true;
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) {
      --round;
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return CONNSCHED_NEXT_CLOSE;  // ECONNRESET and friends: the peer is gone
  }
  // Replies still pending (a greeting that did not fit) leave now.
  if (!c.out.empty()) {
    Flush flushed = flush(c);
    if (flushed == Flush::kFailed) return CONNSCHED_NEXT_CLOSE;
    if (flushed == Flush::kBlocked) {
      if (eof) c.close_after_output = true;
      return CONNSCHED_NEXT_WAIT_OUTPUT;
    }
  }
  if (eof || c.killed.load() != CONNSCHED_KILL_NONE) return CONNSCHED_NEXT_CLOSE;
  // wait_timeout counts from the end of the last activity, as mysqld's does: a request
  // that ran long is not idle time.
  if (received) c.idle_deadline_ms.store(idle_deadline_from_now(), std::memory_order_relaxed);
  return CONNSCHED_NEXT_WAIT_INPUT;
}

// MariaDB's rule (https://mariadb.com/kb/en/proxy-protocol-support/): with the PROXY
// protocol on, a PROXY header from a peer outside proxy_protocol_networks is refused, not
// passed to the protocol as if it were a request: that peer would be claiming another
// address. Only the first bytes are looked at; false: refused (counted, logged).
bool ServerCore::screen_first_bytes(Connection& c) {
  std::string_view first(c.in.data() + c.in_start, c.in.size() - c.in_start);
  switch (proxy_signature(first)) {
    case ProxySignature::kAbsent:
      c.screen_proxy_signature = false;
      return true;
    case ProxySignature::kPartial:
      return true;
    case ProxySignature::kPresent:
      break;
  }
  CoreCounters::bump(counters_.proxy_headers_refused);
  if (auto skipped = proxy_log_.admit(monotonic_ms())) {
    logger_.log(LogLevel::kWarning,
                "connection {} ({}): sent a PROXY header but is not in "
                "--proxy-protocol-networks; closed{}",
                c.id, c.client_address,
                *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
  }
  return false;
}

// The socket became writable for a reply that waited without a thread: the rest is
// written first, then the requests that arrived behind it run (in order, as they would
// have without the wait), and only then is the socket read again. Returns the next
// step, or -1 to go on reading.
int ServerCore::resume_output(Connection& c) {
  switch (flush(c)) {
    case Flush::kFailed:
      return CONNSCHED_NEXT_CLOSE;
    case Flush::kBlocked:
      return CONNSCHED_NEXT_WAIT_OUTPUT;
    case Flush::kDone:
      break;
  }
  if (c.close_after_output) return CONNSCHED_NEXT_CLOSE;
  if (c.in_start < c.in.size()) {
    switch (process_input(c)) {
      case Processed::kClose:
        return CONNSCHED_NEXT_CLOSE;
      case Processed::kWaitOutput:
        return CONNSCHED_NEXT_WAIT_OUTPUT;
      case Processed::kWaitInput:
        break;
    }
  }
  c.idle_deadline_ms.store(idle_deadline_from_now(), std::memory_order_relaxed);
  return -1;
}

// Runs the complete requests buffered, in order. A reply the socket cannot take stops
// the run (kWaitOutput, when the backend waits for output itself): the requests behind
// it stay buffered until it is written, so a client that does not read gets no more
// work done and its memory stays bounded by what it already sent.
ServerCore::Processed ServerCore::process_input(Connection& c) {
  ConnectionContext ctx(c);
  Reply out(c.out);
  bool keep = true;
  bool blocked = false;
  while (c.in_start < c.in.size()) {
    if (hard_killed(c)) {
      keep = false;
      break;
    }
    std::string_view pending(c.in.data() + c.in_start, c.in.size() - c.in_start);
    std::size_t used = 0;
    // The handler said how much it needs (RequestContext::need_bytes): not there yet, so
    // parsing again would only repeat the last scan.
    const bool short_of_hint = pending.size() < c.need_bytes;
    c.drain_sampled = draining();
    try {
      if (!short_of_hint) {
        c.need_bytes = 0;
        used = c.session->handle(pending, out, ctx);
      }
    } catch (const std::exception& e) {
      CoreCounters::bump(counters_.handler_errors);
      logger_.log(LogLevel::kWarning, "connection {}: request failed: {}", c.id, e.what());
      c.out += protocol_->internal_error_reply(e.what());
      keep = false;
      break;
    } catch (...) {
      CoreCounters::bump(counters_.handler_errors);
      logger_.log(LogLevel::kWarning, "connection {}: request failed with an unknown exception",
                  c.id);
      c.out += protocol_->internal_error_reply("unknown error");
      keep = false;
      break;
    }
    if (over_output_limit(c)) {
      keep = false;
      break;
    }
    if (used == 0) {
      if (pending.size() > options_.max_request_size) {
        CoreCounters::bump(counters_.too_large);
        logger_.log(LogLevel::kDebug, "connection {}: request over {} bytes; closing", c.id,
                    options_.max_request_size);
        c.out += protocol_->request_too_large_reply(options_.max_request_size);
        keep = false;
      }
      break;
    }
    c.in_start += std::min(used, pending.size());
    // What follows in the buffer is the start of the next request, which began now.
    c.request_started_ms.store(c.in_start < c.in.size() ? monotonic_ms() : 0);
    CoreCounters::bump(counters_.requests);
    if (c.close_requested) {
      keep = false;
      break;
    }
    // A drain closes the connection at this boundary: nothing more buffered (a pipeline
    // is answered to its end) and no transaction open.
    if (c.drain_sampled && c.in_start == c.in.size() &&
        !c.in_transaction.load(std::memory_order_relaxed)) {
      keep = false;
      break;
    }
    if (c.out.size() >= kFlushThreshold) {
      const Flush flushed = flush(c);
      if (flushed == Flush::kFailed) return Processed::kClose;
      if (flushed == Flush::kBlocked) {
        blocked = true;
        break;
      }
    }
  }
  if (c.in_start == c.in.size()) {
    c.in.clear();
    c.in_start = 0;
  } else if (c.in_start > 0 && c.in_start >= c.in.size() / 2) {
    c.in.erase(0, c.in_start);
    c.in_start = 0;
  }
  account_buffers(c);
  const Flush flushed = blocked ? Flush::kBlocked : c.out.empty() ? Flush::kDone : flush(c);
  release_spare_buffers(c);
  if (flushed == Flush::kFailed) return Processed::kClose;
  if (flushed == Flush::kBlocked) {
    // A last reply (QUIT's, an error's) still reaches the client before the close.
    if (!keep) c.close_after_output = true;
    return Processed::kWaitOutput;
  }
  return keep ? Processed::kWaitInput : Processed::kClose;
}

// Redis' client-output-buffer-limit hard limit, checked after each request: the reply
// that takes the unsent replies past max_output_buffer is dropped and its connection
// closed. The memory stays bounded by one reply and is freed at once, instead of being
// held for net_write_timeout by a client that does not read.
bool ServerCore::over_output_limit(Connection& c) {
  if (c.out.size() <= options_.max_output_buffer) return false;
  CoreCounters::bump(counters_.output_limit_closes);
  if (auto skipped = output_log_.admit(monotonic_ms())) {
    logger_.log(LogLevel::kWarning,
                "connection {}: {} bytes of replies unsent, over max_output_buffer ({}); "
                "closing{}",
                c.id, c.out.size(), options_.max_output_buffer,
                *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
  }
  c.out.clear();
  release_spare_buffers(c);
  return true;
}

// Empty buffers give back what one large request or reply made them grow to.
void ServerCore::release_spare_buffers(Connection& c) {
  bool changed = false;
  if (c.in.empty() && c.in.capacity() > kKeepBufferBytes) {
    std::string().swap(c.in);
    changed = true;
  }
  if (c.out.empty() && c.out.capacity() > kKeepBufferBytes) {
    std::string().swap(c.out);
    changed = true;
  }
  if (changed) account_buffers(c);
}

// Keeps the server-wide total of connection buffers current (what the buffers hold
// allocated, not what is in them) and enforces the budget when this one grew past it.
void ServerCore::account_buffers(Connection& c) {
  const std::size_t now = c.in.capacity() + c.out.capacity();
  const std::size_t before = c.buffer_bytes.exchange(now, std::memory_order_relaxed);
  if (now == before) return;
  std::uint64_t total;
  if (now > before) {
    total = buffer_total_.fetch_add(now - before, std::memory_order_relaxed) + (now - before);
  } else {
    total = buffer_total_.fetch_sub(before - now, std::memory_order_relaxed) - (before - now);
  }
  if (now > before && total > options_.max_connection_memory) enforce_memory_budget();
}

// Redis' maxmemory-clients: past the budget, the connections holding most are closed
// first until what is left fits. Connections already killed still count until their
// thread frees them, but are not picked again. One enforcer at a time; the scan is
// O(connections) under the registry lock, run only when the budget is exceeded.
void ServerCore::enforce_memory_budget() {
  std::unique_lock lock(budget_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  struct Candidate {
    std::size_t bytes;
    std::uint64_t id;
  };
  std::vector<Candidate> candidates;
  std::uint64_t dying = 0;
  registry_.for_each([&](Connection& c) {
    const std::size_t bytes = c.buffer_bytes.load(std::memory_order_relaxed);
    if (c.killed.load() != CONNSCHED_KILL_NONE) {
      dying += bytes;
    } else if (bytes > 0) {
      candidates.push_back({bytes, c.id});
    }
  });
  const std::uint64_t total = buffer_total_.load(std::memory_order_relaxed);
  if (total <= dying + options_.max_connection_memory) return;
  std::uint64_t excess = total - dying - options_.max_connection_memory;
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.bytes > b.bytes; });
  for (const Candidate& victim : candidates) {
    std::string peer = peer_name(victim.id);  // before the kill: a shut-down socket has none
    if (!kill_counted(victim.id, CONNSCHED_KILL_CONNECTION, &counters_.over_memory)) continue;
    if (auto skipped = memory_log_.admit(monotonic_ms())) {
      logger_.log(LogLevel::kWarning,
                  "connection {} ({}): closed, its buffers ({} bytes) the largest when all "
                  "connections' reached {} bytes (max_connection_memory {}){}",
                  victim.id, peer, victim.bytes, total, options_.max_connection_memory,
                  *skipped ? fmt::format("; {} more closed since the last line", *skipped) : "");
    }
    if (victim.bytes >= excess) break;
    excess -= victim.bytes;
  }
}

// Writes the pending replies. A full socket is waited on here (a NET wait, bounded by
// net_write_timeout and the soft limit's time), unless the backend waits for output
// itself: then the unsent bytes stay in `out` (from out_sent on), the deadline is
// handed to core's timer, and kBlocked sends the thread back to its backend. Either
// way the deadline runs from the first write of these replies until they are all out.
ServerCore::Flush ServerCore::flush(Connection& c) {
  const std::int64_t waiting = c.write_deadline_ms.load();
  const std::int64_t deadline =
      waiting != 0 ? waiting
                   : monotonic_ms() + static_cast<std::int64_t>(options_.net_write_timeout) * 1000;
  bool ok = true;
  while (c.out_sent < c.out.size()) {
    ssize_t n =
        ::send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<std::size_t>(n);
      CoreCounters::bump(counters_.bytes_sent, static_cast<std::uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const std::int64_t now = monotonic_ms();
      std::int64_t soft_left = 0;
      if (soft_limit_passed(c, c.out.size() - c.out_sent, now, &soft_left)) {
        ok = false;
        break;
      }
      if (deadline - now <= 0 || hard_killed(c)) {
        if (deadline - now <= 0) {
          CoreCounters::bump(counters_.write_timeouts);
          if (auto skipped = write_log_.admit(now)) {
            logger_.log(LogLevel::kWarning,
                        "connection {}: peer did not read a reply for {} s (net_write_timeout); "
                        "closing{}",
                        c.id, options_.net_write_timeout,
                        *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
          }
        }
        ok = false;
        break;
      }
      if (BackendInstance* b = c.owner.load(); b != nullptr && b->waits_for_output) {
        wait_for_output(c, deadline);
        return Flush::kBlocked;
      }
      ScopedWait wait(WaitType::kNet);
      pollfd p{c.fd.get(), POLLOUT, 0};
      const std::int64_t left = std::min(deadline - now, soft_left);
      ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
      continue;
    }
    ok = false;  // EPIPE, ECONNRESET: the peer is gone
    break;
  }
  c.out.clear();
  c.out_sent = 0;
  c.out_soft_since_ms.store(0);
  c.write_deadline_ms.store(0);
  release_spare_buffers(c);
  return ok ? Flush::kDone : Flush::kFailed;
}

// Redis' soft output limit: more than output_buffer_soft_limit unsent for its time
// closes the connection (counted and logged here). *left_ms is the time still allowed,
// INT64_MAX when the unsent replies are under the limit.
bool ServerCore::soft_limit_passed(Connection& c, std::size_t unsent, std::int64_t now,
                                   std::int64_t* left_ms) {
  *left_ms = std::numeric_limits<std::int64_t>::max();
  if (options_.output_buffer_soft_limit == 0 || unsent <= options_.output_buffer_soft_limit) {
    c.out_soft_since_ms.store(0);
    return false;
  }
  std::int64_t since = c.out_soft_since_ms.load();
  if (since == 0) {
    since = now;
    c.out_soft_since_ms.store(now);
  }
  *left_ms = since + static_cast<std::int64_t>(options_.output_buffer_soft_seconds) * 1000 - now;
  if (*left_ms > 0) return false;
  CoreCounters::bump(counters_.output_limit_closes);
  if (auto skipped = output_log_.admit(now)) {
    logger_.log(LogLevel::kWarning,
                "connection {}: {} bytes of replies unsent for {} s, over "
                "output_buffer_soft_limit ({}); closing{}",
                c.id, unsent, options_.output_buffer_soft_seconds,
                options_.output_buffer_soft_limit,
                *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
  }
  return true;
}

// The reply waits without a thread: core's timer holds its deadline (the earlier of
// net_write_timeout and the soft limit's time) and kills the connection when it
// passes, which shuts the socket down and so wakes the backend's EPOLLOUT wait.
void ServerCore::wait_for_output(Connection& c, std::int64_t deadline_ms) {
  c.write_deadline_ms.store(deadline_ms);
  std::int64_t due = deadline_ms;
  if (std::int64_t since = c.out_soft_since_ms.load(); since != 0) {
    due = std::min(due,
                   since + static_cast<std::int64_t>(options_.output_buffer_soft_seconds) * 1000);
  }
  idle_timer_->watch_output(c.id, due);
}

// Between requests a connection asked back by a switch goes at once: the switch's
// eventfd wakes the poll. A thread whose connection is not being moved polls its own
// socket only, in short rounds while the switch lasts (so that it never spins on the
// eventfd and still sees a late request for its connection).
int ServerCore::wait_for_input(Connection& c) {
  constexpr std::int64_t kSwitchRoundMs = 50;
  ensure_thread_initialized(c);
  while (true) {
    int killed = c.killed.load();
    if (killed == CONNSCHED_KILL_CONNECTION || killed == CONNSCHED_KILL_TIMEOUT) {
      return CONNSCHED_NEXT_CLOSE;
    }
    if (killed == CONNSCHED_KILL_SHUTDOWN) return CONNSCHED_NEXT_READY;  // drain, then close
    if (owner_releases(c)) return CONNSCHED_NEXT_RELEASE;
    std::int64_t left = c.idle_deadline_ms.load(std::memory_order_relaxed) - monotonic_ms();
    if (left <= 0) {
      kill(c.id, CONNSCHED_KILL_TIMEOUT);
      logger_.log(LogLevel::kDebug, "connection {}: idle for wait_timeout; closing", c.id);
      return CONNSCHED_NEXT_CLOSE;
    }
    pollfd p[2] = {{c.fd.get(), POLLIN | POLLRDHUP, 0}, {switch_wake_.get(), POLLIN, 0}};
    // Always watched, so a switch that begins while this thread blocks wakes it; while
    // one runs, a connection it does not move waits on its own socket in short rounds.
    nfds_t count = 2;
    if (switching_.load() && c.owner.load() == current_.load()) {
      count = 1;
      left = std::min(left, kSwitchRoundMs);
    }
    int ready = ::poll(p, count, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
    if (ready > 0 && p[0].revents != 0) return CONNSCHED_NEXT_READY;
    if (ready > 0 && !c.release_requested.load()) {
      // The switch's eventfd, but this connection was not asked for (yet): a short round.
      pollfd own{c.fd.get(), POLLIN | POLLRDHUP, 0};
      ready = ::poll(&own, 1, static_cast<int>(std::min(left, kSwitchRoundMs)));
      if (ready > 0) return CONNSCHED_NEXT_READY;
    }
    if (ready < 0 && errno != EINTR) return CONNSCHED_NEXT_CLOSE;
  }
}

void ServerCore::wait_begin(Connection& c, int type) {
  if (type < 0 || type >= CONNSCHED_WAIT_TYPE_COUNT) type = CONNSCHED_WAIT_UNKNOWN;
  CoreCounters::bump(counters_.waits[static_cast<std::size_t>(type)]);
  // Only the outermost of nested waits reaches the backend.
  BackendInstance* b = c.owner.load();
  if (c.wait_depth++ == 0 && b != nullptr && b->table().wait_begin)
    b->table().wait_begin(b->state, &c, type);
}

void ServerCore::wait_end(Connection& c) {
  if (c.wait_depth <= 0) return;
  BackendInstance* b = c.owner.load();
  if (--c.wait_depth == 0 && b != nullptr && b->table().wait_end) b->table().wait_end(b->state, &c);
}

}  // namespace connsched
