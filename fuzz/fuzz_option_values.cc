// File: fuzz/fuzz_option_values.cc
//
// libFuzzer target: core's typed validation of backend options (option_values.*), over
// declarations a backend could make (any name, type, range and choices the plugin
// loader accepts) and values an operator or an admin client could send. Checks that an
// accepted value's canonical form is accepted again unchanged (validation is
// idempotent), that an accepted integer lies in its range and a boolean is "1" or "0",
// that an accepted enum value is one of the choices, that name normalization is
// idempotent, and that resolve_backend_options either refuses with StartupError or
// returns every given option.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "connsched/server.h"
#include "fuzz_check.h"
#include "option_values.h"

namespace {

// Strings that outlive the declarations pointing at them.
struct Declarations {
  std::vector<std::string> names, choices, defaults;
  std::vector<connsched_option_desc> options;
};

// Up to four declarations as the loader would accept them (non-empty name, known type,
// an enum with choices); the ranges and defaults are whatever the fuzzer picks.
Declarations make_declarations(FuzzedDataProvider& in) {
  Declarations d;
  std::size_t count = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  for (std::size_t i = 0; i < count; ++i) {
    d.names.push_back(connsched::normalize_option_name(in.ConsumeRandomLengthString(16)));
    if (d.names.back().empty()) d.names.back() = "o";
    d.choices.push_back(in.ConsumeRandomLengthString(32));
    if (d.choices.back().empty()) d.choices.back() = "a|b";
    d.defaults.push_back(in.ConsumeRandomLengthString(8));
  }
  for (std::size_t i = 0; i < count; ++i) {
    connsched_option_desc o{};
    o.name = d.names[i].c_str();
    o.help = in.ConsumeBool() ? "help" : nullptr;
    o.type = in.ConsumeIntegralInRange<int>(CONNSCHED_OPTION_INT, CONNSCHED_OPTION_STRING);
    o.default_value = in.ConsumeBool() ? d.defaults[i].c_str() : nullptr;
    o.min_value = in.ConsumeIntegral<std::int64_t>();
    o.max_value = in.ConsumeIntegral<std::int64_t>();
    o.choices = d.choices[i].c_str();
    o.dynamic = in.ConsumeBool() ? 1 : 0;
    d.options.push_back(o);
  }
  return d;
}

// One value against one declaration, and the accepted form against it again.
void check_value(const connsched_option_desc& option, const std::string& value) {
  std::string canonical;
  std::string why = connsched::check_option_value(option, value, &canonical);
  if (!why.empty()) {
    FUZZ_CHECK(canonical.empty());
    return;
  }
  std::string again;
  FUZZ_CHECK(connsched::check_option_value(option, canonical, &again).empty());
  FUZZ_CHECK(again == canonical);
  switch (option.type) {
    case CONNSCHED_OPTION_INT: {
      auto n = connsched::parse_int(canonical);
      FUZZ_CHECK(n && *n >= option.min_value && *n <= option.max_value);
      FUZZ_CHECK(std::to_string(*n) == canonical);
      break;
    }
    case CONNSCHED_OPTION_BOOL:
      FUZZ_CHECK(canonical == "1" || canonical == "0");
      break;
    case CONNSCHED_OPTION_ENUM:
      FUZZ_CHECK(("|" + std::string(option.choices) + "|").find("|" + canonical + "|") !=
                 std::string::npos);
      break;
    default:
      FUZZ_CHECK(canonical == value);
      break;
  }
}

}  // namespace

// The input picks the declarations first, then name/value pairs as an operator or the
// admin port's /set would give them.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Declarations d = make_declarations(in);
  std::map<std::string, std::string> given;
  while (in.remaining_bytes() > 0) {
    std::string raw_name = in.ConsumeRandomLengthString(24);
    std::string value = in.ConsumeRandomLengthString(24);
    std::string name = connsched::normalize_option_name(raw_name);
    FUZZ_CHECK(connsched::normalize_option_name(name) == name);
    if (in.ConsumeBool() && !d.options.empty()) name = d.names[name.size() % d.names.size()];
    if (const auto* option = connsched::find_option(d.options, name)) check_value(*option, value);
    if (auto n = connsched::parse_int(value))
      FUZZ_CHECK(connsched::parse_int(std::to_string(*n)) == n);
    given[name] = value;
  }
  try {
    auto values = connsched::resolve_backend_options("fuzz", d.options, given);
    for (const auto& [name, value] : given) FUZZ_CHECK(values.contains(name));
  } catch (const connsched::StartupError& e) {
    FUZZ_CHECK(*e.what() != '\0');
  }
  FUZZ_CHECK(!connsched::describe_options(d.options).empty());
  return 0;
}
