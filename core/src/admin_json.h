// File: core/src/admin_json.h
//
// JSON text for the admin port: string escaping (always valid JSON, even for bytes that
// are not UTF-8) and the /stats document built from core's and the backend's stats.
#ifndef CONNSCHED_CORE_ADMIN_JSON_H_
#define CONNSCHED_CORE_ADMIN_JSON_H_

#include <string>
#include <string_view>

#include "connsched/server.h"

namespace connsched {

/// `text` as a quoted JSON string. Control characters are escaped; bytes that are not
/// well-formed UTF-8 become U+FFFD, so the result is always valid UTF-8 JSON.
std::string json_quote(std::string_view text);

/// The /stats document: {"backend": ..., "core": {...}, "backend_stats": {...}}.
std::string stats_json(const CoreStats& core, const BackendStats& backend);

/// {"error": "<message>"}
std::string json_error(std::string_view message);

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_JSON_H_
