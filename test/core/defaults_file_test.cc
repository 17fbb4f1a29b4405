// File: test/core/defaults_file_test.cc
//
// --defaults-file as an operator meets it in a server process: settings from [connsched]
// and from the server's own section (which wins), the command line winning over both,
// other programs' sections skipped; and every refusal (unknown key, bad value, duplicate
// key, a key outside any section, a missing or unreadable file) one line naming the
// file, the line and why, with exit status 2.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::string echo_server() {
  return bin_dir() + "/echo_server";
}

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir.path / name).string();
  std::ofstream(path) << text;
  return path;
}

std::vector<std::string> lines(const std::string& output) {
  std::vector<std::string> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The one refusal line, without its prefix: exit status 2 and exactly one line.
std::string refusal(const std::vector<std::string>& args, const std::string& program = {}) {
  auto [status, output] = ServerProcess::run(program.empty() ? echo_server() : program, args);
  CAPTURE(output);
  CHECK(status == 2);
  auto printed = lines(output);
  REQUIRE(printed.size() == 1);
  const std::string marker = "[error] ";
  const auto at = printed[0].find(marker);
  REQUIRE(at != std::string::npos);
  return printed[0].substr(at + marker.size());
}

std::string refusal_of(const std::string& file) {
  return refusal({"--plugin-dir=" + plugin_dir(), "--port=0", "--defaults-file=" + file});
}

// GET /stats on the admin port, as raw HTTP/1.0.
std::string admin_stats(std::uint16_t admin_port) {
  TestClient admin(admin_port);
  REQUIRE(admin.send("GET /stats HTTP/1.0\r\n\r\n"));
  return admin.read_all(10s);
}

// Starts echo_server with `args`, reads its admin port and /stats, stops it.
std::string stats_of_server(const std::vector<std::string>& args, std::string* log = nullptr) {
  ServerProcess server(echo_server(), args);
  REQUIRE(server.wait_listening());
  std::uint16_t admin_port = 0;
  for (int i = 0; i < 500 && admin_port == 0; ++i) {
    const std::string& out = server.output();
    const std::string marker = "admin port listening on 127.0.0.1:";
    if (auto at = out.find(marker); at != std::string::npos) {
      admin_port = static_cast<std::uint16_t>(std::stoi(out.substr(at + marker.size())));
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  REQUIRE(admin_port != 0);
  std::string stats = admin_stats(admin_port);
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  if (log != nullptr) *log = server.output();
  return stats;
}

}  // namespace

TEST_CASE(
    "a defaults file sets core's and the backend's options: [connsched] for every server, "
    "the server's own section wins, other sections are skipped, the command line wins") {
  TempDir dir;
  const std::string file = write_file(dir, "connsched.cnf", R"(# one file for every server
[client]
port = 1
unknown_to_us = 1

[connsched]
thread_handling = one-thread-per-connection
thread-pool-size = 3
port = 1
admin_port = 0

[echo_server]
thread_handling = "pool-of-threads"
thread_pool_size = 2
max_connections = 7

[kv_server]
no_such_option = 1
)");
  std::string log;
  // --port on the command line wins over the file's port 1 (which could not be bound).
  std::string stats = stats_of_server(
      {"--plugin-dir=" + plugin_dir(), "--defaults-file=" + file, "--port=0"}, &log);
  CHECK(log.find("with thread handling 'pool-of-threads'") != std::string::npos);
  CHECK(stats.find("\"threadpool_groups\": 2") != std::string::npos);
  // The command line wins over the file for a backend's option too.
  stats = stats_of_server({"--plugin-dir=" + plugin_dir(), "--defaults-file=" + file, "--port=0",
                           "--thread-pool-size=4"});
  CHECK(stats.find("\"threadpool_groups\": 4") != std::string::npos);
}

TEST_CASE(
    "a defaults file's unknown key is refused with the file, the line and the nearest "
    "known name") {
  TempDir dir;
  const std::string file =
      write_file(dir, "typo.cnf", "[connsched]\nmax_connections = 10\nmax-conections = 5\n");
  const std::string why = refusal_of(file);
  CHECK(why.find(file + ":3: ") == 0);
  CHECK(why.find("unknown option --max-conections") != std::string::npos);
  CHECK(why.find("did you mean --max-connections?") != std::string::npos);
  // A backend's option the chosen backend does not take: named as such.
  const std::string other = write_file(
      dir, "other.cnf", "[echo_server]\nthread_handling = no-threads\nthread_pool_size = 2\n");
  const std::string why_other = refusal_of(other);
  CHECK(why_other.find(other + ":3: backend 'no-threads' does not take --thread-pool-size") == 0);
}

TEST_CASE("a defaults file's bad values are refused with the file, the line and the reason") {
  TempDir dir;
  const std::string core = write_file(dir, "core.cnf", "[connsched]\n\nwait_timeout = soon\n");
  std::string why = refusal_of(core);
  CHECK(why.find(core + ":3: ") == 0);
  CHECK(why.find("'soon' is not an integer") != std::string::npos);
  const std::string range = write_file(dir, "range.cnf", "[echo_server]\nmax_connections = 0\n");
  why = refusal_of(range);
  CHECK(why.find(range + ":2: ") == 0);
  CHECK(why.find("0 is out of range [1, 1000000]") != std::string::npos);
  const std::string backend = write_file(
      dir, "backend.cnf", "[connsched]\nthread_handling = pool-of-threads\nthread_pool_size = x\n");
  why = refusal_of(backend);
  CHECK(why.find(backend + ":3: --thread-pool-size: 'x' is not an integer") == 0);
  const std::string level = write_file(dir, "level.cnf", "[connsched]\nlog_level = loud\n");
  why = refusal_of(level);
  CHECK(why.find(level + ":2: ") == 0);
  CHECK(why.find("loud") != std::string::npos);
}

TEST_CASE("a defaults file with a key given twice in one section is refused") {
  TempDir dir;
  const std::string file = write_file(
      dir, "twice.cnf", "[connsched]\nport = 0\nmax_connections = 5\nmax-connections = 6\n");
  const std::string why = refusal_of(file);
  CHECK(why.find(file + ":4: 'max-connections' is given again in [connsched] (first at line 3)") ==
        0);
  // The same key in [connsched] and the server's section is not a duplicate: the server's wins.
  const std::string both = write_file(
      dir, "both.cnf", "[connsched]\nmax_connections = 5\n[echo_server]\nmax_connections = 6\n");
  auto [status, output] = ServerProcess::run(
      echo_server(), {"--plugin-dir=" + plugin_dir(), "--defaults-file=" + both, "--help"});
  CHECK(status == 0);
}

TEST_CASE(
    "a defaults file's key outside any section, or a --defaults-file inside one, is refused") {
  TempDir dir;
  const std::string file = write_file(dir, "bare.cnf", "port = 0\n[connsched]\n");
  std::string why = refusal_of(file);
  CHECK(why.find(file + ":1: 'port' is outside any section; put it under [connsched] (every "
                        "server) or [echo_server]") == 0);
  const std::string nested =
      write_file(dir, "nested.cnf", "[connsched]\ndefaults-file = /etc/other.cnf\n");
  why = refusal_of(nested);
  CHECK(why.find(nested + ":2: --defaults-file cannot be given in a defaults file") == 0);
}

TEST_CASE("a defaults file that is missing, a folder or unreadable: one line, exit 2") {
  TempDir dir;
  const std::string missing = (dir.path / "absent.cnf").string();
  CHECK(refusal_of(missing) == "--defaults-file: " + missing + ": No such file or directory");
  CHECK(refusal_of(dir.path.string()) ==
        "--defaults-file: " + dir.path.string() + ": not a regular file");
  // Unreadable: as a user who may not read it (the tests may run as root, who may).
  const std::string secret = write_file(dir, "secret.cnf", "[connsched]\nport = 0\n");
  ::chmod(secret.c_str(), 0);
  ::chmod(dir.path.c_str(), 0755);
  if (::geteuid() == 0) {
    const std::string why = refusal({"--reuid=65534", "--regid=65534", "--clear-groups",
                                     echo_server(), "--defaults-file=" + secret},
                                    "/usr/bin/setpriv");
    CHECK(why == "--defaults-file: " + secret + ": Permission denied");
  } else {
    CHECK(refusal_of(secret) == "--defaults-file: " + secret + ": Permission denied");
  }
}

namespace {

// Waits until the server's log holds `text` (the signal thread logs after the fact).
bool logged(ServerProcess& server, const std::string& text) {
  return RunningServer::eventually([&] { return server.output().find(text) != std::string::npos; },
                                   10s);
}

// Every client's echo of a fresh line comes back: none was dropped or left unserved.
void each_echoes(std::vector<TestClient>& clients, const std::string& round) {
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const std::string line = fmt::format("{} {}", round, i);
    CHECK(clients[i].request(line) == line);
  }
}

}  // namespace

TEST_CASE(
    "SIGHUP takes a defaults file's new thread_handling live, with the file's options for it, "
    "and every open connection stays served") {
  TempDir dir;
  const std::string file =
      write_file(dir, "live.cnf", "[echo_server]\nthread_handling = one-thread-per-connection\n");
  ServerProcess server(echo_server(), {"--plugin-dir=" + plugin_dir(), "--port=0", "--admin-port=0",
                                       "--defaults-file=" + file});
  auto port = server.wait_listening();
  REQUIRE(port);
  std::vector<TestClient> clients;
  for (int i = 0; i < 3; ++i) clients.emplace_back(*port);
  each_echoes(clients, "before");
  CHECK(logged(server, "with thread handling 'one-thread-per-connection'"));

  write_file(dir, "live.cnf",
             "[echo_server]\nthread_handling = pool-of-threads\nthread_pool_size = 3\n");
  server.signal(SIGHUP);
  CHECK(logged(server, "SIGHUP: " + file +
                           ":2: thread_handling = pool-of-threads: switching from "
                           "'one-thread-per-connection'"));
  CHECK(logged(server, "switched from 'one-thread-per-connection' to 'pool-of-threads': 3 of 3"));
  each_echoes(clients, "after");
  TestClient late(*port);
  CHECK(late.request("late") == "late");

  // The file's options reached the new backend: three groups.
  const std::string marker = "admin port listening on 127.0.0.1:";
  const std::string out = server.output();
  REQUIRE(out.find(marker) != std::string::npos);
  const auto admin_port =
      static_cast<std::uint16_t>(std::stoi(out.substr(out.find(marker) + marker.size())));
  const std::string stats = admin_stats(admin_port);
  CHECK(stats.find("\"threadpool_groups\": 3") != std::string::npos);

  SUBCASE("a file that names a backend that does not load changes nothing") {
    write_file(dir, "live.cnf", "[echo_server]\nthread_handling = no-such-backend\n");
    server.signal(SIGHUP);
    CHECK(logged(server, "SIGHUP: " + file + ":2: "));
    CHECK(logged(server, "still serving with thread_handling 'pool-of-threads'"));
  }
  SUBCASE("an option the named backend does not take is refused with its line") {
    write_file(dir, "live.cnf",
               "[echo_server]\nthread_handling = one-thread-per-connection\n"
               "thread_pool_size = 2\n");
    server.signal(SIGHUP);
    CHECK(logged(server, "SIGHUP: " + file +
                             ":3: backend 'one-thread-per-connection' does not take "
                             "--thread-pool-size"));
    CHECK(logged(server, "still serving with thread_handling 'pool-of-threads'"));
  }
  SUBCASE("a file that no longer reads changes nothing") {
    std::filesystem::remove(file);
    server.signal(SIGHUP);
    CHECK(logged(server, "SIGHUP: --defaults-file: " + file +
                             ": No such file or directory; nothing changed"));
  }
  SUBCASE("a file naming the backend that serves makes SIGHUP the backend's reload") {
    write_file(dir, "live.cnf", "[echo_server]\nthread_handling = pool-of-threads\n");
    server.signal(SIGHUP);
    CHECK(logged(server, "SIGHUP ignored (the backend has nothing to reload)"));
  }
  each_echoes(clients, "still");
  CHECK(server.output().find("switched from 'pool-of-threads'") == std::string::npos);
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}

TEST_CASE("SIGHUP leaves thread_handling alone when the command line gives it, as at start-up") {
  TempDir dir;
  const std::string file =
      write_file(dir, "pinned.cnf", "[echo_server]\nthread_handling = one-thread-per-connection\n");
  ServerProcess server(echo_server(),
                       {"--plugin-dir=" + plugin_dir(), "--port=0", "--defaults-file=" + file,
                        "--thread-handling=pool-of-threads"});
  auto port = server.wait_listening();
  REQUIRE(port);
  TestClient client(*port);
  CHECK(client.request("one") == "one");
  server.signal(SIGHUP);
  CHECK(logged(server, "SIGHUP: " + file +
                           ":2: thread_handling is also given on the command line, which wins; "
                           "not switching"));
  CHECK(logged(server, "SIGHUP ignored (the backend has nothing to reload)"));
  CHECK(client.request("two") == "two");
  CHECK(server.output().find("switching from") == std::string::npos);
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}
