// tiny_cache: a small memcached-like server built against the installed connsched
// package, the worked example of docs/writing-a-server.md.
//   set <key> <bytes>\r\n<data>\r\n  -> STORED
//   get <key>\r\n                    -> VALUE <key> <bytes>\r\n<data>\r\nEND  (or END)
//   sleep <ms>\r\n                   -> SLEPT (a reported wait: pools run others meanwhile)
//   quit\r\n                         -> closes the connection
#include <connsched/scoped_wait.h>
#include <connsched/server.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace {

// Shared by every session, so used from many threads at once: guarded by a mutex.
struct Store {
  std::mutex mutex;
  std::map<std::string, std::string, std::less<>> values;
  std::size_t max_keys = 10000;
};

std::size_t to_size(std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() ? value : SIZE_MAX;
}

// One connection's state. Core calls handle() on one thread at a time per session.
class CacheSession final : public connsched::Session {
 public:
  explicit CacheSession(Store& store) : store_(store) {}

  std::size_t handle(std::string_view in, connsched::Reply& out,
                     connsched::RequestContext& ctx) override {
    const auto eol = in.find("\r\n");
    if (eol == std::string_view::npos) return 0;  // the command line is not complete
    const std::string_view line = in.substr(0, eol);
    const auto space = line.find(' ');
    const std::string_view verb = line.substr(0, space);
    const std::string_view rest = space == line.npos ? "" : line.substr(space + 1);
    if (verb == "set") {
      const auto blank = rest.find(' ');
      const std::size_t bytes = blank == rest.npos ? SIZE_MAX : to_size(rest.substr(blank + 1));
      if (bytes == SIZE_MAX) return refuse(out, ctx, in.size(), "bad set line");
      const std::size_t total = eol + 2 + bytes + 2;
      if (in.size() < total) {
        ctx.need_bytes(total);  // do not call again before the whole value is here
        return 0;
      }
      std::lock_guard lock(store_.mutex);
      if (store_.values.size() >= store_.max_keys) {
        out.append("SERVER_ERROR out of keys\r\n");
      } else {
        store_.values.insert_or_assign(std::string(rest.substr(0, blank)),
                                       std::string(in.substr(eol + 2, bytes)));
        out.append("STORED\r\n");
      }
      return total;
    }
    if (verb == "get") {
      std::lock_guard lock(store_.mutex);
      if (auto found = store_.values.find(rest); found != store_.values.end()) {
        out.append(fmt::format("VALUE {} {}\r\n", rest, found->second.size()));
        out.append(found->second);
        out.append("\r\n");
      }
      out.append("END\r\n");
      return eol + 2;
    }
    if (verb == "sleep") {
      connsched::ScopedWait wait(connsched::WaitType::kSleep);  // a pool may run others now
      std::this_thread::sleep_for(std::chrono::milliseconds(to_size(rest) % 10000));
      out.append("SLEPT\r\n");
      return eol + 2;
    }
    if (verb == "quit") {
      ctx.close_after_reply();
      return eol + 2;
    }
    return refuse(out, ctx, eol + 2, "unknown command");
  }

 private:
  // Malformed input: one error line, then the connection closes; the server carries on.
  static std::size_t refuse(connsched::Reply& out, connsched::RequestContext& ctx, std::size_t drop,
                            std::string_view why) {
    out.append(fmt::format("CLIENT_ERROR {}\r\n", why));
    ctx.close_after_reply();
    return drop;
  }
  Store& store_;
};

// Made once, after the command line is parsed; shared by every session.
class CacheProtocol final : public connsched::Protocol {
 public:
  explicit CacheProtocol(std::size_t max_keys) { store_.max_keys = max_keys; }
  std::unique_ptr<connsched::Session> new_session() override {
    return std::make_unique<CacheSession>(store_);
  }
  std::string too_many_connections_reply() const override {
    return "SERVER_ERROR too many connections\r\n";
  }
  std::string request_too_large_reply(std::size_t limit) const override {
    return fmt::format("SERVER_ERROR request larger than {} bytes\r\n", limit);
  }
  std::string internal_error_reply(std::string_view what) const override {
    return fmt::format("SERVER_ERROR {}\r\n", what);
  }

 private:
  Store store_;
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t max_keys = 10000;
  connsched::ServerSpec spec;
  spec.name = "tiny_cache";
  spec.description = "tiny_cache: set/get/sleep/quit, memcached-style";
  spec.default_port = 11311;
  spec.add_options = [&](CLI::App& app) {
    app.add_option("--max-keys", max_keys, "Keys the cache holds at most")->capture_default_str();
  };
  spec.make_protocol = [&] { return std::make_unique<CacheProtocol>(max_keys); };
  return connsched::run_server_main(argc, argv, spec);
}
