// File: tools/compare/progress_line.h
//
// Where the comparison is: on a terminal one line rewritten in place (\r), otherwise
// (a log, CI) one plain line per step.
#ifndef CONNSCHED_COMPARE_PROGRESS_LINE_H_
#define CONNSCHED_COMPARE_PROGRESS_LINE_H_

#include <cstdio>
#include <string>

namespace compare_tool {

class ProgressLine {
 public:
  /// Writes to `stream`; rewrites in place when it is a terminal.
  explicit ProgressLine(std::FILE* stream);
  /// Shows step `done + 1` of `total`, described by `what`.
  void show(std::size_t done, std::size_t total, const std::string& what);
  /// Removes the in-place line before other output (no-op when not a terminal).
  void clear();

 private:
  std::FILE* stream_;
  bool terminal_;
  std::size_t shown_width_ = 0;
};

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_PROGRESS_LINE_H_
