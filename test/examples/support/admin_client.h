// File: test/examples/support/admin_client.h
//
// Requests to an example server's admin port with the real curl, for the tests that
// read /health, /stats and /connections or post /drain.
#ifndef CONNSCHED_TEST_SERVERS_ADMIN_CLIENT_H_
#define CONNSCHED_TEST_SERVERS_ADMIN_CLIENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "example_server.h"

namespace connsched::testing {

struct HttpReply {
  int status = 0;
  std::string body;
};

/// curl -X `method` against 127.0.0.1:`admin_port` + `path` (curl's own flags in
/// `extra`): the status code and the body. A curl that fails (nothing listening) fails
/// the test.
HttpReply admin(std::uint16_t admin_port, const std::string& method, const std::string& path,
                const std::vector<std::string>& extra = {});
inline HttpReply admin(const ExampleServer& server, const std::string& method,
                       const std::string& path, const std::vector<std::string>& extra = {}) {
  return admin(server.admin_port(), method, path, extra);
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SERVERS_ADMIN_CLIENT_H_
