// File: test/examples/unit/admin_format_test.cc
//
// The admin port's pure parts: JSON escaping, the /stats and /metrics documents, the
// request parser, and which status each route answers.
#include <doctest/doctest.h>

#include <set>
#include <sstream>
#include <string>

#include "connsched/scheduler_abi.h"
#include "core/src/admin_http.h"
#include "core/src/admin_json.h"
#include "core/src/admin_metrics.h"
#include "core/src/admin_routes.h"

using namespace connsched;

namespace {

BackendStats sample_backend() {
  BackendStats b;
  b.backend = "pool \"x\"";
  b.max_threads = 64;
  b.counters = {{"threads_created_total", 7, "Threads created"},
                {"Odd-Name", 1, ""},
                {"queue_wait_us_total", 2500000, "Time spent queueing"},
                {"stall_limit_ms", 100, "The stall limit"},
                {"entries_count", 3, "A gauge named like a histogram's count"}};
  StatsTable groups;
  groups.name = "GROUPS";
  groups.columns = {"group_id", "threads", "is_stalled"};
  groups.rows = {{std::int64_t{0}, std::int64_t{3}, std::string("no")},
                 {std::int64_t{1}, std::int64_t{2}, std::monostate{}}};
  StatsTable queue;
  queue.name = "QUEUES";
  queue.columns = {"group_id", "connection_id"};
  queue.rows = {{std::int64_t{0}, std::int64_t{5}}, {std::int64_t{0}, std::int64_t{6}}};
  StatsTable latency;  // a backend's histogram (pool-of-threads' queue wait)
  latency.name = "LATENCY_SECONDS_HISTOGRAM";
  latency.columns = {"GROUP_ID", "PRIORITY", "LE", "COUNT", "SUM_MICROSECONDS"};
  latency.rows = {{std::int64_t{0}, std::string("high"), std::string("0.001"), std::int64_t{3},
                   std::int64_t{2500}},
                  {std::int64_t{0}, std::string("high"), std::string("+Inf"), std::int64_t{4},
                   std::int64_t{2500}}};
  b.tables = {groups, queue, latency};
  return b;
}

CoreStats sample_core() {
  CoreStats c;
  c.requests = 12;
  c.connections_current = 2;
  c.connections_peak = 9;
  c.waits.assign(CONNSCHED_WAIT_TYPE_COUNT, 0);
  c.waits[CONNSCHED_WAIT_SLEEP] = 4;
  return c;
}

}  // namespace

TEST_CASE("JSON strings escape quotes, backslashes and control bytes, and replace bad UTF-8") {
  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_quote(std::string("\n\t\x01\x1f", 4)) == "\"\\n\\t\\u0001\\u001f\"");
  CHECK(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(json_quote("\xff") == "\"\\ufffd\"");
  CHECK(json_quote("\xc0\xaf") == "\"\\ufffd\\ufffd\"");             // overlong '/'
  CHECK(json_quote("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(json_quote("\xe2\x82") == "\"\\ufffd\\ufffd\"");             // truncated
  CHECK(json_error("no \"such\" thing") == "{\"error\": \"no \\\"such\\\" thing\"}\n");
}

TEST_CASE("/stats holds core counters, waits by name, and the backend's counters and tables") {
  std::string doc = stats_json(sample_core(), sample_backend());
  CHECK(doc.find("\"backend\": \"pool \\\"x\\\"\"") != std::string::npos);
  CHECK(doc.find("\"requests\": 12,") != std::string::npos);
  CHECK(doc.find("\"connections_peak\": 9,") != std::string::npos);
  CHECK(doc.find("\"sleep\": 4") != std::string::npos);
  CHECK(doc.find("\"threads_created_total\": 7") != std::string::npos);
  CHECK(doc.find("\"backend_max_threads\": 64,") != std::string::npos);
  CHECK(doc.find("\"GROUPS\": {\"columns\": [\"group_id\", \"threads\", \"is_stalled\"], \"rows\": "
                 "[[0, 3, \"no\"], [1, 2, null]]}") != std::string::npos);
  // Balanced braces and brackets outside strings: a cheap structural check.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    char c = doc[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
    CHECK(depth >= 0);
  }
  CHECK(depth == 0);
  BackendStats empty;
  CHECK(stats_json(sample_core(), empty).find("\"counters\": {},\n    \"tables\": {}") !=
        std::string::npos);
}

TEST_CASE(
    "/metrics follows the Prometheus text format: HELP and TYPE once per family, valid names") {
  std::string text = stats_prometheus(sample_core(), sample_backend());
  CHECK(text.find("# TYPE connsched_requests_total counter\nconnsched_requests_total 12\n") !=
        std::string::npos);
  CHECK(text.find("connsched_connections_current 2\n") != std::string::npos);
  CHECK(text.find("# TYPE connsched_connections_peak gauge\nconnsched_connections_peak 9\n") !=
        std::string::npos);
  CHECK(text.find("connsched_waits_total{type=\"sleep\"} 4\n") != std::string::npos);
  CHECK(text.find("connsched_backend_info{backend=\"pool \\\"x\\\"\"} 1\n") != std::string::npos);
  // Prometheus conventions: a _total name is a counter, the rest gauges; times in seconds.
  CHECK(text.find("# TYPE connsched_backend_threads_created_total counter\n") != std::string::npos);
  CHECK(text.find("connsched_backend_threads_created_total{backend=\"pool \\\"x\\\"\"} 7\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE connsched_backend_odd_name gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE connsched_backend_queue_wait_seconds_total counter\n") !=
        std::string::npos);
  CHECK(text.find("connsched_backend_queue_wait_seconds_total{backend=\"pool \\\"x\\\"\"} 2.5\n") !=
        std::string::npos);
  CHECK(text.find("connsched_backend_stall_limit_seconds{backend=\"pool \\\"x\\\"\"} 0.1\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE connsched_backend_entries_count_value gauge\n") != std::string::npos);
  CHECK(text.find("untyped") == std::string::npos);
  CHECK(text.find("connsched_backend_max_threads{backend=\"pool \\\"x\\\"\"} 64\n") !=
        std::string::npos);
  CHECK(text.find("connsched_backend_groups_threads{backend=\"pool "
                  "\\\"x\\\"\",group_id=\"0\",is_stalled=\"no\"} 3\n") != std::string::npos);
  // Two QUEUES rows share group_id: a listing of transient entries, whose series would
  // churn, stays out of /metrics (it is in /stats).
  CHECK(text.find("connsched_backend_queues_") == std::string::npos);
  // A histogram table becomes a Prometheus histogram: buckets, then _sum (seconds), _count.
  CHECK(text.find("# TYPE connsched_backend_latency_seconds histogram\n") != std::string::npos);
  CHECK(text.find(
            "connsched_backend_latency_seconds_bucket{backend=\"pool \\\"x\\\"\",group_id=\"0\","
            "priority=\"high\",le=\"0.001\"} 3\n") != std::string::npos);
  CHECK(text.find("connsched_backend_latency_seconds_sum{backend=\"pool \\\"x\\\"\",group_id=\"0\","
                  "priority=\"high\"} 0.0025\n") != std::string::npos);
  CHECK(
      text.find("connsched_backend_latency_seconds_count{backend=\"pool \\\"x\\\"\",group_id=\"0\","
                "priority=\"high\"} 4\n") != std::string::npos);
  std::set<std::string> types, series;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      CHECK(types.insert(line.substr(7, line.find(' ', 7) - 7)).second);
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK(series.insert(line.substr(0, space)).second);  // no duplicate series
    std::string name = line.substr(0, line.find_first_of("{ "));
    // A histogram's samples are its family name plus _bucket, _sum or _count.
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string_view s(suffix);
      if (!types.count(name) && name.size() > s.size() && name.ends_with(s)) {
        name.resize(name.size() - s.size());
      }
    }
    CHECK(types.count(name) == 1);  // every sample follows its TYPE
    for (char c : name) CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'));
  }
}

TEST_CASE("admin requests: the request line is parsed, the query decoded, garbage refused") {
  AdminParse p =
      parse_admin_request("POST /set?thread_pool_size=4&x=a%20b+c HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(p.status == AdminParse::Status::kComplete);
  CHECK(p.request.method == "POST");
  CHECK(p.request.path == "/set");
  REQUIRE(p.request.query.size() == 2);
  CHECK(p.request.query[1].second == "a b c");
  CHECK(parse_admin_request("GET /stats HTTP/1.1\r\n").status == AdminParse::Status::kIncomplete);
  CHECK(parse_admin_request("GET /x?%zz HTTP/1.1\r\n\r\n").status == AdminParse::Status::kBad);
  CHECK(parse_admin_request("GET stats HTTP/1.1\r\n\r\n").status == AdminParse::Status::kBad);
  CHECK(parse_admin_request("GET /stats SPDY/3\r\n\r\n").status == AdminParse::Status::kBad);
  CHECK(parse_admin_request("\x16\x03\x01").status == AdminParse::Status::kBad);
  CHECK(parse_admin_request(std::string(kAdminMaxRequestBytes + 1, 'G')).status ==
        AdminParse::Status::kBad);
  std::string long_head =
      "GET / HTTP/1.1\r\nX: " + std::string(kAdminMaxRequestBytes, 'a') + "\r\n\r\n";
  CHECK(parse_admin_request(long_head).status == AdminParse::Status::kBad);
  CHECK(percent_decode("%4") == std::nullopt);
}

// Found by fuzz_admin_request (fuzz/regressions/admin_request/head_lf_then_crlf): only
// CRLFCRLF and LFLF ended a head, so one with LF line ends and a CRLF blank line (which
// http-parser and curl accept) waited until it was refused as too large.
TEST_CASE("admin requests: a head ends at its first empty line, whatever the line endings") {
  for (const char* head :
       {"GET /stats HTTP/1.1\r\nHost: h\r\n\r\n", "GET /stats HTTP/1.1\nHost: h\n\n",
        "GET /stats HTTP/1.1\nHost: h\n\r\n", "GET /stats HTTP/1.1\r\n\n"}) {
    CAPTURE(head);
    AdminParse p = parse_admin_request(head);
    REQUIRE(p.status == AdminParse::Status::kComplete);
    CHECK(p.request.path == "/stats");
  }
  CHECK(parse_admin_request("GET /stats HTTP/1.1\r\nHost: h\r\n\r").status ==
        AdminParse::Status::kIncomplete);
}

TEST_CASE("admin routes answer 200, 202, 400, 404, 405 and 422 as documented") {
  std::uint64_t killed = 0;
  bool shut = false;
  AdminActions actions;
  actions.core_stats = sample_core;
  actions.backend_stats = sample_backend;
  actions.kill = [&](std::uint64_t id) {
    killed = id;
    return id == 5;
  };
  actions.set_option = [](const std::string& name, const std::string&) {
    return name == "good" ? std::string() : "unknown option '" + name + "'";
  };
  actions.shutdown = [&] { shut = true; };
  auto status = [&](const std::string& line) {
    AdminParse p = parse_admin_request(line + " HTTP/1.1\r\n\r\n");
    REQUIRE(p.status == AdminParse::Status::kComplete);
    return route_admin_request(p.request, actions).status;
  };
  CHECK(status("GET /stats") == 200);
  CHECK(status("GET /metrics") == 200);
  CHECK(status("POST /kill?id=5") == 200);
  CHECK(killed == 5);
  CHECK(status("POST /kill?id=6") == 404);
  CHECK(status("POST /kill?id=-1") == 400);
  CHECK(status("POST /set?good=1") == 200);
  CHECK(status("POST /set?bad=1") == 422);
  CHECK(status("POST /set") == 400);
  CHECK(status("POST /stats") == 405);
  CHECK(status("GET /shutdown") == 405);
  CHECK(status("GET /") == 200);
  CHECK(status("GET /nowhere") == 404);
  CHECK_FALSE(shut);
  CHECK(status("POST /shutdown") == 202);
  CHECK(shut);
}

TEST_CASE("GET / lists every admin endpoint with its method, as JSON") {
  AdminActions actions;
  AdminParse p = parse_admin_request("GET / HTTP/1.1\r\n\r\n");
  REQUIRE(p.status == AdminParse::Status::kComplete);
  const AdminResponse r = route_admin_request(p.request, actions);
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body.starts_with("{\"endpoints\": [{\"path\": \"/\", \"method\": \"GET\""));
  for (const char* endpoint :
       {"{\"path\": \"/stats\", \"method\": \"GET\"",
        "{\"path\": \"/metrics\", \"method\": \"GET\"",
        "{\"path\": \"/kill\", \"method\": \"POST\"", "{\"path\": \"/set\", \"method\": \"POST\"",
        "{\"path\": \"/shutdown\", \"method\": \"POST\""}) {
    CAPTURE(endpoint);
    CHECK(r.body.find(endpoint) != std::string::npos);
  }
}
