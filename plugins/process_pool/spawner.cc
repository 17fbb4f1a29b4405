// File: plugins/process_pool/spawner.cc
#include "spawner.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <string>

#include "worker_process.h"

namespace connsched::process_pool {

namespace {

// Dies with the parent (PR_SET_PDEATHSIG) and keeps no fd it was not given: the
// listening socket, the parent's other channels and whatever the host process had
// open stay with the parent. Async-signal-safe calls only.
bool detach_from_parent(pid_t parent, int keep) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) return false;
  if (keep > 3) ::close_range(3, static_cast<unsigned>(keep) - 1, 0);
  ::close_range(static_cast<unsigned>(keep) + 1, ~0U, 0);
  return true;
}

// A forked child's whole life: it never returns into the server's code, not even by an
// exception (out of memory), which would otherwise unwind into the copy of core's init
// that forked it. Exit status 2 is "fatal, do not respawn".
template <class Body>
[[noreturn]] void run_child(Body&& body) {
  int status = 2;
  try {
    status = body();
  } catch (...) {
  }
  ::_exit(status);
}

class Spawner {
 public:
  Spawner(const connsched_services* svc, UniqueFd control, std::int64_t shutdown_timeout_ms)
      : svc_(svc), control_(std::move(control)), shutdown_timeout_ms_(shutdown_timeout_ms) {}

  // Serves the master's requests until it closes the control channel, reaping workers
  // as they exit; then waits for the last workers (they drain once the master closed
  // their channels) so that none outlives the server.
  int run() {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    UniqueFd sigfd(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd) return 1;
    bool master_open = true;
    while (master_open || !slots_.empty()) {
      pollfd fds[2] = {{sigfd.get(), POLLIN, 0}, {master_open ? control_.get() : -1, POLLIN, 0}};
      if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return 1;
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info;
        while (::read(sigfd.get(), &info, sizeof info) > 0) {
        }
      }
      reap();
      if (master_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
        master_open = read_control();
    }
    return 0;
  }

 private:
  // Requests until the channel is empty; false once the master closed it.
  bool read_control() {
    while (true) {
      Received in;
      int rc = receive_message(control_.get(), in);
      if (rc == -EAGAIN || rc == -EWOULDBLOCK) return true;
      if (rc == -EBADMSG) continue;
      if (rc <= 0) return false;
      if (in.message.kind == Kind::kSpawn) spawn(in.message.slot);
    }
  }

  // A fresh worker for `slot`: its channel's master end travels to the master, the
  // worker keeps the other end and nothing else.
  void spawn(std::uint32_t slot) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      send_message(control_.get(), Message{Kind::kSpawnFailed, slot, 0, 0, errno});
      return;
    }
    UniqueFd master_end(pair[0]), worker_end(pair[1]);
    pid_t self = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      send_message(control_.get(), Message{Kind::kSpawnFailed, slot, 0, 0, errno});
      return;
    }
    if (pid == 0) {
      if (!detach_from_parent(self, worker_end.get())) ::_exit(2);
      master_end.release();  // closed by detach_from_parent
      control_.release();
      run_child([&] {
        run_worker_process(svc_, std::move(worker_end), shutdown_timeout_ms_);
        return 0;
      });
    }
    slots_[pid] = slot;
    send_message(control_.get(), Message{Kind::kSpawned, slot, pid, 0, 0}, master_end.get());
  }

  // Every exited worker is reported with its wait status, so the master can tell a
  // crash from a clean exit and decide about a respawn.
  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = slots_.find(pid);
      if (it == slots_.end()) continue;
      send_message(control_.get(), Message{Kind::kExited, it->second, pid, 0, status});
      slots_.erase(it);
    }
  }

  const connsched_services* svc_;
  UniqueFd control_;
  std::int64_t shutdown_timeout_ms_;
  std::map<pid_t, std::uint32_t> slots_;  // live workers
};

// The threads of this process, the caller included (/proc/self/task); 0 if unreadable.
std::size_t threads_in_process() {
  std::size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
    ::closedir(dir);
  }
  return n;
}

}  // namespace

// fork, then the child becomes the spawner and never returns (see the header for why
// this is the one fork the master makes, and why it must be made while the process has
// no other thread: the warning names the hazard when an embedding program broke that).
pid_t fork_spawner(const connsched_services* svc, std::int64_t shutdown_timeout_ms,
                   UniqueFd& control) {
  if (std::size_t threads = threads_in_process(); threads > 1) {
    std::string line = "process-pool: forking the spawner while " + std::to_string(threads - 1) +
                       " other thread(s) run in this process: a lock one of them holds now "
                       "(an allocator's, a sanitizer's) stays locked in every worker; start "
                       "the server before starting threads";
    svc->log(svc, CONNSCHED_LOG_WARNING, line.c_str());
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  UniqueFd master_end(pair[0]), spawner_end(pair[1]);
  pid_t master = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!detach_from_parent(master, spawner_end.get())) ::_exit(2);
    master_end.release();  // closed by detach_from_parent
    run_child([&] { return Spawner(svc, std::move(spawner_end), shutdown_timeout_ms).run(); });
  }
  control = std::move(master_end);
  return pid;
}

}  // namespace connsched::process_pool
