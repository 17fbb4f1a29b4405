// File: examples/compare/compare_plan.cc
#include "compare_plan.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

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
  const auto redis = options.references ? find_in_path("redis-server") : std::nullopt;
  const auto nginx = options.references ? find_in_path("nginx") : std::nullopt;
  bool noted_serial = false;
  for (const auto& scenario : scenarios) {
    const std::string server = options.bin_dir + "/" + server_executable(scenario.server);
    if (::access(server.c_str(), X_OK) != 0) {
      plan.notes.push_back(fmt::format("{}: skipped, {} is not built", scenario.name, server));
      continue;
    }
    PlannedScenario planned{.scenario = scenario, .backends = {}};
    const auto add_connsched = [&](const std::string& label, const std::string& handling) {
      const auto& declared = declarations.of(server, handling);
      planned.backends.push_back({.kind = BackendUnderTest::Kind::kConnsched,
                                  .label = label,
                                  .thread_handling = handling,
                                  .options = declared_flags(declared, options.server_options)});
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
      add_connsched(name, name);
    }
    for (const auto& path : options.extra_backends) {
      add_connsched(std::filesystem::path(path).stem().string(), path);
    }
    if (scenario.reference && scenario.server == ServerKind::kKv) {
      if (redis) {
        planned.backends.push_back({.kind = BackendUnderTest::Kind::kRedis,
                                    .label = "redis-server",
                                    .thread_handling = {},
                                    .options = {}});
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
                                    .options = {}});
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
