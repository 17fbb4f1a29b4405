// File: fuzz/fuzz_command_line.cc
//
// libFuzzer target: the command line every server shares, parsed as run_server_main
// parses it (CLI11 with core's flags and validators, then the leftovers split into the
// backend's flags and validated against a backend's declarations), without starting a
// server. The input is argv: arguments separated by NUL bytes. Checks that whatever CLI11
// accepts lies within the ranges the validators promise, and that backend flag names
// come out normalized.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "command_line_options.h"
#include "connsched/server.h"
#include "fuzz_check.h"
#include "option_values.h"

namespace {

// What one backend declares, so backend flags reach every kind of value check.
const std::vector<connsched_option_desc>& fuzz_options() {
  static const std::vector<connsched_option_desc> kOptions = {
      {"thread_cache_size", "threads", CONNSCHED_OPTION_INT, "8", 0, 16384, nullptr, 1},
      {"dedicated_listener", "", CONNSCHED_OPTION_BOOL, "off", 0, 0, nullptr, 0},
      {"high_prio_mode", "", CONNSCHED_OPTION_ENUM, "none", 0, 0, "transactions|none", 1}};
  return kOptions;
}

// The arguments after argv[0], split at NUL bytes; a bounded number of them.
std::vector<std::string> split_arguments(std::string_view input) {
  std::vector<std::string> args{"fuzz_server"};
  while (!input.empty() && args.size() < 64) {
    std::size_t nul = input.find('\0');
    args.emplace_back(input.substr(0, nul));
    input.remove_prefix(nul == std::string_view::npos ? input.size() : nul + 1);
  }
  return args;
}

// What the validators guarantee about a command line CLI11 accepted.
void check_ranges(const connsched::ServerOptions& o) {
  FUZZ_CHECK(o.port >= 0 && o.port <= 65535);
  FUZZ_CHECK(o.admin_port >= -1 && o.admin_port <= 65535);
  FUZZ_CHECK(o.max_connections >= 1 && o.max_connections <= 1000000);
  FUZZ_CHECK(o.wait_timeout >= 1 && o.wait_timeout <= 31536000);
  FUZZ_CHECK(o.net_write_timeout >= 1 && o.net_write_timeout <= 31536000);
  FUZZ_CHECK(o.max_request_size >= 16 && o.max_request_size <= (std::uint64_t{1} << 32));
  FUZZ_CHECK(o.shutdown_timeout >= 1 && o.shutdown_timeout <= 3600);
  FUZZ_CHECK(o.log_level == "debug" || o.log_level == "info" || o.log_level == "warning" ||
             o.log_level == "error");
}

}  // namespace

// Parsed as run_server_main parses it; a refusal (ParseError, StartupError) is fine, a
// crash or a value outside its promised range is not.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args =
      split_arguments(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());

  connsched::ServerOptions options;
  CLI::App app("fuzz", "fuzz_server");
  app.allow_extras();
  app.set_help_flag();
  bool help = false;
  app.add_flag("--help,-h", help, "help");
  std::string token_file;  // the file is read (and its mode checked) only when a server starts
  connsched::add_core_options(app, options, token_file);
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    return 0;
  }
  check_ranges(options);
  try {
    auto flags = connsched::backend_flags(app.remaining(), fuzz_options());
    for (const auto& [name, value] : flags.values) {
      FUZZ_CHECK(connsched::normalize_option_name(name) == name);
    }
    auto values = connsched::resolve_backend_options("fuzz", fuzz_options(), flags.values);
    for (const auto& [name, value] : flags.values) FUZZ_CHECK(values.contains(name));
  } catch (const connsched::StartupError& e) {
    FUZZ_CHECK(*e.what() != '\0');
  }
  return 0;
}
