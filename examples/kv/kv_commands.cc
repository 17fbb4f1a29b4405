// File: examples/kv/kv_commands.cc
#include "kv_commands.h"

#include "cpu_burn.h"

#include <fmt/format.h>

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <thread>
#include <unordered_map>

#include "connsched/scoped_wait.h"
#include "connsched/server.h"
#include "kv_info.h"
#include "resp_reply.h"

namespace kv {

namespace {

using Args = std::vector<std::string>;
using Handler = void (*)(const Args&, std::string&, KvShared&, connsched::RequestContext&);

// Bounds on the workload commands, so one request cannot hold a thread forever.
constexpr std::int64_t kMaxBurnMicros = 10'000'000;
constexpr std::int64_t kMaxSleepMillis = 60'000;
constexpr double kMaxLockWaitSeconds = 31'536'000;  // a year: "no limit" is a negative one

struct Command {
  const char* name;  // lower case, as Redis names it in errors
  int arity;         // Redis's convention: N exactly, -N at least N (the name counts)
  Handler handler;
};

std::optional<std::int64_t> to_int(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

void not_an_integer(std::string& out) {
  resp::error(out, "ERR value is not an integer or out of range");
}

void cmd_ping(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  if (a.size() > 2) {
    resp::error(out, "ERR wrong number of arguments for 'ping' command");
  } else if (a.size() == 2) {
    resp::bulk(out, a[1]);
  } else {
    resp::simple(out, "PONG");
  }
}

void cmd_echo(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  resp::bulk(out, a[1]);
}

void cmd_get(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  auto value = s.store.get(a[1]);
  value ? resp::bulk(out, *value) : resp::null_bulk(out);
}

// SET key value [NX|XX] [EX seconds|PX milliseconds], with Redis's error wording.
void cmd_set(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  auto condition = KvStore::SetCondition::kAlways;
  std::int64_t ttl_ms = 0;
  bool has_ttl = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    std::string option = upper(a[i]);
    if (option == "NX" && condition == KvStore::SetCondition::kAlways) {
      condition = KvStore::SetCondition::kIfAbsent;
    } else if (option == "XX" && condition == KvStore::SetCondition::kAlways) {
      condition = KvStore::SetCondition::kIfPresent;
    } else if ((option == "EX" || option == "PX") && !has_ttl && i + 1 < a.size()) {
      auto amount = to_int(a[++i]);
      if (!amount) return not_an_integer(out);
      std::int64_t scale = option == "EX" ? 1000 : 1;
      if (*amount <= 0 || *amount > std::numeric_limits<std::int64_t>::max() / 1000 / scale) {
        return resp::error(out, "ERR invalid expire time in 'set' command");
      }
      ttl_ms = *amount * scale;
      has_ttl = true;
    } else {
      return resp::error(out, "ERR syntax error");
    }
  }
  if (s.store.set(a[1], a[2], condition, ttl_ms)) {
    resp::simple(out, "OK");
  } else {
    resp::null_bulk(out);
  }
}

void cmd_del(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  std::int64_t removed = 0;
  for (std::size_t i = 1; i < a.size(); ++i) removed += s.store.erase(a[i]) ? 1 : 0;
  resp::integer(out, removed);
}

void cmd_exists(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  std::int64_t found = 0;
  for (std::size_t i = 1; i < a.size(); ++i) found += s.store.exists(a[i]) ? 1 : 0;
  resp::integer(out, found);
}

void cmd_incr(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  std::int64_t value = 0;
  switch (s.store.increment(a[1], 1, value)) {
    case KvStore::IncrResult::kOk:
      return resp::integer(out, value);
    case KvStore::IncrResult::kNotInteger:
      return not_an_integer(out);
    case KvStore::IncrResult::kOverflow:
      return resp::error(out, "ERR increment or decrement would overflow");
  }
}

// Checked as the reply grows, so the memory spent is the bound plus one value. The bound
// is max_reply_size, or less when the connection's output buffer has less room left.
void cmd_mget(const Args& a, std::string& out, KvShared& s, connsched::RequestContext& ctx) {
  const std::size_t start = out.size();
  const std::size_t limit = std::min(s.max_reply_size, ctx.reply_room());
  resp::array(out, a.size() - 1);
  for (std::size_t i = 1; i < a.size(); ++i) {
    auto value = s.store.get(a[i]);
    value ? resp::bulk(out, *value) : resp::null_bulk(out);
    if (out.size() - start > limit) {
      out.resize(start);
      out.shrink_to_fit();  // the memory is what the bound is for
      return reply_too_large(out, limit);
    }
  }
}

void cmd_mset(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  if (a.size() % 2 != 1)
    return resp::error(out, "ERR wrong number of arguments for 'mset' command");
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  for (std::size_t i = 1; i + 1 < a.size(); i += 2) pairs.emplace_back(a[i], a[i + 1]);
  s.store.set_many(pairs);
  resp::simple(out, "OK");
}

void cmd_dbsize(const Args&, std::string& out, KvShared& s, connsched::RequestContext&) {
  resp::integer(out, static_cast<std::int64_t>(s.store.size()));
}

void cmd_flushall(const Args& a, std::string& out, KvShared& s, connsched::RequestContext&) {
  if (a.size() > 2 || (a.size() == 2 && upper(a[1]) != "SYNC" && upper(a[1]) != "ASYNC")) {
    return resp::error(out, "ERR syntax error");
  }
  s.store.clear();
  resp::simple(out, "OK");
}

void cmd_info(const Args& a, std::string& out, KvShared& s, connsched::RequestContext& ctx) {
  std::string section;
  if (a.size() > 2) return resp::error(out, "ERR syntax error");
  if (a.size() == 2) {
    for (char c : a[1])
      section.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  resp::bulk(out, info_text(section, ctx.core_stats(), ctx.backend_stats(), s));
}

// What redis-benchmark and redis-cli ask at start-up: CONFIG GET save / appendonly
// (answered as a server without persistence), anything else an empty list.
void cmd_config(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  std::string sub = upper(a[1]);
  if (sub != "GET")
    return resp::error(out, fmt::format("ERR unsupported CONFIG subcommand '{}'", a[1]));
  if (a.size() != 3)
    return resp::error(out, "ERR wrong number of arguments for 'config|get' command");
  std::string name = upper(a[2]);
  if (name == "SAVE") {
    resp::array(out, 2);
    resp::bulk(out, "save");
    resp::bulk(out, "");
  } else if (name == "APPENDONLY") {
    resp::array(out, 2);
    resp::bulk(out, "appendonly");
    resp::bulk(out, "no");
  } else {
    resp::array(out, 0);
  }
}

// COMMAND, COMMAND DOCS, COMMAND COUNT: redis-cli asks for docs to show hints; an empty
// answer is valid and means "no hints".
void cmd_command(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  if (a.size() >= 2 && upper(a[1]) == "COUNT") return resp::integer(out, 0);
  resp::array(out, 0);
}

// CLIENT ID (the connection id the admin port's /kill takes), CLIENT INFO (Redis 6.2's
// line for this connection: its id and the client's address, the one a PROXY header
// named behind a load balancer), CLIENT LIST (the same line for every open connection
// of the server, as Redis lists them) and CLIENT SETNAME (accepted, not kept); other
// subcommands are refused the way Redis refuses unknown ones. Of Redis's fields only id
// and addr are given: core does not keep laddr, fd, name, age, idle, flags, db or cmd
// per connection, and redis-cli and client libraries parse a line with fewer fields.
void cmd_client(const Args& a, std::string& out, KvShared&, connsched::RequestContext& ctx) {
  std::string sub = upper(a[1]);
  if (sub == "ID" && a.size() == 2)
    return resp::integer(out, static_cast<std::int64_t>(ctx.connection_id()));
  if (sub == "INFO" && a.size() == 2) {
    return resp::bulk(out,
                      fmt::format("id={} addr={}\n", ctx.connection_id(), ctx.client_address()));
  }
  if (sub == "LIST" && a.size() == 2) {
    std::string lines;
    for (const auto& c : ctx.server_connections())
      lines += fmt::format("id={} addr={}\n", c.id, c.client_address);
    return resp::bulk(out, lines);
  }
  if (sub == "SETNAME" && a.size() == 3) return resp::simple(out, "OK");
  resp::error(
      out,
      fmt::format("ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                  std::string_view(a[1]).substr(0, 128)));
}

void cmd_select(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  auto db = to_int(a[1]);
  if (!db) return not_an_integer(out);
  if (*db != 0) return resp::error(out, "ERR DB index is out of range");
  resp::simple(out, "OK");
}

// BURN <microseconds>: that much of the thread's CPU time, the cost of a compute-heavy
// request.
void cmd_burn(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  auto micros = to_int(a[1]);
  if (!micros || *micros < 0 || *micros > kMaxBurnMicros) {
    return resp::error(out, fmt::format("ERR BURN takes microseconds in [0, {}]", kMaxBurnMicros));
  }
  const std::uint64_t x = connsched_examples::burn_cpu(std::chrono::microseconds(*micros));
  resp::integer(out, static_cast<std::int64_t>(x & 0xffff));
}

// Sleeps in slices so a killed connection or a shutdown does not wait it out.
void sleep_unless_killed(std::int64_t millis, connsched::RequestContext& ctx) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
  while (!ctx.killed()) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(20)));
  }
}

// SLEEP <milliseconds>: blocks inside a reported wait, as a slow query or I/O would.
void cmd_sleep(const Args& a, std::string& out, KvShared&, connsched::RequestContext& ctx) {
  auto millis = to_int(a[1]);
  if (!millis || *millis < 0 || *millis > kMaxSleepMillis) {
    return resp::error(out,
                       fmt::format("ERR SLEEP takes milliseconds in [0, {}]", kMaxSleepMillis));
  }
  {
    connsched::ScopedWait wait(connsched::WaitType::kSleep);
    sleep_unless_killed(*millis, ctx);
  }
  resp::simple(out, "OK");
}

// LOCK <key> <milliseconds>: waits for the named lock inside a row-lock wait (as a
// database reports a row lock), then holds it, sleeping, for the given time.
void cmd_lock(const Args& a, std::string& out, KvShared& s, connsched::RequestContext& ctx) {
  auto millis = to_int(a[2]);
  if (!millis || *millis < 0 || *millis > kMaxSleepMillis) {
    return resp::error(out, fmt::format("ERR LOCK takes milliseconds in [0, {}]", kMaxSleepMillis));
  }
  std::optional<NamedLocks::Guard> held;
  {
    connsched::ScopedWait wait(connsched::WaitType::kRowLock);
    held.emplace(s.locks, a[1]);
  }
  {
    connsched::ScopedWait wait(connsched::WaitType::kSleep);
    sleep_unless_killed(*millis, ctx);
  }
  resp::simple(out, "OK");
}

// The connection holds a lock between requests for as long as it owns any name: core
// passes that on, so a pool can always find a thread for the request that releases it
// (MDEV-38219).
void note_held_locks(KvShared& s, connsched::RequestContext& ctx) {
  ctx.set_holds_locks(s.locks.held_by(ctx.connection_id()) > 0);
}

// MySQL's timeout argument: seconds, fractions allowed, negative meaning no limit.
std::optional<std::chrono::milliseconds> lock_timeout(std::string_view text) {
  double seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (seconds < 0) return std::chrono::milliseconds(-1);
  if (seconds > kMaxLockWaitSeconds) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// GET_LOCK <name> <seconds>: MySQL's user-level lock, held by the connection across
// requests until RELEASE_LOCK or disconnect; re-entrant. Answers 1 (acquired) or 0
// (timed out), as MySQL does; waits inside a reported USER_LOCK wait; a kill while
// waiting answers an error.
void cmd_get_lock(const Args& a, std::string& out, KvShared& s, connsched::RequestContext& ctx) {
  auto timeout = lock_timeout(a[2]);
  if (!timeout) {
    return resp::error(
        out, fmt::format("ERR GET_LOCK takes a timeout in seconds up to {} (negative: no limit)",
                         kMaxLockWaitSeconds));
  }
  NamedLocks::Acquired result;
  {
    connsched::ScopedWait wait(connsched::WaitType::kUserLock);
    result = s.locks.acquire(a[1], ctx.connection_id(), *timeout, [&] { return ctx.killed(); });
  }
  note_held_locks(s, ctx);
  switch (result) {
    case NamedLocks::Acquired::kYes:
      return resp::integer(out, 1);
    case NamedLocks::Acquired::kTimedOut:
      return resp::integer(out, 0);
    case NamedLocks::Acquired::kAbandoned:
      return resp::error(out, "ERR GET_LOCK interrupted: the connection was killed");
  }
}

// RELEASE_LOCK <name>: 1 when this connection held it (one hold given back), 0 when
// another connection holds it (refused), nil when nobody does: MySQL's answers.
void cmd_release_lock(const Args& a, std::string& out, KvShared& s,
                      connsched::RequestContext& ctx) {
  NamedLocks::Released result = s.locks.release(a[1], ctx.connection_id());
  note_held_locks(s, ctx);
  switch (result) {
    case NamedLocks::Released::kYes:
      return resp::integer(out, 1);
    case NamedLocks::Released::kNotOwner:
      return resp::integer(out, 0);
    case NamedLocks::Released::kNotHeld:
      return resp::null_bulk(out);
  }
}

// RELEASE_ALL_LOCKS: every name this connection holds; answers how many.
void cmd_release_all_locks(const Args&, std::string& out, KvShared& s,
                           connsched::RequestContext& ctx) {
  std::size_t names = s.locks.release_all(ctx.connection_id());
  note_held_locks(s, ctx);
  resp::integer(out, static_cast<std::int64_t>(names));
}

// NAP <milliseconds>: blocks in a plain nanosleep without telling the scheduler (no
// ScopedWait), as a page fault or a library call that sleeps would: what a pool's
// detection of unreported blocking is tested with.
void cmd_nap(const Args& a, std::string& out, KvShared&, connsched::RequestContext&) {
  auto millis = to_int(a[1]);
  if (!millis || *millis < 0 || *millis > kMaxSleepMillis) {
    return resp::error(out, fmt::format("ERR NAP takes milliseconds in [0, {}]", kMaxSleepMillis));
  }
  timespec left{static_cast<time_t>(*millis / 1000), static_cast<long>(*millis % 1000) * 1000000};
  while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
  }
  resp::simple(out, "OK");
}

const std::unordered_map<std::string, Command>& command_table() {
  static const std::unordered_map<std::string, Command> kTable = [] {
    const Command commands[] = {{"ping", -1, cmd_ping},
                                {"echo", 2, cmd_echo},
                                {"get", 2, cmd_get},
                                {"set", -3, cmd_set},
                                {"del", -2, cmd_del},
                                {"exists", -2, cmd_exists},
                                {"incr", 2, cmd_incr},
                                {"mget", -2, cmd_mget},
                                {"mset", -3, cmd_mset},
                                {"dbsize", 1, cmd_dbsize},
                                {"flushall", -1, cmd_flushall},
                                {"info", -1, cmd_info},
                                {"config", -2, cmd_config},
                                {"command", -1, cmd_command},
                                {"select", 2, cmd_select},
                                {"client", -2, cmd_client},
                                {"burn", 2, cmd_burn},
                                {"sleep", 2, cmd_sleep},
                                {"lock", 3, cmd_lock},
                                {"get_lock", 3, cmd_get_lock},
                                {"nap", 2, cmd_nap},
                                {"release_lock", 2, cmd_release_lock},
                                {"release_all_locks", 1, cmd_release_all_locks}};
    std::unordered_map<std::string, Command> table;
    for (const auto& c : commands) table.emplace(upper(c.name), c);
    return table;
  }();
  return kTable;
}

}  // namespace

void reply_too_large(std::string& out, std::size_t limit) {
  resp::error(out, fmt::format("ERR reply larger than {} bytes (max_reply_size)", limit));
}

std::string upper(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Redis 7.0's wording, byte for byte, so clients and scripts that match on it work.
std::optional<std::string> check_command(const std::vector<std::string>& args) {
  auto it = command_table().find(upper(args[0]));
  if (it == command_table().end()) {
    std::string rest;
    for (std::size_t i = 1; i < args.size() && rest.size() < 128; ++i) {
      std::size_t room = 128 - rest.size();
      rest += fmt::format("'{}' ", std::string_view(args[i]).substr(0, room));
    }
    return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                       std::string_view(args[0]).substr(0, 128), rest);
  }
  const Command& c = it->second;
  auto n = static_cast<int>(args.size());
  if ((c.arity > 0 && n != c.arity) || (c.arity < 0 && n < -c.arity)) {
    return fmt::format("ERR wrong number of arguments for '{}' command", c.name);
  }
  return std::nullopt;
}

void execute_command(const std::vector<std::string>& args, std::string& out, KvShared& shared,
                     connsched::RequestContext& ctx) {
  command_table().at(upper(args[0])).handler(args, out, shared, ctx);
}

}  // namespace kv
