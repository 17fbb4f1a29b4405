// File: core/src/admin_metrics.h
//
// The /metrics document: core's and the backend's stats in the Prometheus text
// exposition format 0.0.4 (# HELP and # TYPE before each metric family).
#ifndef CONNSCHED_CORE_ADMIN_METRICS_H_
#define CONNSCHED_CORE_ADMIN_METRICS_H_

#include <string>
#include <string_view>

#include "connsched/server.h"

namespace connsched {

/// Core counters become `connsched_<name>_total` (counter), current values gauges,
/// waits `connsched_waits_total{type="sleep"}`. Backend counters become
/// `connsched_backend_<name>{backend="..."}` (untyped: the ABI does not say whether a
/// value only grows). Each integer column of a backend table becomes
/// `connsched_backend_<table>_<column>`, labelled by the row's first column and its
/// text columns (plus `row` when those do not tell rows apart).
std::string stats_prometheus(const CoreStats& core, const BackendStats& backend);

/// A Prometheus metric-name fragment: lowercase, [a-z0-9_] only, not starting with a digit.
std::string prometheus_name(std::string_view text);

/// A label value with \\, \" and \n escaped.
std::string prometheus_label_value(std::string_view text);

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_METRICS_H_
