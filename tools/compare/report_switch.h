// File: tools/compare/report_switch.h
//
// The switch scenario's own report: a line per live switch (target, time it took,
// connections moved, threads, RSS and descriptors before and after) and a summary
// (switches done, their median and worst time, the steady p99 against the p99 inside
// switch windows, the server's figures idle, loaded, after the switches and closed),
// as text and as compare-<scenario>-switches.csv.
#ifndef CONNSCHED_COMPARE_REPORT_SWITCH_H_
#define CONNSCHED_COMPARE_REPORT_SWITCH_H_

#include <string>

#include "compare_row.h"

namespace compare_tool {

/// Median and largest took_ms of the switches that completed (0 when none did).
struct SwitchTimes {
  std::size_t done = 0;
  double median_ms = 0, p90_ms = 0, max_ms = 0;
};
SwitchTimes switch_times_of(const CompareRow& row);

/// The summary and a line per switch, for the terminal.
std::string format_switch_report(const CompareRow& row);

/// A header and a line per switch; false if the file cannot be written.
bool write_switch_csv(const std::string& path, const CompareRow& row);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_REPORT_SWITCH_H_
