// File: examples/http/http_routes.cc
#include "http_routes.h"

#include "cpu_burn.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

#include "connsched/scoped_wait.h"

namespace http {

namespace {

constexpr std::int64_t kMaxBurnMicros = 10'000'000;
constexpr std::int64_t kMaxSleepMillis = 60'000;

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The integer parameter `name` within [0, max], or the 400 response that says why not.
std::optional<std::int64_t> int_param(const HttpRequest& request, std::string_view name,
                                      std::int64_t max, HttpResponse& refusal) {
  bool found = false;
  std::string_view raw = query_param(request.query, name, found);
  std::int64_t value = -1;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (!found || raw.empty() || ec != std::errc() || end != raw.data() + raw.size() || value < 0 ||
      value > max) {
    refusal = text(
        400, fmt::format("{} needs ?{}=N with N an integer in [0, {}]\n", request.path, name, max));
    return std::nullopt;
  }
  return value;
}

HttpResponse burn(std::int64_t micros) {
  const std::uint64_t x = connsched_examples::burn_cpu(std::chrono::microseconds(micros));
  return text(200, fmt::format("burned {} us ({})\n", micros, x & 0xffff));
}

// Sleeps inside a reported wait, in slices, so a kill or shutdown does not wait it out.
HttpResponse sleep(std::int64_t millis, connsched::RequestContext& ctx) {
  {
    connsched::ScopedWait wait(connsched::WaitType::kSleep);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
    while (!ctx.killed() && std::chrono::steady_clock::now() < until) {
      auto left = until - std::chrono::steady_clock::now();
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(20)));
    }
  }
  return text(200, fmt::format("slept {} ms\n", millis));
}

}  // namespace

// Unknown paths are 404 whatever the method; known ones take GET and HEAD only.
HttpResponse route_request(const HttpRequest& request, connsched::RequestContext& ctx) {
  bool known = request.path == "/" || request.path == "/burn" || request.path == "/sleep";
  if (!known) return text(404, fmt::format("no such path: {}\n", request.path));
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = text(405, fmt::format("{} takes GET or HEAD\n", request.path));
    r.allow = "GET, HEAD";
    return r;
  }
  if (request.path == "/") return text(200, "hello from connsched\n");
  HttpResponse refusal;
  if (request.path == "/burn") {
    auto us = int_param(request, "us", kMaxBurnMicros, refusal);
    return us ? burn(*us) : refusal;
  }
  auto ms = int_param(request, "ms", kMaxSleepMillis, refusal);
  return ms ? sleep(*ms, ctx) : refusal;
}

}  // namespace http
