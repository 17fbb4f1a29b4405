// File: test/faults/fault_support.h
//
// What every fault test needs besides the fault: bounds scaled for the sanitizers, a
// RESP reply reader on top of TestClient, the healthy client that probes a server
// throughout a fault (and remembers every write the server acknowledged), the admin
// port's counters, and a process's CPU time and fds from /proc.
#ifndef CONNSCHED_TEST_FAULTS_FAULT_SUPPORT_H_
#define CONNSCHED_TEST_FAULTS_FAULT_SUPPORT_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_client.h"

namespace connsched::testing {

/// How much slower this build runs than release: 1, 3 (ASan) or 10 (TSan). Time
/// bounds are multiplied by it; counts of connections and requests never are.
int slowdown();
/// `base` times slowdown().
std::chrono::milliseconds scaled(std::chrono::milliseconds base);

/// One RESP2 reply: its type byte ('+', '-', ':', '$', '*'), the text of a simple
/// reply or bulk ("" for a null bulk, with `null` set), and an array's elements.
struct RespReply {
  char type = 0;
  std::string text;
  bool null = false;
  std::vector<RespReply> items;
};

/// Reads one whole RESP reply from `client`; nullopt on timeout, EOF or garbage.
std::optional<RespReply> read_resp(TestClient& client, std::chrono::milliseconds timeout = 10s);
/// Sends an inline command ("SET k v") and reads its reply.
std::optional<RespReply> kv_command(TestClient& client, std::string_view command,
                                    std::chrono::milliseconds timeout = 10s);

/// The protocol a healthy client speaks: kv_server's RESP or the line protocol of
/// echo_server and cs_test_server.
enum class Dialect { kKv, kLine };

/// A client on its own thread and its own connection that sends a request every few
/// milliseconds and times each reply, from construction to stop(). With kKv every
/// request is a SET of a fresh key, and each one answered +OK is remembered, so a test
/// can check afterwards that nothing acknowledged was lost.
class HealthyClient {
 public:
  HealthyClient(std::uint16_t port, Dialect dialect,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20));
  ~HealthyClient();
  HealthyClient(const HealthyClient&) = delete;
  HealthyClient& operator=(const HealthyClient&) = delete;

  /// Stops probing and joins the thread (also done by the destructor).
  void stop();
  std::size_t answered() const { return answered_.load(); }
  /// Requests that got no answer or a wrong one, with what went wrong.
  std::vector<std::string> failures() const;
  std::chrono::milliseconds max_latency() const;
  /// Keys (kKv) the server acknowledged with +OK; their value is the key itself.
  std::vector<std::string> acknowledged() const;

 private:
  void run(std::stop_token stop);
  std::uint16_t port_;
  Dialect dialect_;
  std::chrono::milliseconds interval_;
  std::atomic<std::size_t> answered_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
  std::vector<std::string> acknowledged_;
  std::chrono::milliseconds max_latency_{0};
  std::jthread thread_;
};

/// Keys among `keys` that a GET on a new connection does not return with their value
/// (the value of each is the key itself); empty when nothing acknowledged was lost.
std::vector<std::string> lost_keys(std::uint16_t port, const std::vector<std::string>& keys);

/// The end of every fault test: stops `healthy`, and checks it never failed, was answered
/// at least once, and that every key it saw acknowledged is still on the server at `port`.
void check_healthy(HealthyClient& healthy, std::uint16_t port);

/// True when a fresh connection gets an answer to one request within `timeout`.
bool served(std::uint16_t port, Dialect dialect, std::chrono::milliseconds timeout);

/// An admin request over a plain socket: the status code (0 when there was no
/// answer) and the body.
struct AdminReply {
  int status = 0;
  std::string body;
};
AdminReply admin_request(std::uint16_t admin_port, const std::string& method,
                         const std::string& path, const std::string& token = {});
/// A number in the admin port's /stats ("name": N); -1 when absent.
long long stats_counter(std::uint16_t admin_port, const std::string& name);

/// CPU time (user + system) the process has used, from /proc/PID/stat.
std::chrono::milliseconds cpu_time(pid_t pid);
/// The lowest fd number the process does not have open, from /proc/PID/fd: the one
/// its next accept would get.
int lowest_free_fd(pid_t pid);
/// How many times `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle);

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_FAULTS_FAULT_SUPPORT_H_
