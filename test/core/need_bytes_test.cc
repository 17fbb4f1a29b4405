// File: test/core/need_bytes_test.cc
//
// A request parsed in pieces is not parsed again from the start for every piece:
// handle() says how many bytes it needs (RequestContext::need_bytes) and core does not
// call it again until they are there. A 1 MiB body sent in 64 KiB pieces, with and
// without the hint, counting handle() calls.
#include <doctest/doctest.h>

#include <atomic>
#include <charconv>
#include <memory>
#include <string>
#include <thread>

#include "running_server.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// "LEN <n>\n" then n bytes; the reply is "OK <n>\n". Every call is counted.
class LengthSession final : public Session {
 public:
  LengthSession(bool hint, std::atomic<int>& calls) : hint_(hint), calls_(calls) {}
  std::size_t handle(std::string_view in, Reply& out, RequestContext& ctx) override {
    calls_.fetch_add(1);
    const auto eol = in.find('\n');
    if (eol == std::string_view::npos) return 0;
    std::size_t n = 0;
    std::from_chars(in.data() + 4, in.data() + eol, n);
    const std::size_t total = eol + 1 + n;
    if (in.size() < total) {
      if (hint_) ctx.need_bytes(total);
      return 0;
    }
    out.append("OK " + std::to_string(n) + "\n");
    return total;
  }

 private:
  bool hint_;
  std::atomic<int>& calls_;
};

class LengthProtocol final : public Protocol {
 public:
  LengthProtocol(bool hint, std::atomic<int>& calls) : hint_(hint), calls_(calls) {}
  std::unique_ptr<Session> new_session() override {
    return std::make_unique<LengthSession>(hint_, calls_);
  }
  std::string too_many_connections_reply() const override { return "ERR busy\n"; }
  std::string request_too_large_reply(std::size_t) const override { return "ERR large\n"; }
  std::string internal_error_reply(std::string_view) const override { return "ERR\n"; }

 private:
  bool hint_;
  std::atomic<int>& calls_;
};

// Sends a 1 MiB request in 16 pieces of 64 KiB, each given time to arrive on its own;
// returns how many times handle() was called for it.
int calls_for_one_mebibyte(bool hint) {
  std::atomic<int> calls{0};
  ServerOptions options = test_options("one-thread-per-connection");
  options.max_request_size = 2 << 20;
  RunningServer server(options, std::make_unique<LengthProtocol>(hint, calls));
  TestClient client(server.port());
  const std::string piece(64 * 1024, 'x');
  REQUIRE(client.send("LEN 1048576\n"));
  for (int i = 0; i < 16; ++i) {
    REQUIRE(client.send(piece));
    std::this_thread::sleep_for(20ms);
  }
  CHECK(client.read_line() == "OK 1048576");
  return calls.load();
}

}  // namespace

TEST_CASE(
    "a 1 MiB request in 64 KiB pieces: with need_bytes, handle() runs once more, not 16 times") {
  const int without_hint = calls_for_one_mebibyte(false);
  const int with_hint = calls_for_one_mebibyte(true);
  CAPTURE(without_hint);
  CAPTURE(with_hint);
  // The control: without the hint every piece (at least) costs a parse.
  CHECK(without_hint >= 16);
  // With it: the header's parse, then the complete request's.
  CHECK(with_hint <= 3);
}
