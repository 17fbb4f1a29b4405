// File: test/core/plugin_loader_test.cc
//
// The loader refuses every kind of bad backend with one line naming the file and the
// reason, on real .so files built to be wrong (test/fixture_backends/broken_scheduler.c), on
// copies of real backends cut short or with a header pointing past the end, and on
// copies that another user could replace (the file, a folder up to /, a link).
#include <doctest/doctest.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

#include "connsched/server.h"
#include "core/src/plugin_loader.h"
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

namespace {
namespace fs = std::filesystem;

// A private folder under /tmp (root's, sticky) for copies of real backends; removed with
// its contents, whatever modes a test left.
struct Scratch {
  Scratch()
      : path(fs::temp_directory_path() /
             ("connsched-loader-checks-" + std::to_string(::getpid()))) {
    fs::create_directories(path);
    ::chmod(path.c_str(), 0700);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  // A copy of a built backend at `relative` (folders made 0755), mode 0755.
  fs::path copy(const std::string& backend, const fs::path& relative) const {
    fs::path to = path / relative;
    fs::create_directories(to.parent_path());
    for (fs::path p = to.parent_path(); p != path; p = p.parent_path()) ::chmod(p.c_str(), 0755);
    fs::copy_file(plugin_dir() + "/" + backend + ".so", to, fs::copy_options::overwrite_existing);
    ::chmod(to.c_str(), 0755);
    return to;
  }
  fs::path path;
};

// Overwrites bytes of a file at an offset (to corrupt one header field of a copy).
void patch(const fs::path& file, std::uint64_t offset, const void* bytes, std::size_t size) {
  FILE* f = std::fopen(file.c_str(), "r+b");
  REQUIRE(f != nullptr);
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  std::fwrite(bytes, 1, size, f);
  std::fclose(f);
}
}  // namespace

TEST_CASE(
    "a copy of pool-of-threads.so cut short is refused with one line at every size, never "
    "mapped (dlopen of such a copy dies of SIGBUS)") {
  Scratch scratch;
  fs::path whole = scratch.copy("pool-of-threads", "whole.so");
  const auto size = static_cast<std::uint64_t>(fs::file_size(whole));
  REQUIRE(size > 50000);
  for (std::uint64_t cut :
       {std::uint64_t{0}, std::uint64_t{3}, std::uint64_t{63}, std::uint64_t{64},
        std::uint64_t{1000}, std::uint64_t{4096}, std::uint64_t{20000}, std::uint64_t{48092},
        size / 2, size - 100, size - 1}) {
    CAPTURE(cut);
    fs::path part = scratch.copy("pool-of-threads", fmt::format("cut-{}.so", cut));
    fs::resize_file(part, cut);
    std::string why = refusal(part.string());
    if (cut < 4) {
      CHECK(why == part.string() + ": not a shared object (no ELF header)");
    } else {
      CHECK(why.find(part.string() + ": truncated or corrupt ELF file: ") == 0);
      CHECK(why.find(fmt::format("(the file has {} bytes)", cut)) != std::string::npos);
    }
  }
  // The whole copy, in the same folder, loads.
  LoadedScheduler loaded = load_scheduler(whole.string(), plugin_dir());
  CHECK(std::string(loaded.table.name) == "pool-of-threads");
  CHECK(loaded.path == whole.string());
}

TEST_CASE("program headers or a segment pointing past the end of the file are refused") {
  Scratch scratch;
  using Ehdr = ElfW(Ehdr);
  using Phdr = ElfW(Phdr);
  {
    fs::path file = scratch.copy("no-threads", "phoff.so");
    const ElfW(Off) far = 1ULL << 40;
    patch(file, offsetof(Ehdr, e_phoff), &far, sizeof far);
    CHECK(refusal(file.string())
              .find("the program header table at byte 1099511627776 ends past "
                    "the end of the file") != std::string::npos);
  }
  {
    fs::path file = scratch.copy("no-threads", "segment.so");
    Ehdr eh{};
    FILE* f = std::fopen(file.c_str(), "rb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fread(&eh, sizeof eh, 1, f) == 1);
    std::fclose(f);
    // The first LOAD segment's file size grows past the end (an overflow-sized one too).
    for (ElfW(Xword) filesz : {ElfW(Xword){1} << 30, ~ElfW(Xword){0}}) {
      CAPTURE(filesz);
      for (int i = 0; i < eh.e_phnum; ++i) {
        Phdr ph{};
        f = std::fopen(file.c_str(), "rb");
        std::fseek(f, static_cast<long>(eh.e_phoff + i * sizeof ph), SEEK_SET);
        REQUIRE(std::fread(&ph, sizeof ph, 1, f) == 1);
        std::fclose(f);
        if (ph.p_type != PT_LOAD) continue;
        patch(file, eh.e_phoff + i * sizeof ph + offsetof(Phdr, p_filesz), &filesz, sizeof filesz);
        std::string why = refusal(file.string());
        CHECK(why.find(fmt::format("segment {} (LOAD) ends at byte", i)) != std::string::npos);
        CHECK(why.find("past the end of the file") != std::string::npos);
        break;
      }
    }
  }
}

TEST_CASE("a backend its group may write is refused, as is one in a folder its group may write") {
  Scratch scratch;
  fs::path file = scratch.copy("no-threads", "g/group-writable.so");
  ::chmod(file.c_str(), 0775);
  CHECK(refusal(file.string()) ==
        file.string() + ": refusing a scheduler that its group may write (mode 775)");
  ::chmod(file.c_str(), 0755);
  ::chmod(file.parent_path().c_str(), 0775);
  CHECK(refusal(file.string()) == file.string() +
                                      ": refusing a scheduler in a folder its group may write (" +
                                      file.parent_path().string() + ", mode 775)");
  ::chmod(file.parent_path().c_str(), 0755);
  CHECK(std::string(load_scheduler(file.string(), plugin_dir()).table.name) == "no-threads");
}

TEST_CASE(
    "every folder up to / is checked: a writable grandparent is refused unless it is sticky") {
  Scratch scratch;
  fs::path file = scratch.copy("no-threads", "grand/parent/deep.so");
  fs::path grandparent = file.parent_path().parent_path();
  ::chmod(grandparent.c_str(), 0777);
  CHECK(refusal(file.string()) == file.string() +
                                      ": refusing a scheduler in a folder any user may write (" +
                                      grandparent.string() + ", mode 777)");
  ::chmod(grandparent.c_str(), 01777);  // sticky: nobody may rename another's folder
  CHECK(std::string(load_scheduler(file.string(), plugin_dir()).table.name) == "no-threads");
  ::chmod(grandparent.c_str(), 0755);
}

TEST_CASE("a link in a folder others may write is refused even when its target is safe") {
  Scratch scratch;
  fs::path target = scratch.copy("no-threads", "safe/real.so");
  fs::path open_folder = scratch.path / "open";
  fs::create_directories(open_folder);
  ::chmod(open_folder.c_str(), 0777);
  fs::create_symlink(target, open_folder / "link.so");
  CHECK(refusal((open_folder / "link.so").string())
            .find("refusing a scheduler in a folder any user may write (" + open_folder.string()) !=
        std::string::npos);
  ::chmod(open_folder.c_str(), 0755);
  CHECK(std::string(load_scheduler((open_folder / "link.so").string(), plugin_dir()).table.name) ==
        "no-threads");
}

TEST_CASE("a backend or a folder owned by another user than root or the server's is refused") {
  if (::geteuid() != 0) {
    MESSAGE("not root: cannot give a file to another user; skipped");
    return;
  }
  Scratch scratch;
  fs::path file = scratch.copy("no-threads", "owned/by-nobody.so");
  REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
  CHECK(refusal(file.string()) ==
        file.string() + ": refusing a scheduler owned by uid 65534 (only root may own it)");
  REQUIRE(::chown(file.c_str(), 0, 0) == 0);
  REQUIRE(::chown(file.parent_path().c_str(), 65534, 65534) == 0);
  CHECK(refusal(file.string()) == file.string() +
                                      ": refusing a scheduler in a folder owned by uid 65534 (" +
                                      file.parent_path().string() + "; only root may own it)");
  REQUIRE(::chown(file.parent_path().c_str(), 0, 0) == 0);
}
