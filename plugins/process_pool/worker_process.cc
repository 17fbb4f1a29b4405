// File: plugins/process_pool/worker_process.cc
#include "worker_process.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace connsched_plugins {

namespace {

constexpr int kTickMs = 250;  // wait_timeout scan and drain-deadline check
constexpr int kMaxEvents = 64;

class Worker {
 public:
  Worker(const connsched_services* svc, Fd channel, std::int64_t shutdown_timeout_ms)
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
      connsched_conn* conn = svc_->adopt_fd(svc_, in.fd.release());
      if (conn != nullptr && watch(fd, conn)) {
        conns_.push_back(conn);
        ack.value = 1;
      } else if (conn != nullptr) {
        svc_->end_connection(conn);
      }
    }
    if (in.truncated)
      log(CONNSCHED_LOG_WARNING, "a passed socket was dropped (out of fds); refusing it");
    tell_master(ack);
  }

  // One do_command per readiness report; a connection done is closed and reported.
  // While handing over, a connection whose request is answered goes to the master.
  void serve(connsched_conn* conn) {
    if (svc_->do_command(conn) != CONNSCHED_NEXT_CLOSE) {
      if (handing_over_) hand_over(conn);
      return;
    }
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, svc_->conn_fd(conn), nullptr);
    svc_->end_connection(conn);
    conns_.erase(std::find(conns_.begin(), conns_.end(), conn));
    tell_master(Message{Kind::kClosed, 0, ::getpid(), 0, 0});
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
    for (connsched_conn* conn : conns_) {
      svc_->kill_connection(svc_, svc_->conn_id(conn), CONNSCHED_KILL_SHUTDOWN);
    }
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
    std::vector<connsched_conn*> all = conns_;
    for (connsched_conn* conn : all) hand_over(conn);
  }

  // The socket leaves this process only between requests (detach_fd says so); the
  // master's copy arrives with the message, ours is closed. True when it left.
  bool hand_over(connsched_conn* conn) {
    int fd = svc_->detach_fd(conn);  // ends the connection here on success
    if (fd < 0) return false;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);  // the socket outlives our fd
    conns_.erase(std::find(conns_.begin(), conns_.end(), conn));
    int rc = send_message(channel_.get(), Message{Kind::kHandback, 0, ::getpid(), 0, 0}, fd);
    ::close(fd);
    if (rc != 0) {
      log(CONNSCHED_LOG_WARNING, std::string("cannot hand a connection back to the master (") +
                                     std::strerror(rc) + "); it is closed");
    }
    return true;
  }

  // wait_timeout for idle connections; past the drain deadline, close what is left.
  void tick() {
    std::int64_t now = svc_->now_ms();
    if (draining_ && now >= drain_deadline_ms_) {
      log(CONNSCHED_LOG_WARNING,
          std::to_string(conns_.size()) +
              " connection(s) still open at the drain deadline; closing them");
      for (connsched_conn* conn : conns_) svc_->end_connection(conn);
      conns_.clear();
      return;
    }
    if (handing_over_) {  // a request answered without a new readiness report
      std::vector<connsched_conn*> all = conns_;
      for (connsched_conn* conn : all) hand_over(conn);
    }
    for (connsched_conn* conn : conns_) {
      if (svc_->conn_idle_deadline_ms(conn) <= now) {
        svc_->kill_connection(svc_, svc_->conn_id(conn), CONNSCHED_KILL_TIMEOUT);
      }
    }
  }

  const connsched_services* svc_;
  Fd channel_;
  Fd epoll_;
  std::int64_t shutdown_timeout_ms_;
  std::vector<connsched_conn*> conns_;
  bool draining_ = false;
  bool handing_over_ = false;  // reload: connections go back to the master, not closed
  std::int64_t drain_deadline_ms_ = 0;
};

}  // namespace

// The worker's life: serve, drain, and leave with _exit (see the header).
void run_worker_process(const connsched_services* svc, Fd channel,
                        std::int64_t shutdown_timeout_ms) {
  int status = Worker(svc, std::move(channel), shutdown_timeout_ms).run();
  ::_exit(status);
}

}  // namespace connsched_plugins
