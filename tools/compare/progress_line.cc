// File: tools/compare/progress_line.cc
#include "progress_line.h"

#include <fmt/format.h>
#include <unistd.h>

namespace compare_tool {

ProgressLine::ProgressLine(std::FILE* stream)
    : stream_(stream), terminal_(::isatty(::fileno(stream)) == 1) {}

void ProgressLine::show(std::size_t done, std::size_t total, const std::string& what) {
  const std::string text = fmt::format("[{:>3}/{}] {}", done + 1, total, what);
  if (terminal_) {
    // Pad over the previous text so a shorter line leaves no tail behind.
    fmt::print(stream_, "\r{:<{}}", text, shown_width_);
    shown_width_ = std::max(shown_width_, text.size());
  } else {
    fmt::print(stream_, "{}\n", text);
  }
  std::fflush(stream_);
}

void ProgressLine::clear() {
  if (!terminal_ || shown_width_ == 0) return;
  fmt::print(stream_, "\r{:<{}}\r", "", shown_width_);
  std::fflush(stream_);
  shown_width_ = 0;
}

}  // namespace compare_tool
