// File: test/core/command_line_options_test.cc
//
// A backend's flags read as mysqld reads its command line, and the nearest known flag
// for a typo: backend_flags and closest_name without a server.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/src/command_line_options.h"

using namespace connsched;

namespace {

const std::vector<connsched_option_desc>& declared() {
  static const std::vector<connsched_option_desc> options = {
      {"thread_pool_dedicated_listener", "", CONNSCHED_OPTION_BOOL, "off", 0, 0, nullptr, 1},
      {"thread_pool_size", "", CONNSCHED_OPTION_INT, "2", 1, 64, nullptr, 1},
  };
  return options;
}

}  // namespace

TEST_CASE("a bare bool flag means on; --skip- and --disable- mean off; =on|off still works") {
  CHECK(backend_flags({"--thread-pool-dedicated-listener"}, declared())
            .values.at("thread_pool_dedicated_listener") == "on");
  CHECK(backend_flags({"--thread_pool_dedicated_listener"}, declared())
            .values.at("thread_pool_dedicated_listener") == "on");
  CHECK(backend_flags({"--skip-thread-pool-dedicated-listener"}, declared())
            .values.at("thread_pool_dedicated_listener") == "off");
  CHECK(backend_flags({"--disable-thread-pool-dedicated-listener"}, declared())
            .values.at("thread_pool_dedicated_listener") == "off");
  CHECK(backend_flags({"--thread-pool-dedicated-listener=off"}, declared())
            .values.at("thread_pool_dedicated_listener") == "off");
  // A bare bool does not swallow the next word: it is another flag's value.
  auto flags =
      backend_flags({"--thread-pool-dedicated-listener", "--thread-pool-size", "4"}, declared());
  CHECK(flags.values.at("thread_pool_dedicated_listener") == "on");
  CHECK(flags.values.at("thread_pool_size") == "4");
  CHECK(flags.unknown.empty());
}

TEST_CASE("a flag that needs a value, or --skip- given one, is refused with one line") {
  CHECK_THROWS_WITH_AS(backend_flags({"--thread-pool-size"}, declared()),
                       "option --thread-pool-size needs a value (--thread-pool-size=VALUE)",
                       StartupError);
  CHECK_THROWS_WITH_AS(backend_flags({"--skip-thread-pool-dedicated-listener=1"}, declared()),
                       "--skip-thread-pool-dedicated-listener takes no value (it means "
                       "--thread-pool-dedicated-listener=off)",
                       StartupError);
  // --skip- of a flag that is not a bool is not a way to turn it off: it is unknown.
  CHECK(backend_flags({"--skip-thread-pool-size"}, declared()).unknown ==
        std::vector<std::string>{"skip-thread-pool-size"});
}

TEST_CASE("undeclared flags are collected, not read as needing a value") {
  auto flags = backend_flags({"--prot", "--thread-cache-size=3"}, declared());
  CHECK(flags.unknown == std::vector<std::string>{"prot", "thread-cache-size"});
  CHECK(flags.values.empty());
}

TEST_CASE("the nearest known flag is offered for a typo, and none for a word far from all") {
  const std::vector<std::string> known = {"port", "plugin-dir", "thread-handling",
                                          "max-connections", "admin-port"};
  CHECK(closest_name("prot", known) == "port");
  CHECK(closest_name("thread-handlign", known) == "thread-handling");
  CHECK(closest_name("max-conections", known) == "max-connections");
  CHECK(closest_name("admin-prot", known) == "admin-port");
  CHECK(closest_name("no-such-flag", known).empty());
}
