// A small but complete backend built out of tree: a std::jthread per connection,
// joined at end.
#include <connsched/scheduler_abi.h>

#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace {
struct Consumer {
  const connsched_services* svc = nullptr;
  std::mutex mutex;
  std::list<std::jthread> threads;
};

int consumer_init(const connsched_services* svc, void** backend, char*, size_t) {
  auto state = std::make_unique<Consumer>();
  state->svc = svc;
  *backend = state.release();
  return 0;
}

int consumer_add(void* backend, connsched_conn* conn) {
  auto& self = *static_cast<Consumer*>(backend);
  std::lock_guard lock(self.mutex);
  self.threads.emplace_back([svc = self.svc, conn] {
    while (svc->wait_for_input(conn) == CONNSCHED_NEXT_READY) {
      if (svc->do_command(conn) == CONNSCHED_NEXT_CLOSE) break;
    }
    svc->end_connection(conn);
  });
  return 0;
}

void consumer_end(void* backend) {
  std::unique_ptr<Consumer> owned(static_cast<Consumer*>(backend));
}

constexpr connsched_scheduler kConsumer = [] {
  auto d =
      connsched_scheduler_header("consumer", "built out of tree against the installed package");
  d.init = consumer_init;
  d.add_connection = consumer_add;
  d.end = consumer_end;
  return d;
}();
}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kConsumer)
