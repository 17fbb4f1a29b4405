// File: test/support/custom_plugins.h
//
// What the tests of plugins/ share: where the custom backends are built (they are
// loaded by path), a burst of concurrent echo clients, and the processes below a pid.
#ifndef CONNSCHED_TEST_PLUGINS_CUSTOM_CUSTOM_PLUGINS_H_
#define CONNSCHED_TEST_PLUGINS_CUSTOM_CUSTOM_PLUGINS_H_

#include <dirent.h>
#include <doctest/doctest.h>
#include <sys/types.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "running_server.h"
#include "server_process.h"
#include "test_client.h"

namespace connsched::testing {

/// A custom backend's .so, by its file stem ("shared-queue").
inline std::string custom_plugin(const std::string& stem) {
  return std::string(CONNSCHED_TEST_CUSTOM_PLUGIN_DIR) + "/" + stem + ".so";
}

inline std::string echo_server_path() {
  return bin_dir() + "/echo_server";
}

/// `clients` connections open at once, each sending `rounds` lines interleaved with
/// the others; "" when every reply came back right, else which client and round failed
/// and how (so that a failing CHECK explains itself).
inline std::string concurrent_echo_failure(std::uint16_t port, int clients, int rounds) {
  std::vector<std::unique_ptr<TestClient>> open;
  for (int c = 0; c < clients; ++c) open.push_back(std::make_unique<TestClient>(port));
  for (int r = 0; r < rounds; ++r) {
    for (int c = 0; c < clients; ++c) {
      std::string line = "client " + std::to_string(c) + " round " + std::to_string(r);
      if (!open[c]->send(line + "\n")) {
        return "client " + std::to_string(c) + " of " + std::to_string(clients) + ", round " +
               std::to_string(r) + ": the server closed the connection before the send";
      }
    }
    for (int c = 0; c < clients; ++c) {
      std::string line = "client " + std::to_string(c) + " round " + std::to_string(r);
      auto started = std::chrono::steady_clock::now();
      auto reply = open[c]->read_line();
      if (reply && *reply == line) continue;
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);
      return "client " + std::to_string(c) + " of " + std::to_string(clients) + ", round " +
             std::to_string(r) + ": " +
             (reply ? "the reply was '" + *reply + "'"
                    : "no reply after " + std::to_string(waited.count()) +
                          " ms (a timeout at 10 s, else the server closed it)");
    }
  }
  return {};
}

/// concurrent_echo_failure's verdict alone: true when every reply came back right.
inline bool concurrent_echo(std::uint16_t port, int clients, int rounds) {
  return concurrent_echo_failure(port, clients, rounds).empty();
}

/// Every process below `root` (children, grandchildren, ...), from /proc.
inline std::set<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  if (DIR* dir = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      std::ifstream in("/proc/" + std::string(entry->d_name) + "/stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream rest(stat.substr(paren + 1));
      std::string state;
      long ppid = 0;
      rest >> state >> ppid;
      if (state != "Z") children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
    }
    ::closedir(dir);
  }
  std::set<pid_t> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    auto [first, last] = children.equal_range(p);
    for (auto it = first; it != last; ++it) {
      if (out.insert(it->second).second) todo.push_back(it->second);
    }
  }
  return out;
}

/// True while `pid` exists and is not a zombie.
inline bool process_alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && stat.substr(paren + 2, 1) != "Z";
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_PLUGINS_CUSTOM_CUSTOM_PLUGINS_H_
