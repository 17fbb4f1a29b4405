// File: tools/compare/backend_catalog.cc
#include "backend_catalog.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string_view>

#include "child_process.h"

namespace compare_tool {

namespace fs = std::filesystem;

std::vector<std::string> builtin_backends(const std::string& plugin_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(plugin_dir, ec)) {
    if (entry.path().extension() == ".so") names.push_back(entry.path().stem().string());
  }
  // Ranks: the MySQL default first (the base of every ratio), then the pool.
  const auto rank = [](const std::string& name) {
    if (name == "one-thread-per-connection") return 0;
    if (name == "pool-of-threads") return 1;
    return 2;
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  return names;
}

std::set<std::string> parse_backend_options(const std::string& listing) {
  // The listing puts one option object per line; the backend's carry "scope": "backend".
  std::set<std::string> names;
  std::istringstream lines(listing);
  std::string line;
  constexpr std::string_view kName = "{\"name\": \"";
  while (std::getline(lines, line)) {
    if (line.rfind(kName, 0) != 0 || line.find("\"scope\": \"backend\"") == std::string::npos) {
      continue;
    }
    const auto end = line.find('"', kName.size());
    if (end != std::string::npos) names.insert(line.substr(kName.size(), end - kName.size()));
  }
  return names;
}

const std::set<std::string>& OptionDeclarations::of(const std::string& server_path,
                                                    const std::string& thread_handling) {
  const auto key = std::make_pair(server_path, thread_handling);
  auto found = cache_.find(key);
  if (found != cache_.end()) return found->second;
  const std::string listing =
      run_and_capture(server_path, {"--thread-handling=" + thread_handling, "--list-options=json"},
                      std::chrono::seconds(10));
  return cache_.emplace(key, parse_backend_options(listing)).first->second;
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  // Also the sbin folders, where Debian puts nginx, even when PATH lacks them.
  std::string dirs = std::string(path != nullptr ? path : "") + ":/usr/sbin:/usr/local/sbin";
  std::istringstream parts(dirs);
  std::string dir;
  while (std::getline(parts, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace compare_tool
