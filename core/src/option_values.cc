// File: core/src/option_values.cc
#include "option_values.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "connsched/server.h"

namespace connsched {

std::string normalize_option_name(std::string_view name) {
  while (!name.empty() && name.front() == '-') name.remove_prefix(1);
  std::string out(name);
  for (char& c : out) {
    if (c == '-') c = '_';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

const connsched_option_desc* find_option(const std::vector<connsched_option_desc>& options,
                                         std::string_view name) {
  for (const auto& option : options) {
    if (name == option.name) return &option;
  }
  return nullptr;
}

namespace {
std::string dashed(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}
}  // namespace

std::string check_option_value(const connsched_option_desc& option, std::string_view value,
                               std::string* canonical) {
  std::string result(value);
  switch (option.type) {
    case CONNSCHED_OPTION_INT: {
      auto number = parse_int(value);
      if (!number) return fmt::format("--{}: '{}' is not an integer", dashed(option.name), value);
      if (*number < option.min_value || *number > option.max_value) {
        return fmt::format("--{}: {} is out of range [{}, {}]", dashed(option.name), *number,
                           option.min_value, option.max_value);
      }
      result = std::to_string(*number);
      break;
    }
    case CONNSCHED_OPTION_BOOL: {
      auto flag = parse_bool(value);
      if (!flag) {
        return fmt::format("--{}: '{}' is not a boolean (use on or off)", dashed(option.name),
                           value);
      }
      result = *flag ? "1" : "0";
      break;
    }
    case CONNSCHED_OPTION_ENUM: {
      if (!choice_index(option.choices ? option.choices : "", value)) {
        return fmt::format("--{}: '{}' is not one of {}", dashed(option.name), value,
                           option.choices);
      }
      break;
    }
    default:
      break;
  }
  if (canonical != nullptr) *canonical = std::move(result);
  return {};
}

std::map<std::string, std::string> resolve_backend_options(
    const std::string& backend_name, const std::vector<connsched_option_desc>& options,
    const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> values;
  for (const auto& option : options) {
    if (option.default_value != nullptr) values[option.name] = option.default_value;
  }
  for (const auto& [name, value] : given) {
    const connsched_option_desc* option = find_option(options, name);
    if (option == nullptr) {
      std::string known;
      for (const auto& o : options)
        known += fmt::format("{}--{}", known.empty() ? "" : ", ", dashed(o.name));
      throw StartupError(fmt::format("unknown option --{} (backend '{}' takes: {})", dashed(name),
                                     backend_name, known.empty() ? "no options" : known));
    }
    std::string canonical;
    if (std::string why = check_option_value(*option, value, &canonical); !why.empty()) {
      throw StartupError(why);
    }
    values[name] = canonical;
  }
  return values;
}

std::string describe_options(const std::vector<connsched_option_desc>& options) {
  std::string out;
  for (const auto& o : options) {
    std::string kind;
    switch (o.type) {
      case CONNSCHED_OPTION_INT:
        kind = fmt::format("INT in [{}, {}]", o.min_value, o.max_value);
        break;
      case CONNSCHED_OPTION_BOOL:
        kind = "on|off";
        break;
      case CONNSCHED_OPTION_ENUM:
        kind = o.choices;
        break;
      default:
        kind = "TEXT";
        break;
    }
    out += fmt::format("  --{:<34} {} ({}; default {}{})\n", dashed(o.name), o.help ? o.help : "",
                       kind, o.default_value ? o.default_value : "unset",
                       o.dynamic ? "; settable at run time" : "");
  }
  return out;
}

}  // namespace connsched
