// File: tools/compare/report_table.h
//
// A scenario's measurements as a terminal table: one block per connection count, the
// backends side by side, throughput and p99 also as ratios to the first backend.
#ifndef CONNSCHED_COMPARE_REPORT_TABLE_H_
#define CONNSCHED_COMPARE_REPORT_TABLE_H_

#include <string>
#include <vector>

#include "compare_row.h"
#include "scenarios.h"

namespace compare_tool {

/// `rows` are the scenario's, in run order (connection count, then backend).
std::string format_table(const Scenario& scenario, const std::vector<CompareRow>& rows);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_REPORT_TABLE_H_
