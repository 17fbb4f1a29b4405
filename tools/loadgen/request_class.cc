// File: tools/loadgen/request_class.cc
#include "request_class.h"

#include <cctype>
#include <charconv>

#include "request_sequence.h"

namespace loadgen {

std::string class_name(std::string_view request) {
  // A sequence is named by its steps ("get_lock+incr+release_lock").
  if (request.find(kStepSeparator) != std::string_view::npos) {
    std::string error;
    if (auto sequence = parse_sequence(request, error)) {
      std::string name;
      for (const auto& step : sequence->steps) name += (name.empty() ? "" : "+") + step.name;
      return name;
    }
  }
  if (request.starts_with('/')) return std::string(request.substr(0, request.find('?')));
  std::string name(request.substr(0, request.find(' ')));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::optional<RequestClass> parse_mix(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view count = text.substr(colon + 1);
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  if (ec != std::errc{} || end != count.data() + count.size() || n == 0) return std::nullopt;
  const std::string_view request = text.substr(0, colon);
  return RequestClass{
      .name = class_name(request), .request = std::string(request), .connections = n};
}

}  // namespace loadgen
