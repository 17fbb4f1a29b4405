// File: fuzz/fuzz_kv_session.cc
//
// libFuzzer target: a whole kv_server session fed arbitrary bytes, every request run
// against a fresh store as core's loop runs it (parse, execute, reply, next). Checks
// that each call consumes what the parser says, replies with exactly one well-formed
// RESP2 value per command (none for a blank request, none while incomplete), and closes
// only after QUIT or a protocol error.
//
// BURN spins for real, so a BURN of more than 9 microseconds is skipped rather than run;
// SLEEP and LOCK return at once because the context reports the connection as killed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_context.h"
#include "kv_commands.h"
#include "kv_session.h"
#include "resp_parser.h"
#include "resp_value_check.h"

namespace {

using kv::RespRequest;

// True for a request the fuzzer must not run: a BURN that would spin for long.
bool burns(const RespRequest& r) {
  return r.args.size() == 2 && kv::upper(r.args[0]) == "BURN" && r.args[1].size() > 1;
}

}  // namespace

// One session, one store, one input: deterministic, and no state leaks between inputs.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto shared = std::make_shared<kv::KvShared>(kv::RespLimits{}, 4);
  kv::KvSession session(shared);
  fuzz::FuzzContext ctx;
  std::string out;
  connsched::Reply reply(out);
  std::string_view pending(reinterpret_cast<const char*>(data), size);
  while (!pending.empty() && !ctx.close_requested) {
    RespRequest expected = kv::parse_resp_request(pending, shared->limits);
    if (expected.status == RespRequest::Status::kComplete && burns(expected)) {
      pending.remove_prefix(expected.consumed);
      continue;
    }
    std::size_t before = out.size();
    std::size_t used = session.handle(pending, reply, ctx);
    std::string_view written = std::string_view(out).substr(before);
    auto values = fuzz::count_resp_values(written);
    FUZZ_CHECK(values.has_value());
    switch (expected.status) {
      case RespRequest::Status::kIncomplete:
        FUZZ_CHECK(used == 0 && written.empty() && !ctx.close_requested);
        break;
      case RespRequest::Status::kError:
        FUZZ_CHECK(used == pending.size() && *values == 1 && ctx.close_requested);
        break;
      case RespRequest::Status::kComplete:
        FUZZ_CHECK(used == expected.consumed);
        FUZZ_CHECK(*values == (expected.args.empty() ? 0u : 1u));
        FUZZ_CHECK(!ctx.close_requested || kv::upper(expected.args.at(0)) == "QUIT");
        break;
    }
    if (used == 0) break;
    pending.remove_prefix(used);
    out.clear();
  }
  session.reset();
  return 0;
}
