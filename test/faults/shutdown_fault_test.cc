// File: test/faults/shutdown_fault_test.cc
//
// SIGTERM to kv_server while several clients write as fast as they can.
//
// What "nothing acknowledged is lost" can mean for an in-memory store that is about to
// exit: until the process exits, a read sees every write that was answered +OK. The
// catch is reading during the drain at all: the drain stops reading new requests on
// every connection and no new connection is accepted. So the read is queued just before
// the signal: a reader connection sends, in one write, "BURN <t>" (CPU work that, unlike
// SLEEP, does not end early on shutdown) followed by an MGET of every key the writers
// could ever write. Bytes already received are still served during the drain, so the
// MGET runs after the BURN, that is, after every writer's connection was drained and
// closed, and just before the process exits. That order is checked, not assumed: the
// reader waits for its reply on its own thread, and every writer must have seen its
// close before that reply came (else the BURN was too short to prove anything). Every key a writer
// saw acknowledged must be in it with its value. Meanwhile each writer checks the replies it gets
// during the drain: +OK, or an error, then a close; never a garbled or partial reply. The exit
// status is 0 within
// --shutdown-timeout.
//
// no-threads serves one connection at a time, so it cannot have writers and a reader at
// once: it gets one writer, interrupted by SIGTERM, and the same reply and exit checks.
#include <doctest/doctest.h>
#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

constexpr int kKeysPerWriter = 500;  // so the reader's MGET fits one 16 KiB read

// What one writer saw: keys answered +OK, errors, replies that were not RESP at all.
struct WriterLog {
  std::vector<std::string> acknowledged;
  int errors = 0;
  int garbled = 0;
  std::chrono::steady_clock::time_point closed_at{};
};

std::string key_of(int writer, int n) {
  return fmt::format("w{}:{}", writer, n);
}

// SETs as fast as the server answers (a 1 ms breath so a run covers the signal) until
// the connection closes or the keys run out.
void write_until_closed(std::uint16_t port, int writer, WriterLog& log, std::atomic<int>& acks) {
  TestClient client(port);
  for (int n = 0; n < kKeysPerWriter; ++n) {
    std::string key = key_of(writer, n);
    if (!client.send(fmt::format("SET {} {}\r\n", key, key))) break;
    auto reply = read_resp(client, scaled(10s));
    if (!reply) break;  // closed by the drain (a timeout shows as missing keys below)
    if (reply->type == '+' && reply->text == "OK") {
      log.acknowledged.push_back(key);
      acks.fetch_add(1);
    } else if (reply->type == '-') {
      ++log.errors;
    } else {
      ++log.garbled;
    }
    std::this_thread::sleep_for(1ms);
  }
  client.wait_closed(scaled(20s));
  log.closed_at = std::chrono::steady_clock::now();
}

}  // namespace

TEST_CASE(
    "SIGTERM under load: every acknowledged write is readable until exit, in-flight requests "
    "finish or get an error, exit 0 within --shutdown-timeout") {
  constexpr int kWriters = 3;
  // Long enough for every writer to be drained while the reader burns (pool-of-threads
  // may need its stall timer to take a writer queued behind the burning thread).
  const auto burn = std::chrono::milliseconds(2000 * std::min(slowdown(), 4));
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    const bool one_at_a_time = serves_one_at_a_time(backend);
    const int writers = one_at_a_time ? 1 : kWriters;
    // Room for the burn and the writers' drain on a loaded machine under a sanitizer (a
    // CI run beside another suite took 28 s for one-thread-per-connection under tsan).
    const std::chrono::seconds shutdown_timeout(slowdown() > 1 ? 90 : 30);
    ExampleServer server("kv_server", backend,
                         {fmt::format("--shutdown-timeout={}", shutdown_timeout.count())});
    std::vector<WriterLog> logs(static_cast<std::size_t>(writers));
    std::atomic<int> acks{0};
    std::vector<std::jthread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        write_until_closed(server.port(), w, logs[static_cast<std::size_t>(w)], acks);
      });
    }
    std::optional<TestClient> reader;
    if (!one_at_a_time) reader.emplace(server.port());
    REQUIRE(RunningServer::eventually([&] { return acks.load() >= 20 * writers; }, scaled(20s)));
    std::optional<RespReply> burned, values;
    std::chrono::steady_clock::time_point replied_at{};
    std::jthread reading;
    if (reader) {
      std::string mget = "MGET";
      for (int w = 0; w < writers; ++w) {
        for (int n = 0; n < kKeysPerWriter; ++n) mget += " " + key_of(w, n);
      }
      REQUIRE(mget.size() < 16 * 1024);
      REQUIRE(reader->send(
          fmt::format("BURN {}\r\n{}\r\n", std::chrono::microseconds(burn).count(), mget)));
      reading = std::jthread([&] {
        burned = read_resp(*reader, scaled(60s));
        values = read_resp(*reader, scaled(30s));
        replied_at = std::chrono::steady_clock::now();
      });
    }
    auto signalled = std::chrono::steady_clock::now();
    server.process().signal(SIGTERM);
    for (auto& t : threads) t.join();
    if (reading.joinable()) reading.join();
    int acknowledged = 0;
    for (const auto& log : logs) {
      CHECK(log.garbled == 0);
      acknowledged += static_cast<int>(log.acknowledged.size());
    }
    CHECK_MESSAGE(acknowledged < writers * kKeysPerWriter, "the writers finished before SIGTERM");
    if (reader) {
      REQUIRE(burned);
      CHECK(burned->type == ':');
      REQUIRE(values);
      REQUIRE(values->type == '*');
      REQUIRE(values->items.size() == static_cast<std::size_t>(writers * kKeysPerWriter));
      for (const auto& log : logs) CHECK(log.closed_at < replied_at);
      int lost = 0;
      for (int w = 0; w < writers; ++w) {
        for (const auto& key : logs[static_cast<std::size_t>(w)].acknowledged) {
          auto n = std::stoi(key.substr(key.find(':') + 1));
          const auto& item = values->items[static_cast<std::size_t>(w * kKeysPerWriter + n)];
          if (item.null || item.text != key) {
            ++lost;
            MESSAGE(fmt::format("lost {} (acknowledged {} of writer {})", key,
                                logs[static_cast<std::size_t>(w)].acknowledged.size(), w));
          }
        }
      }
      CHECK_MESSAGE(lost == 0,
                    fmt::format("{} of {} acknowledged writes lost", lost, acknowledged));
      CHECK(reader->wait_closed(scaled(10s)));
    }
    auto status = server.process().wait_exit(shutdown_timeout + scaled(30s));
    auto took = std::chrono::steady_clock::now() - signalled;
    CHECK(status == 0);
    CHECK(took < shutdown_timeout + scaled(2s));  // --shutdown-timeout, plus the exit itself
    MESSAGE(fmt::format("{}: {} writes acknowledged, shut down in {} ms", backend, acknowledged,
                        std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    CHECK(server.process().output().find("shut down cleanly") != std::string::npos);
  }
}
