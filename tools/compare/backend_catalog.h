// File: tools/compare/backend_catalog.h
//
// The servers under comparison: connsched backends (built-ins found in the plugin
// folder, others named by path) and the reference servers, plus what each backend
// declares it takes (so an option reaches only the backends that declare it).
#ifndef CONNSCHED_COMPARE_BACKEND_CATALOG_H_
#define CONNSCHED_COMPARE_BACKEND_CATALOG_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace compare_tool {

struct BackendUnderTest {
  /// kUpstream: in the proxy scenario, the load goes straight to the upstream kv_server.
  enum class Kind { kConnsched, kRedis, kNginx, kUpstream };
  Kind kind = Kind::kConnsched;
  std::string label;                 ///< the name in tables, CSV and charts
  std::string thread_handling;       ///< --thread-handling value (connsched only)
  std::vector<std::string> options;  ///< extra server flags ("--thread-cache-size=0")
  /// The switch scenario's switching row: the --thread-handling values switched between,
  /// the first being the one it starts with (empty: an ordinary row).
  std::vector<std::string> switch_between;
};

/// The built-in backend names in `plugin_dir`, one-thread-per-connection and
/// pool-of-threads first (the first is the base of every ratio), the rest by name.
std::vector<std::string> builtin_backends(const std::string& plugin_dir);

/// The option names ("thread-cache-size") a backend declares, read from the server's
/// --list-options=json under that backend; cached per server and backend.
class OptionDeclarations {
 public:
  const std::set<std::string>& of(const std::string& server_path,
                                  const std::string& thread_handling);

 private:
  std::map<std::pair<std::string, std::string>, std::set<std::string>> cache_;
};

/// The option names ("thread-cache-size") a backend declares, from a server's
/// `--list-options=json` (scope "backend").
std::set<std::string> parse_backend_options(const std::string& listing);

/// The full path of an executable found in PATH, or nullopt.
std::optional<std::string> find_in_path(const std::string& name);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_BACKEND_CATALOG_H_
