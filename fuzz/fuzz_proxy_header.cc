// File: fuzz/fuzz_proxy_header.cc
//
// libFuzzer target: core's PROXY protocol parser (core/src/proxy_header.*), which reads
// the first bytes any peer in --proxy-protocol-networks sends. The input is copied into
// a buffer of exactly its size, so ASan reports any read past it. Invariants: a complete
// header's length is within the input and at least the shortest header (15 bytes of v1
// "PROXY UNKNOWN\r\n", 16 of v2); the result depends only on those bytes (the same
// header parsed alone, and with other bytes after it); every shorter prefix of it is
// incomplete; an invalid input stays invalid whatever follows; a header with addresses
// names an IPv4, IPv6 or UNIX source that formats; the signature screen agrees with the
// parser.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "proxy_header.h"

namespace {

using connsched::ProxyHeader;
using Status = ProxyHeader::Status;

ProxyHeader parse_exact(const char* data, std::size_t size) {
  // A heap copy of exactly `size` bytes: one past it is a reported overflow.
  auto copy = std::make_unique<char[]>(size == 0 ? 1 : size);
  if (size) std::memcpy(copy.get(), data, size);
  return connsched::parse_proxy_header(std::string_view(copy.get(), size));
}

bool same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.status == b.status && a.version == b.version && a.length == b.length &&
         a.has_addresses == b.has_addresses && a.local == b.local &&
         std::memcmp(&a.source, &b.source, sizeof a.source) == 0 &&
         std::memcmp(&a.destination, &b.destination, sizeof a.destination) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const char* data = reinterpret_cast<const char*>(bytes);
  const ProxyHeader h = parse_exact(data, size);
  const auto signature = connsched::proxy_signature(std::string_view(data, size));
  switch (h.status) {
    case Status::kComplete: {
      FUZZ_CHECK(h.length <= size);
      FUZZ_CHECK(h.length >= 15);
      FUZZ_CHECK(h.version == 1 || h.version == 2);
      FUZZ_CHECK(signature == connsched::ProxySignature::kPresent);
      FUZZ_CHECK(same(parse_exact(data, h.length), h));
      std::string longer(data, h.length);
      longer += "after the header";
      FUZZ_CHECK(same(connsched::parse_proxy_header(longer), h));
      // Prefixes: all of a v1 line (at most 107), a sample of a long v2 header.
      const std::size_t step = h.length <= 128 ? 1 : h.length / 64;
      for (std::size_t n = 0; n < h.length; n += step) {
        FUZZ_CHECK(parse_exact(data, n).status == Status::kIncomplete);
      }
      FUZZ_CHECK(parse_exact(data, h.length - 1).status == Status::kIncomplete);
      if (h.has_addresses) {
        const int family = h.source.ss_family;
        FUZZ_CHECK(family == AF_INET || family == AF_INET6 || family == AF_UNIX);
        FUZZ_CHECK(h.destination.ss_family == family);
        const std::string text = connsched::format_socket_address(h.source);
        FUZZ_CHECK(!text.empty());
        for (char c : text) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
      }
      break;
    }
    case Status::kInvalid: {
      FUZZ_CHECK(h.error != nullptr && *h.error != '\0');
      std::string longer(data, size);
      longer.append("\r\n\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 36);
      FUZZ_CHECK(connsched::parse_proxy_header(longer).status == Status::kInvalid);
      break;
    }
    case Status::kIncomplete:
      FUZZ_CHECK(signature != connsched::ProxySignature::kAbsent);
      FUZZ_CHECK(size < connsched::kMaxProxyHeaderSize);
      break;
  }
  return 0;
}
