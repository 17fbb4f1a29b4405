// File: core/src/systemd_activation.h
//
// systemd's side of a server's life: socket activation (the listeners a .socket unit
// opened, sd_listen_fds(3)) and the notifications a Type=notify unit waits for
// (sd_notify(3): READY=1, STATUS=..., STOPPING=1). Without LISTEN_FDS or NOTIFY_SOCKET
// in the environment both do nothing.
#ifndef CONNSCHED_CORE_SYSTEMD_ACTIVATION_H_
#define CONNSCHED_CORE_SYSTEMD_ACTIVATION_H_

#include <optional>
#include <string>

#include "inherited_listeners.h"

namespace connsched {

/// The sockets systemd passed this process (LISTEN_FDS for this pid), nullopt when none.
/// FileDescriptorName=main / admin tells them apart; unnamed (or all named otherwise, as
/// systemd names them after the .socket unit by default), the first is the main listener
/// and the second the admin one. Throws StartupError, one line, on anything else: more
/// than two, a name other than main/admin next to those names, a socket that is not a
/// listening TCP socket. Unsets LISTEN_FDS, so a child process does not see them.
std::optional<InheritedListeners> systemd_listeners();

/// sd_notify(0, state) when NOTIFY_SOCKET is set; a failure is not the server's to fix.
void notify_systemd(const std::string& state);

}  // namespace connsched

#endif  // CONNSCHED_CORE_SYSTEMD_ACTIVATION_H_
