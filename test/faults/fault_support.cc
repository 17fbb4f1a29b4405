// File: test/faults/fault_support.cc
#include "fault_support.h"

#include <dirent.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "text_file.h"
#include "text_search.h"

namespace connsched::testing {

namespace {

// The line without the "\r" that RESP puts before "\n".
std::string chomp(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<RespReply> read_resp_at(TestClient& client,
                                      std::chrono::steady_clock::time_point deadline, int depth) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0 || depth > 4) return std::nullopt;
  auto line = client.read_line(left);
  if (!line || line->empty()) return std::nullopt;
  std::string text = chomp(*line);
  RespReply reply;
  reply.type = text[0];
  reply.text = text.substr(1);
  switch (reply.type) {
    case '+':
    case '-':
    case ':':
      return reply;
    case '$': {
      long long length = std::atoll(reply.text.c_str());
      reply.text.clear();
      if (length < 0) {
        reply.null = true;
        return reply;
      }
      left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      // The bulk's bytes and its CRLF: a bulk may hold newlines (CLIENT INFO's does).
      auto data = client.read_bytes(static_cast<std::size_t>(length) + 2,
                                    std::max(left, std::chrono::milliseconds(1)));
      if (!data || data->compare(static_cast<std::size_t>(length), 2, "\r\n") != 0)
        return std::nullopt;
      data->resize(static_cast<std::size_t>(length));
      reply.text = std::move(*data);
      return reply;
    }
    case '*': {
      long long count = std::atoll(reply.text.c_str());
      for (long long i = 0; i < count; ++i) {
        auto item = read_resp_at(client, deadline, depth + 1);
        if (!item) return std::nullopt;
        reply.items.push_back(std::move(*item));
      }
      return reply;
    }
    default:
      return std::nullopt;  // not RESP: a garbled reply
  }
}

}  // namespace

// The sanitizers' own slowdown, times two for the other builds sharing the machine.
int slowdown() {
#if defined(__SANITIZE_THREAD__)
  return 10;
#elif defined(__SANITIZE_ADDRESS__)
  return 3;
#else
  return 1;
#endif
}

std::chrono::milliseconds scaled(std::chrono::milliseconds base) {
  return base * slowdown();
}

std::optional<RespReply> read_resp(TestClient& client, std::chrono::milliseconds timeout) {
  return read_resp_at(client, std::chrono::steady_clock::now() + timeout, 0);
}

std::optional<RespReply> kv_command(TestClient& client, std::string_view command,
                                    std::chrono::milliseconds timeout) {
  if (!client.send(fmt::format("{}\r\n", command))) return std::nullopt;
  return read_resp(client, timeout);
}

HealthyClient::HealthyClient(std::uint16_t port, Dialect dialect,
                             std::chrono::milliseconds interval)
    : port_(port), dialect_(dialect), interval_(interval) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

HealthyClient::~HealthyClient() {
  stop();
}

void HealthyClient::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

// One connection for the whole probe: a reconnect would hide a server that dropped it.
// A probe that fails stops probing (its connection is no longer trustworthy).
void HealthyClient::run(std::stop_token stop) {
  std::optional<TestClient> client;
  try {
    client.emplace(port_);
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    failures_.push_back(fmt::format("connect: {}", e.what()));
    return;
  }
  const auto timeout = scaled(std::chrono::seconds(10));
  for (std::size_t n = 0; !stop.stop_requested(); ++n) {
    std::string key = fmt::format("health:{}:{}", port_, n);
    auto start = std::chrono::steady_clock::now();
    std::string failure;
    if (dialect_ == Dialect::kKv) {
      auto reply = kv_command(*client, fmt::format("SET {} {}", key, key), timeout);
      if (!reply) {
        failure = fmt::format("request {}: no reply", n);
      } else if (reply->type != '+' || reply->text != "OK") {
        failure = fmt::format("request {}: '{}{}'", n, reply->type, reply->text);
      }
    } else {
      auto reply = client->request(fmt::format("echo {}", key), timeout);
      if (reply != key) failure = fmt::format("request {}: '{}'", n, reply.value_or("(none)"));
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    {
      std::lock_guard lock(mutex_);
      if (!failure.empty()) {
        failures_.push_back(failure);
        return;
      }
      max_latency_ = std::max(max_latency_, took);
      if (dialect_ == Dialect::kKv) acknowledged_.push_back(key);
    }
    answered_.fetch_add(1);
    std::this_thread::sleep_for(interval_);
  }
}

std::vector<std::string> HealthyClient::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::chrono::milliseconds HealthyClient::max_latency() const {
  std::lock_guard lock(mutex_);
  return max_latency_;
}

std::vector<std::string> HealthyClient::acknowledged() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

// One pipelined batch of GETs, so thousands of keys cost one round trip.
std::vector<std::string> lost_keys(std::uint16_t port, const std::vector<std::string>& keys) {
  std::vector<std::string> lost;
  TestClient client(port);
  std::string batch;
  for (const auto& key : keys) batch += fmt::format("GET {}\r\n", key);
  if (!client.send(batch)) return keys;
  for (const auto& key : keys) {
    auto reply = read_resp(client, scaled(std::chrono::seconds(10)));
    if (!reply || reply->type != '$' || reply->null || reply->text != key) lost.push_back(key);
  }
  return lost;
}

bool served(std::uint16_t port, Dialect dialect, std::chrono::milliseconds timeout) {
  try {
    TestClient client(port, timeout);
    if (dialect == Dialect::kKv) {
      auto reply = kv_command(client, "PING", timeout);
      return reply && reply->type == '+' && reply->text == "PONG";
    }
    return client.request("echo served", timeout) == "served";
  } catch (const std::exception&) {
    return false;
  }
}

// HTTP/1.0 by hand: the admin port closes after each reply, so reading to EOF is enough.
AdminReply admin_request(std::uint16_t admin_port, const std::string& method,
                         const std::string& path, const std::string& token) {
  try {
    TestClient client(admin_port);
    std::string head = fmt::format("{} {} HTTP/1.0\r\nHost: 127.0.0.1\r\n", method, path);
    if (!token.empty()) head += fmt::format("Authorization: Bearer {}\r\n", token);
    head += "\r\n";
    if (!client.send(head)) return {};
    std::string all = client.read_all(scaled(std::chrono::seconds(10)));
    AdminReply reply;
    if (auto status = number_after(all, "HTTP/1.1 ")) reply.status = static_cast<int>(*status);
    if (auto body = all.find("\r\n\r\n"); body != std::string::npos)
      reply.body = all.substr(body + 4);
    return reply;
  } catch (const std::exception&) {
    return {};
  }
}

long long stats_counter(std::uint16_t admin_port, const std::string& name) {
  auto reply = admin_request(admin_port, "GET", "/stats");
  return number_after(reply.body, fmt::format("\"{}\": ", name)).value_or(-1);
}

// Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the ')' that ends
// the command name, which may itself contain spaces.
std::chrono::milliseconds cpu_time(pid_t pid) {
  std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::chrono::milliseconds(-1);
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::atoll(field.c_str());
  }
  return std::chrono::milliseconds(ticks * 1000 / ::sysconf(_SC_CLK_TCK));
}

int lowest_free_fd(pid_t pid) {
  std::set<int> open;
  std::string path = fmt::format("/proc/{}/fd", pid);
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') open.insert(std::atoi(entry->d_name));
    }
    ::closedir(dir);
  }
  int fd = 0;
  while (open.count(fd)) ++fd;
  return fd;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

// A doctest check per property, so a failure says which one broke and for whom.
void check_healthy(HealthyClient& healthy, std::uint16_t port) {
  healthy.stop();
  auto failures = healthy.failures();
  CHECK_MESSAGE(failures.empty(), fmt::format("healthy client: {}", fmt::join(failures, "; ")));
  CHECK(healthy.answered() > 0);
  auto lost = lost_keys(port, healthy.acknowledged());
  CHECK_MESSAGE(lost.empty(), fmt::format("{} acknowledged key(s) lost", lost.size()));
}

}  // namespace connsched::testing
