// File: tools/soak/soak_sample.h
//
// One sample of one server during a soak: what /proc says about it, what it says
// about itself (admin /stats), and what the load has seen so far.
#ifndef CONNSCHED_SOAK_SOAK_SAMPLE_H_
#define CONNSCHED_SOAK_SOAK_SAMPLE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace soak {

struct SoakSample {
  double t = 0;           ///< seconds since the load started
  std::uint64_t fds = 0;  ///< open descriptors (/proc/PID/fd)
  std::uint64_t client_conns =
      0;  ///< connections the soak's clients hold open (kept-alive, idle, transaction)
  std::uint64_t threads = 0;
  std::uint64_t rss_kb = 0;
  std::uint64_t hwm_kb = 0;
  double cpu_seconds = 0;          ///< since the server started
  std::int64_t server_conns = -1;  ///< the server's connections_current (-1: not read)
  std::uint64_t requests = 0;      ///< answered so far: load generator + transactions
  std::uint64_t errors = 0;        ///< so far, every kind; deliberate resets excluded
  std::uint64_t resets = 0;        ///< deliberate resets so far
  bool after_load = false;         ///< taken after the load stopped and the fds settled

  /// Descriptors not explained by the clients' open connections: the leak signal.
  double fds_over_conns() const {
    return static_cast<double>(fds) - static_cast<double>(client_conns);
  }
};

/// One backend's whole soak.
struct BackendSeries {
  std::string label;  ///< "pool-of-threads"
  std::vector<SoakSample> samples;
  std::uint64_t baseline_fds = 0;  ///< before any load
  std::uint64_t final_fds = 0;     ///< after the load stopped and the fds settled
  double settle_seconds = 0;       ///< how long the return to baseline took
  bool fds_returned = false;
  int exit_status = -1;  ///< after SIGTERM (-1: did not exit)
  std::string first_error;
};

}  // namespace soak

#endif  // CONNSCHED_SOAK_SOAK_SAMPLE_H_
