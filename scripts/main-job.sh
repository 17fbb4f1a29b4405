#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, then runs the rate
# sweeps of the scheduler comparison (quick version: `cpu` at 2,000 connections and
# `mixed`, each backend's closed-loop capacity then every backend in an open loop at
# 10-120 % of the best, about 4 minutes on 2 cores) and says where the CSV and charts are.
#   bash scripts/main-job.sh                # the quick sweeps
#   bash scripts/main-job.sh --closed-loop  # the quick closed-loop comparison of every scenario
#   bash scripts/main-job.sh --full         # docs/benchmarks.md: every scenario closed loop,
#                                           # then full sweeps of cpu, ping and mixed
# Other arguments go to connsched_compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
out=build/release/compare
compare=build/release/bin/connsched_compare
args=()
mode=sweep
for arg in "$@"; do
  case "$arg" in
    --full) mode=full ;;
    --closed-loop) mode=closed ;;
    *) args+=("$arg") ;;
  esac
done
case "$mode" in
  sweep)
    "$compare" --sweep --scenarios=cpu,mixed --out "$out" "${args[@]}"
    ;;
  closed)
    "$compare" --out "$out" "${args[@]}"
    ;;
  full)
    "$compare" --full --out "$out" "${args[@]}"
    "$compare" --full --sweep --scenarios=cpu,ping,mixed --out "$out/sweep" "${args[@]}"
    ;;
esac
echo
echo "main job: the CSV is $out/compare.csv, the charts are $out/compare-*.png"
[ "$mode" != full ] || echo "          the sweeps: $out/sweep/compare.csv, $out/sweep/compare-*-sweep.png"
