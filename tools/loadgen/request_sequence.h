// File: tools/loadgen/request_sequence.h
//
// A request class's body as the load generator sends it: one request, or a sequence of
// requests sent in order on one connection, each after the previous one's reply
// ("GET_LOCK lk{rand%4} 5 | INCR row{rand%4} | RELEASE_LOCK lk{rand%4}": a client that
// takes a named lock, does its work and gives the lock back). A step may name a value
// that varies: {conn%K} is the connection's number modulo K (fixed per connection),
// {rand%K} one draw per run of the sequence modulo K (the same draw in every step of
// that run, so GET_LOCK and RELEASE_LOCK name the same lock).
#ifndef CONNSCHED_LOADGEN_REQUEST_SEQUENCE_H_
#define CONNSCHED_LOADGEN_REQUEST_SEQUENCE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reply_parse.h"

namespace loadgen {

/// What separates the steps of a sequence: a '|' with a space on each side, so a '|'
/// inside a word ("SET k a|b") stays part of the request.
inline constexpr std::string_view kStepSeparator = " | ";

/// One piece of a step's text: literal bytes, or a placeholder's modulus.
struct StepPart {
  enum class Kind { kText, kConnection, kRandom };
  Kind kind = Kind::kText;
  std::string text;           ///< kText
  std::uint64_t modulus = 1;  ///< kConnection, kRandom
};

struct SequenceStep {
  std::string text;  ///< as written, placeholders included
  std::string name;  ///< its command word in lower case ("get_lock"), as class_name()
  /// A GET_LOCK: a reply of 0 (MySQL's and kv_server's answer when the wait timed out)
  /// is a lock-wait timeout, and ends the run of the sequence.
  bool lock_wait = false;
  std::vector<StepPart> parts;
  bool templated() const { return parts.size() != 1 || parts[0].kind != StepPart::Kind::kText; }
  /// The step's text for connection `connection` in a run whose draw is `draw`.
  std::string expand(std::uint64_t connection, std::uint64_t draw) const;
};

struct RequestSequence {
  std::vector<SequenceStep> steps;  ///< one for a plain request
  bool is_sequence() const { return steps.size() > 1; }
  bool has_lock_wait() const;
};

/// The steps of `text`; nullopt and one line in `error` for an empty step or a
/// malformed placeholder ("{rand%0}", "{conn%x}"). Braces that do not open "{conn%" or
/// "{rand%" are literal text.
std::optional<RequestSequence> parse_sequence(std::string_view text, std::string& error);

/// Whether `reply` to a GET_LOCK step says the wait timed out: the integer 0 (RESP ":0",
/// or a line "0").
bool is_lock_wait_timeout(const ReplyParse& reply);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_REQUEST_SEQUENCE_H_
