// File: core/src/proxy_networks.h
//
// --proxy-protocol-networks: the peers allowed (and then required) to open a connection
// with a PROXY header, as MariaDB's proxy_protocol_networks names them
// (https://mariadb.com/kb/en/proxy-protocol-support/): a comma-separated list of IPv4 and
// IPv6 addresses or CIDR networks, "localhost" for the loopback networks, "*" for any.
#ifndef CONNSCHED_CORE_PROXY_NETWORKS_H_
#define CONNSCHED_CORE_PROXY_NETWORKS_H_

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace connsched {

class ProxyNetworks {
 public:
  /// Parses the flag's value; empty: no network (the PROXY protocol is off). Throws
  /// StartupError naming the entry and why ("10.0.0.1/8: host bits set ...").
  static ProxyNetworks parse(std::string_view list);

  bool empty() const { return !any_ && networks_.empty(); }
  /// Whether a connection from `peer` must begin with a PROXY header. An IPv4-mapped
  /// IPv6 peer (a dual-stack listener's IPv4 client) matches the IPv4 networks.
  bool allows(const sockaddr_storage& peer) const;

 private:
  struct Network {
    int family = 0;                        // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};  // network byte order, host bits zero
    int prefix = 0;
  };
  static bool contains(const Network& n, int family, const std::uint8_t* address);
  bool any_ = false;
  std::vector<Network> networks_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_PROXY_NETWORKS_H_
