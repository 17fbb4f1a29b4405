// File: test/support/temp_dir.h
//
// A fresh temporary folder for a test's output, removed with everything in it when the
// test ends, so tools that write files can be run in parallel tests without clashing.
#ifndef CONNSCHED_TEST_TEMP_DIR_H_
#define CONNSCHED_TEST_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace connsched::testing {

struct TempDir {
  explicit TempDir(const std::string& prefix = "connsched_test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    if (::mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path path;  ///< empty if the folder could not be made
};

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_TEMP_DIR_H_
