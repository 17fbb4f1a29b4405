#!/usr/bin/env bash
# The soak test (issue #7): installs what is missing, builds the release preset, then
# runs connsched_soak — kv_server under pool-of-threads and one-thread-per-connection
# side by side, a paced mixed load with connect churn, idle turnover and deliberate
# resets, the servers' descriptors, threads and memory sampled throughout — and fails
# on growth that does not level off (docs/reliability.md, "Soak").
#   scripts/soak.sh              # the full version: 30 minutes
#   scripts/soak.sh --short      # the CI version: 2 minutes (about 2.5 with start and stop)
# Other arguments go to connsched_soak (connsched_soak --help); output in build/release/soak.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target connsched_soak >/dev/null
out=build/release/soak
[[ " $* " == *" --short "* ]] && out=build/release/soak-short
[[ " $* " == *" --out"* ]] && out_args=() || out_args=(--out "$out")
build/release/bin/connsched_soak "${out_args[@]}" "$@"
