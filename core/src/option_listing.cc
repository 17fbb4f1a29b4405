// File: core/src/option_listing.cc
#include "option_listing.h"

#include <fmt/format.h>

#include "admin_json.h"
#include "plugin_loader.h"

namespace connsched {

namespace {

// CLI11's type names ("INT", "TEXT", ...) as the ABI's option types are spelled.
std::string core_type(const CLI::Option& option) {
  if (option.get_type_size() == 0) return "bool";  // a flag
  const std::string name = option.get_type_name();
  if (name.rfind("INT", 0) == 0 || name.rfind("UINT", 0) == 0) return "int";
  return "string";
}

std::string backend_type(int type) {
  switch (type) {
    case CONNSCHED_OPTION_INT:
      return "int";
    case CONNSCHED_OPTION_BOOL:
      return "bool";
    case CONNSCHED_OPTION_ENUM:
      return "enum";
    default:
      return "string";
  }
}

std::string maybe_quoted(const char* text) {
  return text == nullptr ? "null" : json_quote(text);
}

}  // namespace

std::string options_json(const std::string& server_name, const CLI::App& app,
                         const std::set<std::string>& core_names, const LoadedScheduler* backend,
                         const std::string& backend_error) {
  std::vector<std::string> rows;
  for (const CLI::Option* option : app.get_options()) {
    std::string name = option->get_single_name();
    if (name.empty() || name == "help" || name == "list-options") continue;
    const std::string default_text = option->get_default_str();
    rows.push_back(fmt::format(
        R"({{"name": {}, "scope": "{}", "type": "{}", "default": {}, "dynamic": false, "help": {}}})",
        json_quote(name), core_names.count(name) ? "core" : "server", core_type(*option),
        default_text.empty() ? "null" : json_quote(default_text),
        json_quote(option->get_description())));
  }
  std::string backend_json = "null";
  if (backend != nullptr) {
    for (const connsched_option_desc& o : backend->options) {
      std::string dashed = o.name;
      for (char& c : dashed) c = c == '_' ? '-' : c;
      std::string range;
      if (o.type == CONNSCHED_OPTION_INT) {
        range = fmt::format(R"(, "min": {}, "max": {})", o.min_value, o.max_value);
      } else if (o.type == CONNSCHED_OPTION_ENUM) {
        range = fmt::format(R"(, "choices": {})", maybe_quoted(o.choices));
      }
      rows.push_back(fmt::format(
          R"({{"name": {}, "scope": "backend", "type": "{}", "default": {}{}, "dynamic": {}, "help": {}}})",
          json_quote(dashed), backend_type(o.type), maybe_quoted(o.default_value), range,
          o.dynamic ? "true" : "false", maybe_quoted(o.help)));
    }
    backend_json =
        fmt::format(R"({{"name": {}, "description": {}, "path": {}, "max_threads": {}}})",
                    json_quote(backend->table.name), maybe_quoted(backend->table.description),
                    json_quote(backend->path), backend->table.max_threads);
  }
  std::string out =
      fmt::format("{{\"server\": {},\n\"backend\": {},\n", json_quote(server_name), backend_json);
  if (backend == nullptr) out += fmt::format("\"backend_error\": {},\n", json_quote(backend_error));
  out += "\"options\": [\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += rows[i];
    out += i + 1 < rows.size() ? ",\n" : "\n";
  }
  out += "]}\n";
  return out;
}

}  // namespace connsched
