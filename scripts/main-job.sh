#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset, then runs the
# scheduler comparison (quick version: every scenario, short windows, about 3 minutes on
# 2 cores) and says where the CSV and charts are. `bash scripts/main-job.sh --full` runs
# the full version (docs/benchmarks.md); other arguments go to connsched_compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" >/dev/null
out=build/release/compare
build/release/bin/connsched_compare --out "$out" "$@"
echo
echo "main job: the CSV is $out/compare.csv, the charts are $out/compare-*.png"
