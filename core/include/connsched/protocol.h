// File: connsched/protocol.h
//
// What an example server implements: how bytes on a connection become requests and
// replies. Core owns sockets, buffers and threads; a Protocol only parses and executes.
//
// Example:
//
//   class EchoSession : public connsched::Session {
//    public:
//     size_t handle(std::string_view in, connsched::Reply& out,
//                   connsched::RequestContext&) override {
//       auto nl = in.find('\n');
//       if (nl == std::string_view::npos) return 0;  // incomplete: wait for more
//       out.append(in.substr(0, nl + 1));
//       return nl + 1;
//     }
//   };
#ifndef CONNSCHED_PROTOCOL_H_
#define CONNSCHED_PROTOCOL_H_

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace connsched {

struct CoreStats;     // connsched/server.h
struct BackendStats;  // connsched/server.h

/// The output buffer of one connection. Replies are appended; core writes them.
class Reply {
 public:
  explicit Reply(std::string& buffer) : buffer_(buffer) {}
  void append(std::string_view bytes) { buffer_.append(bytes); }
  void append(char c) { buffer_.push_back(c); }
  std::size_t size() const { return buffer_.size(); }
  std::string& buffer() { return buffer_; }

 private:
  std::string& buffer_;
};

/// One open connection of the server, as RequestContext::server_connections lists it.
struct ConnectionSummary {
  std::uint64_t id = 0;        // as connection_id() returns it on that connection
  std::string client_address;  // as client_address() returns it on that connection
};

/// What a request may learn about and ask of its connection.
class RequestContext {
 public:
  virtual ~RequestContext() = default;
  /// The connection's id (as shown in stats and used by kill).
  virtual std::uint64_t connection_id() const = 0;
  /// The client's address, "1.2.3.4:5678" or "[2001:db8::1]:5678": the socket's peer, or
  /// the client a PROXY protocol header named (--proxy-protocol-networks). Default: empty
  /// (a context with no connection).
  virtual std::string client_address() const { return {}; }
  /// The server's open connections (this one included), sorted by id: a copy taken under
  /// core's connection-registry lock, so it costs one allocation per connection; for
  /// status commands that list clients (kv's CLIENT LIST), not for every request. Under
  /// a backend that serves from several processes (process-pool) it lists this process's
  /// connections only. Default: empty (a context with no server).
  virtual std::vector<ConnectionSummary> server_connections() const { return {}; }
  /// Marks the connection as inside a transaction; pool-of-threads serves it first.
  virtual void set_in_transaction(bool in_transaction) = 0;
  virtual bool in_transaction() const = 0;
  /// Marks the connection as holding a lock between requests (MySQL's GET_LOCK): a pool
  /// serves it first and may give it a thread above its limit, so the request that
  /// releases the lock always runs (MDEV-38219). Clear it when the last lock goes;
  /// core clears it when the connection ends. Default: ignored (a context with no core).
  virtual void set_holds_locks(bool /*holds*/) {}
  virtual bool holds_locks() const { return false; }
  /// Closes the connection once the replies written so far are sent (QUIT).
  virtual void close_after_reply() = 0;
  /// True once the connection was killed or the server began shutting down.
  virtual bool killed() const = 0;
  /// True once the server drains (POST /drain on the admin port): this connection is to
  /// close at its next request boundary. Core closes it by itself after a request once no
  /// further input is buffered and the connection is not inside a transaction
  /// (set_in_transaction defers the close to the end of it). A protocol that can tell its
  /// client reads this while building a reply and says so in it, then calls
  /// close_after_reply() (HTTP: "Connection: close"), so a pipelining client retries the
  /// rest elsewhere instead of losing it. The value is sampled once per request, before
  /// handle() runs: a drain that begins meanwhile is seen by the next request, so core
  /// never closes after a reply that did not say so. Default: false (a context with no
  /// server).
  virtual bool draining() const { return false; }
  /// Bytes a reply may still add before the connection's unsent replies pass
  /// max_output_buffer (which closes it): a handler building a large reply checks this as
  /// it grows and answers an error instead. Default: no bound.
  virtual std::size_t reply_room() const { return SIZE_MAX; }
  /// The server's counters and the backend's stats now, for status commands (INFO).
  /// Include connsched/server.h to use them. Default: empty (a context with no server).
  virtual CoreStats core_stats() const;
  virtual BackendStats backend_stats() const;
  /// Says, before handle() returns 0, that the request at the front of the input cannot
  /// make progress until `total` bytes of it (counted from the front) have arrived, e.g.
  /// once a bulk length was read. Core then does not call handle() for this connection
  /// again until that many bytes are buffered, so a 1 MiB value arriving in 64 KiB pieces
  /// is parsed once, not once per piece. A hint only: forgotten after the next handle().
  /// Default: ignored (a context with no connection).
  virtual void need_bytes(std::size_t total);
};

/// One connection's protocol state. Sessions are pooled: `reset` readies one for reuse.
class Session {
 public:
  virtual ~Session() = default;
  /// Called when a connection starts; may append a greeting.
  virtual void on_connect(Reply& /*out*/, RequestContext& /*ctx*/) {}
  /// Parses at most one complete request at the front of `input` and executes it,
  /// appending its reply to `out`. Returns the number of bytes consumed, 0 when the
  /// request is not complete yet (then `ctx.need_bytes(n)` may say how much is needed).
  /// To refuse malformed input, append an error reply
  /// and call `ctx.close_after_reply()` (then return the bytes to drop, >= 1).
  /// May block, inside a ScopedWait. May throw: the connection then gets
  /// Protocol::internal_error_reply() and is closed; the server carries on.
  virtual std::size_t handle(std::string_view input, Reply& out, RequestContext& ctx) = 0;
  /// Clears per-connection state before the session serves another connection.
  virtual void reset() {}
};

/// A server's protocol: makes sessions and the replies core sends on its own.
class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual std::unique_ptr<Session> new_session() = 0;
  /// Sent, then the connection closed, when max_connections is reached.
  virtual std::string too_many_connections_reply() const = 0;
  /// Sent, then the connection closed, when a request exceeds max_request_size.
  virtual std::string request_too_large_reply(std::size_t limit) const = 0;
  /// Sent, then the connection closed, when a handler throws.
  virtual std::string internal_error_reply(std::string_view what) const = 0;
  /// Sent, then the connection closed, when a request is not complete within
  /// request_timeout seconds of its first byte. Default: internal_error_reply's.
  virtual std::string request_timeout_reply(std::uint32_t seconds) const;
};

}  // namespace connsched

#endif  // CONNSCHED_PROTOCOL_H_
