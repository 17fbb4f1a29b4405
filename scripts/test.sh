#!/usr/bin/env bash
# Runs every test: installs what is missing, then configures, builds and runs CTest
# under each preset given (default: release, asan, tsan — the whole suite three times).
#   scripts/test.sh               # all three
#   scripts/test.sh release       # one preset
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

presets=("$@")
((${#presets[@]})) || presets=(release asan tsan)
jobs=$(nproc)
for preset in "${presets[@]}"; do
  echo "=== connsched: preset '$preset': configure, build, test"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset"
done
echo "=== connsched: all tests passed under: ${presets[*]}"
