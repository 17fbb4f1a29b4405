// File: core/src/plugin_file_checks.h
//
// The checks a backend file passes before dlopen sees it, on the descriptor that is
// then loaded (so the file checked is the file loaded):
//  - its ELF structure lies wholly inside the file: a truncated copy makes the loader
//    map pages past the end, and touching them is SIGBUS, not an error message;
//  - nobody but root and the server's user can change it: not the file, not any folder
//    from it up to `/` (as OpenSSH's StrictModes and sudo check a path), since whoever
//    may write a folder may rename what is below it and put another file in its place.
// Each function returns the reason for a refusal, or an empty string.
#ifndef CONNSCHED_CORE_PLUGIN_FILE_CHECKS_H_
#define CONNSCHED_CORE_PLUGIN_FILE_CHECKS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

namespace connsched {

/// Checks the ELF header, the program header table, every segment's bytes in the file
/// and the section header table against the size of the open file `fd` (`st` is its
/// fstat). "no ELF header" when the file does not start with one.
std::string check_elf_file(int fd, const struct stat& st);

/// Checks the file's own mode and owner: not writable by its group or others, owned by
/// root or by `server_uid`.
std::string check_file_owner_and_mode(const struct stat& st, uid_t server_uid);

/// Walks every folder from `folder` up to `/`: each must be owned by root or by
/// `server_uid`, and not writable by its group or others unless it is sticky (as /tmp
/// is, where nobody may rename another's file). `folder` should be absolute.
std::string check_folder_chain(const std::string& folder, uid_t server_uid);

}  // namespace connsched

#endif  // CONNSCHED_CORE_PLUGIN_FILE_CHECKS_H_
