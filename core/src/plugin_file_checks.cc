// File: core/src/plugin_file_checks.cc
#include "plugin_file_checks.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <vector>

namespace connsched {

namespace {

using Ehdr = ElfW(Ehdr);
using Phdr = ElfW(Phdr);
using Shdr = ElfW(Shdr);

constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kNativeData =
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

// Whole reads at an offset: a short read means the file is shorter than it claims.
bool read_at(int fd, void* out, std::size_t size, std::uint64_t offset) {
  auto* p = static_cast<char*>(out);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// [offset, offset + count * size) within `file_size`, without overflow on hostile values.
bool fits(std::uint64_t offset, std::uint64_t count, std::uint64_t size, std::uint64_t file_size) {
  if (size != 0 && count > UINT64_MAX / size) return false;
  std::uint64_t length = count * size;
  return offset <= file_size && length <= file_size - offset;
}

// Names of the program header types a reader of the message may look up in readelf -l.
std::string segment_type(std::uint32_t type) {
  switch (type) {
    case PT_LOAD:
      return "LOAD";
    case PT_DYNAMIC:
      return "DYNAMIC";
    case PT_INTERP:
      return "INTERP";
    case PT_NOTE:
      return "NOTE";
    case PT_PHDR:
      return "PHDR";
    case PT_TLS:
      return "TLS";
    case PT_GNU_EH_FRAME:
      return "GNU_EH_FRAME";
    case PT_GNU_RELRO:
      return "GNU_RELRO";
    case PT_GNU_PROPERTY:
      return "GNU_PROPERTY";
    default:
      return fmt::format("0x{:x}", type);
  }
}

// "uid 0" or "uid 1000", for owner messages.
std::string owner_rule(uid_t server_uid) {
  return server_uid == 0
             ? std::string("only root may own it")
             : fmt::format("only root or the server's user, uid {}, may own it", server_uid);
}

}  // namespace

// Everything the dynamic loader will read or map must be inside the file: glibc maps
// PT_LOAD segments by length from the program headers and touches them (relocations,
// the dynamic section), so a file cut short passes dlopen's own header check and then
// faults with SIGBUS. The section header table is at the very end of a linked object,
// so checking it also catches a cut in the bytes the loader never maps.
std::string check_elf_file(int fd, const struct stat& st) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  unsigned char ident[EI_NIDENT] = {};
  if (size < 4 || !read_at(fd, ident, 4, 0) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return "not a shared object (no ELF header)";
  }
  const auto corrupt = [&](const std::string& what) {
    return fmt::format("truncated or corrupt ELF file: {} (the file has {} bytes)", what, size);
  };
  Ehdr eh{};
  if (size < sizeof eh || !read_at(fd, &eh, sizeof eh, 0)) {
    return corrupt(fmt::format("shorter than its {}-byte ELF header", sizeof eh));
  }
  if (eh.e_ident[EI_CLASS] != kNativeClass) {
    return fmt::format("not a shared object for this server: ELF class {} (this server is {}-bit)",
                       eh.e_ident[EI_CLASS], sizeof(void*) * 8);
  }
  if (eh.e_ident[EI_DATA] != kNativeData) {
    return "not a shared object for this server: the other byte order";
  }
  if (eh.e_type != ET_DYN) {
    return fmt::format("not a shared object (ELF type {}, a shared object is {})", eh.e_type,
                       ET_DYN);
  }
  if (eh.e_phnum == 0 || eh.e_phentsize != sizeof(Phdr)) {
    return corrupt(fmt::format("{} program headers of {} bytes (expected {}-byte entries)",
                               eh.e_phnum, eh.e_phentsize, sizeof(Phdr)));
  }
  if (!fits(eh.e_phoff, eh.e_phnum, sizeof(Phdr), size)) {
    return corrupt(fmt::format("the program header table at byte {} ends past the end of the file",
                               eh.e_phoff));
  }
  std::vector<Phdr> headers(eh.e_phnum);
  if (!read_at(fd, headers.data(), headers.size() * sizeof(Phdr), eh.e_phoff)) {
    return corrupt("cannot read the program header table");
  }
  bool loadable = false;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const Phdr& ph = headers[i];
    if (ph.p_type == PT_NULL || ph.p_type == PT_GNU_STACK) continue;  // no bytes in the file
    if (!fits(ph.p_offset, 1, ph.p_filesz, size)) {
      return corrupt(fmt::format("segment {} ({}) ends at byte {}, past the end of the file", i,
                                 segment_type(ph.p_type),
                                 static_cast<unsigned long long>(ph.p_offset) + ph.p_filesz));
    }
    if (ph.p_type == PT_LOAD) {
      loadable = true;
      if (ph.p_filesz > ph.p_memsz) {
        return corrupt(
            fmt::format("segment {} (LOAD) has more bytes in the file than in memory", i));
      }
    }
  }
  if (!loadable) return corrupt("no loadable segment");
  if (eh.e_shoff != 0 &&
      (eh.e_shentsize != sizeof(Shdr) || !fits(eh.e_shoff, eh.e_shnum, sizeof(Shdr), size))) {
    return corrupt(fmt::format("the section header table at byte {} ends past the end of the file",
                               eh.e_shoff));
  }
  return {};
}

// sshd's StrictModes rule for a file: nobody but its owner may write it, and its owner
// is root or the user the server runs as.
std::string check_file_owner_and_mode(const struct stat& st, uid_t server_uid) {
  const unsigned mode = st.st_mode & 07777;
  if (st.st_mode & S_IWOTH) {
    return fmt::format("refusing a scheduler that any user may write (mode {:o})", mode);
  }
  if (st.st_mode & S_IWGRP) {
    return fmt::format("refusing a scheduler that its group may write (mode {:o})", mode);
  }
  if (st.st_uid != 0 && st.st_uid != server_uid) {
    return fmt::format("refusing a scheduler owned by uid {} ({})", st.st_uid,
                       owner_rule(server_uid));
  }
  return {};
}

// Every folder from the file's to `/`: a writable grandparent is as good as a writable
// parent to an attacker (rename the parent away, put a folder of one's own in its place).
std::string check_folder_chain(const std::string& folder, uid_t server_uid) {
  namespace fs = std::filesystem;
  fs::path at = fs::path(folder).lexically_normal();
  while (true) {
    struct stat st {};
    if (::stat(at.c_str(), &st) != 0) {
      return fmt::format("cannot check the folder {}: {}", at.string(), std::strerror(errno));
    }
    const unsigned mode = st.st_mode & 07777;
    const bool sticky = (st.st_mode & S_ISVTX) != 0;
    if ((st.st_mode & S_IWOTH) && !sticky) {
      return fmt::format("refusing a scheduler in a folder any user may write ({}, mode {:o})",
                         at.string(), mode);
    }
    if ((st.st_mode & S_IWGRP) && !sticky) {
      return fmt::format("refusing a scheduler in a folder its group may write ({}, mode {:o})",
                         at.string(), mode);
    }
    if (st.st_uid != 0 && st.st_uid != server_uid) {
      return fmt::format("refusing a scheduler in a folder owned by uid {} ({}; {})", st.st_uid,
                         at.string(), owner_rule(server_uid));
    }
    if (!at.has_relative_path() || at == at.parent_path()) return {};  // `/` checked
    at = at.parent_path();
  }
}

}  // namespace connsched
