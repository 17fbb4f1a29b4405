// File: test/core/proxy_header_test.cc
//
// The PROXY protocol parser (core/src/proxy_header.*) and the allowed-networks list
// (core/src/proxy_networks.*), against the specification's examples and its edge cases:
// https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "connsched/server.h"
#include "core/src/proxy_header.h"
#include "core/src/proxy_networks.h"

using connsched::ProxyHeader;
using connsched::ProxyNetworks;
using connsched::ProxySignature;
using Status = ProxyHeader::Status;

namespace {

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: signature, ver/cmd, family, the block's length, the block.
std::string v2(unsigned char ver_cmd, unsigned char family, const std::string& block) {
  std::string out = kSig;
  out.push_back(static_cast<char>(ver_cmd));
  out.push_back(static_cast<char>(family));
  out.push_back(static_cast<char>(block.size() >> 8));
  out.push_back(static_cast<char>(block.size() & 0xff));
  return out + block;
}

std::string be16(unsigned v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

std::string ipv4_block(const char* src, const char* dst, unsigned sport, unsigned dport) {
  in_addr s{}, d{};
  ::inet_pton(AF_INET, src, &s);
  ::inet_pton(AF_INET, dst, &d);
  return std::string(reinterpret_cast<char*>(&s), 4) + std::string(reinterpret_cast<char*>(&d), 4) +
         be16(sport) + be16(dport);
}

std::string ipv6_block(const char* src, const char* dst, unsigned sport, unsigned dport) {
  in6_addr s{}, d{};
  ::inet_pton(AF_INET6, src, &s);
  ::inet_pton(AF_INET6, dst, &d);
  return std::string(reinterpret_cast<char*>(&s), 16) +
         std::string(reinterpret_cast<char*>(&d), 16) + be16(sport) + be16(dport);
}

std::string source(const ProxyHeader& h) {
  return connsched::format_socket_address(h.source);
}
std::string destination(const ProxyHeader& h) {
  return connsched::format_socket_address(h.destination);
}

// Every strict prefix of a complete header is incomplete, never invalid or complete.
void check_prefixes_incomplete(const std::string& header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    CAPTURE(n);
    CHECK(connsched::parse_proxy_header(std::string_view(header).substr(0, n)).status ==
          Status::kIncomplete);
  }
}

sockaddr_storage peer(const char* text) {
  sockaddr_storage s{};
  if (std::strchr(text, ':')) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
    in6->sin6_family = AF_INET6;
    REQUIRE(::inet_pton(AF_INET6, text, &in6->sin6_addr) == 1);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, text, &in->sin_addr) == 1);
  }
  return s;
}

}  // namespace

TEST_CASE("a v1 TCP4 header names the client and ends at its CRLF") {
  const std::string header = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
  auto h = connsched::parse_proxy_header(header + "GET / HTTP/1.1\r\n");
  REQUIRE(h.status == Status::kComplete);
  CHECK(h.version == 1);
  CHECK(h.length == header.size());
  CHECK(h.has_addresses);
  CHECK(source(h) == "192.168.0.1:56324");
  CHECK(destination(h) == "192.168.0.11:443");
  check_prefixes_incomplete(header);
}

TEST_CASE("a v1 TCP6 header names an IPv6 client, bracketed") {
  const std::string header = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
  auto h = connsched::parse_proxy_header(header);
  REQUIRE(h.status == Status::kComplete);
  CHECK(source(h) == "[2001:db8::1]:65535");
  CHECK(destination(h) == "[2001:db8::2]:0");
  check_prefixes_incomplete(header);
  // The spec's longest TCP6 line (104 bytes) fits.
  const std::string longest =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n";
  CHECK(longest.size() == 104);
  CHECK(connsched::parse_proxy_header(longest).status == Status::kComplete);
}

TEST_CASE("v1 UNKNOWN is accepted and keeps the socket's addresses") {
  for (std::string line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN anything at all here 1 2\r\n"}) {
    CAPTURE(line);
    auto h = connsched::parse_proxy_header(line + "PING\r\n");
    REQUIRE(h.status == Status::kComplete);
    CHECK(h.length == line.size());
    CHECK_FALSE(h.has_addresses);
  }
}

TEST_CASE("malformed v1 headers are invalid, each for its reason") {
  const char* bad[] = {
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",      // LF without CR
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX",     // CR without LF
      "PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n",   // two spaces
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",        // a field missing
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 9\r\n",  // a field too many
      "PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n",   // a leading zero
      "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",   // a leading zero in a port
      "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",    // port out of range
      "PROXY TCP4 256.168.0.1 192.168.0.11 1 443\r\n",        // octet out of range
      "PROXY TCP4 2001:db8::1 192.168.0.11 1 443\r\n",        // family mismatch
      "PROXY TCP6 192.168.0.1 2001:db8::2 1 443\r\n",         // family mismatch
      "PROXY UDP4 192.168.0.1 192.168.0.11 1 443\r\n",        // not TCP4/TCP6/UNKNOWN
      "PROXY UNKNOWNX\r\n",                                   // not UNKNOWN
      "PROXYTCP4 1.2.3.4 1.2.3.4 1 2\r\n",                    // no space after PROXY
      "GET / HTTP/1.1\r\n",                                   // no signature at all
  };
  for (const char* text : bad) {
    CAPTURE(text);
    auto h = connsched::parse_proxy_header(text);
    CHECK(h.status == Status::kInvalid);
    CHECK(std::strlen(h.error) > 0);
  }
}

TEST_CASE("a v1 line without CRLF in 107 bytes is invalid; shorter, it is waited for") {
  std::string line = "PROXY UNKNOWN " + std::string(200, 'a');
  CHECK(connsched::parse_proxy_header(line.substr(0, 106)).status == Status::kIncomplete);
  CHECK(connsched::parse_proxy_header(line.substr(0, 107)).status == Status::kInvalid);
  // A CRLF ending at byte 107 fits; one ending at 108 does not.
  std::string fits = line.substr(0, 105) + "\r\n";
  CHECK(connsched::parse_proxy_header(fits).status == Status::kComplete);
  std::string too_long = line.substr(0, 106) + "\r\n";
  CHECK(connsched::parse_proxy_header(too_long).status == Status::kInvalid);
}

TEST_CASE("a v2 PROXY header over TCP4 names the client") {
  const std::string header = v2(0x21, 0x11, ipv4_block("203.0.113.7", "10.0.0.1", 5555, 6380));
  auto h = connsched::parse_proxy_header(header + "*1\r\n$4\r\nPING\r\n");
  REQUIRE(h.status == Status::kComplete);
  CHECK(h.version == 2);
  CHECK(h.length == 28);
  CHECK(h.has_addresses);
  CHECK_FALSE(h.local);
  CHECK(source(h) == "203.0.113.7:5555");
  CHECK(destination(h) == "10.0.0.1:6380");
  check_prefixes_incomplete(header);
}

TEST_CASE("a v2 PROXY header over TCP6 names the client, its TLVs skipped") {
  std::string tlvs = std::string("\x01", 1) + be16(2) + "h2";  // ALPN
  tlvs += std::string("\x04", 1) + be16(0);                    // NOOP, empty
  tlvs += std::string("\x05", 1) + be16(3) + "abc";            // UNIQUE_ID
  const std::string header =
      v2(0x21, 0x21, ipv6_block("2001:db8::7", "2001:db8::1", 40000, 443) + tlvs);
  auto h = connsched::parse_proxy_header(header);
  REQUIRE(h.status == Status::kComplete);
  CHECK(h.length == header.size());
  CHECK(source(h) == "[2001:db8::7]:40000");
  CHECK(destination(h) == "[2001:db8::1]:443");
  check_prefixes_incomplete(header);
}

TEST_CASE("v2 UNIX addresses are paths; UNSPEC keeps the socket's addresses") {
  std::string block(216, '\0');
  std::memcpy(block.data(), "/run/client.sock", 16);
  std::memcpy(block.data() + 108, "/run/server.sock", 16);
  auto h = connsched::parse_proxy_header(v2(0x21, 0x31, block));
  REQUIRE(h.status == Status::kComplete);
  CHECK(h.has_addresses);
  CHECK(source(h) == "unix:/run/client.sock");
  auto unspec = connsched::parse_proxy_header(v2(0x21, 0x00, "ignored"));
  REQUIRE(unspec.status == Status::kComplete);
  CHECK(unspec.length == 16 + 7);
  CHECK_FALSE(unspec.has_addresses);
}

TEST_CASE("v2 LOCAL (a health check) is accepted whatever its family and length") {
  for (const std::string& header :
       {v2(0x20, 0x00, ""), v2(0x20, 0x11, ipv4_block("1.2.3.4", "5.6.7.8", 1, 2)),
        v2(0x20, 0xff, "junk")}) {
    auto h = connsched::parse_proxy_header(header);
    REQUIRE(h.status == Status::kComplete);
    CHECK(h.local);
    CHECK_FALSE(h.has_addresses);
    CHECK(h.length == header.size());
  }
}

TEST_CASE("malformed v2 headers are invalid as soon as the bad byte arrives") {
  const std::string block = ipv4_block("1.2.3.4", "5.6.7.8", 1, 2);
  CHECK(connsched::parse_proxy_header(v2(0x11, 0x11, block)).status == Status::kInvalid);  // v1
  CHECK(connsched::parse_proxy_header(v2(0x22, 0x11, block)).status == Status::kInvalid);  // cmd 2
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x41, block)).status == Status::kInvalid);  // fam 4
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x13, block)).status == Status::kInvalid);  // tr 3
  // Known at the 13th byte, before the rest arrived.
  CHECK(connsched::parse_proxy_header(kSig + "\x31").status == Status::kInvalid);
  // An address block too short for its family.
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x11, block.substr(0, 11))).status ==
        Status::kInvalid);
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x21, std::string(35, 'x'))).status ==
        Status::kInvalid);
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x31, std::string(215, 'x'))).status ==
        Status::kInvalid);
  // TLVs that do not fit: a 2-byte TLV header, a value longer than what is left.
  CHECK(connsched::parse_proxy_header(v2(0x21, 0x11, block + "\x01\x00")).status ==
        Status::kInvalid);
  CHECK(
      connsched::parse_proxy_header(v2(0x21, 0x11, block + std::string("\x01\x00\x05", 3) + "abcd"))
          .status == Status::kInvalid);
}

TEST_CASE("a truncated v2 header is incomplete, however little of it came") {
  const std::string header = v2(0x21, 0x11, ipv4_block("1.2.3.4", "5.6.7.8", 1, 2));
  CHECK(connsched::parse_proxy_header(header.substr(0, 1)).status == Status::kIncomplete);
  CHECK(connsched::parse_proxy_header(header.substr(0, 15)).status == Status::kIncomplete);
  CHECK(connsched::parse_proxy_header(header.substr(0, 27)).status == Status::kIncomplete);
  // The largest length field: waited for, not refused.
  CHECK(connsched::parse_proxy_header(kSig + "\x21\x11\xff\xff").status == Status::kIncomplete);
}

TEST_CASE("the signature screen tells a PROXY header from a request") {
  CHECK(connsched::proxy_signature("PROXY TCP4 ") == ProxySignature::kPresent);
  CHECK(connsched::proxy_signature("PROX") == ProxySignature::kPartial);
  CHECK(connsched::proxy_signature("\r\n\r\n") == ProxySignature::kPartial);
  CHECK(connsched::proxy_signature(kSig) == ProxySignature::kPresent);
  CHECK(connsched::proxy_signature("PING\r\n") == ProxySignature::kAbsent);
  CHECK(connsched::proxy_signature("PROXYMAN\n") == ProxySignature::kAbsent);
  CHECK(connsched::proxy_signature("\r\nGET /") == ProxySignature::kAbsent);
}

TEST_CASE("allowed networks: CIDRs of both families, localhost, any, and mapped IPv4") {
  auto nets = ProxyNetworks::parse("10.0.0.0/8, 192.168.1.7 ,2001:db8::/32");
  CHECK_FALSE(nets.empty());
  CHECK(nets.allows(peer("10.200.3.4")));
  CHECK(nets.allows(peer("192.168.1.7")));
  CHECK_FALSE(nets.allows(peer("192.168.1.8")));
  CHECK(nets.allows(peer("2001:db8:ffff::1")));
  CHECK_FALSE(nets.allows(peer("2001:db9::1")));
  CHECK(nets.allows(peer("::ffff:10.1.2.3")));  // an IPv4 client of a dual-stack listener
  CHECK_FALSE(nets.allows(peer("127.0.0.1")));

  auto local = ProxyNetworks::parse("localhost");
  CHECK(local.allows(peer("127.0.0.1")));
  CHECK(local.allows(peer("127.3.2.1")));
  CHECK(local.allows(peer("::1")));
  CHECK_FALSE(local.allows(peer("::2")));

  CHECK(ProxyNetworks::parse("*").allows(peer("203.0.113.9")));
  CHECK(ProxyNetworks::parse("").empty());
  CHECK(ProxyNetworks::parse("::ffff:10.0.0.0/104").allows(peer("10.9.9.9")));
  CHECK(ProxyNetworks::parse("0.0.0.0/0").allows(peer("8.8.8.8")));
  CHECK(ProxyNetworks::parse("10.128.0.0/9").allows(peer("10.200.0.1")));
  CHECK_FALSE(ProxyNetworks::parse("10.128.0.0/9").allows(peer("10.100.0.1")));
}

TEST_CASE("a bad network entry is refused, named, with the reason") {
  auto refusal = [](const char* list) {
    try {
      ProxyNetworks::parse(list);
    } catch (const connsched::StartupError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  CHECK(refusal("10.0.0.1/8").find("'10.0.0.1/8': host bits are set") != std::string::npos);
  CHECK(refusal("10.0.0.0/33").find("prefix length") != std::string::npos);
  CHECK(refusal("10.0.0.0/x").find("prefix length") != std::string::npos);
  CHECK(refusal("proxy.example").find("'proxy.example': not an IPv4") != std::string::npos);
  CHECK(refusal("10.0.0.0/8,,::1").find("an empty entry") != std::string::npos);
}
