// File: core/src/request_processing.cc
//
// do_command and its parts: read what is there, run every complete request, write the
// replies. The decisions that matter: a partial request never blocks a thread (the
// connection goes back to waiting for input); buffered input is bounded by
// max_request_size; a full socket is waited on inside a reported NET wait, bounded by
// the write timeout; a throwing handler costs its own connection, nothing else.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <exception>

#include "connsched/scoped_wait.h"
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

bool hard_killed(const Connection& c) {
  int k = c.killed.load();
  return k == CONNSCHED_KILL_CONNECTION || k == CONNSCHED_KILL_TIMEOUT;
}

// Marks a connection as running a request for core's idle timer, for as long as
// do_command runs (a request in progress is never closed for wait_timeout).
class InCommand {
 public:
  explicit InCommand(Connection& c) : c_(c) { c_.in_command.store(true); }
  ~InCommand() { c_.in_command.store(false); }
  InCommand(const InCommand&) = delete;
  InCommand& operator=(const InCommand&) = delete;

 private:
  Connection& c_;
};

}  // namespace

void ServerCore::ensure_thread_initialized() {
  // Per thread and per server: a test process may run several servers.
  thread_local const ServerCore* initialized_for = nullptr;
  if (initialized_for == this) return;
  initialized_for = this;
  if (scheduler_.table.init_new_connection_thread)
    scheduler_.table.init_new_connection_thread(backend_);
}

int ServerCore::do_command(Connection& c) {
  ensure_thread_initialized();
  CurrentConnectionScope scope(&c);
  InCommand serving(c);
  if (hard_killed(c)) return CONNSCHED_NEXT_CLOSE;
  bool eof = false;
  bool received = false;
  char buffer[kReadChunk];
  for (int round = 0; round < kMaxReadRounds; ++round) {
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      CoreCounters::bump(counters_.bytes_received, static_cast<std::uint64_t>(n));
      c.in.append(buffer, static_cast<std::size_t>(n));
      received = true;
      if (!process_input(c)) return CONNSCHED_NEXT_CLOSE;
      if (static_cast<std::size_t>(n) < sizeof buffer) break;
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
  if (!c.out.empty() && !flush(c)) return CONNSCHED_NEXT_CLOSE;
  if (eof || c.killed.load() != CONNSCHED_KILL_NONE) return CONNSCHED_NEXT_CLOSE;
  // wait_timeout counts from the end of the last activity, as mysqld's does: a request
  // that ran long is not idle time.
  if (received) c.idle_deadline_ms.store(idle_deadline_from_now(), std::memory_order_relaxed);
  return CONNSCHED_NEXT_WAIT_INPUT;
}

bool ServerCore::process_input(Connection& c) {
  ConnectionContext ctx(c);
  Reply out(c.out);
  bool keep = true;
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
    CoreCounters::bump(counters_.requests);
    if (c.close_requested) {
      keep = false;
      break;
    }
    if (c.out.size() >= kFlushThreshold && !flush(c)) return false;
  }
  if (c.in_start == c.in.size()) {
    c.in.clear();
    c.in_start = 0;
  } else if (c.in_start > 0 && c.in_start >= c.in.size() / 2) {
    c.in.erase(0, c.in_start);
    c.in_start = 0;
  }
  bool flushed = c.out.empty() || flush(c);
  return keep && flushed;
}

bool ServerCore::flush(Connection& c) {
  std::size_t offset = 0;
  const std::int64_t deadline =
      monotonic_ms() + static_cast<std::int64_t>(options_.net_write_timeout) * 1000;
  bool ok = true;
  while (offset < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + offset, c.out.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      offset += static_cast<std::size_t>(n);
      CoreCounters::bump(counters_.bytes_sent, static_cast<std::uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      std::int64_t left = deadline - monotonic_ms();
      if (left <= 0 || hard_killed(c)) {
        if (left <= 0) {
          CoreCounters::bump(counters_.write_timeouts);
          logger_.log(
              LogLevel::kWarning,
              "connection {}: peer did not read a reply for {} s (net_write_timeout); closing",
              c.id, options_.net_write_timeout);
        }
        ok = false;
        break;
      }
      ScopedWait wait(WaitType::kNet);
      pollfd p{c.fd.get(), POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
      continue;
    }
    ok = false;  // EPIPE, ECONNRESET: the peer is gone
    break;
  }
  c.out.clear();
  return ok;
}

int ServerCore::wait_for_input(Connection& c) {
  ensure_thread_initialized();
  while (true) {
    int killed = c.killed.load();
    if (killed == CONNSCHED_KILL_CONNECTION || killed == CONNSCHED_KILL_TIMEOUT) {
      return CONNSCHED_NEXT_CLOSE;
    }
    if (killed == CONNSCHED_KILL_SHUTDOWN) return CONNSCHED_NEXT_READY;  // drain, then close
    std::int64_t left = c.idle_deadline_ms.load(std::memory_order_relaxed) - monotonic_ms();
    if (left <= 0) {
      kill(c.id, CONNSCHED_KILL_TIMEOUT);
      logger_.log(LogLevel::kDebug, "connection {}: idle for wait_timeout; closing", c.id);
      return CONNSCHED_NEXT_CLOSE;
    }
    pollfd p{c.fd.get(), POLLIN | POLLRDHUP, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
    if (ready > 0) return CONNSCHED_NEXT_READY;
    if (ready < 0 && errno != EINTR) return CONNSCHED_NEXT_CLOSE;
  }
}

void ServerCore::wait_begin(Connection& c, int type) {
  if (type < 0 || type >= CONNSCHED_WAIT_TYPE_COUNT) type = CONNSCHED_WAIT_UNKNOWN;
  CoreCounters::bump(counters_.waits[static_cast<std::size_t>(type)]);
  // Only the outermost of nested waits reaches the backend.
  if (c.wait_depth++ == 0 && scheduler_.table.wait_begin)
    scheduler_.table.wait_begin(backend_, &c, type);
}

void ServerCore::wait_end(Connection& c) {
  if (c.wait_depth <= 0) return;
  if (--c.wait_depth == 0 && scheduler_.table.wait_end) scheduler_.table.wait_end(backend_, &c);
}

}  // namespace connsched
