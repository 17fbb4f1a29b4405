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
// How long one admin client may take to send its request and read the reply: clients
// are served one at a time, so this bounds how long a silent one delays the next.
constexpr std::int64_t kClientDeadlineMs = 2000;
// After an accept error (EMFILE, ...), the pause before accepting again.
constexpr int kAcceptPauseMs = 100;

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

// Waits for `events` on `fd` or for the wake fd; false on timeout, stop or error.
bool wait_for(int fd, short events, int wake_fd, std::int64_t deadline_ms) {
  while (true) {
    std::int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || (fds[1].revents & POLLIN)) return false;
    return true;
  }
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

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  logger_.log(LogLevel::kInfo, "admin port listening on {}:{}", bind_address_, port_);
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
}

// Accepts and serves one client at a time: admin traffic is rare and small, and one
// thread that never blocks on the server's own locks is what keeps it answering.
void AdminServer::run(std::stop_token stop) {
  bool accept_failing = false;
  while (!stop.stop_requested()) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      logger_.log(LogLevel::kWarning, "admin port: poll failed: {}", std::strerror(errno));
      ::poll(nullptr, 0, kAcceptPauseMs);
      continue;
    }
    if (stop.stop_requested()) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ECONNABORTED)
        continue;
      // Logged once per run of failures (EMFILE repeats every pause), not every 100 ms.
      if (!accept_failing) {
        logger_.log(LogLevel::kWarning, "admin port: accept failed: {}; retrying every {} ms",
                    std::strerror(error), kAcceptPauseMs);
      }
      accept_failing = true;
      ::poll(nullptr, 0, kAcceptPauseMs);
      continue;
    }
    if (accept_failing) logger_.log(LogLevel::kInfo, "admin port: accepting again");
    accept_failing = false;
    serve(UniqueFd(fd), stop);
  }
}

// Reads the request head (bounded in bytes and time), routes it, writes the reply.
// Errors become JSON replies; a client that vanishes just costs its own socket.
void AdminServer::serve(UniqueFd client, const std::stop_token& stop) {
  const std::int64_t deadline = monotonic_ms() + kClientDeadlineMs;
  std::string request;
  AdminParse parsed;
  char buffer[2048];
  while (parsed.status == AdminParse::Status::kIncomplete) {
    ssize_t n = ::recv(client.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      request.append(buffer, static_cast<std::size_t>(n));
      parsed = parse_admin_request(request);
      continue;
    }
    if (n == 0) return;  // closed before a whole request
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return;
    if (stop.stop_requested() || !wait_for(client.get(), POLLIN, wake_fd_.get(), deadline)) return;
  }
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
  std::string_view rest = wire;
  while (!rest.empty()) {
    ssize_t n = ::send(client.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        wait_for(client.get(), POLLOUT, wake_fd_.get(), deadline)) {
      continue;
    }
    return;
  }
  // Half-close and drain what the client still sends (a body we did not read), so the
  // close does not turn into a reset that could destroy the reply in flight.
  ::shutdown(client.get(), SHUT_WR);
  const std::int64_t linger = std::min(deadline, monotonic_ms() + 500);
  while (wait_for(client.get(), POLLIN, wake_fd_.get(), linger)) {
    if (::recv(client.get(), buffer, sizeof buffer, 0) <= 0) break;
  }
}

}  // namespace connsched
