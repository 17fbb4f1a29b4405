// File: tools/compare/compare_plan.cc
#include "compare_plan.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "custom_scenario.h"

namespace compare_tool {

namespace {

// The --server-option values this backend declares, as flags.
std::vector<std::string> declared_flags(const std::set<std::string>& declared,
                                        const std::vector<std::string>& server_options) {
  std::vector<std::string> flags;
  for (const auto& option : server_options) {
    const auto name = option.substr(0, option.find('='));
    if (declared.contains(name)) flags.push_back("--" + option);
  }
  return flags;
}

// The scenario's own flags this backend declares, less those the command line sets
// itself (--server-option NAME=...): a flag given twice is refused by the server.
std::vector<std::string> scenario_flags(const Scenario& scenario,
                                        const std::set<std::string>& declared,
                                        const std::vector<std::string>& server_options) {
  std::vector<std::string> flags;
  for (const auto& flag : scenario.backend_flags) {
    const auto name = flag.substr(2, flag.find('=') - 2);
    const bool overridden =
        std::any_of(server_options.begin(), server_options.end(),
                    [&](const std::string& o) { return o.substr(0, o.find('=')) == name; });
    if (declared.contains(name) && !overridden) flags.push_back(flag);
  }
  return flags;
}

// The proxy scenario's rows: the load straight at the upstream (what the clients would
// cost it without a proxy), the proxy with a pool under each backend, and the proxy
// without a pool under the upstream's own backend (a connection per request) — so the
// rows differ only in what stands between the clients and the upstream.
std::vector<BackendUnderTest> proxy_backends(const Scenario& scenario,
                                             const std::vector<std::string>& handlings,
                                             const std::string& server, const PlanOptions& options,
                                             OptionDeclarations& declarations) {
  std::vector<BackendUnderTest> out;
  out.push_back({.kind = BackendUnderTest::Kind::kUpstream,
                 .label = "direct to kv_server",
                 .thread_handling = scenario.upstream_backend,
                 .options = {},
                 .switch_between = {}});
  const auto proxy = [&](const std::string& handling, const std::string& label, std::uint32_t pool,
                         std::vector<std::string> extra) {
    auto flags = declared_flags(declarations.of(server, handling), options.server_options);
    flags.push_back(fmt::format("--upstream-pool-max={}", pool));
    // A generous borrow timeout: the scenario measures queueing for the pool, not refusals.
    flags.push_back("--upstream-borrow-timeout=10000");
    flags.insert(flags.end(), extra.begin(), extra.end());
    out.push_back({.kind = BackendUnderTest::Kind::kConnsched,
                   .label = label,
                   .thread_handling = handling,
                   .options = std::move(flags),
                   .switch_between = {}});
  };
  const bool max_threads_given =
      std::any_of(options.server_options.begin(), options.server_options.end(),
                  [](const std::string& o) { return o.starts_with("thread-pool-max-threads="); });
  for (const auto& handling : handlings) {
    const auto name = handling.find('/') == std::string::npos
                          ? handling
                          : std::filesystem::path(handling).stem().string();
    proxy(handling, fmt::format("pool {} on {}", scenario.upstream_pool, name),
          scenario.upstream_pool, {});
    // A handler waiting to borrow reports a NET wait, and a thread pool answers a wait by
    // adding a thread, so behind a pool of 16 it grows a thread per waiting client. The
    // variant caps the pool at 4 threads per upstream connection: what tuning buys.
    if (!max_threads_given &&
        declarations.of(server, handling).contains("thread-pool-max-threads")) {
      const std::uint32_t cap = 4 * scenario.upstream_pool;
      proxy(handling,
            fmt::format("pool {} on {} (max threads {})", scenario.upstream_pool, name, cap),
            scenario.upstream_pool, {fmt::format("--thread-pool-max-threads={}", cap)});
    }
  }
  const bool upstream_backend_runs =
      std::find(handlings.begin(), handlings.end(), scenario.upstream_backend) != handlings.end();
  const std::string unpooled =
      upstream_backend_runs || handlings.empty() ? scenario.upstream_backend : handlings.front();
  proxy(unpooled, fmt::format("no pool on {}", unpooled), 0, {});
  return out;
}

}  // namespace

std::size_t ComparePlan::measurements() const {
  std::size_t n = 0;
  for (const auto& planned : scenarios)
    n += planned.scenario.connections.size() * planned.backends.size();
  return n;
}

bool selects(const std::string& name, const std::string& scenario) {
  return name == scenario || (scenario.starts_with(name) && scenario.size() > name.size() &&
                              scenario[name.size()] == '-');
}

ComparePlan make_plan(const std::vector<Scenario>& scenarios, const PlanOptions& options,
                      OptionDeclarations& declarations) {
  ComparePlan plan;
  // A builtin as --thread-handling: its name, or its path in a folder the servers do not
  // search by default.
  const auto handling_of = [&](const std::string& name) {
    return options.plugin_dir.empty()
               ? name
               : (std::filesystem::path(options.plugin_dir) / (name + ".so")).string();
  };
  const auto redis = options.references ? find_in_path("redis-server") : std::nullopt;
  const auto nginx = options.references ? find_in_path("nginx") : std::nullopt;
  bool noted_serial = false;
  for (const auto& scenario : scenarios) {
    const std::string server = server_program(scenario, options.bin_dir);
    if (::access(server.c_str(), X_OK) != 0) {
      plan.notes.push_back(fmt::format("{}: skipped, {} is not built", scenario.name, server));
      continue;
    }
    PlannedScenario planned{.scenario = scenario, .backends = {}};
    const auto add_connsched = [&](const std::string& label, const std::string& handling) {
      const auto& declared = declarations.of(server, handling);
      auto flags = scenario_flags(scenario, declared, options.server_options);
      for (auto& flag : declared_flags(declared, options.server_options))
        flags.push_back(std::move(flag));
      planned.backends.push_back({.kind = BackendUnderTest::Kind::kConnsched,
                                  .label = label,
                                  .thread_handling = handling,
                                  .options = std::move(flags),
                                  .switch_between = {}});
      const BackendUnderTest base = planned.backends.back();
      for (const auto& v : scenario.variants) {
        const bool declares_all = std::all_of(v.flags.begin(), v.flags.end(), [&](const auto& f) {
          return declared.contains(f.substr(2, f.find('=') - 2));
        });
        if (!declares_all) continue;
        auto variant = base;
        variant.label += fmt::format(" ({})", v.label);
        variant.options.insert(variant.options.end(), v.flags.begin(), v.flags.end());
        planned.backends.push_back(std::move(variant));
      }
      // Churn shows what a thread cache buys: the same backend without one, as its own row.
      if (scenario.churn && declared.contains("thread-cache-size")) {
        auto variant = planned.backends.back();
        variant.label += " (cache 0)";
        std::erase_if(variant.options,
                      [](const std::string& f) { return f.starts_with("--thread-cache-size"); });
        variant.options.push_back("--thread-cache-size=0");
        planned.backends.push_back(variant);
      }
    };
    if (scenario.server == ServerKind::kProxy) {
      std::vector<std::string> handlings;
      for (const auto& name : options.builtins) {
        if (name != "no-threads") handlings.push_back(handling_of(name));
      }
      handlings.insert(handlings.end(), options.extra_backends.begin(),
                       options.extra_backends.end());
      const std::string upstream = options.bin_dir + "/" + server_executable(ServerKind::kKv);
      if (::access(upstream.c_str(), X_OK) != 0) {
        plan.notes.push_back(fmt::format("{}: skipped, {} is not built", scenario.name, upstream));
        continue;
      }
      planned.backends = proxy_backends(scenario, handlings, server, options, declarations);
      plan.scenarios.push_back(std::move(planned));
      continue;
    }
    if (!scenario.switch_between.empty()) {
      // The backends' own closed-loop rows (their capacity sets the rate), then the row
      // that switches between them; every backend must be selected.
      std::vector<std::string> handlings;
      for (const auto& name : scenario.switch_between) {
        if (std::find(options.builtins.begin(), options.builtins.end(), name) ==
            options.builtins.end()) {
          plan.notes.push_back(
              fmt::format("{}: skipped, it switches to {}, which is not selected or not built",
                          scenario.name, name));
          handlings.clear();
          break;
        }
        handlings.push_back(handling_of(name));
        add_connsched(name, handlings.back());
      }
      if (handlings.empty()) continue;
      auto switching = planned.backends.front();
      switching.label.clear();
      for (const auto& name : scenario.switch_between)
        switching.label += (switching.label.empty() ? "" : " <-> ") + name;
      switching.options.push_back("--admin-port=0");
      switching.switch_between = handlings;
      planned.backends.push_back(std::move(switching));
      plan.scenarios.push_back(std::move(planned));
      continue;
    }
    for (const auto& name : options.builtins) {
      if (name == "no-threads" && !scenario.serial_backends_too) {
        if (!noted_serial) {
          plan.notes.push_back(
              "no-threads: only in churn (it serves one connection at a time, so concurrent "
              "closed-loop connections would wait forever)");
          noted_serial = true;
        }
        continue;
      }
      add_connsched(name, handling_of(name));
    }
    for (const auto& path : options.extra_backends) {
      add_connsched(std::filesystem::path(path).stem().string(), path);
    }
    if (scenario.reference && scenario.server == ServerKind::kKv) {
      if (redis) {
        planned.backends.push_back({.kind = BackendUnderTest::Kind::kRedis,
                                    .label = "redis-server",
                                    .thread_handling = {},
                                    .options = {},
                                    .switch_between = {}});
      } else if (options.references) {
        plan.notes.push_back(
            fmt::format("{}: redis-server not installed, no reference row", scenario.name));
      }
    }
    if (scenario.reference && scenario.server == ServerKind::kHttp) {
      if (nginx) {
        planned.backends.push_back({.kind = BackendUnderTest::Kind::kNginx,
                                    .label = "nginx",
                                    .thread_handling = {},
                                    .options = {},
                                    .switch_between = {}});
      } else if (options.references) {
        plan.notes.push_back(
            fmt::format("{}: nginx not installed, no reference row", scenario.name));
      }
    }
    if (!planned.backends.empty()) plan.scenarios.push_back(std::move(planned));
  }
  return plan;
}

}  // namespace compare_tool
