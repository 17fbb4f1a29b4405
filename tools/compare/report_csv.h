// File: tools/compare/report_csv.h
//
// Every measurement as one CSV row (scenario × connections × backend, every figure).
#ifndef CONNSCHED_COMPARE_REPORT_CSV_H_
#define CONNSCHED_COMPARE_REPORT_CSV_H_

#include <string>
#include <vector>

#include "compare_row.h"

namespace compare_tool {

std::string csv_header();
std::string csv_line(const CompareRow& row);
/// Writes the header and every row to `path`; false if the file cannot be written.
bool write_csv(const std::string& path, const std::vector<CompareRow>& rows);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_REPORT_CSV_H_
