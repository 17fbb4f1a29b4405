// File: core/src/services.cc
//
// The C services table core hands a backend at init: thin noexcept thunks onto
// ServerCore, so that no C++ exception ever crosses into backend code.
#include <time.h>

#include <exception>

#include "connsched/clock.h"
#include "server_core.h"

namespace connsched {

std::int64_t monotonic_ms() {
  return now_ms();
}

namespace {

// Each backend gets its own table, whose host is its instance (so get_option answers
// with that backend's options); the instance knows its server.
BackendInstance& instance_of(const connsched_services* svc) {
  return *static_cast<BackendInstance*>(svc->host);
}
ServerCore& core_of(const connsched_services* svc) {
  return *instance_of(svc).core;
}

int svc_do_command(connsched_conn* conn) noexcept {
  try {
    return conn->core->do_command(*conn);
  } catch (const std::exception& e) {
    conn->core->logger().log(LogLevel::kError, "connection {}: {}", conn->id, e.what());
  } catch (...) {
    conn->core->logger().log(LogLevel::kError, "connection {}: unknown error", conn->id);
  }
  return CONNSCHED_NEXT_CLOSE;
}

int svc_wait_for_input(connsched_conn* conn) noexcept {
  try {
    return conn->core->wait_for_input(*conn);
  } catch (...) {
    return CONNSCHED_NEXT_CLOSE;
  }
}

void svc_end_connection(connsched_conn* conn) noexcept {
  conn->core->end_connection(*conn);
}

int svc_kill_connection(const connsched_services* svc, std::uint64_t id, int reason) noexcept {
  if (reason != CONNSCHED_KILL_CONNECTION && reason != CONNSCHED_KILL_TIMEOUT &&
      reason != CONNSCHED_KILL_SHUTDOWN) {
    return 0;
  }
  try {
    return core_of(svc).kill(id, reason) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int svc_conn_fd(const connsched_conn* conn) noexcept {
  return conn->fd.get();
}
std::uint64_t svc_conn_id(const connsched_conn* conn) noexcept {
  return conn->id;
}
void* svc_conn_get_data(const connsched_conn* conn) noexcept {
  return conn->backend_data.load(std::memory_order_acquire);
}
void svc_conn_set_data(connsched_conn* conn, void* data) noexcept {
  conn->backend_data.store(data, std::memory_order_release);
}
int svc_conn_killed(const connsched_conn* conn) noexcept {
  return conn->killed.load();
}
int svc_conn_in_transaction(const connsched_conn* conn) noexcept {
  return conn->in_transaction.load(std::memory_order_relaxed) ? 1 : 0;
}
int svc_conn_holds_locks(const connsched_conn* conn) noexcept {
  return conn->holds_locks.load(std::memory_order_relaxed) ? 1 : 0;
}
std::int64_t svc_conn_idle_deadline_ms(const connsched_conn* conn) noexcept {
  return conn->idle_deadline_ms.load(std::memory_order_relaxed);
}

void svc_log(const connsched_services* svc, int level, const char* message) noexcept {
  if (level < CONNSCHED_LOG_DEBUG) level = CONNSCHED_LOG_DEBUG;
  if (level > CONNSCHED_LOG_ERROR) level = CONNSCHED_LOG_ERROR;
  try {
    core_of(svc).logger().write(static_cast<LogLevel>(level), message ? message : "");
  } catch (...) {
  }
}

const char* svc_get_option(const connsched_services* svc, const char* name) noexcept {
  if (name == nullptr) return nullptr;
  try {
    return core_of(svc).get_option(instance_of(svc), name);
  } catch (...) {
    return nullptr;
  }
}

std::int64_t svc_now_ms() noexcept {
  return monotonic_ms();
}

int svc_shutting_down(const connsched_services* svc) noexcept {
  return core_of(svc).shutting_down() ? 1 : 0;
}

connsched_conn* svc_adopt_fd(const connsched_services* svc, int fd) noexcept {
  UniqueFd owned(fd);
  if (!owned) return nullptr;
  try {
    return core_of(svc).adopt(std::move(owned));
  } catch (...) {
    return nullptr;
  }
}

// adopt_fd with the client the sending process knew, so logs and CLIENT INFO agree.
connsched_conn* svc_adopt_fd_as(const connsched_services* svc, int fd,
                                const char* client_address) noexcept {
  UniqueFd owned(fd);
  if (!owned) return nullptr;
  try {
    return core_of(svc).adopt(std::move(owned), client_address == nullptr ? "" : client_address);
  } catch (...) {
    return nullptr;
  }
}

// Written before the connection was registered and never after: no lock needed.
const char* svc_conn_client_address(const connsched_conn* conn) noexcept {
  return conn->client_address.c_str();
}

// The serving thread's own flag, read by that thread after do_command (no lock).
int svc_conn_read_capped(const connsched_conn* conn) noexcept {
  return conn->read_capped ? 1 : 0;
}

void svc_refuse_connection(connsched_conn* conn) noexcept {
  conn->core->refuse_connection(*conn);
}

int svc_detach_fd(connsched_conn* conn) noexcept {
  return conn->core->detach_fd(*conn);
}

// A backend being switched away from hands a connection back (CONNSCHED_NEXT_RELEASE).
void svc_return_connection(connsched_conn* conn) noexcept {
  try {
    conn->core->return_connection(*conn);
  } catch (...) {
    conn->core->logger().log(LogLevel::kError, "connection {}: could not be moved", conn->id);
  }
}

}  // namespace

void fill_services(connsched_services& s, BackendInstance* backend) {
  s = connsched_services{};
  s.struct_size = sizeof(connsched_services);
  s.abi_major = CONNSCHED_ABI_MAJOR;
  s.abi_minor = CONNSCHED_ABI_MINOR;
  s.do_command = svc_do_command;
  s.wait_for_input = svc_wait_for_input;
  s.end_connection = svc_end_connection;
  s.kill_connection = svc_kill_connection;
  s.conn_fd = svc_conn_fd;
  s.conn_id = svc_conn_id;
  s.conn_get_data = svc_conn_get_data;
  s.conn_set_data = svc_conn_set_data;
  s.conn_killed = svc_conn_killed;
  s.conn_in_transaction = svc_conn_in_transaction;
  s.conn_idle_deadline_ms = svc_conn_idle_deadline_ms;
  s.log = svc_log;
  s.get_option = svc_get_option;
  s.now_ms = svc_now_ms;
  s.shutting_down = svc_shutting_down;
  s.adopt_fd = svc_adopt_fd;
  s.conn_holds_locks = svc_conn_holds_locks;
  s.host = backend;
  s.refuse_connection = svc_refuse_connection;
  s.detach_fd = svc_detach_fd;
  s.conn_client_address = svc_conn_client_address;
  s.adopt_fd_as = svc_adopt_fd_as;
  s.return_connection = svc_return_connection;
  s.conn_read_capped = svc_conn_read_capped;
}

}  // namespace connsched
