// File: core/src/plugin_loader.h
//
// Finds, opens and validates a scheduler backend (a .so exporting
// connsched_scheduler_entry). Every refusal is a StartupError whose message is one
// line naming the file and the reason; nothing here can crash on a bad file.
#ifndef CONNSCHED_CORE_PLUGIN_LOADER_H_
#define CONNSCHED_CORE_PLUGIN_LOADER_H_

#include <string>
#include <vector>

#include "connsched/scheduler_abi.h"

namespace connsched {

/// A validated backend: core's own zero-filled copy of the descriptor (members an
/// older minor lacks read as NULL), and the handle, which is never dlclose'd (a
/// backend's threads or atexit hooks may outlive `end`, as PostgreSQL notes).
struct LoadedScheduler {
  std::string path;
  connsched_scheduler table{};
  void* handle = nullptr;
  std::vector<connsched_option_desc> options;  ///< copied from the backend
};

/// The folder where built-in backends live. In a program built against an installed
/// connsched package (find_package(connsched)), that installation's backend folder;
/// otherwise next to the executable's ../lib, as laid out in both the build tree and an
/// installation. No environment variable is read; --plugin-dir overrides either.
std::string default_plugin_dir();

/// Backend names available in `plugin_dir` (file names without ".so"), sorted.
std::vector<std::string> available_backends(const std::string& plugin_dir);

/// Resolves `name_or_path` (a bare name is looked up in `plugin_dir`; a value with a
/// '/' is a path), opens it once, checks that descriptor (plugin_file_checks.h: the
/// whole ELF structure inside the file; the file and every folder up to `/` writable by
/// nobody but root and the server's user), loads that same descriptor with
/// dlopen("/proc/self/fd/N", RTLD_NOW|RTLD_LOCAL) and validates the descriptor table.
/// Throws StartupError.
LoadedScheduler load_scheduler(const std::string& name_or_path, const std::string& plugin_dir);

/// Checks a descriptor against this core's ABI; returns the reason it is unusable,
/// or an empty string. Exposed for tests.
std::string validate_descriptor(const connsched_scheduler* table);

}  // namespace connsched

#endif  // CONNSCHED_CORE_PLUGIN_LOADER_H_
