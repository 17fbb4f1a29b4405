// File: test/faults/admin_auth_test.cc
//
// The admin token's pure parts: which Authorization values pass, that the header is
// found whatever its case and position, and the 401 a refusal gets.
#include <doctest/doctest.h>

#include "core/src/admin_auth.h"
#include "core/src/admin_http.h"

using namespace connsched;

TEST_CASE("the admin token check accepts exactly 'Bearer <token>', the scheme in any case") {
  CHECK(admin_token_matches("Bearer s3cret", "s3cret"));
  CHECK(admin_token_matches("bearer s3cret", "s3cret"));
  CHECK(admin_token_matches("BEARER s3cret", "s3cret"));
  CHECK_FALSE(admin_token_matches("Bearer s3cre", "s3cret"));    // a prefix
  CHECK_FALSE(admin_token_matches("Bearer s3cret2", "s3cret"));  // longer
  CHECK_FALSE(admin_token_matches("Bearer S3cret", "s3cret"));   // the token is exact
  CHECK_FALSE(admin_token_matches("Basic s3cret", "s3cret"));
  CHECK_FALSE(admin_token_matches("s3cret", "s3cret"));
  CHECK_FALSE(admin_token_matches("", "s3cret"));
  CHECK_FALSE(admin_token_matches("Bearer ", "s3cret"));
}

TEST_CASE("the Authorization header is found in any case and position, trimmed, and bounded") {
  auto parsed = parse_admin_request(
      "GET /stats HTTP/1.1\r\nHost: x\r\nauthorization:   Bearer abc \r\nAccept: */*\r\n\r\n");
  REQUIRE(parsed.status == AdminParse::Status::kComplete);
  CHECK(parsed.request.authorization == "Bearer abc");
  auto none = parse_admin_request("GET /stats HTTP/1.1\r\nX-Authorization: Bearer abc\r\n\r\n");
  REQUIRE(none.status == AdminParse::Status::kComplete);
  CHECK(none.request.authorization.empty());
  auto bare = parse_admin_request("GET /stats HTTP/1.0\n\n");
  REQUIRE(bare.status == AdminParse::Status::kComplete);
  CHECK(bare.request.authorization.empty());
}

TEST_CASE("a refused admin request gets 401, a JSON error and WWW-Authenticate: Bearer") {
  auto missing = format_admin_response(admin_unauthorized(false));
  CHECK(missing.rfind("HTTP/1.1 401 Unauthorized\r\n", 0) == 0);
  CHECK(missing.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
  CHECK(missing.find("{\"error\": ") != std::string::npos);
  auto wrong = format_admin_response(admin_unauthorized(true));
  CHECK(wrong.find("WWW-Authenticate: Bearer error=\"invalid_token\"\r\n") != std::string::npos);
}
