// File: tools/compare/compare_plan.h
//
// What a comparison will run: the scenarios selected, and for each the servers under
// test (backends with their options, variants such as thread_cache_size=0, reference
// servers), plus the notes about what was left out and why.
#ifndef CONNSCHED_COMPARE_COMPARE_PLAN_H_
#define CONNSCHED_COMPARE_COMPARE_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "backend_catalog.h"
#include "scenarios.h"

namespace compare_tool {

struct PlanOptions {
  std::string bin_dir;
  std::vector<std::string> builtins;  ///< built-in backend names to run
  /// Where the builtins are, when not the servers' own default folder: each is then
  /// passed to the server by path, so the server loads the file that was listed.
  std::string plugin_dir;
  std::vector<std::string> extra_backends;  ///< .so paths
  /// NAME=VALUE options, each passed to the backends that declare NAME.
  std::vector<std::string> server_options;
  bool references = true;
};

struct PlannedScenario {
  Scenario scenario;
  std::vector<BackendUnderTest> backends;
};

struct ComparePlan {
  std::vector<PlannedScenario> scenarios;
  std::vector<std::string> notes;  ///< printed before the run: skipped rows and why
  std::size_t measurements() const;
};

ComparePlan make_plan(const std::vector<Scenario>& scenarios, const PlanOptions& options,
                      OptionDeclarations& declarations);

/// Whether `name` selects `scenario`: equal, or a prefix before '-' ("http" selects
/// "http-ping" and "http-cpu").
bool selects(const std::string& name, const std::string& scenario);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_COMPARE_PLAN_H_
