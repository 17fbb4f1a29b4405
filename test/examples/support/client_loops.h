// File: test/examples/support/client_loops.h
//
// What the drain and restart tests drive a server with: plain blocking sockets to its
// main port, and client loops (kv INCR, http keep-alive GET) that reconnect after a
// clean close and say what they saw.
#ifndef CONNSCHED_TEST_EXAMPLES_CLIENT_LOOPS_H_
#define CONNSCHED_TEST_EXAMPLES_CLIENT_LOOPS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace connsched::testing {

// What one client loop saw. A "clean close" is EOF or a reset before any byte of the
// reply to a request just sent: the server closed between requests.
struct LoopResult {
  std::vector<long long> values;  // kv: the INCR replies
  int replies = 0;
  int clean_closes = 0;
  int torn_replies = 0;     // a close in the middle of a reply: a lost request
  int keep_alive_lost = 0;  // http: a request after a keep-alive reply got no reply
  int close_announced = 0;  // http: replies with "Connection: close"
  int refused = 0;          // connections refused (the loop then ends)
};

// A plain blocking socket to the main port, or -1 when the connection is refused.
int connect_to(std::uint16_t port);

bool send_all(int fd, std::string_view bytes);

// kv client loop: INCR on one counter, reconnecting after a clean close, until a
// connection is refused (counted; the loop ends) or `stop`. `connected`, when given, is
// bumped once the loop's first connection is made (in the accept queue at least).
LoopResult kv_loop(std::uint16_t port, const std::atomic<bool>& stop,
                   std::atomic<int>* connected = nullptr);

// http client loop: keep-alive GETs; a reply with "Connection: close" ends the
// connection (the client reconnects, as a browser or a balancer does).
LoopResult http_loop(std::uint16_t port, const std::atomic<bool>& stop,
                     std::atomic<int>* connected = nullptr);

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_EXAMPLES_CLIENT_LOOPS_H_
