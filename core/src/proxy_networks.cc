// File: core/src/proxy_networks.cc
#include "proxy_networks.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fmt/format.h>

#include <cstring>

#include "connsched/server.h"
#include "option_values.h"

namespace connsched {

namespace {

// "10.0.0.0/8, ::1" is as readable as "10.0.0.0/8,::1".
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// Each entry is checked on its own, so the one bad entry is named; a network with host
// bits set is refused rather than silently widened or narrowed (a typo in a trust list).
ProxyNetworks ProxyNetworks::parse(std::string_view list) {
  ProxyNetworks out;
  if (trim(list).empty()) return out;
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string entry(trim(list.substr(0, comma)));
    auto fail = [&](std::string_view why) {
      return StartupError(fmt::format("--proxy-protocol-networks: '{}': {}", entry, why));
    };
    if (entry.empty()) throw fail("an empty entry (two commas?)");
    if (entry == "*") {
      out.any_ = true;
    } else if (entry == "localhost") {
      Network v4;
      v4.family = AF_INET;
      v4.bytes[0] = 127;
      v4.prefix = 8;
      Network v6;
      v6.family = AF_INET6;
      v6.bytes[15] = 1;
      v6.prefix = 128;
      out.networks_.push_back(v4);
      out.networks_.push_back(v6);
    } else {
      const std::size_t slash = entry.find('/');
      const std::string address = entry.substr(0, slash);
      Network n;
      if (::inet_pton(AF_INET, address.c_str(), n.bytes.data()) == 1) {
        n.family = AF_INET;
      } else if (::inet_pton(AF_INET6, address.c_str(), n.bytes.data()) == 1) {
        n.family = AF_INET6;
      } else {
        throw fail("not an IPv4 or IPv6 address, a CIDR network, 'localhost' or '*'");
      }
      const int bits = n.family == AF_INET ? 32 : 128;
      n.prefix = bits;
      if (slash != std::string::npos) {
        auto prefix = parse_int(entry.substr(slash + 1));
        if (!prefix || *prefix < 0 || *prefix > bits) {
          throw fail(fmt::format("the prefix length is not an integer in [0, {}]", bits));
        }
        n.prefix = static_cast<int>(*prefix);
      }
      for (int bit = n.prefix; bit < bits; ++bit) {
        if (n.bytes[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
          throw fail("host bits are set past the prefix length");
        }
      }
      // ::ffff:a.b.c.d/N (N >= 96) is the IPv4 network a.b.c.d/(N - 96).
      static const std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (n.family == AF_INET6 && n.prefix >= 96 && std::memcmp(n.bytes.data(), kMapped, 12) == 0) {
        Network v4;
        v4.family = AF_INET;
        std::memcpy(v4.bytes.data(), n.bytes.data() + 12, 4);
        v4.prefix = n.prefix - 96;
        n = v4;
      }
      out.networks_.push_back(n);
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// Whole bytes compared, then the prefix's last partial byte under its mask.
bool ProxyNetworks::contains(const Network& n, int family, const std::uint8_t* address) {
  if (n.family != family) return false;
  const int whole = n.prefix / 8;
  if (std::memcmp(n.bytes.data(), address, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = n.prefix % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (address[whole] & mask) == n.bytes[static_cast<std::size_t>(whole)];
}

// An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; it is matched as the
// IPv4 address it is, so "10.0.0.0/8" covers it on "::" too.
bool ProxyNetworks::allows(const sockaddr_storage& peer) const {
  if (any_) return true;
  int family = peer.ss_family;
  const std::uint8_t* address = nullptr;
  if (family == AF_INET) {
    address = reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr);
  } else if (family == AF_INET6) {
    const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
    address = in6->s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(in6)) {
      family = AF_INET;
      address += 12;
    }
  } else {
    return false;
  }
  for (const Network& n : networks_) {
    if (contains(n, family, address)) return true;
  }
  return false;
}

}  // namespace connsched
