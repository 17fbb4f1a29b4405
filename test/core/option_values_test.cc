// File: test/core/option_values_test.cc
//
// Option values are checked against a backend's declarations before it sees them, and
// core's own flags by their validators.
#include <doctest/doctest.h>

#include "connsched/server.h"
#include "core/src/command_line_options.h"
#include "core/src/option_values.h"

using namespace connsched;

namespace {
const std::vector<connsched_option_desc> kOptions = {
    {"thread_pool_size", "groups", CONNSCHED_OPTION_INT, "4", 1, 128, nullptr, 1},
    {"dedicated_listener", "flag", CONNSCHED_OPTION_BOOL, "off", 0, 0, nullptr, 1},
    {"high_prio_mode", "mode", CONNSCHED_OPTION_ENUM, "transactions", 0, 0,
     "transactions|statements|none", 1},
    {"label", "text", CONNSCHED_OPTION_STRING, nullptr, 0, 0, nullptr, 0},
};
}  // namespace

TEST_CASE("option names accept dashes or underscores and any case") {
  CHECK(normalize_option_name("--thread-pool-size") == "thread_pool_size");
  CHECK(normalize_option_name("Thread_Pool-Size") == "thread_pool_size");
}

TEST_CASE("integers are strict: no junk, no overflow, within the declared range") {
  CHECK(parse_int("42") == 42);
  CHECK(parse_int("-7") == -7);
  CHECK_FALSE(parse_int("").has_value());
  CHECK_FALSE(parse_int("12abc").has_value());
  CHECK_FALSE(parse_int(" 12").has_value());
  CHECK_FALSE(parse_int("99999999999999999999999").has_value());
  const auto& size = kOptions[0];
  CHECK(check_option_value(size, "128").empty());
  CHECK(check_option_value(size, "0") == "--thread-pool-size: 0 is out of range [1, 128]");
  CHECK(check_option_value(size, "ten") == "--thread-pool-size: 'ten' is not an integer");
}

TEST_CASE("booleans take on/off/true/false/yes/no/1/0 and are passed on as 1 or 0") {
  std::string canonical;
  CHECK(check_option_value(kOptions[1], "ON", &canonical).empty());
  CHECK(canonical == "1");
  CHECK(check_option_value(kOptions[1], "no", &canonical).empty());
  CHECK(canonical == "0");
  CHECK(check_option_value(kOptions[1], "maybe") ==
        "--dedicated-listener: 'maybe' is not a boolean (use on or off)");
}

TEST_CASE("enums accept only a listed choice") {
  CHECK(check_option_value(kOptions[2], "statements").empty());
  CHECK(check_option_value(kOptions[2], "state") ==
        "--high-prio-mode: 'state' is not one of transactions|statements|none");
}

TEST_CASE("resolving fills defaults, keeps given values and refuses unknown names") {
  auto values = resolve_backend_options("pool", kOptions, {{"thread_pool_size", "8"}});
  CHECK(values.at("thread_pool_size") == "8");
  CHECK(values.at("dedicated_listener") == "off");
  CHECK(values.at("high_prio_mode") == "transactions");
  CHECK(values.count("label") == 0);
  CHECK_THROWS_WITH_AS(resolve_backend_options("pool", kOptions, {{"thread_pool_sise", "8"}}),
                       doctest::Contains("unknown option --thread-pool-sise (backend 'pool' takes: "
                                         "--thread-pool-size, --dedicated-listener"),
                       StartupError);
  CHECK_THROWS_WITH_AS(resolve_backend_options("pool", kOptions, {{"thread_pool_size", "x"}}),
                       "--thread-pool-size: 'x' is not an integer", StartupError);
  CHECK_THROWS_WITH_AS(resolve_backend_options("plain", {}, {{"anything", "1"}}),
                       "unknown option --anything (backend 'plain' takes: no options)",
                       StartupError);
}

TEST_CASE("help lists every declared option with its type, default and dynamism") {
  std::string help = describe_options(kOptions);
  CHECK(help.find("--thread-pool-size") != std::string::npos);
  CHECK(help.find("INT in [1, 128]; default 4; settable at run time") != std::string::npos);
  CHECK(help.find("transactions|statements|none") != std::string::npos);
  CHECK(help.find("default unset") != std::string::npos);
}

// Found by fuzz_command_line (fuzz/regressions/command_line/leading_zero_read_as_octal):
// core's flags were checked as decimal but converted by CLI11, which reads a leading 0 as
// octal, so "--max-request-size=016" passed the [16, 2^32] check and stored 14.
TEST_CASE("core's integer flags are decimal: a leading zero is not octal") {
  auto parse = [](std::vector<std::string> args, ServerOptions& o) {
    CLI::App app;
    std::string token_file;
    add_core_options(app, o, token_file);
    std::vector<char*> argv;
    std::string name = "server";
    argv.push_back(name.data());
    for (auto& a : args) argv.push_back(a.data());
    app.parse(static_cast<int>(argv.size()), argv.data());
  };
  ServerOptions o;
  parse({"--port=0700", "--max-request-size=016", "--wait-timeout", "010"}, o);
  CHECK(o.port == 700);
  CHECK(o.max_request_size == 16);
  CHECK(o.wait_timeout == 10);
  ServerOptions refused;
  CHECK_THROWS_AS(parse({"--max-request-size=015"}, refused), CLI::ValidationError);
  CHECK_THROWS_AS(parse({"--port=0x10"}, refused), CLI::ValidationError);
}
