// File: core/src/listener_handover.cc
#include "listener_handover.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "server_core.h"

namespace connsched {

namespace {
constexpr std::string_view kRequest = "CONNSCHED-HANDOVER 1\n";
constexpr std::string_view kListeners = "CONNSCHED-LISTENERS 1";
constexpr std::string_view kRefused = "CONNSCHED-REFUSED ";
constexpr std::size_t kMaxLine = 512;
constexpr int kMaxFds = 2;
// How long the new process waits for the old one's answer, and the old one for a
// request line and for DRAINING's acknowledgement.
constexpr std::int64_t kAnswerMs = 10000;
// How long the old server waits for the new one to serve (a backend's init, the admin
// thread; slow under a sanitizer): past it the handover is abandoned, the old one serves on.
constexpr std::int64_t kReadyMs = 30000;

// The current errno as text, for one-line errors.
std::string errno_text() {
  return std::strerror(errno);
}

// sun_path is 108 bytes: a longer path would be cut silently by the kernel, so it is refused.
sockaddr_un unix_address(const std::string& path, const char* flag) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    throw StartupError(fmt::format("{}: '{}' is not a usable AF_UNIX path (1 to {} bytes)", flag,
                                   path, sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// A line, printable, for an error that quotes what a peer sent.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c))
                                   : fmt::format("\\x{:02x}", c);
  }
  return out;
}

enum class LineStatus { kLine, kClosed, kTimeout, kStopped, kError, kTooLong };

// Reads up to '\n' (not kept) within `deadline_ms`, collecting any fds that arrive on the
// way (SCM_RIGHTS, close-on-exec). `wake_fd` (or -1) ends the wait early: the server
// stops. Bytes past the newline are not expected in this exchange and are dropped.
LineStatus read_line(int fd, std::int64_t deadline_ms, int wake_fd, std::string& line,
                     std::vector<UniqueFd>* fds) {
  line.clear();
  while (true) {
    const std::int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return LineStatus::kTimeout;
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int ready = ::poll(p, 2, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return LineStatus::kError;
    if (p[1].revents & POLLIN) return LineStatus::kStopped;
    if (ready == 0) continue;
    char buffer[kMaxLine];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return LineStatus::kError;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
        UniqueFd owned(received);  // closed unless the caller wants it
        if (fds) fds->push_back(std::move(owned));
      }
    }
    if (n == 0) return LineStatus::kClosed;
    line.append(buffer, static_cast<std::size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return LineStatus::kLine;
    }
    if (line.size() > kMaxLine) return LineStatus::kTooLong;
  }
}

// The whole line or false: a peer that went away is an answer too.
bool send_text(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
};

// SO_PEERCRED: who is on the other end, from the kernel, not from what the peer says.
PeerCredentials peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return {0, ~uid_t{0}};
  return {cred.pid, cred.uid};
}

// The value after "KEY=" in a line of space-separated words, empty when absent.
std::string word_value(const std::string& line, const std::string& key) {
  std::istringstream words(line);
  std::string word;
  while (words >> word) {
    if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
  }
  return {};
}
}  // namespace

// ---- the new process's side ----

// Connecting is where the common mistakes show (no server, a stale path, a path that is
// some other program's socket), so each gets its own line.
HandoverClient::HandoverClient(std::string path) : path_(std::move(path)) {
  sockaddr_un addr = unix_address(path_, "--inherit-from");
  fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw StartupError(fmt::format("--inherit-from: socket: {}", errno_text()));
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      throw StartupError(fmt::format(
          "--inherit-from={}: no such socket (is a server running with --handover-socket={}?)",
          path_, path_));
    }
    if (error == ECONNREFUSED) {
      throw StartupError(fmt::format(
          "--inherit-from={}: nobody listens on it (a server that exited, or not a socket)",
          path_));
    }
    throw StartupError(fmt::format("--inherit-from={}: {}", path_, std::strerror(error)));
  }
  peer_pid_ = peer_credentials(fd_.get()).pid;
}

// Every answer but the listeners with their header is refused: a refusal from a
// connsched server quotes its reason, anything else says the peer is not one.
InheritedListeners HandoverClient::take() {
  const std::string who = fmt::format("--inherit-from={}", path_);
  if (!send_text(fd_.get(), kRequest)) {
    throw StartupError(fmt::format("{}: the peer closed the connection ({})", who, errno_text()));
  }
  std::string line;
  std::vector<UniqueFd> fds;
  switch (read_line(fd_.get(), monotonic_ms() + kAnswerMs, -1, line, &fds)) {
    case LineStatus::kLine:
      break;
    case LineStatus::kTimeout:
      throw StartupError(
          fmt::format("{}: no answer within {} s (the peer is not a connsched server?)", who,
                      kAnswerMs / 1000));
    case LineStatus::kClosed:
      throw StartupError(fmt::format(
          "{}: the peer closed the connection without answering (not a connsched server?)", who));
    default:
      throw StartupError(fmt::format("{}: the peer's answer is not a connsched handover ('{}')",
                                     who, printable(line)));
  }
  if (line.rfind(kRefused, 0) == 0) {
    throw StartupError(fmt::format("{}: the server there (pid {}) refused: {}", who, peer_pid_,
                                   printable(line.substr(kRefused.size()))));
  }
  if (line.rfind(kListeners, 0) != 0) {
    throw StartupError(fmt::format("{}: the peer is not a connsched server (it answered '{}')", who,
                                   printable(line)));
  }
  const bool has_admin = !word_value(line, "admin").empty();
  const std::size_t expected = has_admin ? 2 : 1;
  if (word_value(line, "main").empty() || fds.size() != expected) {
    throw StartupError(fmt::format("{}: the peer announced '{}' but passed {} socket(s)", who,
                                   printable(line), fds.size()));
  }
  InheritedListeners out;
  out.source = fmt::format("pid {} over {}", peer_pid_, path_);
  out.main_address =
      listening_tcp_address(fds[0].get(), fmt::format("{}: the main socket passed", who));
  out.main = std::move(fds[0]);
  if (has_admin) {
    out.admin_address =
        listening_tcp_address(fds[1].get(), fmt::format("{}: the admin socket passed", who));
    out.admin = std::move(fds[1]);
  }
  return out;
}

// Sent only after this process serves: the old one stops accepting on DRAINING's cue.
void HandoverClient::acknowledge(Logger& logger) {
  std::string line;
  if (send_text(fd_.get(), "READY\n") &&
      read_line(fd_.get(), monotonic_ms() + kAnswerMs, -1, line, nullptr) == LineStatus::kLine &&
      line == "DRAINING") {
    logger.log(LogLevel::kInfo, "took over the listeners from pid {}; it is draining", peer_pid_);
  } else {
    logger.log(LogLevel::kWarning,
               "pid {} did not confirm the handover (it may have exited); serving on the "
               "listeners it passed",
               peer_pid_);
  }
  fd_.reset();
}

// ---- the running server's side ----

HandoverServer::HandoverServer(std::string path, bool replacing, Hooks hooks, Logger& logger)
    : path_(std::move(path)), hooks_(std::move(hooks)), logger_(logger) {
  sockaddr_un addr = unix_address(path_, "--handover-socket");
  if (!replacing) {
    // A server already there would lose its path to this one: refused, not stolen.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      throw StartupError(fmt::format(
          "--handover-socket={}: a server already listens there (to replace it, start this one "
          "with --inherit-from={})",
          path_, path_));
    }
  }
  temp_path_ = fmt::format("{}.{}", path_, ::getpid());
  sockaddr_un temp = unix_address(temp_path_, "--handover-socket");
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listen_fd_) throw StartupError(fmt::format("--handover-socket: socket: {}", errno_text()));
  ::unlink(temp_path_.c_str());
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&temp), sizeof temp) != 0) {
    throw StartupError(
        fmt::format("--handover-socket={}: cannot bind {}: {}", path_, temp_path_, errno_text()));
  }
  // The socket passes listeners to whoever connects: only this user (SO_PEERCRED checks
  // it again) may.
  ::chmod(temp_path_.c_str(), 0600);
  if (::listen(listen_fd_.get(), 4) != 0) {
    ::unlink(temp_path_.c_str());
    throw StartupError(fmt::format("--handover-socket: listen: {}", errno_text()));
  }
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) {
    ::unlink(temp_path_.c_str());
    throw StartupError(fmt::format("eventfd: {}", errno_text()));
  }
}

HandoverServer::~HandoverServer() {
  stop();
  if (!published_) {
    ::unlink(temp_path_.c_str());
    return;
  }
  // The path is the new server's once it took over (rename replaced the file): only a
  // file that is still this socket is removed.
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

// rename(2) replaces the old server's socket file atomically: a later --inherit-from
// finds this process, never nothing; the old one's socket lives on, unnamed, until it exits.
void HandoverServer::publish() {
  if (published_) return;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    logger_.log(LogLevel::kError,
                "--handover-socket={}: cannot put the socket in place ({}); serving without one",
                path_, errno_text());
    ::unlink(temp_path_.c_str());
    return;
  }
  published_ = true;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  logger_.log(LogLevel::kInfo,
              "handover socket at {} (a new process takes over with "
              "--inherit-from={})",
              path_, path_);
}

// Wakes the thread (also out of a wait for a peer's line) and joins it.
void HandoverServer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  thread_.join();
}

// One peer at a time: a handover is rare, and a second new process must not get the
// listeners while the first one is still starting.
void HandoverServer::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) {
      logger_.log(LogLevel::kWarning, "handover socket: poll: {}", errno_text());
      ::poll(nullptr, 0, 100);
      continue;
    }
    if (stop.stop_requested()) break;
    if (!(p[0].revents & POLLIN)) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) continue;
    serve(std::move(client));
  }
}

// The fds leave only after the request was read and the state allows a drain; the drain
// starts only on READY, so a new process that dies while starting costs nothing.
void HandoverServer::serve(UniqueFd client) {
  const PeerCredentials peer = peer_credentials(client.get());
  if (peer.uid != ::geteuid() && peer.uid != 0) {
    logger_.log(LogLevel::kWarning,
                "handover request from pid {} (uid {}) refused: not this server's user", peer.pid,
                peer.uid);
    send_text(client.get(), fmt::format("{}not this server's user\n", kRefused));
    return;
  }
  std::string line;
  const LineStatus got =
      read_line(client.get(), monotonic_ms() + kAnswerMs, wake_fd_.get(), line, nullptr);
  if (got == LineStatus::kStopped) return;
  if (got != LineStatus::kLine || line + "\n" != kRequest) {
    logger_.log(LogLevel::kWarning, "handover socket: pid {} sent no handover request ('{}')",
                peer.pid, printable(line));
    send_text(client.get(), fmt::format("{}not a handover request\n", kRefused));
    return;
  }
  if (std::string why = hooks_.share(); !why.empty()) {
    logger_.log(LogLevel::kWarning, "handover request from pid {} refused: {}", peer.pid, why);
    send_text(client.get(), fmt::format("{}{}\n", kRefused, why));
    return;
  }
  const std::vector<Listener> listeners = hooks_.listeners();
  std::string header(kListeners);
  for (const Listener& l : listeners) header += fmt::format(" {}={}", l.role, l.address);
  header += '\n';
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  iovec iov{header.data(), header.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * listeners.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * listeners.size());
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    std::memcpy(CMSG_DATA(c) + i * sizeof(int), &listeners[i].fd, sizeof(int));
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(client.get(), &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(header.size())) {
    logger_.log(LogLevel::kWarning, "handover to pid {} failed: {}; still serving", peer.pid,
                sent < 0 ? errno_text() : "short write");
    return;
  }
  logger_.log(LogLevel::kInfo, "passed the listeners to pid {}; waiting for it to serve", peer.pid);
  const LineStatus ready =
      read_line(client.get(), monotonic_ms() + kReadyMs, wake_fd_.get(), line, nullptr);
  if (ready == LineStatus::kStopped) return;
  if (ready != LineStatus::kLine || line != "READY") {
    logger_.log(LogLevel::kWarning, "handover to pid {} abandoned ({}); still serving", peer.pid,
                ready == LineStatus::kTimeout
                    ? fmt::format("not serving after {} s", kReadyMs / 1000)
                : ready == LineStatus::kClosed ? std::string("it exited or closed the socket")
                                               : fmt::format("it sent '{}'", printable(line)));
    return;
  }
  hooks_.handed_over(peer.pid);
  send_text(client.get(), "DRAINING\n");
}

}  // namespace connsched
