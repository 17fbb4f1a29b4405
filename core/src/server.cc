// File: core/src/server.cc
//
// connsched::Server, the public face of ServerCore.
#include "connsched/server.h"

#include "server_core.h"

namespace connsched {

std::int64_t BackendStats::counter(const std::string& name, std::int64_t fallback) const {
  for (const auto& c : counters) {
    if (c.name == name) return c.value;
  }
  return fallback;
}

const StatsTable* BackendStats::table(const std::string& name) const {
  for (const auto& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Server::Server(ServerOptions options, std::unique_ptr<Protocol> protocol)
    : core_(std::make_unique<ServerCore>(std::move(options), std::move(protocol))) {}
Server::~Server() = default;

std::uint16_t Server::port() const {
  return core_->port();
}
std::string Server::backend_name() const {
  return core_->backend_name();
}
std::string Server::backend_path() const {
  return core_->backend_path();
}
std::uint16_t Server::admin_port() const {
  return core_->admin_port();
}
void Server::start() {
  core_->start();
}
int Server::run() {
  return core_->run();
}
void Server::request_shutdown(const std::string& reason) {
  core_->request_shutdown(reason.empty() ? "shutdown requested" : reason);
}
std::string Server::drain() {
  return core_->drain();
}
CoreStats Server::core_stats() const {
  return core_->core_stats();
}
BackendStats Server::backend_stats() const {
  return core_->backend_stats();
}
bool Server::kill(std::uint64_t id) {
  return core_->kill(id, CONNSCHED_KILL_CONNECTION);
}
bool Server::reload() {
  return core_->reload();
}
BackendSwitch Server::switch_backend(const std::string& name_or_path, bool force,
                                     std::chrono::milliseconds wait,
                                     const std::map<std::string, std::string>* backend_options) {
  return core_->switch_backend(name_or_path, force, wait, backend_options);
}
bool Server::wait_for_switch(std::chrono::milliseconds timeout) {
  return core_->wait_for_switch(timeout);
}
std::string Server::set_option(const std::string& name, const std::string& value) {
  return core_->set_option(name, value);
}

}  // namespace connsched
