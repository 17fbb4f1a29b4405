// File: tools/loadgen/request_sequence.cc
#include "request_sequence.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "request_class.h"

namespace loadgen {

namespace {

// Trims the spaces a user puts around steps ("A |  B").
std::string_view trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

// Splits a step's text into literal runs and placeholders, so a send only pastes
// numbers in. Fails (one line in `error`) on a placeholder it cannot read.
bool parse_parts(std::string_view text, std::vector<StepPart>& parts, std::string& error) {
  std::string literal;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::string_view rest = text.substr(at);
    const bool conn = rest.starts_with("{conn%");
    if (!conn && !rest.starts_with("{rand%")) {
      literal += text[at++];
      continue;
    }
    const std::size_t close = rest.find('}');
    const std::string_view digits =
        close == std::string_view::npos ? rest.substr(6) : rest.substr(6, close - 6);
    std::uint64_t modulus = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), modulus);
    if (close == std::string_view::npos || ec != std::errc{} ||
        end != digits.data() + digits.size() || modulus == 0) {
      error = fmt::format("'{}': expected {{{}%K}} with K a whole number of at least 1", text,
                          conn ? "conn" : "rand");
      return false;
    }
    if (!literal.empty()) parts.push_back({.kind = StepPart::Kind::kText, .text = literal});
    literal.clear();
    parts.push_back({.kind = conn ? StepPart::Kind::kConnection : StepPart::Kind::kRandom,
                     .text = {},
                     .modulus = modulus});
    at += close + 1;
  }
  if (!literal.empty() || parts.empty())
    parts.push_back({.kind = StepPart::Kind::kText, .text = literal});
  return true;
}

}  // namespace

std::string SequenceStep::expand(std::uint64_t connection, std::uint64_t draw) const {
  std::string out;
  for (const auto& part : parts) {
    switch (part.kind) {
      case StepPart::Kind::kText:
        out += part.text;
        break;
      case StepPart::Kind::kConnection:
        out += std::to_string(connection % part.modulus);
        break;
      case StepPart::Kind::kRandom:
        out += std::to_string(draw % part.modulus);
        break;
    }
  }
  return out;
}

bool RequestSequence::has_lock_wait() const {
  for (const auto& step : steps) {
    if (step.lock_wait) return true;
  }
  return false;
}

std::optional<RequestSequence> parse_sequence(std::string_view text, std::string& error) {
  // Split at every separator first: an empty step anywhere is refused, not skipped.
  RequestSequence out;
  std::size_t start = 0;
  while (true) {
    const std::size_t sep = text.find(kStepSeparator, start);
    const std::string_view piece = trimmed(
        text.substr(start, sep == std::string_view::npos ? std::string_view::npos : sep - start));
    if (piece.empty()) {
      error = fmt::format("'{}': step {} is empty (steps are separated by '{}')", text,
                          out.steps.size() + 1, trimmed(kStepSeparator));
      return std::nullopt;
    }
    SequenceStep step;
    step.text = std::string(piece);
    step.name = class_name(piece);
    step.lock_wait = step.name == "get_lock";
    if (!parse_parts(piece, step.parts, error)) return std::nullopt;
    out.steps.push_back(std::move(step));
    if (sep == std::string_view::npos) break;
    start = sep + kStepSeparator.size();
  }
  return out;
}

bool is_lock_wait_timeout(const ReplyParse& reply) {
  return !reply.is_error && (reply.first_line == ":0" || reply.first_line == "0");
}

}  // namespace loadgen
