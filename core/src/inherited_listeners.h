// File: core/src/inherited_listeners.h
//
// Listening sockets a server did not open itself: passed by the server it replaces
// (--inherit-from) or by systemd (LISTEN_FDS). The main one, and the admin one when
// the sender had one, each checked to be a listening TCP socket.
#ifndef CONNSCHED_CORE_INHERITED_LISTENERS_H_
#define CONNSCHED_CORE_INHERITED_LISTENERS_H_

#include <string>

#include "connsched/server.h"
#include "connsched/unique_fd.h"
#include "listen_socket.h"

namespace connsched {

struct InheritedListeners {
  UniqueFd main;
  ListenerAddress main_address;
  UniqueFd admin;  ///< empty when the sender had no admin listener
  ListenerAddress admin_address;
  /// Where they came from, for log lines and errors: "pid 1234 over /run/kv.sock",
  /// "systemd (LISTEN_FDS)".
  std::string source;
};

/// Refuses (StartupError, one line) a listener whose address contradicts a flag the
/// operator gave (--port, --bind-address, --admin-port, --admin-bind-address): port 0
/// matches any port, a flag not given matches anything.
void check_inherited_against_flags(const InheritedListeners& inherited,
                                   const ServerOptions& options);

}  // namespace connsched

#endif  // CONNSCHED_CORE_INHERITED_LISTENERS_H_
