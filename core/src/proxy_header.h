// File: core/src/proxy_header.h
//
// The PROXY protocol header a load balancer (HAProxy's send-proxy / send-proxy-v2) puts
// in front of a connection to say whose it is, versions 1 (text) and 2 (binary), as
// https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt specifies them. A pure
// function of the bytes received so far: no socket, no allocation, no locale, so the
// acceptor can call it on what MSG_PEEK shows and the fuzzer on anything.
#ifndef CONNSCHED_CORE_PROXY_HEADER_H_
#define CONNSCHED_CORE_PROXY_HEADER_H_

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace connsched {

/// The longest header there can be: v2's 16 bytes and a 16-bit length (v1's is 107).
inline constexpr std::size_t kMaxProxyHeaderSize = 16 + 65535;

struct ProxyHeader {
  enum class Status {
    kIncomplete,  ///< a prefix of a header (or of a signature): wait for more bytes
    kInvalid,     ///< not a header, or a malformed one: `error` says why
    kComplete,    ///< `length` bytes at the front are the header
  };
  Status status = Status::kIncomplete;
  int version = 0;         ///< 1 or 2 once the signature was seen
  std::size_t length = 0;  ///< bytes the header takes (kComplete only)
  /// True when the header carries the client's addresses (v1 TCP4/TCP6, v2 PROXY with
  /// INET, INET6 or UNIX); false for v2 LOCAL (a health check), v1 UNKNOWN and v2 UNSPEC:
  /// the connection keeps the socket's own addresses.
  bool has_addresses = false;
  bool local = false;  ///< v2's LOCAL command
  sockaddr_storage source{};
  sockaddr_storage destination{};
  const char* error = "";  ///< static text, for kInvalid
};

/// Parses the header at the front of `input` (all the bytes received so far). Never
/// reads outside `input`; a kComplete result depends only on its first `length` bytes;
/// a kIncomplete or kInvalid result on a prefix of a complete header's bytes is
/// kIncomplete; once kInvalid, more bytes never make it anything else.
ProxyHeader parse_proxy_header(std::string_view input);

/// Whether `input` begins a PROXY header: kPresent once it starts with "PROXY " or v2's
/// 12-byte signature, kPartial while it is a shorter prefix of one, kAbsent otherwise.
enum class ProxySignature { kAbsent, kPartial, kPresent };
ProxySignature proxy_signature(std::string_view input);

/// "1.2.3.4:5", "[2001:db8::1]:443" (an IPv4-mapped IPv6 address as IPv4), "unix:PATH";
/// for log lines, /connections and the protocol's RequestContext::client_address.
std::string format_socket_address(const sockaddr_storage& address);

}  // namespace connsched

#endif  // CONNSCHED_CORE_PROXY_HEADER_H_
