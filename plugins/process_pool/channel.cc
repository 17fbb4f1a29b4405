// File: plugins/process_pool/channel.cc
#include "channel.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace connsched::process_pool {

// An address that does not fit is dropped, not cut: a truncated one would be wrong.
void Message::set_client_address(const char* address) {
  client_address.fill('\0');
  if (address == nullptr) return;
  const std::size_t length = std::strlen(address);
  if (length < client_address.size()) std::memcpy(client_address.data(), address, length);
}

// sendmsg with one SCM_RIGHTS fd when asked; MSG_NOSIGNAL so a dead peer is EPIPE,
// not a SIGPIPE that would kill the sender.
int send_message(int channel, const Message& message, int fd) {
  iovec iov{const_cast<Message*>(&message), sizeof message};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  }
  while (true) {
    ssize_t n = ::sendmsg(channel, &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof message)) return 0;
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? errno : EMSGSIZE;
  }
}

// recvmsg that takes ownership of any fd that arrived, even with a malformed record,
// so that no received fd leaks.
int receive_message(int channel, Received& out) {
  out = Received{};
  iovec iov{&out.message, sizeof out.message};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(channel, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      out.fd = UniqueFd(fd);
    }
  }
  out.truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  if (n != static_cast<ssize_t>(sizeof out.message)) return -EBADMSG;
  out.message.client_address.back() = '\0';  // whatever the sender wrote, a C string
  return 1;
}

}  // namespace connsched::process_pool
