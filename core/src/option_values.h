// File: core/src/option_values.h
//
// Checks option values against a backend's declarations (connsched_option_desc), so
// that every bad value is refused with one clear message before the backend sees it.
#ifndef CONNSCHED_CORE_OPTION_VALUES_H_
#define CONNSCHED_CORE_OPTION_VALUES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connsched/option_text.h"
#include "connsched/scheduler_abi.h"

namespace connsched {

/// "thread-pool-size" and "thread_pool_size" both become "thread_pool_size".
std::string normalize_option_name(std::string_view name);

// parse_int, parse_bool and choice_index: connsched/option_text.h, shared with backends.

/// The declaration named `name` (already normalized), or nullptr.
const connsched_option_desc* find_option(const std::vector<connsched_option_desc>& options,
                                         std::string_view name);

/// Returns why `value` is not acceptable for `option`, or an empty string. For an
/// accepted value, `canonical` receives the form the backend sees (bools as "1"/"0").
std::string check_option_value(const connsched_option_desc& option, std::string_view value,
                               std::string* canonical = nullptr);

/// Validates every given option against the declarations and fills in the defaults.
/// Returns the full name->value map the backend reads with get_option. Throws
/// StartupError naming the first bad option.
std::map<std::string, std::string> resolve_backend_options(
    const std::string& backend_name, const std::vector<connsched_option_desc>& options,
    const std::map<std::string, std::string>& given);

/// One line per declared option, for --help.
std::string describe_options(const std::vector<connsched_option_desc>& options);

}  // namespace connsched

#endif  // CONNSCHED_CORE_OPTION_VALUES_H_
