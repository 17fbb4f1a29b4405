// File: test/support/test_client.h
//
// A blocking loopback client with timeouts, for integration tests.
#ifndef CONNSCHED_TEST_SUPPORT_TEST_CLIENT_H_
#define CONNSCHED_TEST_SUPPORT_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace connsched::testing {

using namespace std::chrono_literals;

class TestClient {
 public:
  /// Connects to 127.0.0.1:port; throws std::runtime_error on failure.
  explicit TestClient(std::uint16_t port, std::chrono::milliseconds timeout = 5s);
  /// Connects from `source` (an IPv4 address such as "127.0.0.2": any 127/8 address is
  /// loopback), so a server can tell this client from a proxy on 127.0.0.1.
  TestClient(std::uint16_t port, const std::string& source, std::chrono::milliseconds timeout = 5s);
  ~TestClient();
  TestClient(TestClient&& other) noexcept;
  TestClient& operator=(TestClient&&) = delete;
  TestClient(const TestClient&) = delete;

  /// Sends all bytes; false if the peer is gone.
  bool send(std::string_view bytes);
  /// One line without its '\n'; nullopt on timeout or EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s);
  /// Exactly `count` bytes; nullopt on timeout or EOF first.
  std::optional<std::string> read_bytes(std::size_t count, std::chrono::milliseconds timeout = 10s);
  /// Sends `line + "\n"` and reads one reply line.
  std::optional<std::string> request(std::string_view line,
                                     std::chrono::milliseconds timeout = 10s);
  /// Waits until the server closes the connection (EOF or reset); true if it did.
  bool wait_closed(std::chrono::milliseconds timeout = 10s);
  /// Reads whatever arrives until EOF or timeout.
  std::string read_all(std::chrono::milliseconds timeout = 5s);
  void shutdown_write();
  /// Closes with an RST instead of a FIN (SO_LINGER 0).
  void reset();
  int fd() const { return fd_; }
  /// This end's port, as the server sees it.
  std::uint16_t local_port() const;

 private:
  bool fill(std::int64_t deadline);
  void connect_to(std::uint16_t port, const std::string* source, std::chrono::milliseconds timeout);
  int fd_ = -1;
  std::string buffered_;
};

/// A loopback TCP port free now (bound, read, released), for a configuration that
/// needs one written in it (HAProxy's).
std::uint16_t free_loopback_port();

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SUPPORT_TEST_CLIENT_H_
