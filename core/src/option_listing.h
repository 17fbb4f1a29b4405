// File: core/src/option_listing.h
//
// `--list-options=json`: every option a server takes, core's and its backend's, with
// type, default, range and whether it may change at run time, for tools (the comparison
// tool decides from it which flags a backend takes) instead of reading --help's prose.
#ifndef CONNSCHED_CORE_OPTION_LISTING_H_
#define CONNSCHED_CORE_OPTION_LISTING_H_

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

#include "connsched/scheduler_abi.h"

namespace connsched {

struct LoadedScheduler;

/// The JSON document: {"server": ..., "backend": {...}, "options": [...]}, one option
/// object per line. Options are read from `app`: scope "core" for those in `core_names`
/// (every server has them), "server" for the server's own; the backend's from its
/// declarations (scope "backend"). `backend` may be null when it could not be loaded,
/// and `backend_error` then says why.
std::string options_json(const std::string& server_name, const CLI::App& app,
                         const std::set<std::string>& core_names, const LoadedScheduler* backend,
                         const std::string& backend_error);

}  // namespace connsched

#endif  // CONNSCHED_CORE_OPTION_LISTING_H_
