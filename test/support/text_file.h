// File: test/support/text_file.h
//
// The whole text of a file, for tests that read what a tool or a server wrote (a CSV,
// a PNG's first bytes, /proc/PID/stat); empty if it cannot be read.
#ifndef CONNSCHED_TEST_TEXT_FILE_H_
#define CONNSCHED_TEST_TEXT_FILE_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace connsched::testing {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_TEXT_FILE_H_
