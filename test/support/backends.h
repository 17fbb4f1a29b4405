// File: test/support/backends.h
//
// The backends integration tests run against: every built-in found in the plugin
// folder, plus a custom C backend loaded by path.
#ifndef CONNSCHED_TEST_SUPPORT_BACKENDS_H_
#define CONNSCHED_TEST_SUPPORT_BACKENDS_H_

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/src/plugin_loader.h"
#include "running_server.h"

namespace connsched::testing {

/// Built-in backend names, as --thread-handling takes them. A test that loops over them
/// must not pass by looping over nothing: a missing built-in fails it.
inline std::vector<std::string> builtin_backends() {
  auto found = available_backends(plugin_dir());
  for (const char* name : {"no-threads", "one-thread-per-connection", "pool-of-threads"}) {
    if (std::find(found.begin(), found.end(), name) == found.end())
      throw std::runtime_error(std::string("built-in backend '") + name + "' is not in " +
                               plugin_dir());
  }
  return found;
}

/// A valid third-party backend written in C, loaded by path.
inline std::string c_backend_path() {
  return broken_plugin_dir() + "/c-thread-per-connection.so";
}

/// Every backend to test: the built-ins and the C one by path.
inline std::vector<std::string> all_backends() {
  auto all = builtin_backends();
  all.push_back(c_backend_path());
  return all;
}

/// no-threads serves one connection at a time, on the acceptor thread.
inline bool serves_one_at_a_time(const std::string& backend) {
  return backend == "no-threads";
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SUPPORT_BACKENDS_H_
