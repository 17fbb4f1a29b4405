// File: core/src/defaults_file.cc
#include "defaults_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <utility>

#include "connsched/server.h"
#include "connsched/unique_fd.h"
#include "option_values.h"

namespace connsched {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

// The file's text, read through one descriptor (a FIFO named by mistake is refused, not
// waited on); every failure is one line naming the file.
std::string read_text(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) throw StartupError(fmt::format("--defaults-file: {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw StartupError(fmt::format("--defaults-file: {}: not a regular file", path));
  }
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw StartupError(fmt::format("--defaults-file: {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      throw StartupError(
          fmt::format("--defaults-file: {}: larger than {} bytes", path, kMaxFileBytes));
    }
  }
  return text;
}

std::string trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return std::string(s.substr(first, last - first + 1));
}

std::string unquoted(std::string s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

// CLI11's items carry no line numbers, so the lines are found again for the messages:
// where each (section, key) appears, with the line conventions CLI11's reader follows
// (sections in brackets, ';' and '#' comment lines, "key = value" or a bare key). Only
// the names are looked at: values are CLI11's.
std::map<std::pair<std::string, std::string>, std::vector<int>> key_lines(const std::string& text) {
  std::map<std::pair<std::string, std::string>, std::vector<int>> lines;
  std::istringstream in(text);
  std::string raw;
  std::string section;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const std::string line = trimmed(raw);
    if (line.size() < 3) continue;  // CLI11 skips these too
    if (line.front() == '[' && line.back() == ']') {
      section = trimmed(std::string_view(line).substr(1, line.size() - 2));
      if (section.size() > 1 && section.front() == '[' && section.back() == ']')
        section = section.substr(1, section.size() - 2);
      if (section == "default") section.clear();
      continue;
    }
    if (line.front() == ';' || line.front() == '#') continue;
    std::string key = line.substr(0, line.find('='));
    key = unquoted(trimmed(key.substr(0, key.find('#'))));
    lines[{section, normalize_option_name(key)}].push_back(number);
  }
  return lines;
}

}  // namespace

std::string DefaultsFile::where(const DefaultsEntry& entry) const {
  return entry.line > 0 ? fmt::format("{}:{}: ", path, entry.line) : fmt::format("{}: ", path);
}

// CLI11's TOML reader (it reads INI too: bare values, ';' comments) does the parsing.
// A key twice in one section is refused: which one was meant cannot be known (CLI11
// would silently keep both as a list).
DefaultsFile read_defaults_file(const std::string& path, const std::string& server_name) {
  DefaultsFile file;
  file.path = path;
  const std::string text = read_text(path);
  std::istringstream stream(text);
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_config(stream);
  } catch (const CLI::Error& e) {
    throw StartupError(fmt::format("{}: {}", path, e.what()));
  }
  const auto lines = key_lines(text);
  std::map<std::string, DefaultsEntry> common, own;
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "--" || item.name == "++") continue;  // CLI11's section markers
    std::string section;
    for (const auto& parent : item.parents) section += (section.empty() ? "" : ".") + parent;
    DefaultsEntry entry;
    entry.name = normalize_option_name(item.name);
    for (const auto& input : item.inputs) entry.value += (entry.value.empty() ? "" : ",") + input;
    auto found = lines.find({section, entry.name});
    if (found != lines.end()) {
      entry.line = found->second.front();
      if (found->second.size() > 1) {
        std::string dashed = entry.name;
        std::replace(dashed.begin(), dashed.end(), '_', '-');
        throw StartupError(fmt::format("{}:{}: '{}' is given again in [{}] (first at line {})",
                                       path, found->second[1], dashed, section, found->second[0]));
      }
    }
    if (section.empty()) {
      throw StartupError(
          fmt::format("{}'{}' is outside any section; put it under [connsched] "
                      "(every server) or [{}]",
                      file.where(entry), item.name, server_name));
    }
    if (section == "connsched") {
      common[entry.name] = std::move(entry);
    } else if (section == server_name) {
      own[entry.name] = std::move(entry);
    }
  }
  for (auto& [name, entry] : own) common[name] = std::move(entry);
  for (auto& [name, entry] : common) file.entries.push_back(std::move(entry));
  return file;
}

// The option's own checks run as on the command line (CLI11's add_result and callback),
// so a bad value gets the same reason, prefixed with where it came from.
std::vector<DefaultsEntry> apply_defaults(CLI::App& app, const DefaultsFile& file,
                                          const std::set<std::string>& refused) {
  std::vector<DefaultsEntry> rest;
  for (const DefaultsEntry& entry : file.entries) {
    std::string dashed = entry.name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    if (refused.count(entry.name) != 0) {
      throw StartupError(
          fmt::format("{}--{} cannot be given in a defaults file", file.where(entry), dashed));
    }
    CLI::Option* option = app.get_option_no_throw("--" + dashed);
    if (option == nullptr) {
      rest.push_back(entry);
      continue;
    }
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->add_result(entry.value);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw StartupError(fmt::format("{}{}", file.where(entry), e.what()));
    }
  }
  return rest;
}

}  // namespace connsched
