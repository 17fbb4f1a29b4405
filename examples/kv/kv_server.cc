// File: examples/kv/kv_server.cc
//
// kv_server: a key-value server that speaks RESP2, so redis-cli and redis-benchmark
// work against it unchanged, on whichever scheduler backend the operator picks.
// Try: kv_server --thread-handling=no-threads, then `redis-cli -p 6380 ping`.
#include <CLI/CLI.hpp>

#include <memory>

#include "connsched/server.h"
#include "kv_session.h"

int main(int argc, char** argv) {
  kv::RespLimits limits;
  std::size_t shards = 16;
  std::size_t max_reply_size = kv::KvShared::kDefaultMaxReplySize;
  std::size_t max_multi_size = kv::KvShared::kDefaultMaxMultiSize;
  connsched::ServerSpec spec;
  spec.name = "kv_server";
  spec.description =
      "connsched key-value server speaking RESP2 (redis-cli, redis-benchmark): PING ECHO GET SET "
      "DEL EXISTS INCR MGET MSET DBSIZE FLUSHALL INFO QUIT MULTI EXEC DISCARD, and the workload "
      "commands BURN <us>, SLEEP <ms>, LOCK <key> <ms>.";
  spec.default_port = 6380;
  spec.add_options = [&](CLI::App& app) {
    app.add_option("--max-bulk-size,--max_bulk_size", limits.max_bulk_length,
                   "Longest argument in bytes; a longer declared length is refused at once with "
                   "'-ERR Protocol error: invalid bulk length' (the whole request is also bounded "
                   "by --max-request-size)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
    app.add_option("--max-reply-size,--max_reply_size", max_reply_size,
                   "Largest reply one command (MGET, EXEC) may build, in bytes; a larger one is "
                   "answered '-ERR reply larger than N bytes (max_reply_size)'")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 40));
    app.add_option("--max-multi-size,--max_multi_size", max_multi_size,
                   "Most bytes of arguments one MULTI may queue; more are answered '-ERR more "
                   "than N bytes queued in MULTI (max_multi_size)' and EXEC aborts")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 40));
    app.add_option("--shards", shards, "Shards of the store, each with its own lock")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  };
  spec.make_protocol = [&] {
    auto shared = std::make_shared<kv::KvShared>(limits, shards, max_reply_size);
    shared->max_multi_size = max_multi_size;
    return std::make_unique<kv::KvProtocol>(std::move(shared));
  };
  return connsched::run_server_main(argc, argv, spec);
}
