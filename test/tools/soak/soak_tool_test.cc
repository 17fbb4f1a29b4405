// File: test/tools/soak/soak_tool_test.cc
//
// connsched_soak as CI runs it, only shorter: about 10 s against one backend, with a
// pass verdict, a CSV with a row per sample and the three charts.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "backend_catalog.h"
#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "text_file.h"

using namespace connsched::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("connsched_soak runs a short soak, passes, and writes its CSV and charts") {
  // A light load and generous memory allowances: under the sanitizers the server's
  // memory grows for reasons of their own in 10 s; the plumbing is what is tested here.
  TempDir out("connsched_soak_test");
  auto [status, output] =
      ServerProcess::run(bin_dir() + "/connsched_soak",
                         {"--duration=10", "--period=0.5", "--backends=pool-of-threads",
                          "--rate=200", "--connections=16", "--churn-rate=20", "--idle=20",
                          "--idle-turnover=4", "--settle-timeout=30", "--allow-rss-mb=4096",
                          "--allow-threads=64", "--out=" + out.path.string()},
                         240s);
  CAPTURE(output);
  CHECK(status == 0);
  CHECK(output.find("soak verdict: PASS") != std::string::npos);
  CHECK(output.find("== pool-of-threads ==") != std::string::npos);
  CHECK(output.find("fds back to baseline") != std::string::npos);
  const std::string csv = read_file(out.path / "soak.csv");
  CHECK(csv.starts_with("backend,t_s,fds,"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') >= 15);
  if (compare_tool::find_in_path("gnuplot")) {
    for (const char* metric : {"fds", "threads", "rss"}) {
      CAPTURE(metric);
      const auto png = out.path / fmt::format("soak-{}.png", metric);
      CHECK(fs::exists(png));
      CHECK(read_file(png).starts_with("\x89PNG"));
    }
  }
}
