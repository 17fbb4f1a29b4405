// File: core/src/proxy_header.cc
//
// The PROXY protocol parser. Strict where the specification is strict (one space
// between v1 fields, no leading zeros, CRLF within 107 bytes, v2's version nibble and
// command, the address block fitting its length) and lenient where it says to be (v1
// UNKNOWN and v2 UNSPEC keep the socket's addresses; v2 TLVs are skipped, only their
// framing checked, as HAProxy checks it).
#include "proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

namespace connsched {

namespace {

constexpr std::string_view kV1Signature = "PROXY ";
constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t kV1MaxLine = 107;  // CRLF included (the spec's worst case)
constexpr std::size_t kV2Fixed = 16;

// The parser's two non-results, built in one place so every field has its default.
ProxyHeader invalid(int version, const char* why) {
  ProxyHeader h;
  h.status = ProxyHeader::Status::kInvalid;
  h.version = version;
  h.error = why;
  return h;
}

ProxyHeader incomplete(int version) {
  ProxyHeader h;
  h.version = version;
  return h;
}

// Whether `input` and `signature` agree on their common length.
bool agrees(std::string_view input, std::string_view signature) {
  const std::size_t n = std::min(input.size(), signature.size());
  return input.substr(0, n) == signature.substr(0, n);
}

// A decimal in [0, max] without leading zeros (the spec forbids them: no octal doubt).
std::optional<unsigned> strict_decimal(std::string_view text, unsigned max, std::size_t digits) {
  if (text.empty() || text.size() > digits) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// Exactly four decimals in [0, 255] joined by single dots.
bool parse_ipv4(std::string_view text, in_addr& out) {
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    std::size_t dot = part < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return false;
    auto octet = strict_decimal(text.substr(0, dot), 255, 3);
    if (!octet) return false;
    value = (value << 8) | *octet;
    text.remove_prefix(part < 3 ? dot + 1 : dot);
  }
  if (!text.empty()) return false;
  out.s_addr = htonl(value);
  return true;
}

// inet_pton on a bounded, terminated copy: the field is not NUL-terminated in place.
bool parse_ipv6(std::string_view text, in6_addr& out) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (text.empty() || text.size() >= sizeof buffer) return false;
  if (text.find('\0') != std::string_view::npos) return false;
  std::memcpy(buffer, text.data(), text.size());
  return ::inet_pton(AF_INET6, buffer, &out) == 1;
}

// "SRC DST SPORT DPORT" of a TCP4 or TCP6 line, each field set off by one space.
ProxyHeader parse_v1_addresses(std::string_view rest, bool ipv6, std::size_t length) {
  std::string_view fields[4];
  for (int i = 0; i < 4; ++i) {
    if (rest.empty() || rest[0] != ' ')
      return invalid(1, "v1: fields must be set off by one space");
    rest.remove_prefix(1);
    std::size_t end = std::min(rest.find(' '), rest.size());
    fields[i] = rest.substr(0, end);
    if (fields[i].empty()) return invalid(1, "v1: an empty field (two spaces?)");
    rest.remove_prefix(end);
  }
  if (!rest.empty()) return invalid(1, "v1: more than four fields after the protocol");
  ProxyHeader h;
  auto src_port = strict_decimal(fields[2], 65535, 5);
  auto dst_port = strict_decimal(fields[3], 65535, 5);
  if (!src_port || !dst_port) return invalid(1, "v1: a port is not a decimal in [0, 65535]");
  if (!ipv6) {
    auto* src = reinterpret_cast<sockaddr_in*>(&h.source);
    auto* dst = reinterpret_cast<sockaddr_in*>(&h.destination);
    if (!parse_ipv4(fields[0], src->sin_addr) || !parse_ipv4(fields[1], dst->sin_addr)) {
      return invalid(1, "v1: TCP4 with an address that is not dotted-quad IPv4");
    }
    src->sin_family = dst->sin_family = AF_INET;
    src->sin_port = htons(static_cast<std::uint16_t>(*src_port));
    dst->sin_port = htons(static_cast<std::uint16_t>(*dst_port));
  } else {
    auto* src = reinterpret_cast<sockaddr_in6*>(&h.source);
    auto* dst = reinterpret_cast<sockaddr_in6*>(&h.destination);
    if (!parse_ipv6(fields[0], src->sin6_addr) || !parse_ipv6(fields[1], dst->sin6_addr)) {
      return invalid(1, "v1: TCP6 with an address that is not IPv6");
    }
    src->sin6_family = dst->sin6_family = AF_INET6;
    src->sin6_port = htons(static_cast<std::uint16_t>(*src_port));
    dst->sin6_port = htons(static_cast<std::uint16_t>(*dst_port));
  }
  h.status = ProxyHeader::Status::kComplete;
  h.version = 1;
  h.length = length;
  h.has_addresses = true;
  return h;
}

// The text line: nothing is decoded before its CRLF is there, so every prefix of a
// valid line is kIncomplete; a lone CR or LF, or no CRLF within 107 bytes, is invalid.
ProxyHeader parse_v1(std::string_view input) {
  std::size_t cr = std::string_view::npos;
  const std::size_t scan = std::min(input.size(), kV1MaxLine);
  for (std::size_t i = 0; i < scan; ++i) {
    if (input[i] == '\n') return invalid(1, "v1: LF without CR");
    if (input[i] != '\r') continue;
    if (i + 2 > kV1MaxLine) return invalid(1, "v1: line longer than 107 bytes");
    if (i + 1 == input.size()) return incomplete(1);
    if (input[i + 1] != '\n') return invalid(1, "v1: CR without LF");
    cr = i;
    break;
  }
  if (cr == std::string_view::npos) {
    return input.size() >= kV1MaxLine ? invalid(1, "v1: no CRLF within 107 bytes") : incomplete(1);
  }
  std::string_view line = input.substr(kV1Signature.size(), cr - kV1Signature.size());
  const std::size_t length = cr + 2;
  std::size_t end = std::min(line.find(' '), line.size());
  std::string_view protocol = line.substr(0, end);
  std::string_view rest = line.substr(end);
  if (protocol == "UNKNOWN") {
    // The receiver must ignore whatever follows UNKNOWN up to the CRLF.
    ProxyHeader h;
    h.status = ProxyHeader::Status::kComplete;
    h.version = 1;
    h.length = length;
    return h;
  }
  if (protocol == "TCP4") return parse_v1_addresses(rest, false, length);
  if (protocol == "TCP6") return parse_v1_addresses(rest, true, length);
  return invalid(1, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
}

// v2's lengths and ports are big-endian, at any offset (no alignment assumed).
std::uint16_t be16(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[at]) << 8) |
                                    static_cast<unsigned char>(bytes[at + 1]));
}

// The binary form. The fixed 16 bytes are checked as they arrive (a bad version or
// command is invalid at once); the rest is decoded only when all `16 + len` are there.
ProxyHeader parse_v2(std::string_view input) {
  const bool have_command = input.size() > 12;
  const unsigned ver_cmd = have_command ? static_cast<unsigned char>(input[12]) : 0x21;
  if ((ver_cmd >> 4) != 2) return invalid(2, "v2: version is not 2");
  const unsigned command = ver_cmd & 0x0F;
  if (command > 1) return invalid(2, "v2: command is neither LOCAL nor PROXY");
  const bool local = command == 0;
  const unsigned family_byte = input.size() > 13 ? static_cast<unsigned char>(input[13]) : 0;
  const unsigned family = family_byte >> 4;
  const unsigned transport = family_byte & 0x0F;
  // LOCAL ignores the family byte entirely (the spec: "the family which is ignored").
  if (!local && (family > 3 || transport > 2)) {
    return invalid(2, "v2: unknown address family or transport");
  }
  if (input.size() < kV2Fixed) return incomplete(2);
  const std::size_t total = kV2Fixed + be16(input, 14);
  if (input.size() < total) return incomplete(2);

  ProxyHeader h;
  h.status = ProxyHeader::Status::kComplete;
  h.version = 2;
  h.length = total;
  h.local = local;
  if (local || family == 0 || transport == 0) return h;  // the socket's addresses stand

  const std::size_t block = total - kV2Fixed;
  std::string_view addresses = input.substr(kV2Fixed, block);
  std::size_t used = 0;
  if (family == 1) {
    if (block < 12) return invalid(2, "v2: INET address block shorter than 12 bytes");
    auto* src = reinterpret_cast<sockaddr_in*>(&h.source);
    auto* dst = reinterpret_cast<sockaddr_in*>(&h.destination);
    src->sin_family = dst->sin_family = AF_INET;
    std::memcpy(&src->sin_addr, addresses.data(), 4);
    std::memcpy(&dst->sin_addr, addresses.data() + 4, 4);
    src->sin_port = htons(be16(addresses, 8));
    dst->sin_port = htons(be16(addresses, 10));
    used = 12;
  } else if (family == 2) {
    if (block < 36) return invalid(2, "v2: INET6 address block shorter than 36 bytes");
    auto* src = reinterpret_cast<sockaddr_in6*>(&h.source);
    auto* dst = reinterpret_cast<sockaddr_in6*>(&h.destination);
    src->sin6_family = dst->sin6_family = AF_INET6;
    std::memcpy(&src->sin6_addr, addresses.data(), 16);
    std::memcpy(&dst->sin6_addr, addresses.data() + 16, 16);
    src->sin6_port = htons(be16(addresses, 32));
    dst->sin6_port = htons(be16(addresses, 34));
    used = 36;
  } else {
    constexpr std::size_t kPath = 108;
    if (block < 2 * kPath) return invalid(2, "v2: UNIX address block shorter than 216 bytes");
    auto* src = reinterpret_cast<sockaddr_un*>(&h.source);
    auto* dst = reinterpret_cast<sockaddr_un*>(&h.destination);
    static_assert(sizeof src->sun_path == kPath);
    src->sun_family = dst->sun_family = AF_UNIX;
    std::memcpy(src->sun_path, addresses.data(), kPath);
    std::memcpy(dst->sun_path, addresses.data() + kPath, kPath);
    used = 2 * kPath;
  }
  // TLVs: type, 16-bit length, value; skipped, but each must fit in the header.
  std::size_t at = used;
  while (at < block) {
    if (block - at < 3) return invalid(2, "v2: a TLV shorter than its 3-byte header");
    const std::size_t value = be16(addresses, at + 1);
    if (block - at - 3 < value) return invalid(2, "v2: a TLV longer than the header");
    at += 3 + value;
  }
  h.has_addresses = true;
  return h;
}

}  // namespace

// Detection by signature only, as the spec's section 2.2 says: v2's first (its 12
// bytes cannot begin a v1 line), then "PROXY "; a prefix of either is waited for.
ProxyHeader parse_proxy_header(std::string_view input) {
  if (agrees(input, kV2Signature)) {
    return input.size() < kV2Signature.size() ? incomplete(2) : parse_v2(input);
  }
  if (agrees(input, kV1Signature)) {
    return input.size() < kV1Signature.size() ? incomplete(1) : parse_v1(input);
  }
  return invalid(0, "not a PROXY protocol header (no v1 or v2 signature)");
}

// For peers not allowed to send a header: the signature alone says one is being sent.
ProxySignature proxy_signature(std::string_view input) {
  for (std::string_view signature : {kV1Signature, kV2Signature}) {
    if (!agrees(input, signature)) continue;
    return input.size() >= signature.size() ? ProxySignature::kPresent : ProxySignature::kPartial;
  }
  return ProxySignature::kAbsent;
}

// One spelling of an address everywhere core shows one; an IPv4 client of a dual-stack
// (::) listener reads as IPv4, the way it connected.
std::string format_socket_address(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(in->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, text, sizeof text);
      return fmt::format("{}:{}", text, ntohs(in6->sin6_port));
    }
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, ntohs(in6->sin6_port));
  }
  if (address.ss_family == AF_UNIX) {
    // A path comes from the header's sender: anything not printable ASCII becomes '?',
    // so it cannot break a log line.
    const auto* un = reinterpret_cast<const sockaddr_un*>(&address);
    const std::size_t room = sizeof un->sun_path;
    const bool abstract = un->sun_path[0] == '\0';  // Linux's abstract namespace
    const char* path = un->sun_path + (abstract ? 1 : 0);
    std::string out = abstract ? "unix:@" : "unix:";
    for (std::size_t i = 0, n = ::strnlen(path, room - (abstract ? 1 : 0)); i < n; ++i) {
      out.push_back(path[i] >= 0x20 && path[i] < 0x7f ? path[i] : '?');
    }
    return out;
  }
  return "unknown address";
}

}  // namespace connsched
