// File: core/src/plugin_loader.cc
#include "plugin_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "connsched/server.h"

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

// The first 4 bytes of the file: an ELF file starts with 0x7f 'E' 'L' 'F'.
bool looks_like_elf(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[4] = {};
  ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
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
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw StartupError(fmt::format("{}: not a regular file", path));
  }
  if (st.st_mode & S_IWOTH) {
    throw StartupError(fmt::format("{}: refusing a scheduler that any user may write (mode {:o})",
                                   path, st.st_mode & 07777));
  }
  // Anyone who may write the folder may swap the file (unless the sticky bit keeps
  // them to their own files, as in /tmp). The folder of the file itself, after links;
  // a folder that cannot be checked is refused, not passed.
  std::error_code ec;
  fs::path folder = fs::canonical(path, ec).parent_path();
  struct stat dir_st {};
  if (ec || ::stat(folder.c_str(), &dir_st) != 0) {
    throw StartupError(fmt::format("{}: cannot check the folder it is in: {}", path,
                                   ec ? ec.message() : std::string(std::strerror(errno))));
  }
  if ((dir_st.st_mode & S_IWOTH) && !(dir_st.st_mode & S_ISVTX)) {
    throw StartupError(
        fmt::format("{}: refusing a scheduler in a folder any user may write ({}, mode {:o})", path,
                    folder.string(), dir_st.st_mode & 07777));
  }
  if (!looks_like_elf(path)) {
    throw StartupError(fmt::format("{}: not a shared object (no ELF header)", path));
  }
  dlerror();
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw StartupError(fmt::format("{}: cannot load: {}", path, why ? why : "unknown error"));
  }
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
