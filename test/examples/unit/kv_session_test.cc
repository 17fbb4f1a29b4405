// File: test/examples/unit/kv_session_test.cc
//
// A kv_server session driven directly, with a stand-in for core's RequestContext:
// replies on the wire, MULTI's transaction flag, QUIT and protocol errors closing.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "kv_session.h"

namespace {

class FakeContext final : public connsched::RequestContext {
 public:
  std::uint64_t connection_id() const override { return 42; }
  void set_in_transaction(bool value) override { in_transaction_ = value; }
  bool in_transaction() const override { return in_transaction_; }
  void close_after_reply() override { close_requested = true; }
  bool killed() const override { return false; }
  bool close_requested = false;

 private:
  bool in_transaction_ = false;
};

// Runs every request in `input` as core's loop would; returns the replies.
std::string run(kv::KvSession& session, FakeContext& ctx, std::string input) {
  std::string out;
  connsched::Reply reply(out);
  std::string_view pending = input;
  while (!pending.empty() && !ctx.close_requested) {
    std::size_t used = session.handle(pending, reply, ctx);
    if (used == 0) break;
    pending.remove_prefix(used);
  }
  return out;
}

}  // namespace

TEST_CASE("a session answers pipelined commands in order") {
  kv::KvSession session(std::make_shared<kv::KvShared>());
  FakeContext ctx;
  CHECK(run(session, ctx, "PING\r\nSET a 5\r\nINCR a\r\nGET a\r\nCLIENT ID\r\nDBSIZE\r\n") ==
        "+PONG\r\n+OK\r\n:6\r\n$1\r\n6\r\n:42\r\n:1\r\n");
}

TEST_CASE("MULTI marks the connection in-transaction until EXEC or DISCARD") {
  kv::KvSession session(std::make_shared<kv::KvShared>());
  FakeContext ctx;
  CHECK(run(session, ctx, "MULTI\r\nSET a 1\r\n") == "+OK\r\n+QUEUED\r\n");
  CHECK(ctx.in_transaction());
  CHECK(run(session, ctx, "EXEC\r\n") == "*1\r\n+OK\r\n");
  CHECK_FALSE(ctx.in_transaction());
  CHECK(run(session, ctx, "MULTI\r\nDISCARD\r\n") == "+OK\r\n+OK\r\n");
  CHECK_FALSE(ctx.in_transaction());
}

TEST_CASE("a session that is reset for reuse forgets its transaction") {
  kv::KvSession session(std::make_shared<kv::KvShared>());
  FakeContext ctx;
  run(session, ctx, "MULTI\r\nSET a 1\r\n");
  session.reset();
  CHECK(run(session, ctx, "EXEC\r\n") == "-ERR EXEC without MULTI\r\n");
}

TEST_CASE("QUIT and protocol errors ask core to close after the reply") {
  kv::KvSession session(std::make_shared<kv::KvShared>());
  FakeContext quit;
  CHECK(run(session, quit, "QUIT\r\nPING\r\n") == "+OK\r\n");
  CHECK(quit.close_requested);
  FakeContext bad;
  CHECK(run(session, bad, "*1\r\n$x\r\nPING\r\n") ==
        "-ERR Protocol error: invalid bulk length\r\n");
  CHECK(bad.close_requested);
}

TEST_CASE("the store keeps keys apart across shards and MSET is all-or-nothing visible") {
  kv::KvStore store(4);
  store.set_many({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  CHECK(store.size() == 3);
  CHECK(store.get("b") == "2");
  CHECK(store.set("a", "x", kv::KvStore::SetCondition::kIfAbsent, 0) == false);
  CHECK(store.erase("a"));
  CHECK_FALSE(store.exists("a"));
  std::int64_t value = 0;
  CHECK(store.increment("n", 1, value) == kv::KvStore::IncrResult::kOk);
  CHECK(value == 1);
}
