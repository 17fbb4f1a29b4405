// File: tools/loadgen/request_class.h
//
// Request classes as the command line names them: "PING", or "BURN 200000:4" for a
// request sent by 4 connections of a mix.
#ifndef CONNSCHED_LOADGEN_REQUEST_CLASS_H_
#define CONNSCHED_LOADGEN_REQUEST_CLASS_H_

#include <optional>
#include <string_view>

#include "load_spec.h"

namespace loadgen {

/// A short name for a request: its command word in lower case ("burn"), an HTTP
/// target's path ("/burn"), or a sequence's step names joined by '+'
/// ("get_lock+incr+release_lock").
std::string class_name(std::string_view request);

/// "REQUEST:COUNT" (split at the last ':') → a class sent by COUNT connections.
std::optional<RequestClass> parse_mix(std::string_view text);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_REQUEST_CLASS_H_
