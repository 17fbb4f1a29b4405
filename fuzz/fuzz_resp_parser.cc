// File: fuzz/fuzz_resp_parser.cc
//
// libFuzzer target: kv::parse_resp_request over arbitrary bytes, with small limits so
// the limit paths are reached too. Beyond "no crash", it checks what a caller relies on:
// a complete request consumed at least one byte and no more than it was given, its own
// bytes alone (or followed by anything) parse to the same request, a shorter prefix of it is never
// an error, and the arguments written back as a multi-bulk request parse to themselves.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "resp_parser.h"

namespace {

using kv::RespRequest;
using Status = RespRequest::Status;

// The arguments as a multi-bulk request, the form every Redis client sends.
std::string to_multibulk(const std::vector<std::string>& args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (const auto& a : args) out += fmt::format("${}\r\n{}\r\n", a.size(), a);
  return out;
}

// A request that parsed must parse the same from its own bytes, and its prefixes must
// only ever ask for more input (a client sending slowly is not a protocol error).
void check_complete(std::string_view input, const RespRequest& r, const kv::RespLimits& limits) {
  FUZZ_CHECK(r.consumed > 0 && r.consumed <= input.size());
  std::string_view own = input.substr(0, r.consumed);
  RespRequest again = kv::parse_resp_request(own, limits);
  FUZZ_CHECK(again.status == Status::kComplete);
  FUZZ_CHECK(again.consumed == r.consumed);
  FUZZ_CHECK(again.args == r.args);
  std::string followed(own);
  followed.append(limits.max_inline_length + 64, 'A');
  RespRequest with_tail = kv::parse_resp_request(followed, limits);
  FUZZ_CHECK(with_tail.status == Status::kComplete && with_tail.consumed == r.consumed);
  for (std::size_t cut : {r.consumed - 1, r.consumed / 2}) {
    RespRequest part = kv::parse_resp_request(own.substr(0, cut), limits);
    FUZZ_CHECK(part.status == Status::kIncomplete);
  }
  // Inline arguments are bounded by the line, not by max_bulk_length, so only requests
  // that fit a multi-bulk's limits are written back.
  if (r.args.empty() || r.args.size() > 64) return;
  for (const auto& a : r.args) {
    if (a.size() > limits.max_bulk_length) return;
  }
  std::string wire = to_multibulk(r.args);
  RespRequest round = kv::parse_resp_request(wire, limits);
  FUZZ_CHECK(round.status == Status::kComplete);
  FUZZ_CHECK(round.consumed == wire.size());
  FUZZ_CHECK(round.args == r.args);
}

}  // namespace

// Each input is parsed under the default limits and under tight ones, then every
// request in it is taken in turn, as kv_session's loop does.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const kv::RespLimits tight{.max_bulk_length = 16, .max_arguments = 8, .max_inline_length = 64};
  for (const kv::RespLimits& limits : {kv::RespLimits{}, tight}) {
    std::string_view pending = input;
    while (!pending.empty()) {
      RespRequest r = kv::parse_resp_request(pending, limits);
      if (r.status != Status::kComplete) {
        FUZZ_CHECK(r.args.empty());
        FUZZ_CHECK((r.status == Status::kError) == !r.error.empty());
        break;
      }
      FUZZ_CHECK(r.args.size() <= limits.max_arguments);
      for (const auto& a : r.args) FUZZ_CHECK(a.size() <= r.consumed);
      check_complete(pending, r, limits);
      pending.remove_prefix(r.consumed);
    }
  }
  return 0;
}
