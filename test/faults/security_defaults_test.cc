// File: test/faults/security_defaults_test.cc
//
// Security defaults (issue #7, part 4), against the server executables: both ports bind
// to loopback unless told otherwise; --admin-token (or --admin-token-file) makes the
// admin port refuse every request without "Authorization: Bearer <token>"; a plugin in
// a folder any user may write is refused; so is one that any folder up to / or its group
// lets others replace (issue #19, item 5), and a truncated one (item 4); a reply and a pipeline
// cannot make the server allocate without bound.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"
#include "text_search.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6
// (hex, as the kernel prints them: 0100007F is 127.0.0.1).
std::vector<std::string> listening_addresses(std::uint16_t port) {
  std::vector<std::string> out;
  const std::string wanted = fmt::format(":{:04X}", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.size() > 5 && local.substr(local.size() - 5) == wanted) {
        out.push_back(local.substr(0, local.size() - 5));
      }
    }
  }
  return out;
}

// curl's view of an admin request: status, headers and body together.
ToolResult curl_admin(std::uint16_t port, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-sS", "-i", "--max-time", "30"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(local_url(port, "/stats"));
  return run_tool("curl", args, {}, 60s);
}

// A file in a fresh private folder, removed with it.
struct TempFolder {
  TempFolder() : path(fs::temp_directory_path() / fmt::format("connsched-sec-{}", ::getpid())) {
    fs::create_directories(path);
    ::chmod(path.c_str(), 0700);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// VmHWM (peak resident set) of a process, in KiB ("VmHWM:\t   12345 kB"); -1 if absent.
long long peak_rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

}  // namespace

TEST_CASE("the server and its admin port listen on 127.0.0.1 unless told otherwise") {
  // ExampleServer gives no --bind-address or --admin-bind-address: the defaults.
  ExampleServer server("kv_server", "one-thread-per-connection");
  CHECK(listening_addresses(server.port()) == std::vector<std::string>{"0100007F"});
  CHECK(listening_addresses(server.admin_port()) == std::vector<std::string>{"0100007F"});
}

TEST_CASE(
    "--admin-token: a request without the token or with a wrong one gets 401 and "
    "WWW-Authenticate: Bearer; the right one gets through") {
  ExampleServer server("kv_server", "one-thread-per-connection", {"--admin-token=s3cret-token"});
  auto none = curl_admin(server.admin_port(), {});
  CHECK(none.output.find("HTTP/1.1 401 Unauthorized") != std::string::npos);
  CHECK(none.output.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
  CHECK(none.output.find("{\"error\": ") != std::string::npos);
  CHECK(none.output.find("\"connections_accepted\"") == std::string::npos);
  auto wrong = curl_admin(server.admin_port(), {"-H", "Authorization: Bearer s3cret-tokeN"});
  CHECK(wrong.output.find("HTTP/1.1 401 Unauthorized") != std::string::npos);
  CHECK(wrong.output.find("invalid_token") != std::string::npos);
  auto prefix = curl_admin(server.admin_port(), {"-H", "Authorization: Bearer s3cret"});
  CHECK(prefix.output.find("HTTP/1.1 401") != std::string::npos);
  auto right = curl_admin(server.admin_port(), {"-H", "Authorization: Bearer s3cret-token"});
  CHECK(right.output.find("HTTP/1.1 200 OK") != std::string::npos);
  CHECK(right.output.find("\"connections_accepted\"") != std::string::npos);
  // Unknown paths and /shutdown are refused the same way without the token.
  CHECK(admin_request(server.admin_port(), "POST", "/shutdown").status == 401);
  CHECK(admin_request(server.admin_port(), "GET", "/nowhere").status == 401);
  CHECK(served(server.port(), Dialect::kKv, scaled(10s)));               // still running
  CHECK(server.process().output().find("s3cret") == std::string::npos);  // never logged
}

TEST_CASE(
    "--admin-token-file reads the token from a file only its owner may read, and refuses "
    "others") {
  TempFolder folder;
  auto file = folder.path / "admin.token";
  std::ofstream(file) << "from-a-file\n";
  ::chmod(file.c_str(), 0600);
  {
    ExampleServer server("kv_server", "no-threads", {"--admin-token-file=" + file.string()});
    CHECK(admin_request(server.admin_port(), "GET", "/stats").status == 401);
    CHECK(admin_request(server.admin_port(), "GET", "/stats", "from-a-file").status == 200);
  }
  const auto refused = [](std::vector<std::string> args, const std::string& message) {
    args.insert(args.begin(), {"--port=0", "--admin-port=0"});
    auto [status, output] = ServerProcess::run(bin_dir() + "/kv_server", args);
    CAPTURE(output);
    CHECK(status == 2);
    CHECK(output.find(message) != std::string::npos);
  };
  for (mode_t mode : {0644, 0640, 0604, 0602}) {
    CAPTURE(mode);
    ::chmod(file.c_str(), mode);
    refused({"--admin-token-file=" + file.string()},
            "refusing a token file its group or any user may read or write");
  }
  ::chmod(file.c_str(), 0600);
  refused({"--admin-token=x", "--admin-token-file=" + file.string()}, "give one, not both");
  refused({"--admin-token-file=" + folder.path.string()}, "not a regular file");
  auto empty = folder.path / "empty.token";
  std::ofstream(empty) << "\n";
  ::chmod(empty.c_str(), 0600);
  refused({"--admin-token-file=" + empty.string()}, "empty: an empty token would leave");
}

TEST_CASE("an empty or unusable --admin-token stops the start instead of opening the admin port") {
  for (const std::string token : {"", "two words", "tab\tinside"}) {
    CAPTURE(token);
    auto [status, output] = ServerProcess::run(
        bin_dir() + "/kv_server", {"--port=0", "--admin-port=0", "--admin-token=" + token});
    CAPTURE(output);
    CHECK(status == 2);
    CHECK(output.find("--admin-token: ") != std::string::npos);
  }
  auto [status, output] = ServerProcess::run(bin_dir() + "/kv_server",
                                             {"--port=0", "--admin-port=0", "--admin-token-file="});
  CHECK(status == 2);
  CHECK(output.find("--admin-token-file") != std::string::npos);  // CLI11 or core refuses it
}

TEST_CASE("a scheduler in a folder any user may write is refused; one in a sticky folder is not") {
  TempFolder folder;
  auto copy = folder.path / "copied.so";
  fs::copy_file(plugin_dir() + "/no-threads.so", copy);
  ::chmod(copy.c_str(), 0755);
  ::chmod(folder.path.c_str(), 0777);
  auto [status, output] = ServerProcess::run(bin_dir() + "/kv_server",
                                             {"--port=0", "--thread-handling=" + copy.string()});
  CHECK(status == 2);
  CHECK(output.find("refusing a scheduler in a folder any user may write") != std::string::npos);
  ::chmod(folder.path.c_str(), 01777);  // sticky, like /tmp: others cannot replace it
  ServerProcess sticky(bin_dir() + "/kv_server",
                       {"--port=0", "--thread-handling=" + copy.string()});
  CHECK(sticky.wait_listening(scaled(10s)));
  ::chmod(folder.path.c_str(), 0700);
}

namespace {
// One refusal line (exit 2) from kv_server for --thread-handling=<file>.
void expect_refused(const fs::path& file, const std::string& message) {
  auto [status, output] = ServerProcess::run(bin_dir() + "/kv_server",
                                             {"--port=0", "--thread-handling=" + file.string()});
  CAPTURE(output);
  CHECK(status == 2);
  CHECK(output.find(message) != std::string::npos);
  std::size_t lines = 0;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) lines += line.empty() ? 0 : 1;
  CHECK(lines == 1);
}
}  // namespace

TEST_CASE(
    "a truncated copy of pool-of-threads.so stops the start with one line and exit 2, not "
    "SIGBUS") {
  TempFolder folder;
  const auto size = fs::file_size(plugin_dir() + "/pool-of-threads.so");
  for (std::uintmax_t cut :
       {std::uintmax_t{1000}, std::uintmax_t{20000}, std::uintmax_t{48092}, size - 1}) {
    CAPTURE(cut);
    auto copy = folder.path / fmt::format("cut-{}.so", cut);
    fs::copy_file(plugin_dir() + "/pool-of-threads.so", copy);
    fs::resize_file(copy, cut);
    expect_refused(copy, "truncated or corrupt ELF file: ");
  }
}

TEST_CASE(
    "a scheduler under a world-writable grandparent, or group-writable in a group-writable "
    "folder, is refused") {
  TempFolder folder;
  auto grandparent = folder.path / "shared";
  auto parent = grandparent / "plugins";
  fs::create_directories(parent);
  ::chmod(parent.c_str(), 0755);
  auto copy = parent / "copied.so";
  fs::copy_file(plugin_dir() + "/no-threads.so", copy);
  ::chmod(copy.c_str(), 0755);
  ::chmod(grandparent.c_str(), 0777);  // another user could rename plugins/ and make their own
  expect_refused(copy, "refusing a scheduler in a folder any user may write (" +
                           grandparent.string() + ", mode 777)");
  ::chmod(grandparent.c_str(), 0755);
  ::chmod(parent.c_str(), 0775);
  ::chmod(copy.c_str(), 0775);
  expect_refused(copy, "refusing a scheduler that its group may write (mode 775)");
  ::chmod(copy.c_str(), 0755);
  expect_refused(copy, "refusing a scheduler in a folder its group may write (" + parent.string() +
                           ", mode 775)");
  ::chmod(parent.c_str(), 0755);
  ServerProcess fine(bin_dir() + "/kv_server", {"--port=0", "--thread-handling=" + copy.string()});
  CHECK(fine.wait_listening(scaled(10s)));
}

TEST_CASE(
    "a reply is bounded by --max-reply-size: MGET or EXEC naming one large value many times "
    "gets an error, not gigabytes") {
  ExampleServer server("kv_server", "one-thread-per-connection", {"--max-reply-size=4194304"});
  TestClient client(server.port());
  const std::string value(512 * 1024, 'm');
  REQUIRE(
      client.send(fmt::format("*3\r\n$3\r\nSET\r\n$1\r\nm\r\n${}\r\n{}\r\n", value.size(), value)));
  REQUIRE(read_resp(client));
  std::string mget = "MGET";
  for (int i = 0; i < 20000; ++i) mget += " m";  // 10 GB if built; 40 KB of request
  auto refused = kv_command(client, mget, scaled(10s));
  REQUIRE(refused);
  CHECK(refused->type == '-');
  CHECK(refused->text == "ERR reply larger than 4194304 bytes (max_reply_size)");
  auto small = kv_command(client, "MGET m m m", scaled(10s));  // 1.5 MiB: fine
  REQUIRE(small);
  CHECK(small->items.size() == 3);
  // EXEC runs every queued command (a transaction is all or nothing): the GETs that fit
  // are answered, each one past the bound becomes an error element, and the write queued
  // after them still happens.
  REQUIRE(kv_command(client, "MULTI"));
  for (int i = 0; i < 20; ++i) REQUIRE(kv_command(client, "GET m"));
  REQUIRE(kv_command(client, "SET after-the-big-reads yes"));
  auto exec = kv_command(client, "EXEC", scaled(10s));
  REQUIRE(exec);
  REQUIRE(exec->type == '*');
  REQUIRE(exec->items.size() == 21);
  std::size_t answered = 0, refused_elements = 0;
  for (std::size_t i = 0; i < 20; ++i) {
    const auto& item = exec->items[i];
    if (item.type == '-' && item.text == "ERR reply larger than 4194304 bytes (max_reply_size)") {
      ++refused_elements;
    } else if (item.type == '$' && item.text == value) {
      ++answered;
    }
  }
  CHECK(answered == 7);  // 7 x 512 KiB fit in 4 MiB; the 8th would not
  CHECK(refused_elements == 13);
  CHECK(exec->items[20].text == "OK");
  auto after = kv_command(client, "GET after-the-big-reads");
  REQUIRE(after);
  CHECK(after->text == "yes");
  auto ping = kv_command(client, "PING");  // the connection carries on
  REQUIRE(ping);
  CHECK(ping->text == "PONG");
}

TEST_CASE(
    "a client that pipelines 200,000 GETs and reads nothing costs a bounded output buffer, then "
    "its connection") {
  ExampleServer server("kv_server", "pool-of-threads", {"--net-write-timeout=2"});
  TestClient client(server.port(), scaled(20s));
  REQUIRE(kv_command(client, fmt::format("SET k {}", std::string(1000, 'k'))));
  const long long before = peak_rss_kib(server.process().pid());
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += "GET k\r\n";
  // 200 MB of replies if the server buffered them; the sends stop when it stops reading.
  for (int i = 0; i < 200; ++i) {
    if (!client.send(batch)) break;
  }
  CHECK(RunningServer::eventually(
      [&] { return stats_counter(server.admin_port(), "write_timeouts") >= 1; }, scaled(30s)));
  const long long after = peak_rss_kib(server.process().pid());
  MESSAGE(fmt::format("server peak RSS {} KiB before, {} KiB after the unread pipeline", before,
                      after));
  REQUIRE(before > 0);
  // 64 MiB, doubled under the sanitizers (ASan's quarantine keeps freed buffers resident;
  // the asan test preset caps it at 64 MiB, quarantine_size_mb, so that it cannot reach
  // its default 256 MiB when several servers' threads free buffers at once).
  CHECK(after - before < (slowdown() > 1 ? 128 : 64) * 1024);
  CHECK(served(server.port(), Dialect::kKv, scaled(10s)));
}
