// File: tools/compare/server_launcher.cc
#include "server_launcher.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "custom_scenario.h"
#include "unique_fd.h"

namespace compare_tool {

namespace {

using namespace std::chrono_literals;
using loadgen::UniqueFd;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_line(const std::string& text) {
  auto end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "(no output)";
  auto start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// A port nobody listens on right now: bind port 0, read what the kernel chose, close.
std::uint16_t free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

bool accepts(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// Polls every 20 ms until `ready` yields a port, the child exits, or 30 s pass.
template <typename Ready>
LaunchedServer wait_ready(std::unique_ptr<ChildProcess> child, const std::string& log_path,
                          Ready ready) {
  LaunchedServer out;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto port = ready()) {
      out.port = *port;
      out.process = std::move(child);
      return out;
    }
    if (child->exited()) {
      out.error = fmt::format("exited at start: {}", last_line(read_file(log_path)));
      return out;
    }
    std::this_thread::sleep_for(20ms);
  }
  out.error = fmt::format("not ready after 30 s: {}", last_line(read_file(log_path)));
  return out;
}

LaunchedServer launch_connsched(const BackendUnderTest& backend, const Scenario& scenario,
                                const LaunchSettings& settings, const std::string& log_path) {
  std::vector<std::string> args{"--port=0", "--thread-handling=" + backend.thread_handling,
                                fmt::format("--max-connections={}", settings.max_connections),
                                "--log-level=info"};
  args.insert(args.end(), backend.options.begin(), backend.options.end());
  auto child = std::make_unique<ChildProcess>(server_program(scenario, settings.bin_dir), args,
                                              log_path, settings.server_cpus);
  // Ready once the main port is logged, and the admin port too when one was asked for.
  const bool admin = std::find(args.begin(), args.end(), "--admin-port=0") != args.end();
  auto out = wait_ready(std::move(child), log_path, [&]() -> std::optional<std::uint16_t> {
    const std::string text = read_file(log_path);
    if (admin && !parse_admin_port(text)) return std::nullopt;
    return parse_listening_port(text);
  });
  if (admin && out.process) out.admin_port = parse_admin_port(read_file(log_path)).value_or(0);
  return out;
}

LaunchedServer launch_redis(const LaunchSettings& settings, const std::string& log_path) {
  const std::uint16_t port = free_port();
  auto child = std::make_unique<ChildProcess>(
      "redis-server",
      std::vector<std::string>{"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--maxclients",
                               std::to_string(settings.max_connections)},
      log_path, settings.server_cpus);
  return wait_ready(std::move(child), log_path, [&]() -> std::optional<std::uint16_t> {
    if (accepts(port)) return port;
    return std::nullopt;
  });
}

LaunchedServer launch_nginx(const LaunchSettings& settings, const std::string& log_path) {
  // A minimal configuration: one fixed small body on /, keep-alive without limits, logs
  // off, one worker per server CPU (as a connsched server gets those CPUs).
  const std::uint16_t port = free_port();
  // Absolute: nginx reads every relative path in its command line and configuration from
  // its prefix (-p), so a relative --out would be taken twice.
  const std::string dir = std::filesystem::absolute(settings.work_dir).string();
  const std::string conf = fmt::format("{}/nginx-{}.conf", dir, port);
  std::error_code ignored;
  std::filesystem::create_directories(dir + "/nginx-tmp", ignored);
  std::ofstream(conf) << fmt::format(
      "worker_processes {4};\ndaemon off;\npid {0}/nginx-{1}.pid;\nerror_log {2} warn;\n"
      "worker_rlimit_nofile 20000;\nevents {{ worker_connections {3}; }}\n"
      "http {{\n  access_log off;\n  keepalive_requests 100000000;\n  keepalive_timeout 300s;\n"
      "  client_body_temp_path {0}/nginx-tmp;\n  proxy_temp_path {0}/nginx-tmp;\n"
      "  fastcgi_temp_path {0}/nginx-tmp;\n  uwsgi_temp_path {0}/nginx-tmp;\n"
      "  scgi_temp_path {0}/nginx-tmp;\n"
      "  server {{ listen 127.0.0.1:{1}; location / {{ return 200 \"hello\\n\"; }} }}\n}}\n",
      dir, port, std::filesystem::absolute(log_path).string(), settings.max_connections,
      settings.server_cpus.empty() ? std::string("auto")
                                   : std::to_string(settings.server_cpus.size()));
  auto child = std::make_unique<ChildProcess>(
      "nginx", std::vector<std::string>{"-c", conf, "-p", dir}, log_path,
      settings.server_cpus);
  return wait_ready(std::move(child), log_path, [&]() -> std::optional<std::uint16_t> {
    if (accepts(port)) return port;
    return std::nullopt;
  });
}

}  // namespace

std::optional<std::uint16_t> parse_listening_port(const std::string& log_text) {
  static constexpr std::string_view kMarker = "listening on ";
  static constexpr std::string_view kAdmin = "admin port ";
  for (auto at = log_text.find(kMarker); at != std::string::npos;
       at = log_text.find(kMarker, at + 1)) {
    if (at >= kAdmin.size() && log_text.compare(at - kAdmin.size(), kAdmin.size(), kAdmin) == 0) {
      continue;
    }
    const auto end = log_text.find_first_of(" \n", at + kMarker.size());
    if (end == std::string::npos) return std::nullopt;  // the line is still being written
    const auto colon = log_text.rfind(':', end);
    if (colon == std::string::npos || colon < at) continue;
    const std::string digits = log_text.substr(colon + 1, end - colon - 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    return static_cast<std::uint16_t>(std::stoul(digits));
  }
  return std::nullopt;
}

std::optional<std::uint16_t> parse_admin_port(const std::string& log_text) {
  static constexpr std::string_view kMarker = "admin port listening on ";
  const auto at = log_text.find(kMarker);
  if (at == std::string::npos) return std::nullopt;
  const auto end = log_text.find_first_of(" \n", at + kMarker.size());
  if (end == std::string::npos) return std::nullopt;  // the line is still being written
  const auto colon = log_text.rfind(':', end);
  if (colon == std::string::npos || colon < at) return std::nullopt;
  const std::string digits = log_text.substr(colon + 1, end - colon - 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(std::stoul(digits));
}

LaunchedServer launch_server(const BackendUnderTest& backend, const Scenario& scenario,
                             const LaunchSettings& settings, const std::string& log_path) {
  switch (backend.kind) {
    case BackendUnderTest::Kind::kConnsched:
    case BackendUnderTest::Kind::kUpstream:
      return launch_connsched(backend, scenario, settings, log_path);
    case BackendUnderTest::Kind::kRedis:
      return launch_redis(settings, log_path);
    case BackendUnderTest::Kind::kNginx:
      break;
  }
  return launch_nginx(settings, log_path);
}

}  // namespace compare_tool
