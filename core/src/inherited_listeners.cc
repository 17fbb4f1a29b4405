// File: core/src/inherited_listeners.cc
#include "inherited_listeners.h"

#include <fmt/format.h>

namespace connsched {

namespace {
// One listener against its two flags. The line names both sides and the way out.
void check_one(const ListenerAddress& got, const char* role, const std::string& source,
               bool port_given, int port, const char* port_flag, bool address_given,
               const std::string& address, const char* address_flag) {
  if (port_given && port != 0 && port != got.port) {
    throw StartupError(fmt::format(
        "{}={}, but the {} listener inherited from {} is on {}; give {}={} or leave it out",
        port_flag, port, role, source, got.text(), port_flag, got.port));
  }
  if (address_given && !same_address(address, got.host)) {
    throw StartupError(fmt::format(
        "{}={}, but the {} listener inherited from {} is on {}; give {}={} or leave it out",
        address_flag, address, role, source, got.text(), address_flag, got.host));
  }
}
}  // namespace

// An inherited socket wins over the flags that would have bound one, but a flag that says
// otherwise is the operator expecting another port: refused, never silently ignored.
void check_inherited_against_flags(const InheritedListeners& inherited,
                                   const ServerOptions& options) {
  check_one(inherited.main_address, "main", inherited.source, options.port_given, options.port,
            "--port", options.bind_address_given, options.bind_address, "--bind-address");
  if (inherited.admin) {
    check_one(inherited.admin_address, "admin", inherited.source,
              options.admin_port_given && options.admin_port >= 0, options.admin_port,
              "--admin-port", options.admin_bind_address_given, options.admin_bind_address,
              "--admin-bind-address");
  }
}

}  // namespace connsched
