// File: core/src/backend_instance.h
//
// One loaded and initialised backend. A server normally has one; during a switch of
// thread_handling (POST /set?thread_handling=...) it has two, the old one handing its
// connections back and the new one taking them, so everything core calls on a
// backend goes through the instance that holds the connection (Connection::owner).
// Instances live as long as the server (a handle is never dlclose'd, see
// plugin_loader.h), so a pointer read from Connection::owner or ServerCore::current_
// never dangles; what `end` frees is the backend's own state.
#ifndef CONNSCHED_CORE_BACKEND_INSTANCE_H_
#define CONNSCHED_CORE_BACKEND_INSTANCE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "connsched/scheduler_abi.h"
#include "plugin_loader.h"

namespace connsched {

class ServerCore;

struct BackendInstance {
  ServerCore* core = nullptr;
  LoadedScheduler scheduler;
  std::string name;
  // What services->get_option answers this backend: its options and core's settings.
  // Written before init, then only read.
  std::map<std::string, std::string> option_values;
  // Handed to init; `host` points back at this instance.
  connsched_services services{};
  void* state = nullptr;
  // Between init and end (under ServerCore::backend_lifetime_ when it changes).
  bool started = false;
  bool ended = false;
  // The backend takes CONNSCHED_NEXT_WAIT_OUTPUT (its flag, and core's timer is there).
  bool waits_for_output = false;
  // Connections it holds: from the moment core registers one for it until it is
  // ended or returned. A switch is over when the old instance's count reaches 0.
  std::atomic<std::int64_t> held{0};

  const connsched_scheduler& table() const { return scheduler.table; }
  bool can_release() const { return scheduler.table.release_connection != nullptr; }
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_BACKEND_INSTANCE_H_
