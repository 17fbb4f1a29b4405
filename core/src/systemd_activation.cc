// File: core/src/systemd_activation.cc
#include "systemd_activation.h"

#include <fcntl.h>
#include <systemd/sd-daemon.h>

#include <fmt/format.h>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace connsched {

namespace {
// sd_listen_fds_with_names' array, freed as systemd says (each name, then the array).
struct FdNames {
  char** names = nullptr;
  ~FdNames() {
    if (names == nullptr) return;
    for (char** n = names; *n != nullptr; ++n) std::free(*n);
    std::free(names);
  }
};

// systemd passes its sockets blocking and inheritable; core's own are neither.
void make_core_socket(int fd) {
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}
}  // namespace

// Named sockets are matched by name, so a unit that lists them in another order still
// works; unnamed ones by order, the way most .socket units are written (one ListenStream=
// per line, main first).
std::optional<InheritedListeners> systemd_listeners() {
  FdNames names;
  const int n = sd_listen_fds_with_names(1, &names.names);
  if (n < 0) throw StartupError(fmt::format("LISTEN_FDS: {}", std::strerror(-n)));
  if (n == 0) return std::nullopt;
  // Every fd is owned from here, so a refusal below closes them all.
  std::vector<UniqueFd> fds;
  std::vector<std::string> labels;
  for (int i = 0; i < n; ++i) {
    fds.emplace_back(SD_LISTEN_FDS_START + i);
    labels.emplace_back(names.names && names.names[i] ? names.names[i] : "unknown");
  }
  if (n > 2) {
    throw StartupError(fmt::format(
        "LISTEN_FDS: systemd passed {} sockets; a server takes at most 2 (the main listener "
        "and the admin one, FileDescriptorName=main and admin)",
        n));
  }
  bool named = false;
  for (const auto& label : labels) named = named || label == "main" || label == "admin";
  int main_index = 0;
  int admin_index = n == 2 ? 1 : -1;
  if (named) {
    main_index = admin_index = -1;
    for (int i = 0; i < n; ++i) {
      if (labels[i] != "main" && labels[i] != "admin") {
        throw StartupError(fmt::format(
            "LISTEN_FDS: fd {} is named '{}'; with FileDescriptorName=main or admin on one "
            "socket, every socket needs one of those names",
            SD_LISTEN_FDS_START + i, labels[i]));
      }
      int& slot = labels[i] == "main" ? main_index : admin_index;
      if (slot >= 0) {
        throw StartupError(fmt::format(
            "LISTEN_FDS: two sockets are named '{}'; one main and at most one admin", labels[i]));
      }
      slot = i;
    }
    if (main_index < 0) {
      throw StartupError("LISTEN_FDS: no socket is named 'main' (FileDescriptorName=main)");
    }
  }
  InheritedListeners out;
  out.source = "systemd (LISTEN_FDS)";
  for (int i = 0; i < n; ++i) {
    const bool is_main = i == main_index;
    const std::string what =
        fmt::format("LISTEN_FDS: fd {} ('{}', the {} listener)", SD_LISTEN_FDS_START + i, labels[i],
                    is_main ? "main" : "admin");
    ListenerAddress address = listening_tcp_address(fds[i].get(), what);
    make_core_socket(fds[i].get());
    if (is_main) {
      out.main = std::move(fds[i]);
      out.main_address = address;
    } else {
      out.admin = std::move(fds[i]);
      out.admin_address = address;
    }
  }
  return out;
}

// sd_notify returns at once without NOTIFY_SOCKET; its errors change nothing here.
void notify_systemd(const std::string& state) {
  sd_notify(0, state.c_str());
}

}  // namespace connsched
