// File: tools/loadgen/load_generator.h
//
// Runs one load against a server: opens the connections (idle ones too) from a few
// event-loop threads, warms up, measures for a duration or a request count, waits for
// every reply in flight, and returns the merged figures.
#ifndef CONNSCHED_LOADGEN_LOAD_GENERATOR_H_
#define CONNSCHED_LOADGEN_LOAD_GENERATOR_H_

#include <functional>
#include <string>

#include "load_control.h"
#include "load_spec.h"

namespace loadgen {

/// Called on the coordinating thread as the run enters each phase (the comparison
/// tool samples the server's CPU time at kMeasure and kStop).
using PhaseHook = std::function<void(Phase)>;

/// An empty string when `spec` can run, else why not (one line).
std::string check_spec(const LoadSpec& spec);

/// Runs `spec` to completion; throws std::invalid_argument for a spec check_spec
/// refuses, std::runtime_error when the machine refuses (epoll, threads).
LoadResult run_load(const LoadSpec& spec, const PhaseHook& on_phase = {});

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_GENERATOR_H_
