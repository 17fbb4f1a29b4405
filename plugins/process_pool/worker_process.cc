// File: plugins/process_pool/worker_process.cc
#include "worker_process.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "connsched/idle_deadlines.h"

namespace connsched::process_pool {

namespace {

constexpr int kTickMs = 250;               // wait_timeout deadlines and the drain deadline
constexpr std::int64_t kRecheckMs = 1000;  // an idle connection whose bytes just arrived
constexpr int kMaxEvents = 64;

class Worker {
 public:
  Worker(const connsched_services* svc, UniqueFd channel, std::int64_t shutdown_timeout_ms)
      : svc_(svc),
        channel_(std::move(channel)),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        shutdown_timeout_ms_(shutdown_timeout_ms) {}

  // The loop: one thread, so each connection is served by exactly one thread.
  int run() {
    if (!epoll_ || !watch(channel_.get(), nullptr)) {
      log(CONNSCHED_LOG_ERROR, "cannot set up its epoll loop");
      return 2;  // fatal: the master must not respawn in a loop
    }
    epoll_event events[kMaxEvents];
    while (!(draining_ && conns_.empty())) {
      int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, kTickMs);
      for (int i = 0; i < n; ++i) {
        auto* conn = static_cast<connsched_conn*>(events[i].data.ptr);
        if (conn == nullptr) {
          read_channel();
        } else {
          serve(conn);
        }
      }
      tick();
    }
    return 0;
  }

 private:
  // Adds an fd to the loop, level-triggered: a connection with input left after
  // do_command is simply reported again.
  bool watch(int fd, connsched_conn* conn) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = conn;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  // Worker lines carry the worker's pid: several processes write to one log.
  void log(int level, const std::string& text) {
    std::string line = "process-pool worker " + std::to_string(::getpid()) + ": " + text;
    svc_->log(svc_, level, line.c_str());
  }

  // A message the master can no longer receive means the master is gone: drain.
  void tell_master(const Message& message) {
    if (send_message(channel_.get(), message) != 0) start_drain();
  }

  // Everything the master says, until its channel is empty.
  void read_channel() {
    while (true) {
      Received in;
      int rc = receive_message(channel_.get(), in);
      if (rc == -EAGAIN || rc == -EWOULDBLOCK) return;
      if (rc <= 0 && rc != -EBADMSG) {  // EOF or error: the master closed its end
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, channel_.get(), nullptr);
        start_drain();
        return;
      }
      if (in.message.kind == Kind::kQuit) {
        start_drain();
      } else if (in.message.kind == Kind::kHandOver) {
        start_hand_over();
      } else if (in.message.kind == Kind::kConnection) {
        adopt(in);
      }
    }
  }

  // The master closes its copy of the socket only after our answer, and passes it to
  // another worker if we refuse: so refuse whenever we cannot serve it (draining, the
  // fd dropped by MSG_CTRUNC because we are out of fds, max_connections here).
  void adopt(Received& in) {
    Message ack{Kind::kAck, 0, ::getpid(), in.message.token, 0};
    if (!draining_ && !in.truncated && in.fd) {
      int fd = in.fd.get();
      // The master's core read the PROXY header: the socket's peer here is the balancer.
      const char* address = in.message.client_address.data();
      connsched_conn* conn = address[0] != '\0' && CONNSCHED_SERVICES_HAS(svc_, adopt_fd_as)
                                 ? svc_->adopt_fd_as(svc_, in.fd.release(), address)
                                 : svc_->adopt_fd(svc_, in.fd.release());
      if (conn != nullptr && watch(fd, conn)) {
        conns_.emplace(svc_->conn_id(conn), conn);
        deadlines_.watch(svc_->conn_id(conn), svc_->conn_idle_deadline_ms(conn));
        ack.value = 1;
      } else if (conn != nullptr) {
        svc_->end_connection(conn);
      }
    }
    if (in.truncated)
      log(CONNSCHED_LOG_WARNING, "a passed socket was dropped (out of fds); refusing it");
    tell_master(ack);
  }

  // One do_command per readiness report; a connection done is closed and reported
  // (value 1: closed at wait_timeout, which the master counts). While handing over, a
  // connection whose request is answered goes to the master.
  void serve(connsched_conn* conn) {
    if (svc_->do_command(conn) != CONNSCHED_NEXT_CLOSE) {
      if (handing_over_) hand_over(conn);
      return;
    }
    const bool timed_out = svc_->conn_killed(conn) == CONNSCHED_KILL_TIMEOUT;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, svc_->conn_fd(conn), nullptr);
    conns_.erase(svc_->conn_id(conn));
    svc_->end_connection(conn);
    tell_master(Message{Kind::kClosed, 0, ::getpid(), 0, timed_out ? 1 : 0});
  }

  // Graceful: a connection between requests is closed (the kill shuts its socket for
  // reading, so the loop sees it readable and do_command answers what had arrived and
  // says CLOSE); the process exits when none is left. Also ends a hand-over (the server
  // stops during a reload): what is left is closed between requests.
  void start_drain() {
    if (draining_ && !handing_over_) return;
    if (!draining_) drain_deadline_ms_ = svc_->now_ms() + shutdown_timeout_ms_;
    draining_ = true;
    handing_over_ = false;
    for (const auto& [id, conn] : conns_) svc_->kill_connection(svc_, id, CONNSCHED_KILL_SHUTDOWN);
  }

  // nginx's reload closes idle keep-alive connections; here a reload costs a client
  // nothing: every connection between requests goes back to the master (SCM_RIGHTS)
  // for a worker of the new generation, and each busy one follows as soon as its
  // request is answered. What is still mid-request at the drain deadline is closed.
  // A core without detach_fd (1.1): the plain drain.
  void start_hand_over() {
    if (draining_) return;
    if (!CONNSCHED_SERVICES_HAS(svc_, detach_fd)) {
      start_drain();
      return;
    }
    draining_ = true;
    handing_over_ = true;
    drain_deadline_ms_ = svc_->now_ms() + shutdown_timeout_ms_;
    hand_over_idle();
  }

  // Every connection between requests goes to the master; the others follow later.
  void hand_over_idle() {
    std::vector<connsched_conn*> all;
    for (const auto& [id, conn] : conns_) all.push_back(conn);
    for (connsched_conn* conn : all) hand_over(conn);
  }

  // The socket leaves this process only between requests (detach_fd says so); the
  // master's copy arrives with the message, ours is closed. True when it left.
  bool hand_over(connsched_conn* conn) {
    const std::uint64_t id = svc_->conn_id(conn);
    Message handback{Kind::kHandback, 0, ::getpid(), 0, 0};
    if (CONNSCHED_SERVICES_HAS(svc_, conn_client_address))  // read while conn still lives
      handback.set_client_address(svc_->conn_client_address(conn));
    int fd = svc_->detach_fd(conn);  // ends the connection here on success
    if (fd < 0) return false;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);  // the socket outlives our fd
    conns_.erase(id);
    int rc = send_message(channel_.get(), handback, fd);
    ::close(fd);
    if (rc != 0) {
      log(CONNSCHED_LOG_WARNING, std::string("cannot hand a connection back to the master (") +
                                     std::strerror(rc) + "); it is closed");
    }
    return true;
  }

  // wait_timeout for idle connections (core cannot see them: the descriptor says
  // OWN_IDLE_TIMEOUT), from the same lazy deadline heap core uses, so a tick looks only
  // at the connections that came due; past the drain deadline, close what is left.
  void tick() {
    std::int64_t now = svc_->now_ms();
    if (draining_ && now >= drain_deadline_ms_) {
      log(CONNSCHED_LOG_WARNING,
          std::to_string(conns_.size()) +
              " connection(s) still open at the drain deadline; closing them");
      for (const auto& [id, conn] : conns_) svc_->end_connection(conn);
      conns_.clear();
      return;
    }
    if (handing_over_) hand_over_idle();  // a request answered without a new readiness report
    deadlines_.expire(
        now,
        [this](std::uint64_t id, std::int64_t at, std::int64_t* later) {
          return check(id, at, later);
        },
        [this](std::uint64_t id) { svc_->kill_connection(svc_, id, CONNSCHED_KILL_TIMEOUT); });
  }

  // A deadline came due: gone, moved on (input since then), or expired. Bytes that
  // arrived but were not served yet are looked at again shortly, as core does.
  IdleDeadlines::Verdict check(std::uint64_t id, std::int64_t now, std::int64_t* later) {
    auto it = conns_.find(id);
    if (it == conns_.end() || svc_->conn_killed(it->second) != CONNSCHED_KILL_NONE)
      return IdleDeadlines::Verdict::kGone;
    const std::int64_t deadline = svc_->conn_idle_deadline_ms(it->second);
    if (deadline > now) {
      *later = deadline;
      return IdleDeadlines::Verdict::kLater;
    }
    pollfd p{svc_->conn_fd(it->second), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      *later = now + kRecheckMs;
      return IdleDeadlines::Verdict::kLater;
    }
    return IdleDeadlines::Verdict::kExpired;
  }

  const connsched_services* svc_;
  UniqueFd channel_;
  UniqueFd epoll_;
  std::int64_t shutdown_timeout_ms_;
  std::unordered_map<std::uint64_t, connsched_conn*> conns_;  // by the id in this process
  IdleDeadlines deadlines_;
  bool draining_ = false;
  bool handing_over_ = false;  // reload: connections go back to the master, not closed
  std::int64_t drain_deadline_ms_ = 0;
};

}  // namespace

// The worker's life: serve, drain, and leave with _exit (see the header).
void run_worker_process(const connsched_services* svc, UniqueFd channel,
                        std::int64_t shutdown_timeout_ms) {
  int status = Worker(svc, std::move(channel), shutdown_timeout_ms).run();
  ::_exit(status);
}

}  // namespace connsched::process_pool
