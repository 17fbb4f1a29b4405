// File: test/core/plugin_refusals_test.cc
//
// The loader's refusals that had code but no test, each on a real file built or laid out
// to be wrong (test/fixture_backends/): a folder, an ELF file dlopen will not take, a folder that
// cannot be checked, bad option declarations, NULL init or end, wait_begin without
// wait_end. And the members core promises to call on a real .so (init_new_connection_
// thread, end_thread), and the built-ins every "each backend" loop relies on.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "backends.h"
#include "connsched/server.h"
#include "core/src/plugin_loader.h"
#include "running_server.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
std::string broken(const std::string& stem) {
  return broken_plugin_dir() + "/" + stem + ".so";
}

// The one line the loader refuses `path` with (the test fails if it loads).
std::string refusal(const std::string& path) {
  try {
    load_scheduler(path, plugin_dir());
  } catch (const StartupError& e) {
    std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("loaded a backend that should have been refused: " << path);
  return {};
}
}  // namespace

TEST_CASE(
    "the three built-in backends are in the plugin folder, so no 'every backend' loop shrinks") {
  const auto names = builtin_backends();
  for (const char* name : {"no-threads", "one-thread-per-connection", "pool-of-threads"}) {
    CAPTURE(name);
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
  }
}

TEST_CASE("a folder named like a backend is refused as not a regular file") {
  CHECK(refusal(broken("a_folder")) == broken("a_folder") + ": not a regular file");
}

TEST_CASE("an ELF executable is refused by its type; a PIE, typed as a shared object, by dlopen") {
  CHECK(refusal(broken("executable")).find(broken("executable") + ": not a shared object") == 0);
  const std::string message = refusal(broken("pie_executable"));
  CHECK(message.find(broken("pie_executable") + ": cannot load: ") == 0);
}

TEST_CASE("a backend in a folder the server may not search is refused with one line, not a crash") {
  // Run as an unprivileged user (root passes every permission check): a forked child
  // drops to nobody when the test runs as root, and reports the refusal by exit status.
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / ("connsched-unsearchable-" + std::to_string(::getpid()));
  fs::create_directories(dir / "inner");
  fs::copy_file(plugin_dir() + "/no-threads.so", dir / "inner" / "b.so");
  ::chmod(dir.c_str(), 0700);
  const std::string path = (dir / "inner" / "b.so").string();
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(3);
    if (::geteuid() != 0) ::chmod(dir.c_str(), 0);  // not root: make it unsearchable for us
    try {
      load_scheduler(path, plugin_dir());
    } catch (const StartupError& e) {
      const std::string message = e.what();
      std::_Exit(message.find(path + ": cannot check it: ") == 0 ? 0 : 4);
    } catch (...) {
      std::_Exit(5);  // the loader let another kind of exception out
    }
    std::_Exit(6);  // loaded what it could not check
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ::chmod(dir.c_str(), 0700);
  fs::remove_all(dir);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE(
    "option declarations are checked: a type that does not exist, an enum without choices, no "
    "name") {
  CHECK(refusal(broken("option_type")).find("option 'broken_level' has unknown type 42") !=
        std::string::npos);
  CHECK(refusal(broken("option_choices")).find("enum option 'broken_mode' lists no choices") !=
        std::string::npos);
  CHECK(refusal(broken("option_empty_name")).find("an option has an empty name") !=
        std::string::npos);
}

TEST_CASE("a descriptor without init or without end is refused, naming the member") {
  CHECK(refusal(broken("null_init")) == broken("null_init") + ": required member 'init' is NULL");
  CHECK(refusal(broken("null_end")) == broken("null_end") + ": required member 'end' is NULL");
}

TEST_CASE("a real .so with wait_begin but no wait_end is refused") {
  CHECK(refusal(broken("wait_begin_only")) ==
        broken("wait_begin_only") + ": wait_begin and wait_end must both be set or both be NULL");
}

TEST_CASE("core calls init_new_connection_thread and end_thread on the threads that serve") {
  RunningServer server(test_options(c_backend_path()));
  for (int i = 0; i < 5; ++i) {
    TestClient client(server.port());
    CHECK(client.request("echo hi") == "hi");
  }
  // The C backend gives each connection a new thread: one init and one end per connection.
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("thread_ends_total") == 5; }));
  CHECK(server.server().backend_stats().counter("thread_inits_total") == 5);
}
