// File: tools/soak/chaos_client.cc
#include "chaos_client.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "reply_parse.h"
#include "resp_reply.h"
#include "unique_fd.h"
#include "wire_protocol.h"

namespace soak {

namespace {

using loadgen::UniqueFd;

// A blocking loopback connection with send and receive timeouts; invalid on failure.
UniqueFd connect_to(std::uint16_t port, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fd.reset();
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  // Blocking sends may be partial; MSG_NOSIGNAL keeps a reset peer from killing us.
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Closes with a TCP reset instead of a FIN: the peer "vanishes".
void reset_close(UniqueFd& fd) {
  const linger hard{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  fd.reset();
}

// Reads `count` RESP replies; their first lines, or why not.
struct Replies {
  std::vector<std::string> first_lines;
  std::string error;
};

Replies read_replies(int fd, std::size_t count) {
  // Replies may arrive in any split; the load generator's RESP parser frames them.
  Replies out;
  std::string in;
  char buf[4096];
  while (out.first_lines.size() < count) {
    const auto parsed = loadgen::parse_resp_reply(in);
    if (parsed.status == loadgen::ParseStatus::kInvalid) {
      out.error = fmt::format("invalid reply '{}'", in.substr(0, 60));
      return out;
    }
    if (parsed.status == loadgen::ParseStatus::kComplete) {
      if (parsed.is_error) {
        out.error = fmt::format("error reply '{}'", parsed.first_line);
        return out;
      }
      out.first_lines.emplace_back(parsed.first_line);
      in.erase(0, parsed.consumed);
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.error = n == 0 ? "connection closed by the server"
                         : fmt::format("recv: {}", std::strerror(errno));
      return out;
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

ChaosClient::ChaosClient(const ChaosSettings& settings)
    : settings_(settings), thread_([this](std::stop_token stop) { run(stop); }) {}

ChaosClient::~ChaosClient() {
  stop();
}

void ChaosClient::stop() {
  // Idempotent: the owner stops it before reading totals, the destructor again.
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

std::string ChaosClient::first_error() const {
  // Read by the sampling thread while the client thread may still write it.
  std::lock_guard lock(error_mutex_);
  return first_error_;
}

void ChaosClient::note_error(const std::string& what) {
  // Every error counts; the first one is kept to say what went wrong.
  errors_.fetch_add(1);
  std::lock_guard lock(error_mutex_);
  if (first_error_.empty()) first_error_ = what;
}

void ChaosClient::run(std::stop_token stop) {
  // One tick: a checked transaction, a deliberate reset (alternating kind), and every
  // second a turnover of the idle set. Everything it holds is closed on the way out.
  const std::string transaction =
      loadgen::encode_request(loadgen::WireProtocol::kResp, "MULTI") +
      loadgen::encode_request(loadgen::WireProtocol::kResp, "SET soak:tx value") +
      loadgen::encode_request(loadgen::WireProtocol::kResp, "INCR soak:tx:count") +
      loadgen::encode_request(loadgen::WireProtocol::kResp, "EXEC");
  const std::string sleep = loadgen::encode_request(loadgen::WireProtocol::kResp, "SLEEP 20");
  const std::string half_request = "*3\r\n$3\r\nSET\r\n$8\r\nsoak:cut\r\n$5\r\nhel";
  UniqueFd tx;
  std::deque<UniqueFd> idle;
  const auto ticks_per_second = std::max<std::int64_t>(1, 1000 / settings_.tick.count());
  std::uint64_t tick = 0;
  const auto refresh_open = [&] { open_.store(idle.size() + (tx.valid() ? 1 : 0)); };
  auto next = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    // A checked MULTI ... EXEC on a kept-alive connection (reopened after a failure).
    if (!tx.valid()) {
      tx = connect_to(settings_.port, settings_.io_timeout);
      if (!tx.valid()) note_error(fmt::format("connect: {}", std::strerror(errno)));
    }
    if (tx.valid()) {
      const auto replies =
          send_all(tx.get(), transaction) ? read_replies(tx.get(), 4) : Replies{{}, "send failed"};
      if (!replies.error.empty()) {
        note_error("transaction: " + replies.error);
        tx.reset();
      } else if (replies.first_lines[0] != "+OK" || replies.first_lines[1] != "+QUEUED" ||
                 replies.first_lines[2] != "+QUEUED" || replies.first_lines[3] != "*2") {
        note_error(fmt::format("transaction: unexpected replies '{}' '{}' '{}' '{}'",
                               replies.first_lines[0], replies.first_lines[1],
                               replies.first_lines[2], replies.first_lines[3]));
        tx.reset();
      } else {
        transactions_.fetch_add(1);
      }
    }
    // A client that vanishes mid-request: half a request, or a whole one whose reply
    // will find the socket gone.
    if (auto victim = connect_to(settings_.port, settings_.io_timeout); victim.valid()) {
      send_all(victim.get(), tick % 2 == 0 ? std::string_view(half_request) : sleep);
      reset_close(victim);
      resets_.fetch_add(1);
    } else {
      note_error(fmt::format("connect: {}", std::strerror(errno)));
    }
    // Idle connections: fill up to the target, and replace the oldest each second.
    if (tick % static_cast<std::uint64_t>(ticks_per_second) == 0) {
      for (std::uint32_t i = 0; i < settings_.idle_turnover && !idle.empty() &&
                                idle.size() + settings_.idle_turnover > settings_.idle;
           ++i) {
        idle.pop_front();
      }
      while (idle.size() < settings_.idle && !stop.stop_requested()) {
        auto fd = connect_to(settings_.port, settings_.io_timeout);
        if (!fd.valid()) {
          note_error(fmt::format("idle connect: {}", std::strerror(errno)));
          break;
        }
        idle.push_back(std::move(fd));
      }
    }
    refresh_open();
    ++tick;
    next += settings_.tick;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
    }
    if (std::chrono::steady_clock::now() > next + std::chrono::seconds(1)) {
      next = std::chrono::steady_clock::now();  // fell behind (a stalled server): no catch-up
    }
  }
  idle.clear();
  tx.reset();
  refresh_open();
}

}  // namespace soak
