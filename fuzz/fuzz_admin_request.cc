// File: fuzz/fuzz_admin_request.cc
//
// libFuzzer target: the admin port's request head (request line, %-decoding of path and
// query) and its routing, with stand-in actions in place of a server. Checks that a
// complete request has a token method and a decoded path starting with '/', that CRLF
// and LF line endings parse alike, that %-decoding inverts %-encoding, that every
// response declares its body's true length, and that every JSON body is valid UTF-8
// JSON whatever bytes the client sent.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin_http.h"
#include "admin_json.h"
#include "admin_routes.h"
#include "fuzz_check.h"
#include "json_check.h"
#include "option_values.h"

namespace {

using connsched::AdminParse;

// The options a pool-of-threads backend declares, so /set reaches every value check.
const std::vector<connsched_option_desc>& fuzz_options() {
  static const std::vector<connsched_option_desc> kOptions = {
      {"thread_pool_size", "groups", CONNSCHED_OPTION_INT, "4", 1, 128, nullptr, 1},
      {"thread_pool_stall_limit", "ms", CONNSCHED_OPTION_INT, "500", 1, 4294967295LL, nullptr, 1},
      {"thread_pool_dedicated_listener", "", CONNSCHED_OPTION_BOOL, "off", 0, 0, nullptr, 1},
      {"thread_pool_high_prio_mode", "", CONNSCHED_OPTION_ENUM, "transactions", 0, 0,
       "transactions|statements|none", 1},
      {"label", "", CONNSCHED_OPTION_STRING, nullptr, 0, 0, nullptr, 0}};
  return kOptions;
}

// Stand-ins for the server: stats with a backend table, kill of ids below 100, /set
// validated as ServerCore::set_option validates it.
connsched::AdminActions fuzz_actions() {
  connsched::AdminActions actions;
  actions.core_stats = [] {
    connsched::CoreStats s;
    s.requests = 12;
    s.waits.assign(CONNSCHED_WAIT_TYPE_COUNT, 1);
    return s;
  };
  actions.backend_stats = [] {
    connsched::BackendStats b;
    b.backend = "fuzz-backend";
    b.counters.push_back({"threads_created", 3, "threads made"});
    b.tables.push_back({"GROUPS", {"group", "name"}, {{std::int64_t{0}, std::string("g\"0")}}});
    return b;
  };
  actions.kill = [](std::uint64_t id) { return id < 100; };
  actions.set_option = [](const std::string& name, const std::string& value) -> std::string {
    const auto* option =
        connsched::find_option(fuzz_options(), connsched::normalize_option_name(name));
    if (option == nullptr) return fmt::format("unknown option '{}'", name);
    return connsched::check_option_value(*option, value);
  };
  actions.shutdown = [] {};
  return actions;
}

// Every byte as %XX: whatever decoding gave, encoding it back and decoding again must
// give the same bytes.
void check_percent_round_trip(std::string_view decoded) {
  std::string encoded;
  for (unsigned char c : decoded) encoded += fmt::format("%{:02X}", c);
  auto again = connsched::percent_decode(encoded);
  FUZZ_CHECK(again.has_value() && *again == decoded);
}

// The response's declared length is its body's; a JSON body is valid JSON.
void check_response(const connsched::AdminResponse& response) {
  std::string wire = connsched::format_admin_response(response);
  std::size_t head_end = wire.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string::npos);
  FUZZ_CHECK(wire.substr(head_end + 4) == response.body);
  FUZZ_CHECK(wire.find(fmt::format("\r\nContent-Length: {}\r\n", response.body.size())) < head_end);
  if (response.content_type == "application/json") {
    FUZZ_CHECK(fuzz::JsonCheck::valid(response.body));
  }
}

// Line endings are the client's choice: with every CRLF made a bare LF, the same head
// parses to the same request (or is refused the same way).
void check_line_endings(std::string_view input, const AdminParse& parse) {
  // A CR that does not end a line would make a new CRLF of "\r\r\n": no like-for-like.
  if (input.size() > connsched::kAdminMaxRequestBytes) return;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r' && (i + 1 == input.size() || input[i + 1] != '\n')) return;
  }
  std::string lf_only;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (!(input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n')) {
      lf_only.push_back(input[i]);
    }
  }
  AdminParse other = connsched::parse_admin_request(lf_only);
  FUZZ_CHECK(other.status == parse.status);
  if (parse.status != AdminParse::Status::kComplete) return;
  FUZZ_CHECK(other.request.method == parse.request.method);
  FUZZ_CHECK(other.request.path == parse.request.path);
  FUZZ_CHECK(other.request.query == parse.request.query);
}

}  // namespace

// The input is what a client sent the admin port; a refusal is checked as a response too.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  AdminParse parse = connsched::parse_admin_request(input);
  check_line_endings(input, parse);
  if (parse.status == AdminParse::Status::kBad) {
    FUZZ_CHECK(!parse.error.empty());
    check_response({400, "application/json", connsched::json_error(parse.error), {}, {}});
    return 0;
  }
  if (parse.status == AdminParse::Status::kIncomplete) {
    FUZZ_CHECK(input.size() <= connsched::kAdminMaxRequestBytes);
    return 0;
  }
  // What follows the head (a body, or junk) does not change the request.
  std::string followed(input);
  followed.append(connsched::kAdminMaxRequestBytes, 'A');
  AdminParse with_tail = connsched::parse_admin_request(followed);
  FUZZ_CHECK(with_tail.status == AdminParse::Status::kComplete);
  FUZZ_CHECK(with_tail.request.path == parse.request.path);
  const connsched::AdminRequest& request = parse.request;
  FUZZ_CHECK(!request.method.empty());
  FUZZ_CHECK(!request.path.empty() && request.path[0] == '/');
  check_percent_round_trip(request.path);
  for (const auto& [name, value] : request.query) {
    check_percent_round_trip(name);
    check_percent_round_trip(value);
  }
  static const connsched::AdminActions actions = fuzz_actions();
  check_response(connsched::route_admin_request(request, actions));
  return 0;
}
