// File: plugins/process_pool/channel.h
//
// The process pool's channels: AF_UNIX SOCK_SEQPACKET socketpairs carrying one fixed
// record per message (nginx's ngx_channel_t shape), optionally with one fd attached as
// SCM_RIGHTS. SEQPACKET keeps record boundaries, so a reader never sees half a
// message. A received fd arrives close-on-exec (MSG_CMSG_CLOEXEC), and a control
// message the kernel truncated (MSG_CTRUNC: the receiver was out of fds, so the kernel
// dropped the fd silently, unix(7)) is reported, so the receiver can refuse.
#ifndef CONNSCHED_PLUGINS_PROCESS_POOL_CHANNEL_H_
#define CONNSCHED_PLUGINS_PROCESS_POOL_CHANNEL_H_

#include <array>
#include <cstdint>

#include "connsched/unique_fd.h"

namespace connsched::process_pool {

enum class Kind : std::uint32_t {
  // master -> spawner
  kSpawn = 1,  // slot: fork a worker for it
  // spawner -> master
  kSpawned = 2,      // slot, pid; fd: the master's end of the worker's channel
  kSpawnFailed = 3,  // slot, value: errno
  kExited = 4,       // slot, pid, value: wait status
  // master -> worker
  kConnection = 5,  // token, client_address; fd: the client socket
  kQuit = 6,        // drain: refuse new sockets, close idle connections, exit
  // worker -> master
  kAck = 7,     // token, value: 1 adopted (master closes its copy), 0 refused
  kClosed = 8,  // a connection the worker adopted has ended
  // master -> worker
  kHandOver = 9,  // reload: hand idle connections back (kHandback), drain the rest, exit
  // worker -> master
  kHandback = 10,  // client_address; fd: a client socket between requests, for a worker of
                   // the new generation
};

struct Message {
  Kind kind{};
  std::uint32_t slot = 0;
  std::int64_t pid = 0;
  std::int64_t token = 0;
  std::int64_t value = 0;
  // With a socket: its client's address as core knows it where it was accepted (a PROXY
  // header's, which the socket's peer no longer tells), NUL-terminated; empty when
  // unknown or too long, and the receiver then reports the socket's peer.
  std::array<char, 64> client_address{};
  // Copies `address` in when it fits ("[v6]:port" needs at most 54 bytes).
  void set_client_address(const char* address);
};

struct Received {
  Message message;
  UniqueFd fd;             // the attached fd, if one arrived
  bool truncated = false;  // MSG_CTRUNC: an attached fd was dropped by the kernel
};

// Sends one message (and `fd` if >= 0) without blocking when the socket is
// non-blocking. Returns 0 or an errno (EAGAIN, ETOOMANYREFS, EPIPE, ...).
int send_message(int channel, const Message& message, int fd = -1);

// Receives one message without blocking. Returns 1 with `out` filled, 0 at EOF, or -errno (-EAGAIN
// when a non-blocking channel is empty).
int receive_message(int channel, Received& out);

}  // namespace connsched::process_pool

#endif  // CONNSCHED_PLUGINS_PROCESS_POOL_CHANNEL_H_
