// File: test/unit/plugin_loader_test.cc
//
// The loader refuses every kind of bad backend with one line naming the file and the
// reason, on real .so files built to be wrong (test/plugins/broken_scheduler.c).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "core/src/plugin_loader.h"
#include "connsched/server.h"
#include "running_server.h"

using namespace connsched;
using connsched::testing::broken_plugin_dir;
using connsched::testing::plugin_dir;

namespace {
std::string broken(const std::string& stem) {
  return broken_plugin_dir() + "/" + stem + ".so";
}

std::string refusal(const std::string& name_or_path, const std::string& dir = plugin_dir()) {
  try {
    load_scheduler(name_or_path, dir);
  } catch (const StartupError& e) {
    std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);  // one line
    return message;
  }
  FAIL("loaded a backend that should have been refused: " << name_or_path);
  return {};
}
}  // namespace

TEST_CASE("built-in backends load by name from the plugin folder") {
  for (const char* name : {"no-threads", "one-thread-per-connection"}) {
    LoadedScheduler loaded = load_scheduler(name, plugin_dir());
    CHECK(std::string(loaded.table.name) == name);
    CHECK((loaded.table.init != nullptr));
    CHECK(loaded.path == plugin_dir() + "/" + name + ".so");
  }
}

TEST_CASE("the default plugin folder is found next to the executable, without environment") {
  CHECK(std::filesystem::equivalent(default_plugin_dir(), plugin_dir()));
}

TEST_CASE("an unknown name is refused with the list of available backends") {
  std::string why = refusal("pool-of-nothing");
  CHECK(why.find("unknown scheduler backend 'pool-of-nothing'") != std::string::npos);
  CHECK(why.find("available: ") != std::string::npos);
  CHECK(why.find("no-threads") != std::string::npos);
  CHECK(why.find("one-thread-per-connection") != std::string::npos);
}

TEST_CASE("a name cannot escape the plugin folder: paths need a slash") {
  CHECK(refusal("..").find("is not a backend name") != std::string::npos);
  CHECK(refusal("").find("empty backend name") != std::string::npos);
}

TEST_CASE("a missing path is refused") {
  CHECK(refusal("/nonexistent/dir/x.so") == "/nonexistent/dir/x.so: no such file");
}

TEST_CASE("a file that is not a shared object is refused") {
  CHECK(refusal(broken("not_elf")) == broken("not_elf") + ": not a shared object (no ELF header)");
}

TEST_CASE("a shared object without the entry symbol is refused") {
  CHECK(refusal(broken("no_entry")).find("entry symbol 'connsched_scheduler_entry' not found") !=
        std::string::npos);
}

TEST_CASE("an entry function that returns NULL is refused") {
  CHECK(refusal(broken("null_entry")) ==
        broken("null_entry") + ": the entry function returned NULL");
}

TEST_CASE("a descriptor with a bad magic is refused") {
  CHECK(refusal(broken("bad_magic")).find("bad magic 0x12345678") != std::string::npos);
}

TEST_CASE("a descriptor built for another ABI major is refused") {
  CHECK(
      refusal(broken("abi_major")).find("built for scheduler ABI 2.0, this server speaks ABI 1.") !=
      std::string::npos);
}

TEST_CASE("a descriptor smaller than ABI 1.0's is refused") {
  CHECK(refusal(broken("too_small")).find("descriptor is 24 bytes, smaller than") !=
        std::string::npos);
}

TEST_CASE("a descriptor with a required member NULL is refused, naming the member") {
  CHECK(refusal(broken("null_member")) ==
        broken("null_member") + ": required member 'add_connection' is NULL");
}

TEST_CASE("a descriptor with an empty name is refused") {
  CHECK(refusal(broken("empty_name")) == broken("empty_name") + ": the backend's name is empty");
}

TEST_CASE("a backend file that any user may write is refused") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("connsched-loader-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path copy = dir / "writable.so";
  fs::copy_file(plugin_dir() + "/no-threads.so", copy, fs::copy_options::overwrite_existing);
  ::chmod(copy.c_str(), 0666);
  CHECK(refusal(copy.string()).find("refusing a scheduler that any user may write") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("validation accepts an older minor's smaller table and reads missing members as NULL") {
  connsched_scheduler table{};
  table.magic = CONNSCHED_ABI_MAGIC;
  table.abi_major = CONNSCHED_ABI_MAJOR;
  table.abi_minor = 0;
  table.struct_size = sizeof table;
  table.name = "x";
  table.init = [](const connsched_services*, void**, char*, size_t) { return 0; };
  table.add_connection = [](void*, connsched_conn*) { return 0; };
  table.end = [](void*) {};
  CHECK(validate_descriptor(&table).empty());
  table.wait_begin = [](void*, connsched_conn*, int) {};
  CHECK(validate_descriptor(&table) == "wait_begin and wait_end must both be set or both be NULL");
}
