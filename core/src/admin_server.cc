// File: core/src/admin_server.cc
#include "admin_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "admin_auth.h"
#include "admin_json.h"
#include "listen_socket.h"
#include "server_core.h"

namespace connsched {

namespace {
// After an accept error (EMFILE, ...), the pause before accepting again.
constexpr int kAcceptPauseMs = 100;
// After the reply, how long the client's leftover bytes are drained (see on_ready).
constexpr std::int64_t kLingerMs = 500;

// What a client sent, fit for a log line: printable ASCII as is, every other byte as
// \xNN, at most 120 characters, so a request cannot forge lines or escape sequences.
std::string loggable(std::string_view text) {
  constexpr std::size_t kMax = 120;
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}
}  // namespace

AdminServer::AdminServer(const std::string& bind_address, int port, AdminActions actions,
                         Logger& logger, std::string token)
    : bind_address_(bind_address),
      actions_(std::move(actions)),
      logger_(logger),
      token_(std::move(token)) {
  if (port < 0 || port > 65535) {
    throw StartupError(fmt::format("--admin-port: {} is out of range [0, 65535]", port));
  }
  ListenSocket socket = listen_tcp(bind_address, port, "--admin-bind-address");
  listen_fd_ = std::move(socket.fd);
  port_ = socket.port;
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw StartupError(fmt::format("eventfd: {}", std::strerror(errno)));
}

AdminServer::AdminServer(UniqueFd listener, const std::string& address, std::uint16_t port,
                         AdminActions actions, Logger& logger, std::string token)
    : bind_address_(address),
      actions_(std::move(actions)),
      logger_(logger),
      token_(std::move(token)),
      listen_fd_(std::move(listener)),
      port_(port) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw StartupError(fmt::format("eventfd: {}", std::strerror(errno)));
}

// The admin thread closes the descriptor itself (at its next wake), so the fd it polls
// is never closed under it.
void AdminServer::release_listener() {
  release_listener_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  logger_.log(LogLevel::kInfo, "admin port listening on {}", host_port(bind_address_, port_));
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
}

// One thread, one poll over the listening socket and every admin client: each client
// advances when its socket is ready, so a silent one costs a slot and nothing else.
// Admin traffic is rare and small; a thread that never blocks on the server's own locks
// and never waits on one client is what keeps the port answering.
void AdminServer::run(std::stop_token stop) {
  bool accept_failing = false;
  std::vector<pollfd> fds;
  while (!stop.stop_requested()) {
    const std::int64_t now = monotonic_ms();
    // Clients past their deadline are closed; the nearest deadline bounds the wait.
    std::erase_if(clients_, [&](const Client& c) { return c.deadline_ms <= now; });
    std::int64_t wait_ms = -1;
    for (const Client& c : clients_) {
      std::int64_t left = c.deadline_ms - now;
      if (wait_ms < 0 || left < wait_ms) wait_ms = left;
    }
    if (release_listener_.load() && listen_fd_) {
      listen_fd_.reset();
      logger_.log(LogLevel::kInfo, "admin port: handed over; no longer accepting here");
    }
    fds.clear();
    fds.push_back(
        {listen_fd_ ? listen_fd_.get() : -1, static_cast<short>(accept_failing ? 0 : POLLIN), 0});
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    for (const Client& c : clients_) {
      fds.push_back({c.fd.get(),
                     static_cast<short>(c.phase == Client::Phase::kWriting ? POLLOUT : POLLIN), 0});
    }
    if (accept_failing && (wait_ms < 0 || wait_ms > kAcceptPauseMs)) wait_ms = kAcceptPauseMs;
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait_ms));
    if (ready < 0) {
      if (errno == EINTR) continue;
      logger_.log(LogLevel::kWarning, "admin port: poll failed: {}", std::strerror(errno));
      ::poll(nullptr, 0, kAcceptPauseMs);
      continue;
    }
    if (stop.stop_requested()) break;
    if (fds[1].revents & POLLIN) {
      std::uint64_t wakes;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &wakes, sizeof wakes);
    }
    // Clients first (accepting may reorder the vector); the fds line up with clients_.
    std::vector<bool> done(clients_.size(), false);
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      short revents = fds[i + 2].revents;
      if (revents != 0) done[i] = !on_ready(clients_[i], revents);
    }
    std::size_t i = 0;
    std::erase_if(clients_, [&](const Client&) { return done[i++]; });
    if (listen_fd_ && (accept_failing || (fds[0].revents & POLLIN))) {
      accept_clients(accept_failing);
    }
  }
  clients_.clear();
}

// Accepts what is waiting. Past kMaxClients the oldest client still reading its request
// goes (a silent socket), so an operator's request always finds a slot; if every slot is
// busy answering, the newcomer waits in the backlog.
void AdminServer::accept_clients(bool& accept_failing) {
  while (true) {
    if (clients_.size() >= kMaxClients) {
      auto oldest = clients_.end();
      for (auto it = clients_.begin(); it != clients_.end(); ++it) {
        if (it->phase == Client::Phase::kReading &&
            (oldest == clients_.end() || it->accepted_ms < oldest->accepted_ms))
          oldest = it;
      }
      if (oldest == clients_.end()) return;
      clients_.erase(oldest);
      if (evicted_++ % 1000 == 0) {
        logger_.log(LogLevel::kDebug,
                    "admin port: {} connection(s) open; closed the oldest silent one ({} so far)",
                    kMaxClients, evicted_);
      }
    }
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        if (accept_failing) logger_.log(LogLevel::kInfo, "admin port: accepting again");
        accept_failing = false;
        return;
      }
      if (error == EINTR || error == ECONNABORTED) continue;
      // Logged once per run of failures (EMFILE repeats every pause), not every 100 ms.
      if (!accept_failing) {
        logger_.log(LogLevel::kWarning, "admin port: accept failed: {}; retrying every {} ms",
                    std::strerror(error), kAcceptPauseMs);
      }
      accept_failing = true;
      return;
    }
    if (accept_failing) logger_.log(LogLevel::kInfo, "admin port: accepting again");
    accept_failing = false;
    Client c;
    c.fd.reset(fd);
    c.accepted_ms = monotonic_ms();
    c.deadline_ms = c.accepted_ms + kClientDeadlineMs;
    clients_.push_back(std::move(c));
  }
}

// Reads the request head (bounded in bytes; the deadline bounds time), answers it, writes
// the reply, then half-closes and drains what the client still sends (a body we did not
// read), so the close does not turn into a reset that could destroy the reply in flight.
// Never blocks: each call does what the socket allows now.
bool AdminServer::on_ready(Client& c, short revents) {
  char buffer[2048];
  if (c.phase == Client::Phase::kReading) {
    AdminParse parsed;
    while (true) {
      ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
      if (n > 0) {
        c.request.append(buffer, static_cast<std::size_t>(n));
        parsed = parse_admin_request(c.request);
        if (parsed.status != AdminParse::Status::kIncomplete) break;
        continue;
      }
      if (n == 0) return false;  // closed before a whole request
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      return false;
    }
    c.wire = respond(parsed);
    c.request.clear();
    c.phase = Client::Phase::kWriting;
    revents = POLLOUT;
  }
  if (c.phase == Client::Phase::kWriting) {
    if (revents & (POLLERR | POLLHUP)) return false;
    while (c.sent < c.wire.size()) {
      ssize_t n = ::send(c.fd.get(), c.wire.data() + c.sent, c.wire.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    ::shutdown(c.fd.get(), SHUT_WR);
    c.phase = Client::Phase::kLingering;
    c.deadline_ms = std::min(c.deadline_ms, monotonic_ms() + kLingerMs);
    return true;
  }
  while (true) {  // lingering
    ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// The reply to one parsed request, as bytes: errors are JSON replies, a request without
// the token gets 401 before any routing.
std::string AdminServer::respond(const AdminParse& parsed) {
  AdminResponse response;
  if (parsed.status == AdminParse::Status::kBad) {
    int status = parsed.error == "request head too large" ? 431 : 400;
    response = AdminResponse{status, "application/json", json_error(parsed.error), {}, {}};
  } else if (!token_.empty() && !admin_token_matches(parsed.request.authorization, token_)) {
    // Checked before routing: without the token, not even a 404 says which paths exist.
    response = admin_unauthorized(!parsed.request.authorization.empty());
    const std::int64_t now = monotonic_ms();
    if (now - last_refusal_log_ms_ >= 1000) {
      logger_.log(LogLevel::kWarning, "admin: {} {} refused: {}{}", loggable(parsed.request.method),
                  loggable(parsed.request.path),
                  parsed.request.authorization.empty() ? "no token" : "wrong token",
                  refusals_unlogged_ > 0
                      ? fmt::format(" ({} more refused since the last line)", refusals_unlogged_)
                      : "");
      last_refusal_log_ms_ = now;
      refusals_unlogged_ = 0;
    } else {
      ++refusals_unlogged_;
    }
  } else {
    try {
      response = route_admin_request(parsed.request, actions_);
    } catch (const std::exception& e) {
      response = AdminResponse{500, "application/json", json_error(e.what()), {}, {}};
    }
    logger_.log(LogLevel::kDebug, "admin: {} {} -> {}", loggable(parsed.request.method),
                loggable(parsed.request.path), response.status);
  }
  std::string wire = format_admin_response(response);
  if (parsed.status == AdminParse::Status::kComplete && parsed.request.method == "HEAD") {
    wire.resize(wire.size() - response.body.size());  // the head says how long it would be
  }
  return wire;
}

}  // namespace connsched
