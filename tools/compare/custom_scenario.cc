// File: tools/compare/custom_scenario.cc
#include "custom_scenario.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "request_class.h"
#include "request_sequence.h"

namespace compare_tool {

namespace {

using std::chrono::milliseconds;

milliseconds seconds(double s) {
  return milliseconds(std::llround(s * 1000));
}

}  // namespace

Scenario custom_scenario(const CustomLoad& load, bool full, std::string& error) {
  // The windows of the built-in scenarios' quick and full versions.
  Scenario scenario;
  scenario.server = ServerKind::kCustom;
  scenario.server_path = load.server_path;
  scenario.name =
      load.name.empty() ? std::filesystem::path(load.server_path).filename().string() : load.name;
  scenario.request = load.request;
  scenario.connections = load.connections;
  scenario.warmup = full ? milliseconds(2000) : milliseconds(300);
  scenario.duration = full ? milliseconds(10000) : milliseconds(1000);
  const auto protocol = loadgen::protocol_from_name(load.protocol);
  if (!protocol) {
    error =
        fmt::format("{}: protocol '{}': expected resp, http or line", scenario.name, load.protocol);
    return scenario;
  }
  scenario.protocol = *protocol;
  if (load.server_path.empty()) error = fmt::format("{}: no server binary", scenario.name);
  if (load.request.empty()) error = fmt::format("{}: no request to send", scenario.name);
  std::string why;
  if (!load.request.empty() && !loadgen::parse_sequence(load.request, why))
    error = fmt::format("{}: request {}", scenario.name, why);
  if (load.connections.empty() ||
      std::find(load.connections.begin(), load.connections.end(), 0u) != load.connections.end()) {
    error = fmt::format("{}: connection counts must be at least 1", scenario.name);
  }
  if (load.mixes.size() > 1) {
    error = fmt::format("{}: at most one --mix class per scenario", scenario.name);
  } else if (!load.mixes.empty()) {
    scenario.mix = loadgen::parse_mix(load.mixes.front());
    if (!scenario.mix)
      error = fmt::format("{}: mix '{}': expected REQUEST:COUNT", scenario.name, load.mixes[0]);
  }
  scenario.summary =
      fmt::format("{} over {}{}", load.request, load.protocol,
                  scenario.mix ? fmt::format(", {} connections send {}", scenario.mix->connections,
                                             scenario.mix->request)
                               : "");
  return scenario;
}

std::vector<Scenario> read_scenario_file(const std::string& path, bool full, std::string& error) {
  // Parsed whole, then checked key by key, so a typo is an error, not a silent default.
  std::ifstream in(path);
  if (!in) {
    error = fmt::format("{}: cannot be read", path);
    return {};
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    error = fmt::format("{}: not JSON: {}", path, e.what());
    return {};
  }
  if (doc.is_object() && doc.contains("scenarios")) doc = doc["scenarios"];
  if (!doc.is_array() || doc.empty()) {
    error = fmt::format("{}: expected {{\"scenarios\": [...]}} with at least one scenario", path);
    return {};
  }
  static const std::set<std::string> kKeys{"name", "server",      "protocol",      "request",
                                           "mix",  "connections", "duration",      "warmup",
                                           "idle", "summary",     "backend_flags", "key_step"};
  const auto base = std::filesystem::path(path).parent_path();
  std::vector<Scenario> out;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& entry = doc[i];
    const std::string where = fmt::format("{}: scenario {}", path, i + 1);
    try {
      if (!entry.is_object()) throw std::invalid_argument("is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!kKeys.contains(key)) throw std::invalid_argument(fmt::format("unknown key '{}'", key));
      }
      CustomLoad load;
      load.name = entry.value("name", std::string());
      load.server_path = entry.at("server").get<std::string>();
      // A relative server path is relative to the file, as a user writing it expects.
      if (!load.server_path.empty() && std::filesystem::path(load.server_path).is_relative() &&
          !std::filesystem::exists(load.server_path)) {
        load.server_path = (base / load.server_path).string();
      }
      load.protocol = entry.value("protocol", std::string("resp"));
      load.request = entry.at("request").get<std::string>();
      if (entry.contains("mix")) {
        const auto& mix = entry["mix"];
        load.mixes = mix.is_string() ? std::vector<std::string>{mix.get<std::string>()}
                                     : mix.get<std::vector<std::string>>();
      }
      if (entry.contains("connections")) {
        const auto& c = entry["connections"];
        load.connections = c.is_number() ? std::vector<std::uint32_t>{c.get<std::uint32_t>()}
                                         : c.get<std::vector<std::uint32_t>>();
      }
      std::string why;
      auto scenario = custom_scenario(load, full, why);
      if (!why.empty()) throw std::invalid_argument(why);
      if (entry.contains("duration")) scenario.duration = seconds(entry["duration"].get<double>());
      if (entry.contains("warmup")) scenario.warmup = seconds(entry["warmup"].get<double>());
      if (scenario.duration.count() <= 0 || scenario.warmup.count() < 0)
        throw std::invalid_argument("duration must be positive and warmup not negative");
      scenario.idle = entry.value("idle", 0u);
      if (entry.contains("summary")) scenario.summary = entry["summary"].get<std::string>();
      if (entry.contains("backend_flags")) {
        scenario.backend_flags = entry["backend_flags"].get<std::vector<std::string>>();
        for (const auto& flag : scenario.backend_flags) {
          if (!flag.starts_with("--") || flag.size() < 3)
            throw std::invalid_argument(
                fmt::format("backend flag '{}': expected --NAME or --NAME=VALUE", flag));
        }
      }
      if (entry.contains("key_step")) {
        // The step must be one of the request's: a typo would chart nothing.
        scenario.key_step = entry["key_step"].get<std::string>();
        std::string why;
        const auto sequence = loadgen::parse_sequence(scenario.request, why);
        const bool found = sequence && std::any_of(sequence->steps.begin(), sequence->steps.end(),
                                                   [&](const loadgen::SequenceStep& step) {
                                                     return step.name == scenario.key_step;
                                                   });
        if (!found) {
          throw std::invalid_argument(fmt::format(
              "key_step '{}' is not a step of the request '{}' (steps are separated by ' | ')",
              scenario.key_step, scenario.request));
        }
      }
      out.push_back(std::move(scenario));
    } catch (const std::exception& e) {  // nlohmann's type errors and ours alike
      error = fmt::format("{}: {}", where, e.what());
      return {};
    }
  }
  return out;
}

std::string server_program(const Scenario& scenario, const std::string& bin_dir) {
  if (scenario.server == ServerKind::kCustom) return scenario.server_path;
  return bin_dir + "/" + server_executable(scenario.server);
}

loadgen::WireProtocol scenario_protocol(const Scenario& scenario) {
  if (scenario.server == ServerKind::kCustom) return scenario.protocol;
  return server_protocol(scenario.server);
}

}  // namespace compare_tool
