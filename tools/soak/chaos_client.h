// File: tools/soak/chaos_client.h
//
// The irregular part of the soak's load, which the event-driven load generator does
// not do: MULTI ... EXEC transactions whose replies are checked, clients that vanish
// mid-request with a TCP reset (half a request sent, or a whole SLEEP whose reply
// finds the socket gone), and idle connections that come and go (the oldest few are
// closed and as many new ones opened every second, so each lives a while but their
// number stays level and does not blur the descriptor and thread curves).
#ifndef CONNSCHED_SOAK_CHAOS_CLIENT_H_
#define CONNSCHED_SOAK_CHAOS_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace soak {

struct ChaosSettings {
  std::uint16_t port = 0;
  std::uint32_t idle = 150;                     ///< idle connections held at any time
  std::uint32_t idle_turnover = 10;             ///< of them replaced every second
  std::chrono::milliseconds tick{100};          ///< one transaction and one reset per tick
  std::chrono::milliseconds io_timeout{10000};  ///< a reply slower than this is an error
};

class ChaosClient {
 public:
  /// Starts the client's thread at once; it runs until stop() or destruction.
  explicit ChaosClient(const ChaosSettings& settings);
  ~ChaosClient();
  ChaosClient(const ChaosClient&) = delete;
  ChaosClient& operator=(const ChaosClient&) = delete;
  /// Stops the thread and closes every connection it holds.
  void stop();

  std::uint64_t transactions() const { return transactions_.load(); }
  std::uint64_t resets() const { return resets_.load(); }
  std::uint64_t errors() const { return errors_.load(); }
  /// Connections it holds open right now (idle ones and the transaction one).
  std::uint64_t open_connections() const { return open_.load(); }
  std::string first_error() const;

 private:
  void run(std::stop_token stop);
  void note_error(const std::string& what);

  ChaosSettings settings_;
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> resets_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> open_{0};
  mutable std::mutex error_mutex_;
  std::string first_error_;
  std::jthread thread_;  // last: it uses everything above
};

}  // namespace soak

#endif  // CONNSCHED_SOAK_CHAOS_CLIENT_H_
