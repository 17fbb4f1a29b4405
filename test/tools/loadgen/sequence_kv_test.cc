// File: test/tools/loadgen/sequence_kv_test.cc
//
// A GET_LOCK / INCR / RELEASE_LOCK sequence against a real kv_server (pool-of-threads):
// every step's replies counted, the counter moved once per completed run, and a lock
// held by another client turning every run into a lock-wait timeout (kv_server answers
// 0, as MySQL does) without one error. Then the same through connsched_loadgen --json.
#include <doctest/doctest.h>
#include <signal.h>

#include <string>

#include "load_generator.h"
#include "request_class.h"
#include "running_server.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

struct KvProcess {
  ServerProcess process{bin_dir() + "/kv_server",
                        {"--port=0", "--thread-handling=pool-of-threads"}};
  std::uint16_t port = 0;
  KvProcess() {
    auto listening = process.wait_listening();
    REQUIRE(listening.has_value());
    port = *listening;
  }
  ~KvProcess() {
    process.signal(SIGTERM);
    CHECK(process.wait_exit(30s) == 0);
  }
};

loadgen::LoadSpec kv_spec(std::uint16_t port, const std::string& request,
                          std::uint32_t connections) {
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.connections = connections;
  spec.threads = 2;
  spec.warmup = 0ms;
  spec.duration = 1000ms;
  spec.classes.push_back(
      {.name = loadgen::class_name(request), .request = request, .connections = 0});
  return spec;
}

// The integer a RESP reply line carries (":12" → 12; a nil reply → 0).
long long integer(const std::optional<std::string>& line) {
  REQUIRE(line.has_value());
  return line->starts_with(":") ? std::stoll(line->substr(1)) : 0;
}

// A counter's value through GET (a bulk string, or nil: 0).
long long counter(TestClient& client, const std::string& key) {
  const auto header = client.request("GET " + key);
  REQUIRE(header.has_value());
  if (header->starts_with("$-1")) return 0;
  const auto value = client.read_line();
  REQUIRE(value.has_value());
  return std::stoll(*value);
}

}  // namespace

TEST_CASE("a GET_LOCK / INCR / RELEASE_LOCK sequence against kv_server reports every step") {
  KvProcess kv;
  const auto result = loadgen::run_load(
      kv_spec(kv.port, "GET_LOCK lk{rand%2} 5 | INCR n{rand%2} | RELEASE_LOCK lk{rand%2}", 16));
  CAPTURE(result.first_error);
  CHECK(result.errors() == 0);
  CHECK(result.lock_timeouts == 0);
  const auto& cls = result.classes[0];
  CHECK(cls.name == "get_lock+incr+release_lock");
  REQUIRE(cls.steps.size() == 3);
  CHECK(cls.requests > 50);
  CHECK(cls.requests == cls.steps[2].replies);
  CHECK(cls.steps[0].name == "get_lock");
  CHECK(cls.steps[1].name == "incr");
  CHECK(cls.steps[2].name == "release_lock");
  // Steps of one connection follow each other: per step, the window cuts at most one
  // run of each connection.
  for (const auto& step : cls.steps) {
    CAPTURE(step.name);
    CHECK(step.replies + 16 >= cls.requests);
    CHECK(step.replies <= cls.requests + 16);
    CHECK(step.errors == 0);
    CHECK(step.lock_timeouts == 0);
  }
  // The counters moved at least once per completed run (runs of the start and the
  // end of the load were not measured, so not exactly).
  TestClient client(kv.port, 10s);
  const long long incremented = counter(client, "n0") + counter(client, "n1");
  CHECK(incremented >= static_cast<long long>(cls.requests));
  // Every run was cut or finished: no lock stays held by the load's connections.
  CHECK(integer(client.request("GET_LOCK lk0 1")) == 1);
  CHECK(integer(client.request("GET_LOCK lk1 1")) == 1);
}

TEST_CASE("a lock held elsewhere makes every run a lock-wait timeout, and nothing is incremented") {
  KvProcess kv;
  TestClient holder(kv.port, 10s);
  REQUIRE(integer(holder.request("GET_LOCK lk 60")) == 1);
  const auto result =
      loadgen::run_load(kv_spec(kv.port, "GET_LOCK lk 0.05 | INCR x | RELEASE_LOCK lk", 2));
  CAPTURE(result.first_error);
  CHECK(result.errors() == 0);
  const auto& cls = result.classes[0];
  CHECK(cls.requests == 0);
  CHECK(cls.lock_timeouts >= 4);  // 2 connections, 50 ms waits, 1 s
  CHECK(cls.lock_timeouts == cls.steps[0].replies);
  CHECK(cls.steps[1].replies == 0);
  CHECK(cls.steps[2].replies == 0);
  CHECK(result.lock_timeouts == cls.lock_timeouts);
  // Each timed-out GET_LOCK waited its 50 ms.
  CHECK(cls.steps[0].latency.percentile(50) >= 40'000'000);
  CHECK(counter(holder, "x") == 0);
}

TEST_CASE("connsched_loadgen prints a sequence's steps in text and JSON, lock-wait timeouts too") {
  KvProcess kv;
  const std::string port = "--port=" + std::to_string(kv.port);
  const std::string sequence = "--request=GET_LOCK lk{conn%3} 5 | INCR n | RELEASE_LOCK lk{conn%3}";
  auto text =
      ServerProcess::run(bin_dir() + "/connsched_loadgen",
                         {port, "-c", "6", "--duration=0.5", "--warmup=0.1", sequence}, 60s);
  CAPTURE(text.second);
  CHECK(text.first == 0);
  CHECK(text.second.find("sequences/s") != std::string::npos);
  CHECK(text.second.find("steps of get_lock+incr+release_lock") != std::string::npos);
  CHECK(text.second.find("3 release_lock") != std::string::npos);
  CHECK(text.second.find("lock-wait timeouts 0") != std::string::npos);

  auto json = ServerProcess::run(
      bin_dir() + "/connsched_loadgen",
      {port, "-c", "6", "--duration=0.5", "--warmup=0.1", sequence, "--json"}, 60s);
  CAPTURE(json.second);
  CHECK(json.first == 0);
  CHECK(json.second.find("\"lock_timeouts\":0,") != std::string::npos);
  CHECK(json.second.find("\"steps\":[{\"name\":\"get_lock\",\"replies\":") != std::string::npos);
  CHECK(json.second.find("{\"name\":\"release_lock\",\"replies\":") != std::string::npos);
  CHECK(json.second.find("\"holder_requests\":{\"count\":") != std::string::npos);

  // A malformed sequence is one error line and exit status 2, before any load.
  auto bad = ServerProcess::run(bin_dir() + "/connsched_loadgen",
                                {port, "--request=GET_LOCK a 5 |  | RELEASE_LOCK a"}, 30s);
  CHECK(bad.first == 2);
  CHECK(bad.second.find("step 2 is empty") != std::string::npos);
}

TEST_CASE("check_counters passes a connection's own INCR and flags replies out of step") {
  // Each connection's own key: every reply is its last plus one. One key shared by all:
  // another connection's INCR moves it between two replies, which is what a lost or
  // reordered reply looks like, and is flagged.
  KvProcess kv;
  auto own = kv_spec(kv.port, "INCR own{conn%1000}", 8);
  own.pipeline = 4;
  own.check_counters = true;
  const auto clean = loadgen::run_load(own);
  CAPTURE(clean.first_error);
  CHECK(clean.requests > 100);
  CHECK(clean.mismatched_replies == 0);
  CHECK(clean.errors() == 0);

  auto shared = kv_spec(kv.port, "INCR shared", 8);
  shared.check_counters = true;
  const auto mixed = loadgen::run_load(shared);
  CHECK(mixed.requests > 100);
  CHECK(mixed.mismatched_replies > 0);
  CHECK(mixed.errors() >= mixed.mismatched_replies);
  CHECK(mixed.first_error.find("out of order") != std::string::npos);
}
