// File: test/backends/pool_of_threads/kv_test_support.h
//
// kv_server's protocol served in this process by the pool, and a one-line RESP caller
// (inline commands in, the reply's first line out without its "\r").
#ifndef CONNSCHED_TEST_POOL_OF_THREADS_KV_TEST_SUPPORT_H_
#define CONNSCHED_TEST_POOL_OF_THREADS_KV_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <string_view>

#include "kv_session.h"
#include "pool_test_support.h"
#include "test_client.h"

namespace connsched::testing {

class KvServer : public RunningServer {
 public:
  explicit KvServer(ServerOptions options)
      : RunningServer(std::move(options),
                      std::make_unique<kv::KvProtocol>(std::make_shared<kv::KvShared>())) {}
};

/// Sends one inline command and returns its reply line (":1", "$-1", "+OK", "-ERR ..."),
/// or "(no reply)" on timeout.
inline std::string call(TestClient& client, std::string_view command,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto line = client.request(command, timeout);
  if (!line) return "(no reply)";
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return *line;
}

/// The reply line of a command sent earlier.
inline std::string reply(TestClient& client,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto line = client.read_line(timeout);
  if (!line) return "(no reply)";
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return *line;
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_POOL_OF_THREADS_KV_TEST_SUPPORT_H_
