// File: core/src/plugin_loader.cc
#include "plugin_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "connsched/server.h"
#include "connsched/unique_fd.h"
#include "plugin_file_checks.h"

#ifndef CONNSCHED_RELATIVE_PLUGIN_DIR
#define CONNSCHED_RELATIVE_PLUGIN_DIR "../lib/connsched"
#endif

// Defined only in programs built against an installed package (cmake/package_plugin_dir.cc,
// compiled into them by the package config): the installation's backend folder.
extern "C" __attribute__((weak)) const char* connsched_package_plugin_dir();

namespace connsched {

namespace fs = std::filesystem;

namespace {

// Size of the version-1.0 descriptor: anything smaller cannot hold the required members.
constexpr size_t kMinimumTableSize = offsetof(connsched_scheduler, stats) + sizeof(void*);

std::string executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return exe.parent_path().string();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

// The installed package's folder when the program was built against one (an out-of-tree
// server finds the installed built-ins), else the folder beside the executable, where
// both connsched's build tree and an installation put them.
std::string default_plugin_dir() {
  if (connsched_package_plugin_dir != nullptr) {
    if (const char* dir = connsched_package_plugin_dir(); dir != nullptr && dir[0] != '\0') {
      return dir;
    }
  }
  fs::path dir = fs::path(executable_dir()) / CONNSCHED_RELATIVE_PLUGIN_DIR;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(dir, ec);
  return (ec ? dir : canonical).string();
}

std::vector<std::string> available_backends(const std::string& plugin_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(plugin_dir, ec)) {
    if (entry.path().extension() == ".so") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string validate_descriptor(const connsched_scheduler* t) {
  if (t == nullptr) return "the entry function returned NULL";
  if (t->magic != CONNSCHED_ABI_MAGIC) {
    return fmt::format("bad magic 0x{:08x} (expected 0x{:08x}): not a connsched scheduler",
                       t->magic, CONNSCHED_ABI_MAGIC);
  }
  if (t->abi_major != CONNSCHED_ABI_MAJOR) {
    return fmt::format("built for scheduler ABI {}.{}, this server speaks ABI {}.{}", t->abi_major,
                       t->abi_minor, CONNSCHED_ABI_MAJOR, CONNSCHED_ABI_MINOR);
  }
  if (t->struct_size < kMinimumTableSize) {
    return fmt::format("descriptor is {} bytes, smaller than the {} bytes of ABI {}.0",
                       t->struct_size, kMinimumTableSize, CONNSCHED_ABI_MAJOR);
  }
  if (t->name == nullptr || t->name[0] == '\0') return "the backend's name is empty";
  struct Required {
    const char* member;
    bool present;
  };
  const Required required[] = {{"init", t->init != nullptr},
                               {"add_connection", t->add_connection != nullptr},
                               {"end", t->end != nullptr}};
  for (const auto& r : required) {
    if (!r.present) return fmt::format("required member '{}' is NULL", r.member);
  }
  if ((t->wait_begin == nullptr) != (t->wait_end == nullptr)) {
    return "wait_begin and wait_end must both be set or both be NULL";
  }
  if (t->options != nullptr) {
    for (const connsched_option_desc* o = t->options; o->name != nullptr; ++o) {
      if (o->name[0] == '\0') return "an option has an empty name";
      if (o->type < CONNSCHED_OPTION_INT || o->type > CONNSCHED_OPTION_STRING) {
        return fmt::format("option '{}' has unknown type {}", o->name, o->type);
      }
      if (o->type == CONNSCHED_OPTION_ENUM && (o->choices == nullptr || !*o->choices)) {
        return fmt::format("enum option '{}' lists no choices", o->name);
      }
    }
  }
  return {};
}

LoadedScheduler load_scheduler(const std::string& name_or_path, const std::string& plugin_dir) {
  if (name_or_path.empty()) throw StartupError("--thread-handling: empty backend name");
  std::string path;
  // exists() without an error code throws for a folder that cannot be searched: the
  // loader answers every problem with one line, never an exception of another kind.
  auto exists = [](const std::string& p) {
    std::error_code ec;
    bool found = fs::exists(p, ec);
    if (ec) throw StartupError(fmt::format("{}: cannot check it: {}", p, ec.message()));
    return found;
  };
  if (name_or_path.find('/') != std::string::npos) {
    path = name_or_path;
    if (!exists(path)) throw StartupError(fmt::format("{}: no such file", path));
  } else {
    if (name_or_path == "." || name_or_path == "..") {
      throw StartupError(
          fmt::format("--thread-handling: '{}' is not a backend name", name_or_path));
    }
    path = (fs::path(plugin_dir) / (name_or_path + ".so")).string();
    if (!exists(path)) {
      throw StartupError(fmt::format("unknown scheduler backend '{}': no {} (available: {})",
                                     name_or_path, path, join(available_backends(plugin_dir))));
    }
  }
  // One descriptor for the whole check and the load: the file checked is the file
  // loaded, whatever happens to the path meanwhile. O_NONBLOCK: a FIFO named by mistake
  // is refused below instead of hanging the start.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) throw StartupError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw StartupError(fmt::format("{}: not a regular file", path));
  }
  const uid_t server_uid = ::geteuid();
  if (std::string why = check_file_owner_and_mode(st, server_uid); !why.empty()) {
    throw StartupError(fmt::format("{}: {}", path, why));
  }
  // The folders of the file as opened (after links) and, when the path went through a
  // link, those of the path as given too: a link in a folder others may write can be
  // pointed elsewhere. A folder that cannot be checked is refused, not passed.
  std::error_code ec;
  fs::path real = fs::read_symlink(fmt::format("/proc/self/fd/{}", fd.get()), ec);
  if (ec) {
    throw StartupError(fmt::format("{}: cannot check the folder it is in: {}", path, ec.message()));
  }
  std::vector<std::string> folders = {real.parent_path().string()};
  fs::path given = fs::absolute(path, ec).lexically_normal().parent_path();
  if (!ec && given != real.parent_path()) folders.push_back(given.string());
  for (const auto& folder : folders) {
    if (std::string why = check_folder_chain(folder, server_uid); !why.empty()) {
      throw StartupError(fmt::format("{}: {}", path, why));
    }
  }
  if (std::string why = check_elf_file(fd.get(), st); !why.empty()) {
    throw StartupError(fmt::format("{}: {}", path, why));
  }
  // glibc knows a loaded object by its name before its file, and descriptor numbers are
  // reused: "/proc/self/fd/5" may name a backend loaded earlier from another file. Each
  // load spells its name differently (the load's number in binary, "//" for 0 and "/."
  // for 1, which the kernel reads as nothing), so only the file's identity (device and
  // inode) can match an object already loaded, and the same file twice is one handle.
  static std::atomic<std::uint64_t> loads{0};
  std::string opened = "/proc/self/fd";
  for (std::uint64_t n = loads.fetch_add(1); n != 0; n >>= 1) opened += (n & 1) ? "/." : "//";
  opened += fmt::format("/{}", fd.get());
  dlerror();
  void* handle = ::dlopen(opened.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw StartupError(fmt::format("{}: cannot load: {}", path, why ? why : "unknown error"));
  }
  fd.reset();  // the mappings keep the file
  // From here on the handle stays open even on refusal: closing a half-validated
  // library could run its destructors; the process is about to exit anyway.
  void* symbol = ::dlsym(handle, CONNSCHED_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    throw StartupError(fmt::format("{}: entry symbol '{}' not found: not a connsched scheduler",
                                   path, CONNSCHED_ENTRY_SYMBOL));
  }
  auto entry = reinterpret_cast<connsched_scheduler_entry_fn>(symbol);
  const connsched_scheduler* table = entry();
  if (std::string why = validate_descriptor(table); !why.empty()) {
    throw StartupError(fmt::format("{}: {}", path, why));
  }
  LoadedScheduler loaded;
  loaded.path = path;
  loaded.handle = handle;
  std::memcpy(&loaded.table, table, std::min<size_t>(table->struct_size, sizeof(loaded.table)));
  loaded.table.struct_size = sizeof(loaded.table);
  if (table->options != nullptr) {
    for (const connsched_option_desc* o = table->options; o->name != nullptr; ++o) {
      loaded.options.push_back(*o);
    }
  }
  return loaded;
}

}  // namespace connsched
