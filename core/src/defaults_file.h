// File: core/src/defaults_file.h
//
// --defaults-file=FILE (mysqld's name): settings read by CLI11's own config reader
// (INI or TOML), from a [connsched] section every server reads and a section named
// after the server (e.g. [kv_server]) that only it reads and that wins over
// [connsched]; other sections belong to other programs and are skipped, as mysqld
// skips groups not its own. Flags on the command line win over the file. Every refusal
// names the file, the line and why.
#ifndef CONNSCHED_CORE_DEFAULTS_FILE_H_
#define CONNSCHED_CORE_DEFAULTS_FILE_H_

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

namespace connsched {

/// One setting kept from the file.
struct DefaultsEntry {
  std::string name;   ///< normalized: "thread_pool_size"
  std::string value;  ///< a list (a = x,y) joined with ','
  int line = 0;       ///< 1-based, 0 when it could not be found again
};

struct DefaultsFile {
  std::string path;
  std::vector<DefaultsEntry> entries;  ///< [server] entries replace [connsched]'s
  /// "PATH:LINE: " for a message about `entry`.
  std::string where(const DefaultsEntry& entry) const;
};

/// Reads `path`. Throws StartupError for a file that is missing, unreadable or not a
/// regular file, a key given twice in one section, or a key outside any section.
DefaultsFile read_defaults_file(const std::string& path, const std::string& server_name);

/// Sets each of `app`'s options (core's and the server's) that the command line left
/// unset from `file`, with the option's own checks; returns the entries `app` does not
/// declare (the backend's flags, or unknown ones: the caller decides). Throws
/// StartupError for a bad value or for a name in `refused` (--help, --defaults-file).
std::vector<DefaultsEntry> apply_defaults(CLI::App& app, const DefaultsFile& file,
                                          const std::set<std::string>& refused);

}  // namespace connsched

#endif  // CONNSCHED_CORE_DEFAULTS_FILE_H_
