// File: examples/kv/kv_session.cc
#include "kv_session.h"

#include <fmt/format.h>

#include <algorithm>

#include "kv_commands.h"
#include "resp_reply.h"

namespace kv {

// One request per call, so core's loop pipelines; a malformed frame gets Redis's
// "-ERR Protocol error: ..." and the connection closes, as Redis does, because
// nothing after it can be trusted to be aligned on a request.
std::size_t KvSession::handle(std::string_view input, connsched::Reply& reply,
                              connsched::RequestContext& ctx) {
  connection_id_ = ctx.connection_id();
  RespRequest request = parse_resp_request(input, shared_->limits);
  switch (request.status) {
    case RespRequest::Status::kIncomplete:
      // A bulk's length is known: core waits for its bytes instead of calling again.
      if (request.needed > 0) ctx.need_bytes(request.needed);
      return 0;
    case RespRequest::Status::kError:
      resp::error(reply.buffer(), "ERR " + request.error);
      ctx.close_after_reply();
      return input.size();
    case RespRequest::Status::kComplete:
      break;
  }
  if (!request.args.empty()) run(request.args, reply.buffer(), ctx);
  return request.consumed;
}

KvSession::~KvSession() {
  if (connection_id_ != 0) shared_->locks.release_all(connection_id_);
}

// Core resets a session when its connection ends (disconnect, kill, QUIT): the names
// it held with GET_LOCK are released there, as MySQL releases a session's locks.
void KvSession::reset() {
  if (connection_id_ != 0) shared_->locks.release_all(connection_id_);
  connection_id_ = 0;
  in_multi_ = false;
  multi_failed_ = false;
  queued_.clear();
  queued_bytes_ = 0;
}

// MULTI marks the connection in-transaction (the pool's high-priority hint) until EXEC
// or DISCARD; inside it, commands are checked and queued, not run.
void KvSession::run(std::vector<std::string>& args, std::string& out,
                    connsched::RequestContext& ctx) {
  std::string name = upper(args[0]);
  if (name == "QUIT") {
    resp::simple(out, "OK");
    ctx.close_after_reply();
    return;
  }
  if (name == "MULTI" || name == "EXEC" || name == "DISCARD") {
    if (args.size() != 1) {
      for (char& c : name) c = static_cast<char>(c - 'A' + 'a');
      return resp::error(out, fmt::format("ERR wrong number of arguments for '{}' command", name));
    }
    if (name == "MULTI") {
      if (in_multi_) return resp::error(out, "ERR MULTI calls can not be nested");
      in_multi_ = true;
      multi_failed_ = false;
      ctx.set_in_transaction(true);
      return resp::simple(out, "OK");
    }
    if (!in_multi_) return resp::error(out, fmt::format("ERR {} without MULTI", name));
    if (name == "EXEC") return exec(out, ctx);
    reset();
    ctx.set_in_transaction(false);
    return resp::simple(out, "OK");
  }
  if (auto why = check_command(args)) {
    if (in_multi_) multi_failed_ = true;
    return resp::error(out, *why);
  }
  if (!in_multi_) return execute_command(args, out, *shared_, ctx);
  if (queued_.size() >= kMaxQueued) {
    multi_failed_ = true;
    return resp::error(out, fmt::format("ERR more than {} commands queued in MULTI", kMaxQueued));
  }
  std::size_t bytes = 0;
  for (const auto& arg : args) bytes += arg.size();
  if (queued_bytes_ + bytes > shared_->max_multi_size) {
    // The queue is dropped now, not at EXEC: its memory is what the limit protects.
    queued_.clear();
    queued_bytes_ = 0;
    multi_failed_ = true;
    return resp::error(out, fmt::format("ERR more than {} bytes queued in MULTI (max_multi_size)",
                                        shared_->max_multi_size));
  }
  queued_bytes_ += bytes;
  queued_.push_back(std::move(args));
  resp::simple(out, "QUEUED");
}

void KvSession::exec(std::string& out, connsched::RequestContext& ctx) {
  if (multi_failed_) {
    resp::error(out, "EXECABORT Transaction discarded because of previous errors.");
  } else {
    // A transaction is all or nothing, so every queued command runs. Each command's reply
    // is bounded on its own; one that would take the whole past max_reply_size is answered
    // by an error element in its place, so the array keeps one element per command and a
    // client never has to guess which writes happened.
    const std::size_t start = out.size();
    const std::size_t limit = std::min(shared_->max_reply_size, ctx.reply_room());
    resp::array(out, queued_.size());
    std::string element;
    for (const auto& args : queued_) {
      element.clear();
      execute_command(args, element, *shared_, ctx);
      if (out.size() - start + element.size() > limit) {
        reply_too_large(out, limit);
      } else {
        out += element;
      }
    }
  }
  reset();
  ctx.set_in_transaction(false);
}

std::string KvProtocol::too_many_connections_reply() const {
  return "-ERR max number of clients reached\r\n";
}

std::string KvProtocol::request_too_large_reply(std::size_t limit) const {
  return fmt::format("-ERR Protocol error: request larger than {} bytes (max_request_size)\r\n",
                     limit);
}

std::string KvProtocol::request_timeout_reply(std::uint32_t seconds) const {
  return fmt::format("-ERR request not complete within {} s (request_timeout)\r\n", seconds);
}

std::string KvProtocol::internal_error_reply(std::string_view what) const {
  std::string out;
  resp::error(out, fmt::format("ERR internal error: {}", what));
  return out;
}

}  // namespace kv
